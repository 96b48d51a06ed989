// Throwing side of the CUDA/cuBLAS check macros (check.hpp).
#include "core/gpu/check.hpp"

#include <sstream>

namespace lstmad::gpu {

namespace {
std::string base_name(const char* file) {
  std::string f(file);
  const auto slash = f.find_last_of('/');
  return slash == std::string::npos ? f : f.substr(slash + 1);
}
}  // namespace

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  std::ostringstream os;
  os << call << " failed: " << cudaGetErrorName(status) << " (" << cudaGetErrorString(status) << ") at "
     << base_name(file) << ":" << line;
  throw CudaError(os.str(), status);
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
  std::ostringstream os;
  os << call << " failed: " << cublas_status_name(status) << " (" << cublasGetStatusString(status) << ") at "
     << base_name(file) << ":" << line;
  throw DeviceError(os.str());
}

void check_last_launch(const char* what, const char* file, int line) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    const std::string call = std::string("kernel launch ") + what;
    throw_cuda_error(status, call.c_str(), file, line);
  }
}

}  // namespace lstmad::gpu
