// cuBLAS as far as lstmad calls it (Sgemm, Sgemv, GemmEx with fp32 data), on the emulated device:
// column-major, with the argument checks cuBLAS makes, in stream order (captured into graphs like any
// other work). The fast compute types round A and B as the tensor cores see them (TF32: 10-bit mantissa;
// BF16: 7-bit) and accumulate in fp32; the strict ones accumulate in fp32 from unrounded operands.
#include <cublas_v2.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tests/emulation/cuda_emulation.hpp"
#include "tests/emulation/emu_internal.hpp"

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace {

enum class Round { None, TF32, BF16 };

float round_operand(float x, Round r) {
  if (r == Round::None) return x;
  if (r == Round::TF32) return lstmad::emu::tf32_value(x);
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7F800000u) != 0x7F800000u)
    u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;  // BF16: to nearest, ties to even
  float v;
  std::memcpy(&v, &u, 4);
  return v;
}

// C = alpha op(A) op(B) + beta C, column-major. Each C element accumulates its k products in order p =
// 0, 1, ... with fma, as a plain triple loop would. op(A) is first copied p-major (k rows of m) and op(B)
// column by column, rounded once: every operand is read (and checked by the sanitizers) once, and the
// inner loop runs over all rows i of a column at a time on contiguous memory.
void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const float* A,
          int lda, const float* B, int ldb, float beta, float* C, int ldc, Round r) {
  const std::size_t M = static_cast<std::size_t>(m), N = static_cast<std::size_t>(n),
                    K = static_cast<std::size_t>(k);
  std::vector<float> a(K * M), b(N * K), acc(M);
  for (std::size_t p = 0; p < K; ++p)
    for (std::size_t i = 0; i < M; ++i)
      a[p * M + i] = round_operand(ta == CUBLAS_OP_N ? A[i + p * lda] : A[p + i * lda], r);
  for (std::size_t j = 0; j < N; ++j)
    for (std::size_t p = 0; p < K; ++p)
      b[j * K + p] = round_operand(tb == CUBLAS_OP_N ? B[p + j * ldb] : B[j + p * ldb], r);
  for (std::size_t j = 0; j < N; ++j) {
    std::fill(acc.begin(), acc.end(), 0.f);
    for (std::size_t p = 0; p < K; ++p) {
      const float bp = b[j * K + p];
      const float* ap = a.data() + p * M;
      for (std::size_t i = 0; i < M; ++i) acc[i] = std::fma(ap[i], bp, acc[i]);
    }
    for (std::size_t i = 0; i < M; ++i) {  // beta = 0: C is not read (it may be NaN)
      float& c = C[i + j * ldc];
      c = beta == 0.f ? alpha * acc[i] : alpha * acc[i] + beta * c;
    }
  }
}

// Operands in another device's memory would fault (no peer access): the stream fails, as on the GPU.
bool operands_on_stream_device(cudaStream_t s, std::initializer_list<const void*> operands) {
  for (const void* p : operands)
    if (!lstmad::emu::not_foreign(p, lstmad::emu::stream_device(s), "a cuBLAS operand")) return false;
  return true;
}

bool bad_gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, int lda, int ldb, int ldc) {
  if (m < 0 || n < 0 || k < 0) return true;
  if ((ta != CUBLAS_OP_N && ta != CUBLAS_OP_T) || (tb != CUBLAS_OP_N && tb != CUBLAS_OP_T)) return true;
  const int rows_a = ta == CUBLAS_OP_N ? m : k, rows_b = tb == CUBLAS_OP_N ? k : n;
  return lda < (rows_a > 1 ? rows_a : 1) || ldb < (rows_b > 1 ? rows_b : 1) || ldc < (m > 1 ? m : 1);
}

}  // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

// The version of the header the emulation was built against, as the library reports its own.
cublasStatus_t cublasGetProperty(libraryPropertyType type, int* value) {
  switch (type) {
    case MAJOR_VERSION:
      *value = CUBLAS_VER_MAJOR;
      return CUBLAS_STATUS_SUCCESS;
    case MINOR_VERSION:
      *value = CUBLAS_VER_MINOR;
      return CUBLAS_STATUS_SUCCESS;
    case PATCH_LEVEL:
      *value = CUBLAS_VER_PATCH;
      return CUBLAS_STATUS_SUCCESS;
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "success";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "the functionality requested is not supported";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "the GPU program failed to execute";
    default:
      return "unknown error";
  }
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                              int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                              const float* beta, float* C, int ldc) {
  if (bad_gemm(ta, tb, m, n, k, lda, ldb, ldc)) return CUBLAS_STATUS_INVALID_VALUE;
  const float al = *alpha, be = *beta;  // host pointer mode: read at the call
  if (!operands_on_stream_device(h->stream, {A, B, C})) return CUBLAS_STATUS_SUCCESS;
  lstmad::emu::submit(h->stream,
                      [=]() { gemm(ta, tb, m, n, k, al, A, lda, B, ldb, be, C, ldc, Round::None); });
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemv_v2(cublasHandle_t h, cublasOperation_t trans, int m, int n, const float* alpha,
                              const float* A, int lda, const float* x, int incx, const float* beta, float* y,
                              int incy) {
  if (m < 0 || n < 0 || lda < (m > 1 ? m : 1) || incx == 0 || incy == 0) return CUBLAS_STATUS_INVALID_VALUE;
  const float al = *alpha, be = *beta;
  if (!operands_on_stream_device(h->stream, {A, x, y})) return CUBLAS_STATUS_SUCCESS;
  lstmad::emu::submit(h->stream, [=]() {
    const int rows = trans == CUBLAS_OP_N ? m : n, cols = trans == CUBLAS_OP_N ? n : m;
    for (int i = 0; i < rows; ++i) {
      float acc = 0.f;
      for (int j = 0; j < cols; ++j) {
        const float a = trans == CUBLAS_OP_N ? A[i + static_cast<long long>(j) * lda]
                                             : A[j + static_cast<long long>(i) * lda];
        acc = std::fma(a, x[static_cast<long long>(j) * incx], acc);
      }
      float& out = y[static_cast<long long>(i) * incy];
      out = be == 0.f ? al * acc : al * acc + be * out;
    }
  });
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype,
                            int ldc, cublasComputeType_t compute, cublasGemmAlgo_t) {
  if (Atype != CUDA_R_32F || Btype != CUDA_R_32F || Ctype != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (bad_gemm(ta, tb, m, n, k, lda, ldb, ldc)) return CUBLAS_STATUS_INVALID_VALUE;
  Round r = Round::None;
  if (compute == CUBLAS_COMPUTE_32F_FAST_TF32)
    r = Round::TF32;
  else if (compute == CUBLAS_COMPUTE_32F_FAST_16BF)
    r = Round::BF16;
  else if (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_PEDANTIC)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  const auto* a = static_cast<const float*>(A);
  const auto* b = static_cast<const float*>(B);
  auto* c = static_cast<float*>(C);
  if (!operands_on_stream_device(h->stream, {A, B, C})) return CUBLAS_STATUS_SUCCESS;
  lstmad::emu::submit(h->stream, [=]() { gemm(ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc, r); });
  return CUBLAS_STATUS_SUCCESS;
}

}  // extern "C"
