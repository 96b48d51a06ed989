// Raising a kernel's dynamic shared-memory limit (cudaFuncAttributeMaxDynamicSharedMemorySize) once per
// kernel and device. The attribute belongs to the current device, so a size set on device 0 says nothing
// about device 1 (one scheduler queue per GPU); and two threads raising one kernel's limit to different
// sizes must not leave the smaller one in place while remembering the larger. One lock, one map of
// (kernel, device) to the largest size set.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <map>
#include <mutex>
#include <utility>

namespace lstmad::kernels {

inline cudaError_t raise_dynamic_smem_limit(const void* kernel, std::size_t smem) {
  static std::mutex mu;
  static std::map<std::pair<const void*, int>, std::size_t> limit;
  int device = 0;
  cudaError_t e = cudaGetDevice(&device);
  if (e != cudaSuccess) return e;
  std::lock_guard<std::mutex> lock(mu);
  std::size_t& set = limit[{kernel, device}];
  if (smem <= set) return cudaSuccess;
  e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  if (e == cudaSuccess) set = smem;
  return e;
}

template <typename Kernel>
cudaError_t raise_dynamic_smem_limit(Kernel* kernel, std::size_t smem) {
  return raise_dynamic_smem_limit(reinterpret_cast<const void*>(kernel), smem);
}

}  // namespace lstmad::kernels
