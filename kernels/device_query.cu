// Lists CUDA devices and their limits (SM count, shared memory per block, clusters).
#include <cuda_runtime.h>

#include "kernels/device_query.hpp"

namespace lstmad::kernels {

RuntimeInfo query_devices() {
  RuntimeInfo info;
  cudaDriverGetVersion(&info.driver_version);
  cudaRuntimeGetVersion(&info.runtime_version);
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    info.error = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return info;
  }
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, d) != cudaSuccess) continue;
    DeviceInfo di;
    di.ordinal = d;
    di.name = p.name;
    di.cc_major = p.major;
    di.cc_minor = p.minor;
    di.sm_count = p.multiProcessorCount;
    di.global_mem_bytes = p.totalGlobalMem;
    di.shared_mem_per_block_optin = static_cast<int>(p.sharedMemPerBlockOptin);
    di.shared_mem_per_sm = static_cast<int>(p.sharedMemPerMultiprocessor);
    di.regs_per_block = p.regsPerBlock;
    di.max_threads_per_block = p.maxThreadsPerBlock;
    cudaDeviceGetAttribute(&di.cluster_launch, cudaDevAttrClusterLaunch, d);
    info.devices.push_back(di);
  }
  if (count == 0) info.error = "no CUDA device";
  return info;
}

}  // namespace lstmad::kernels
