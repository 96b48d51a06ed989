// Throwing side of CUDNN_CHECK and the version string (cudnn_check.hpp).
#include "lstm/cudnn/cudnn_check.hpp"

#include <cstdlib>
#include <sstream>

namespace lstmad::gpu {

namespace {
// cuDNN's RNN calls run cuBLAS inside them, and cuBLAS promises the same bits run after run only while
// one stream is active, unless each stream's workspace is fixed (the cuBLAS guide, "Results
// reproducibility"); the cudnn engine runs several streams. CUBLAS_WORKSPACE_CONFIG=:4096:8 fixes them
// (about 24 MiB more device memory). Set before main, so that it precedes every CUDA context and cuBLAS
// handle, and never over a value the user set.
[[maybe_unused]] const bool kCublasWorkspaceFixed = [] {
  setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  return true;
}();
}  // namespace

void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line) {
  // cudnnGetErrorString gives the enum's name (e.g. CUDNN_STATUS_NOT_SUPPORTED); the last error message
  // (cuDNN 9) says why, when the library recorded a reason.
  std::string message = device_call_message(call, cudnnGetErrorString(status), file, line);
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  if (detail[0] != '\0') message += std::string(" (") + detail + ")";
  throw CudnnError(message, status);
}

std::string cudnn_version_string() {
  const std::size_t v = cudnnGetVersion();  // major*10000 + minor*100 + patch since cuDNN 9
  std::ostringstream os;
  os << v / 10000 << "." << (v % 10000) / 100 << "." << v % 100;
  return os.str();
}

}  // namespace lstmad::gpu
