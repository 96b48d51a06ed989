// Throwing side of CUDNN_CHECK and the version string (cudnn_check.hpp).
#include "lstm/cudnn/cudnn_check.hpp"

#include <sstream>

namespace lstmad::gpu {

void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line) {
  std::string f(file);
  const auto slash = f.find_last_of('/');
  if (slash != std::string::npos) f = f.substr(slash + 1);
  std::ostringstream os;
  // cudnnGetErrorString gives the enum's name (e.g. CUDNN_STATUS_NOT_SUPPORTED); the last error message
  // (cuDNN 9) says why, when the library recorded a reason.
  os << call << " failed: " << cudnnGetErrorString(status) << " at " << f << ":" << line;
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  if (detail[0] != '\0') os << " (" << detail << ")";
  throw CudnnError(os.str(), status);
}

std::string cudnn_version_string() {
  const std::size_t v = cudnnGetVersion();  // major*10000 + minor*100 + patch since cuDNN 9
  std::ostringstream os;
  os << v / 10000 << "." << (v % 10000) / 100 << "." << v % 100;
  return os.str();
}

}  // namespace lstmad::gpu
