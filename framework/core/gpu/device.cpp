// Device presence (device.hpp): the queries never throw; require_gpu_device turns their answer into the
// engines' error.
#include "core/gpu/device.hpp"

#include <cuda_runtime.h>

#include "core/error.hpp"

namespace lstmad::gpu {

namespace {
std::string describe(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}
}  // namespace

int device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

bool device_available(int ordinal, std::string* reason) noexcept {
  try {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();
      if (reason) *reason = describe(e);
      return false;
    }
    if (ordinal < 0 || ordinal >= n) {
      if (reason)
        *reason = "device " + std::to_string(ordinal) + " requested but " + std::to_string(n) + " present";
      return false;
    }
    int previous = 0;
    cudaGetDevice(&previous);
    e = cudaSetDevice(ordinal);
    if (e == cudaSuccess) e = cudaFree(nullptr);  // forces context creation: catches busy/prohibited GPUs
    cudaSetDevice(previous);
    if (e != cudaSuccess) {
      cudaGetLastError();
      if (reason) *reason = describe(e);
      return false;
    }
    return true;
  } catch (...) {  // std::string allocation: report absence rather than throw
    return false;
  }
}

void require_gpu_device(const char* engine, int device) {
  std::string reason;
  if (!device_available(device, &reason))
    throw NoDeviceError("engine \"" + std::string(engine) + "\" needs a CUDA device: " + reason +
                        "; engine \"cpu\" runs without one (--engine cpu)");
}

}  // namespace lstmad::gpu
