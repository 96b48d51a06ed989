// Two-layer LSTM time loops as one wavefront (fp32 FMA, opt-in): layer 2 runs step t - 2 and the
// projection of h1 into layer 2's gates step t - 1 while layer 1 runs step t, in one persistent kernel
// per direction; the step logic and its schedule are in lstm_wavefront_step.hpp. Plain C++ header.
//
// Where it applies: L = 2, fp32, and R1, W2 and R2 (48 H^2 bytes) together with the step buffers in one
// block's shared memory (H <= 64 on the H200), 3 H threads per batch row of the block. The GEMMs that
// remain are layer 1's input projection (before) and the weight gradients of both layers (after).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "kernels/lstm_fused_plan.hpp"
#include "kernels/lstm_wavefront_step.hpp"

namespace lstmad::kernels {

struct WavefrontLaunch {
  int H = 0, B = 0;
  int grid = 0;            // blocks
  int rows_per_block = 0;  // BB: blockDim = (H, BB, 3)
  std::size_t smem_fwd = 0, smem_bwd = 0;
};

inline std::size_t wavefront_weight_bytes(int H) {
  return static_cast<std::size_t>(48) * H * H;  // R1, W2, R2: 3 x 4H x H floats
}

// grid == 0 when the wavefront cannot run (H, B) on a device with these limits. Rows per block: as few as
// spread the batch over the SMs (the loop is latency-bound), as many as the threads and shared memory allow.
inline WavefrontLaunch plan_wavefront(int H, int B, const FusedLimits& lim) {
  WavefrontLaunch p;
  p.H = H;
  p.B = B;
  if (H < 1 || B < 1 || 3 * H > lim.max_threads) return p;
  const std::size_t optin = lim.smem_optin > 0 ? static_cast<std::size_t>(lim.smem_optin) : 0;
  const std::size_t w = wavefront_weight_bytes(H);
  const std::size_t fwd_row = static_cast<std::size_t>(12) * H * sizeof(float);  // h1, h2: 2 x H; gx2: 2 x 4H
  const std::size_t bwd_row = static_cast<std::size_t>(18) * H * sizeof(float);  // dg1, dg2: 2 x 4H; dy1: 2 x H
  if (w + bwd_row > optin) return p;
  const int by_smem = static_cast<int>((optin - w) / bwd_row);
  const int by_threads = lim.max_threads / (3 * H);
  const int sms = lim.sm_count > 0 ? lim.sm_count : 1;
  int bb = (B + sms - 1) / sms;
  if (bb > by_smem) bb = by_smem;
  if (bb > by_threads) bb = by_threads;
  if (bb < 1) return p;
  p.rows_per_block = bb;
  p.grid = (B + bb - 1) / bb;
  p.smem_fwd = w + static_cast<std::size_t>(bb) * fwd_row;
  p.smem_bwd = w + static_cast<std::size_t>(bb) * bwd_row;
  return p;
}

// Empty when the wavefront runs this shape; otherwise why not.
inline std::string wavefront_unsupported_reason(int layers, int H, int B, const FusedLimits& lim) {
  if (layers != 2) return "the layer wavefront runs two-layer stacks, not " + std::to_string(layers);
  if (plan_wavefront(H, B, lim).grid == 0)
    return "the layer wavefront needs R1, W2 and R2 (" + std::to_string(wavefront_weight_bytes(H)) +
           " bytes at H=" + std::to_string(H) + ") and its step buffers in one block's shared memory and " +
           std::to_string(3 * H) + " threads per row; the device allows " + std::to_string(lim.smem_optin) +
           " bytes and " + std::to_string(lim.max_threads) + " threads";
  return {};
}

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

}  // namespace lstmad::kernels
