// Launch plan of the two-layer wavefront kernels (lstm_wavefront.hpp) from H, B and the device's limits,
// which the caller reads at run time. Host-only (no CUDA headers), tested without a device.
#pragma once
#include <cstddef>
#include <string>

#include "kernels/lstm_fused_plan.hpp"
#include "kernels/lstm_wavefront_step.hpp"

namespace lstmad::kernels {

struct WavefrontLaunch {
  int H = 0, B = 0;
  int grid = 0;            // blocks
  int rows_per_block = 0;  // BB
  int threads = 0;         // 3 x wavefront::role_threads(H, BB): blockDim = (role threads, 3)
  std::size_t smem_fwd = 0, smem_bwd = 0;
};

// The kernels' sizes for a launch of `p` over a window of T steps (the wavefront's and its split's).
inline wavefront::Dims wavefront_dims(const WavefrontLaunch& p, int T) {
  wavefront::Dims d;
  d.T = T;
  d.B = p.B;
  d.H = p.H;
  d.BB = p.rows_per_block;
  return d;
}

inline std::size_t wavefront_weight_bytes(int H) {
  return static_cast<std::size_t>(wavefront::weight_floats(H)) * sizeof(float);  // R1, W2, R2
}

// grid == 0 when the wavefront cannot run (H, B) on a device with these limits. Rows per block: as few as
// spread the batch over the SMs (the loop is latency-bound), as many as the threads and shared memory
// allow.
// layers: the layers' order of the multi-model path (wavefront::bwd_buffer_floats_layers).
inline WavefrontLaunch plan_wavefront(int H, int B, const FusedLimits& lim, bool layers = false) {
  WavefrontLaunch p;
  p.H = H;
  p.B = B;
  if (H < 1 || B < 1) return p;
  const std::size_t optin = lim.smem_optin > 0 ? static_cast<std::size_t>(lim.smem_optin) : 0;
  auto fwd = [&](int bb) {
    return static_cast<std::size_t>(wavefront::weight_floats(H) + wavefront::fwd_buffer_floats(H, bb)) * sizeof(float);
  };
  auto bwd = [&](int bb) {
    const long long buffers =
        layers ? wavefront::bwd_buffer_floats_layers(H, bb) : wavefront::bwd_buffer_floats(H, bb);
    return static_cast<std::size_t>(wavefront::weight_floats(H) + buffers) * sizeof(float);
  };
  const int sms = lim.sm_count > 0 ? lim.sm_count : 1;
  int bb = (B + sms - 1) / sms;
  while (bb > 0 && (bwd(bb) > optin || fwd(bb) > optin || 3 * wavefront::role_threads(H, bb) > lim.max_threads)) --bb;
  if (bb < 1) return p;
  p.rows_per_block = bb;
  p.grid = (B + bb - 1) / bb;
  p.threads = 3 * wavefront::role_threads(H, bb);
  p.smem_fwd = fwd(bb);
  p.smem_bwd = bwd(bb);
  return p;
}

// The wavefront with four threads per unit (launch_wavefront_*_split, lstm_wavefront_split.cu) for H in
// {16, 32, 64}: blockDim (4 H BB, 3), the three matrices in shared memory as for the wavefront, the
// backward's gate-gradient buffers padded to 4 (H + 1) per row. grid == 0 for another H, or where 12 H
// threads a row or the shared memory do not fit. Rows per block as for the wavefront.
inline bool wavefront_split_hidden_supported(int H) {
  return H == 16 || H == 32 || H == 64;
}
// The block size the split kernels are compiled for (their __launch_bounds__): the most whole rows of
// 12 H threads in 1024, so that the compiler may give each thread 65536 / that many registers.
constexpr int wavefront_split_max_threads(int H) {
  return H > 0 && 12 * H <= 1024 ? 12 * H * (1024 / (12 * H)) : 1024;
}
// At H <= 32 each thread holds its H weights in registers (no weights in shared memory); at H = 64 they
// stay in shared memory (768 threads a row leave 85 registers each).
constexpr bool wavefront_split_weights_in_registers(int H) {
  return H <= 32;
}
inline WavefrontLaunch plan_wavefront_split(int H, int B, const FusedLimits& lim) {
  WavefrontLaunch p;
  p.H = H;
  p.B = B;
  if (!wavefront_split_hidden_supported(H) || B < 1) return p;
  const std::size_t optin = lim.smem_optin > 0 ? static_cast<std::size_t>(lim.smem_optin) : 0;
  const long long weights = wavefront_split_weights_in_registers(H) ? 0 : wavefront::weight_floats(H);
  const auto fwd = [&](int bb) {
    return static_cast<std::size_t>(weights + 2LL * bb * (2 * H + 4 * H)) * sizeof(float);
  };
  const auto bwd = [&](int bb) {
    return static_cast<std::size_t>(weights + 2LL * bb * (2 * 4 * (H + 1) + H)) * sizeof(float);
  };
  const int sms = lim.sm_count > 0 ? lim.sm_count : 1;
  int bb = (B + sms - 1) / sms;
  while (bb > 0 && (bwd(bb) > optin || fwd(bb) > optin || 12 * H * bb > lim.max_threads ||
                    12 * H * bb > wavefront_split_max_threads(H)))
    --bb;
  if (bb < 1) return p;
  p.rows_per_block = bb;
  p.grid = (B + bb - 1) / bb;
  p.threads = 12 * H * bb;
  p.smem_fwd = fwd(bb);
  p.smem_bwd = bwd(bb);
  return p;
}

// Empty when the wavefront runs this shape; otherwise why not.
inline std::string wavefront_unsupported_reason(int layers, int H, int B, const FusedLimits& lim) {
  if (layers != 2) return "the layer wavefront runs two-layer stacks, not " + std::to_string(layers);
  if (plan_wavefront(H, B, lim).grid == 0)
    return "the layer wavefront needs R1, W2 and R2 (" + std::to_string(wavefront_weight_bytes(H)) +
           " bytes at H=" + std::to_string(H) + ") and its step buffers in one block's shared memory and " +
           std::to_string(3 * H) + " threads per row (whole warps per role); the device allows " + std::to_string(lim.smem_optin) +
           " bytes and " + std::to_string(lim.max_threads) + " threads";
  return {};
}

}  // namespace lstmad::kernels
