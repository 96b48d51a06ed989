// Checks for CUDA runtime, cuBLAS and kernel-launch results. A failing call throws lstmad::DeviceError
// whose message holds the call's text, the status name and string, and file:line, e.g.
//   cudaMalloc(&p, bytes) failed: cudaErrorMemoryAllocation (out of memory) at buffer.hpp:40
// cuDNN has its own CUDNN_CHECK in lstm/cudnn/cudnn_check.hpp so that a CUDA build without cuDNN compiles.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "core/error.hpp"

namespace lstmad::gpu {

// A failed CUDA runtime call, with its status (e.g. cudaErrorMemoryAllocation, which a caller may treat
// as the device's state at that moment rather than an answer about what it asked).
using CudaError = DeviceStatusError<cudaError_t>;

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line);
const char* cublas_status_name(cublasStatus_t status);

// The error of the most recent kernel launch (bad configuration, missing image for this GPU); the
// kernel's own faults surface at the next synchronising call, which is checked too.
void check_last_launch(const char* what, const char* file, int line);

}  // namespace lstmad::gpu

#define CUDA_CHECK(call)                                                               \
  do {                                                                                 \
    const cudaError_t lstmad_cuda_status_ = (call);                                    \
    if (lstmad_cuda_status_ != cudaSuccess)                                            \
      ::lstmad::gpu::throw_cuda_error(lstmad_cuda_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define CUBLAS_CHECK(call)                                                                 \
  do {                                                                                     \
    const cublasStatus_t lstmad_cublas_status_ = (call);                                   \
    if (lstmad_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                    \
      ::lstmad::gpu::throw_cublas_error(lstmad_cublas_status_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launcher: `launch_adam(...); KERNEL_CHECK("adam");`
#define KERNEL_CHECK(what) ::lstmad::gpu::check_last_launch((what), __FILE__, __LINE__)
