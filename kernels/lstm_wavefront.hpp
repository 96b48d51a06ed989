// Two-layer LSTM time loops as one wavefront (fp32 FMA, opt-in): layer 2 runs step t - 2 and the
// projection of h1 into layer 2's gates step t - 1 while layer 1 runs step t, in one persistent kernel
// per direction; the step logic and its schedule are in lstm_wavefront_step.hpp. Plain C++ header.
//
// Where it applies: L = 2, fp32, and R1, W2 and R2 (48 H^2 bytes) together with the step buffers in one
// block's shared memory (H <= 68 on the H200), 3 H threads per batch row of the block (each role rounded up
// to whole warps). The GEMMs that
// remain are layer 1's input projection (before) and the weight gradients of both layers (after).
#pragma once
#include <cuda_runtime.h>

#include "kernels/lstm_wavefront_plan.hpp"
#include "kernels/lstm_wavefront_step.hpp"

namespace lstmad::kernels {

struct WavefrontFwdArgs {
  const float *W2 = nullptr, *R1 = nullptr, *R2 = nullptr;  // 4H x H each, as stored
  wavefront::FwdGlobal g;
  int T = 0;
};

struct WavefrontBwdArgs {
  const float *W2 = nullptr, *R1 = nullptr, *R2 = nullptr;
  wavefront::BwdGlobal g;
  int T = 0;
};

// Sets both kernels' dynamic shared memory limits for `plan` (call before capturing into a CUDA graph).
cudaError_t prepare_wavefront(const WavefrontLaunch& plan);
// Forward: transposes R1, W2, R2 into `workspace` (12 H^2 floats), then runs the loop.
void launch_wavefront_forward(const WavefrontLaunch& plan, const WavefrontFwdArgs& args, float* workspace,
                              cudaStream_t stream);
void launch_wavefront_backward(const WavefrontLaunch& plan, const WavefrontBwdArgs& args, cudaStream_t stream);

// Many models per launch in the layers' order (lstm_wavefront_step.hpp, lstm_wavefront_multi.cu; plan
// with plan_wavefront(..., /*layers=*/true)): the multi-model path's layer-by-layer bits. blockIdx.y is the
// model; every pointer moves by its stride in `ms` (lstm_fused_plan.hpp): W1, the biases, R1, W2, R2 by
// param, the transposed weights in `workspace` by rt (at least wavefront::weight_floats(H) floats per
// model), gx1 by gx, x by x, y1 and y2 by y, gates, dgates by gates, c by seq, hy, cy (forward) and dhy
// (backward) by state. rows[m] rows of model m are real; active[m] == 0 skips it. Nothing is written for the
// rows past rows[m]: dgates of those rows keep what they held.
cudaError_t prepare_wavefront_layers(const WavefrontLaunch& plan);
void launch_wavefront_forward_layers(const WavefrontLaunch& plan, const WavefrontFwdArgs& args,
                                     float* workspace, const ModelStrides& ms, cudaStream_t stream);
void launch_wavefront_backward_layers(const WavefrontLaunch& plan, const WavefrontBwdArgs& args,
                                      const ModelStrides& ms, cudaStream_t stream);

// The same loops with four threads per unit (lstm_wavefront_split.cu; plan_wavefront_split, H = 16, 32,
// 64): the wavefront's bits. They read R1, W2 and R2 as stored (no workspace).
cudaError_t prepare_wavefront_split(const WavefrontLaunch& plan);
void launch_wavefront_forward_split(const WavefrontLaunch& plan, const WavefrontFwdArgs& args,
                                    cudaStream_t stream);
void launch_wavefront_backward_split(const WavefrontLaunch& plan, const WavefrontBwdArgs& args,
                                     cudaStream_t stream);

}  // namespace lstmad::kernels
