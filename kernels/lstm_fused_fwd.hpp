// Forward time loop of one LSTM layer as one persistent kernel (v1, fp32 FMA). Plain C++ header.
//
// Shapes (time-major inside the fused path; x rows are (t, b)):
//   gx     T x B x 4H   x W^T for every step (the caller's GEMM), without bias; gate blocks i|f|g|o
//   R      4H x H       recurrent weights, row-major (lstm/shape.hpp)
//   bW, bR 4H
//   y      (T+1) x B x H  y[0] = h_0 = 0 (written here), y[t+1] = h_t: the layer's output, and the shifted
//                         copy y[0..T-1] = h_{t-1} that backward's dR GEMM reads without a copy
//   gates  T x B x 4H   activated gates (i, f, g, o) kept for backward (null for inference)
//   c      T x B x H    cell states kept for backward (null for inference)
//   hy, cy B x H        final states (either may be null)
// Gates: i, f, o = sigmoid(.), g = tanh(.); c_t = f c_{t-1} + i g; h_t = o tanh(c_t); h_0 = c_0 = 0.
#pragma once
#include <cuda_runtime.h>

#include "kernels/lstm_fused_plan.hpp"

namespace lstmad::kernels {

struct FusedFwdArgs {
  const float* gx = nullptr;  // unused where input.x is set
  FusedInput input;           // the layer's input and W in place of gx (lstm_fused_plan.hpp; D <= 4)
  const float* R = nullptr;
  const float* bW = nullptr;
  const float* bR = nullptr;
  int T = 0;
  float* y = nullptr;
  float* gates = nullptr;
  float* c = nullptr;
  float* hy = nullptr;
  float* cy = nullptr;
  ModelStrides models;  // several models in one launch (lstm_fused_plan.hpp); the default is one
  // The tiled product where the plan takes it (fused_fwd_tiled); false: one unit per thread throughout.
  // The same bits either way.
  bool tiled = true;
};

// Floats of workspace launch_lstm_fused_forward needs per model (R transposed, H x 4H).
inline std::size_t fused_forward_workspace(int H) {
  return static_cast<std::size_t>(4) * H * H;
}

// The launch follows `plan` (plan_fused(H, B, limits)). Raises the kernel's dynamic shared memory limit on
// first use; call once outside CUDA graph capture before capturing. `gates` and `c` must both be set or
// both be null.
// Raises the kernel's dynamic shared memory limit for `plan` (the launch does it too, on first use);
// call it before capturing launches into a CUDA graph.
cudaError_t prepare_lstm_fused_forward(const FusedLaunch& plan);

void launch_lstm_fused_forward(const FusedLaunch& plan, const FusedFwdArgs& args, float* workspace,
                               cudaStream_t stream);

// out[c][a][d] = in[a][c][d] for a < A, c < C, d < D: batch-major <-> time-major for x and dx.
void launch_permute_021(const float* in, int A, int C, int D, float* out, cudaStream_t stream);

}  // namespace lstmad::kernels
