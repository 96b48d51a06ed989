// cuBLAS, opened on first use instead of linked. A process linked against libcublas loads it, and runs
// libcublasLt's static initialisers, at start: about 0.4 s of CPU and 500 MB mapped, paid by every
// `lstmad` command and every test process, although only the GPU engines call cuBLAS. So nothing is
// linked against it: the first caller of cublas() opens the library (dlopen) and takes the few functions
// lstmad calls. A CPU run never loads it, and a CUDA build runs on a machine without cuBLAS until a GPU
// engine is asked for, which then fails with the library's name and the loader's reason.
//
// The members are named after the library's own functions (the _v2 names that cublas_v2.h maps the short
// ones to), so that a CUBLAS_CHECK message names the call as cuBLAS's documentation does.
#pragma once
#include <cublas_v2.h>

#include <string>

namespace lstmad::gpu {

struct CublasLibrary {
  decltype(&::cublasCreate_v2) cublasCreate_v2 = nullptr;
  decltype(&::cublasDestroy_v2) cublasDestroy_v2 = nullptr;
  decltype(&::cublasSetStream_v2) cublasSetStream_v2 = nullptr;
  decltype(&::cublasSetMathMode) cublasSetMathMode = nullptr;
  decltype(&::cublasSgemm_v2) cublasSgemm_v2 = nullptr;
  decltype(&::cublasSgemv_v2) cublasSgemv_v2 = nullptr;
  // cublasGemmEx is overloaded in C++ (a wrapper taking the old cudaDataType compute type): the library's
  // own.
  cublasStatus_t (*cublasGemmEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                 const void*, const void*, cudaDataType, int, const void*, cudaDataType, int,
                                 const void*, void*, cudaDataType, int, cublasComputeType_t,
                                 cublasGemmAlgo_t) = nullptr;
  decltype(&::cublasGetStatusString) cublasGetStatusString = nullptr;
  decltype(&::cublasGetProperty) cublasGetProperty = nullptr;
  std::string path;  // the file opened; "emulated" in the build on the host emulation of CUDA

  // "13.1.0" from the library opened (which may differ from the header the build saw).
  std::string version() const;
};

// Opens the library on the first call (thread-safe) and returns it from then on. Throws DeviceError naming
// the library and the loader's reason where it cannot be opened or lacks a function; the next call tries
// again.
const CublasLibrary& cublas();

// The library's file name this build asks the loader for: "libcublas.so.13" for a CUDA 13 toolkit.
std::string cublas_soname();

}  // namespace lstmad::gpu
