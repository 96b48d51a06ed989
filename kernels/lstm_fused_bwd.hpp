// Backward time loop of one LSTM layer as one persistent kernel (v1, fp32 FMA). Plain C++ header.
//
// Shapes (time-major, as lstm_fused_fwd.hpp writes them):
//   R      4H x H       recurrent weights, row-major
//   gates  T x B x 4H   activated gates of the training forward
//   c      T x B x H    cell states of the training forward
//   dy     T x B x H    dLoss/dh_t from above (the next layer's dx), or null (zero)
//   dhy    B x H        dLoss/dh_T added at the last step (the head's backward), or null
//   dgates T x B x 4H   out: dLoss/d(pre-activation) per gate, i|f|g|o
// The weight, bias and input gradients are GEMMs over all steps on dgates, done by the caller:
//   dW = dgates^T x, dR = dgates^T y[0..T-1] (h_{t-1}), dbW = dbR = column sums of dgates, dx = dgates W.
#pragma once
#include <cuda_runtime.h>

#include "kernels/lstm_fused_plan.hpp"

namespace lstmad::kernels {

struct FusedBwdArgs {
  const float* R = nullptr;
  const float* gates = nullptr;
  const float* c = nullptr;
  const float* dy = nullptr;
  const float* dhy = nullptr;
  int T = 0;
  float* dgates = nullptr;
  ModelStrides models;  // several models in one launch (lstm_fused_plan.hpp); the default is one
  // The tiled recurrent gradient where the plan takes it (fused_bwd_tiled); false: one unit per thread
  // throughout. The same bits either way.
  bool tiled = true;
};

// The launch follows `plan` (plan_fused(H, B, limits)). Raises the kernel's dynamic shared memory limit on
// first use; call once outside CUDA graph capture before capturing.
// Raises the kernel's dynamic shared memory limit for `plan` (the launch does it too, on first use);
// call it before capturing launches into a CUDA graph.
cudaError_t prepare_lstm_fused_backward(const FusedLaunch& plan);

void launch_lstm_fused_backward(const FusedLaunch& plan, const FusedBwdArgs& args, cudaStream_t stream);

}  // namespace lstmad::kernels
