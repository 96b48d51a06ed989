// The multi-model training step: N independent models of one shape (L, D, H, horizon, T, B) trained in
// lockstep, every launch covering all N with the model index as a grid dimension. Plain C++ header.
//
// Each model owns a slice of every buffer (model m's slice starts at m x its per-model stride) and its
// own scalars: its series (at xs_offset[m] in one concatenated buffer), its window order, a cursor into
// it, its hyperparameters and Adam state. A step is the same sequence of launches for every step of
// every epoch, each reading what varies from device memory, so one CUDA graph replays it:
//   multi_step_prepare  active[m] = running[m] && cursor[m] < count[m]; rows[m] = min(B, count - cursor);
//                       start[m] = cursor[m]; cursor[m] += rows[m]
//   multi_gather        x (time-major T x B x D) and y (B x horizon) of rows[m] windows
//   multi_zero_rows     dgates rows >= rows[m] (a short last minibatch) set to zero, so that the weight
//                       gradients over all T x B rows see only the model's real ones
//   forward, per layer  multi_gemm (gx = X W^T), the time-loop kernel with ModelStrides
//   multi_head_forward  yhat, (yhat - y)^2, d mean-MSE / d yhat = 2 (yhat - y) / (rows[m] horizon)
//   multi_sum_squares   per-model sum of squares in double (loss, gradient norm), accumulated per epoch
//   backward            multi_head_backward; per layer the time-loop kernel, multi_gemm for dW, dR and dX
//                       (multi_gemm_split for dR and a wide dW, the layer's gates as its workspace, and there
//                       the bias sums with dR),
//                       multi_colsum for dbW = dbR (multi_gemm_rowsum: dW and dbW = dbR in one pass where
//                       dW has at most kMultiThinCols columns)
//   multi_adam_prepare, multi_adam_update   per-model clipping factor, bias corrections and update
// Models with active[m] == 0 (their epoch is over, or they stopped early) are skipped by every kernel:
// their blocks leave at once, their state does not move.
//
// Determinism: every sum runs in one fixed order that depends on the model's own sizes only (the GEMMs
// accumulate k = 0..K-1 in one chain per output, the thin ones, the column sums and the long weight-gradient
// GEMMs in kChainParts fixed ranges of k added in order, the reductions use a fixed thread count and tree),
// and no kernel uses atomics, so a model's result is bit-identical whatever N, the other models and the
// launch geometry. cuBLAS is not used here: its strided-batched GEMM does not promise the same algorithm
// (e.g. split-K) for every batch count, which would break that.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

#include "kernels/adam.hpp"

namespace lstmad::kernels {

// A matrix operand of multi_gemm: element (i, k) of model m is p[m * batch + i * rs + k * cs].
struct StridedOperand {
  const float* p = nullptr;
  long long rs = 0, cs = 0, batch = 0;
};

// The arithmetic of the multi-model GEMM: fp32 FMA, or the tensor cores with TF32 or BF16 operands and
// fp32 accumulation (outputs with at most 4 columns stay fp32).
enum class GemmMath { FP32, TF32, BF16 };

// C_m (M x N, row-major with leading dimension ldc, model stride c_batch) = A_m (M x K) B_m (K x N) for
// every model m < models with active[m] != 0 (active may be null). Overwrites C. Each output is one fixed
// chain over k = 0..K-1 (fmaf at FP32; mma K-steps in order otherwise).
void launch_multi_gemm(int M, int N, int K, const StridedOperand& A, const StridedOperand& B, float* C,
                       long long ldc, long long c_batch, int models, const unsigned char* active,
                       cudaStream_t stream, GemmMath math = GemmMath::FP32);

// Outputs with at most this many columns (dW of a layer with a few inputs) take a kernel of their own, at
// every GemmMath in fp32, whose sums over K (= T B, thousands of rows) are split so that a few models still
// fill the GPU: k runs in kChainParts consecutive ranges of multi_chain_part_len(K) (the last ones short or
// empty), each summed as one chain from 0 (fmaf for a product, float adds for a sum), and the kChainParts
// partial sums are then added in order, part 0 first. The column sums below are summed the same way.
constexpr int kMultiThinCols = 4;
constexpr int kChainParts = 16;
// (constexpr, so the kernels call it too: the build compiles CUDA with --expt-relaxed-constexpr)
constexpr int multi_chain_part_len(int K) {
  return (K + kChainParts - 1) / kChainParts;
}

// The weight-gradient GEMMs (dR, and dW where it has more than kMultiThinCols columns: M x N outputs, K = T
// B, thousands of rows) have a few 64 x 64 tiles per model, so at a few models most SMs would idle while each
// tile runs its chain over all of K. launch_multi_gemm_split runs such a GEMM in multi_gemm_parts(N, K)
// parts of K, the thin sums' kChainParts ranges of multi_chain_part_len(K): each part's chains from 0 into a
// workspace, then the parts added in order, part 0 first, into C. It splits where every part holds at least
// one K-step of kMultiGemmKStep and the partial sums (kChainParts M N floats) take no more room than A
// (M K): K >= kChainParts max(N, kMultiGemmKStep). That depends on N and K alone, never on the number of
// models, so a model's bits still do not depend on the batch. Else one chain over all of K, as
// launch_multi_gemm.
constexpr int kMultiGemmKStep = 16;
constexpr int multi_gemm_parts(int N, int K) {
  return K >= kChainParts * (N > kMultiGemmKStep ? N : kMultiGemmKStep) ? kChainParts : 1;
}

// launch_multi_gemm, or with more than kMultiThinCols columns and multi_gemm_parts(N, K) > 1 the split above:
// work + m * work_batch holds model m's partial sums (work_batch >= kChainParts M N floats, else
// std::invalid_argument; what work held before is never read). C as in launch_multi_gemm. With rowsum, where
// it splits and the workspace also holds the row sums' parts (kChainParts M (N + 1) floats), the same blocks
// sum each row of A over their part, A being read once for both, and the row sums go to rowsum (and
// rowsum2) as in launch_multi_gemm_rowsum, with launch_multi_colsum's bits (the same parts, added in the
// same order). Returns whether it wrote the row sums; where it did not, the caller sums them.
bool launch_multi_gemm_split(int M, int N, int K, const StridedOperand& A, const StridedOperand& B, float* C,
                             long long ldc, long long c_batch, float* work, long long work_batch, int models,
                             const unsigned char* active, cudaStream_t stream, GemmMath math = GemmMath::FP32,
                             float* rowsum = nullptr, float* rowsum2 = nullptr, long long sum_batch = 0);

// launch_multi_gemm for N <= kMultiThinCols columns, which also writes the row sums of A, sum over k < K of
// A_m[i][k] (launch_multi_colsum's order, so its bits), to rowsum + m * sum_batch + i and, when rowsum2 is
// not null, to rowsum2 + m * sum_batch + i: A is read once for both (dW and the bias gradients of layer 0
// from one pass over the gate gradients). Throws std::invalid_argument for N > kMultiThinCols.
void launch_multi_gemm_rowsum(int M, int N, int K, const StridedOperand& A, const StridedOperand& B, float* C,
                              long long ldc, long long c_batch, float* rowsum, float* rowsum2,
                              long long sum_batch, int models, const unsigned char* active,
                              cudaStream_t stream);

// out[m][n] = sum over i < rows of in[m][i][n] (in: rows x width per model, model stride in_batch), for
// n < width, in kChainParts ranges of rows as above; written to out + m * out_batch and, when out2 is not
// null, to out2 + m * out_batch as well.
void launch_multi_colsum(const float* in, int rows, int width, long long in_batch, float* out, float* out2,
                         long long out_batch, int models, const unsigned char* active, cudaStream_t stream);

// The per-step bookkeeping above: count[m] windows per epoch (training or validation), B rows at most.
void launch_multi_step_prepare(const unsigned char* running, const int* count, int B, int* cursor, int* start,
                               int* rows, unsigned char* active, int models, cudaStream_t stream);

// Windows of the step: window k (< rows[m]) of model m starts at row s = list[m * list_stride + start[m] + k]
// of its series (xs + xs_offset[m] * D, ys + xs_offset[m]):
//   xt[m][t][k][d] = xs[s + t][d]   (time-major, T x B x D per model)
//   yb[m][k][j]    = ys[s + T + j]  (B x horizon per model)
void launch_multi_gather(const float* xs, const float* ys, const long long* xs_offset, int D, const int* list,
                         long long list_stride, const int* start, const int* rows,
                         const unsigned char* active, int B, int T, int horizon, float* xt, float* yb,
                         int models, cudaStream_t stream);

// buf[m][t][b][0..width) = 0 for b >= rows[m] (buf: T x B x width per model).
void launch_multi_zero_rows(float* buf, int T, int B, int width, const int* rows, const unsigned char* active,
                            int models, cudaStream_t stream);

// The head of every model on its top layer's final h (B x H per model, stride h_batch); head weights at
// theta + m * p_batch + head_W / head_b. With targets y also resid and dyhat (either may be null); rows[m]
// rows are real.
void launch_multi_head_forward(const float* h, long long h_batch, const float* theta, long long p_batch,
                               std::size_t head_W, std::size_t head_b, int B, int H, int horizon,
                               const int* rows, const unsigned char* active, float* yhat, const float* y,
                               float* dyhat, float* resid, int models, cudaStream_t stream);

// dWh, dbh into dtheta (same offsets as theta), dh (B x H per model, stride dh_batch; rows >= rows[m]
// untouched).
void launch_multi_head_backward(const float* h, long long h_batch, const float* dyhat, const float* theta,
                                float* dtheta, long long p_batch, std::size_t head_W, std::size_t head_b,
                                int B, int H, int horizon, const int* rows, const unsigned char* active,
                                float* dh, long long dh_batch, int models, cudaStream_t stream);

// out[m] = sum over i < n_m of x[m * x_batch + i]^2 in double, n_m = rows[m] * row_len when rows is not
// null, else row_len; then acc[m] += out[m] when acc is not null. Skipped models keep out and acc.
void launch_multi_sum_squares(const float* x, long long x_batch, const int* rows, long long row_len,
                              double* out, double* acc, const unsigned char* active, int models,
                              cudaStream_t stream);

// acc[m] = 0 for every model with running[m] (null: all).
void launch_multi_reset(double* acc, const unsigned char* running, int models, cudaStream_t stream);

// Adam per model (adam.hpp's semantics with hyper[m], norm_sq[m], state[m]); skipped models unchanged.
void launch_multi_adam_prepare(const AdamHyper* hyper, const double* norm_sq, AdamStepState* state,
                               const unsigned char* active, int models, cudaStream_t stream);
void launch_multi_adam_update(float* params, const float* grad, float* m, float* v, std::size_t n,
                              long long p_batch, const AdamHyper* hyper, const AdamStepState* state,
                              const unsigned char* active, int models, cudaStream_t stream);

// The rows of a step kept: dst[dst_offset[m] + (start[m] + k) * width + j] = src[m * src_batch + k * width + j]
// for k < rows[m], j < width (inference: each model's predictions land in its slice of one output).
void launch_multi_store_rows(const float* src, long long src_batch, int width, const int* start, const int* rows,
                             const unsigned char* active, float* dst, const long long* dst_offset, int B,
                             int models, cudaStream_t stream);

// dst[m] = src[m] (n floats, stride p_batch) for every model with flag[m] != 0.
void launch_multi_copy(float* dst, const float* src, std::size_t n, long long p_batch,
                       const unsigned char* flag, int models, cudaStream_t stream);

}  // namespace lstmad::kernels
