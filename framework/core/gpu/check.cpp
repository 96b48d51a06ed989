// Throwing side of the CUDA/cuBLAS check macros (check.hpp).
#include "core/gpu/check.hpp"

#include "core/gpu/cublas_library.hpp"

namespace lstmad::gpu {

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  const std::string name = std::string(cudaGetErrorName(status)) + " (" + cudaGetErrorString(status) + ")";
  throw CudaError(device_call_message(call, name, file, line), status);
}

const char* cublas_status_name(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  // The library's own words where it is open (a status came from it, or a test made one up).
  std::string words;
  try {
    words = std::string(" (") + cublas().cublasGetStatusString(status) + ")";
  } catch (const DeviceError&) {
  }
  const std::string name = cublas_status_name(status) + words;
  throw DeviceError(device_call_message(call, name, file, line));
}

void check_last_launch(const char* what, const char* file, int line) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    const std::string call = std::string("kernel launch ") + what;
    throw_cuda_error(status, call.c_str(), file, line);
  }
}

}  // namespace lstmad::gpu
