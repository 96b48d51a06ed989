// Launch plan of the split time-loop kernels (lstm_fused_split.hpp) from H, B and the device's limits.
// Host-only and header-only (no CUDA headers), tested without a device.
//
// The kernels' geometry: a block is 4H x BB threads and owns BB batch rows for all T steps; the four
// threads 4j .. 4j+3 of a row (consecutive lanes of one warp) share hidden unit j, one gate (forward) or
// one quarter of R's rows (backward) each, with their H weights in registers. So H must be one the
// kernels are instantiated for (a multiple of 8, for whole warps per row) and 4H x BB threads must fit the
// block.
#pragma once
#include <cstddef>

#include "kernels/lstm_fused_plan.hpp"

namespace lstmad::kernels {

struct SplitLaunch {
  int H = 0, B = 0;
  int grid = 0;                            // blocks; 0: the split kernels do not take this shape
  int rows_per_block = 0;                  // BB = blockDim.y
  std::size_t smem_fwd = 0, smem_bwd = 0;  // dynamic shared memory bytes
};

// The hidden sizes the split kernels are instantiated for: each thread holds H weights in registers.
inline bool split_hidden_supported(int H) {
  return H == 16 || H == 32 || H == 64;
}

// The backward's shared gate gradients of one row: four quarters of H, each padded by one float so that
// the four lanes of a unit, reading quarter p at the same offset, hit four different banks.
inline int split_dgate_stride(int H) {
  return 4 * (H + 1);
}

// Rows per block: as few as spread the batch over the SMs (the loop is latency-bound), as many as the
// threads allow.
inline SplitLaunch plan_fused_split(int H, int B, const FusedLimits& lim) {
  SplitLaunch p;
  p.H = H;
  p.B = B;
  if (!split_hidden_supported(H) || B < 1) return p;
  const int max_threads = lim.max_threads < kFusedMaxThreads ? lim.max_threads : kFusedMaxThreads;
  const int max_bb = max_threads / (4 * H);
  if (max_bb < 1) return p;
  const int sms = lim.sm_count > 0 ? lim.sm_count : 1;
  int bb = (B + sms - 1) / sms;
  if (bb > max_bb) bb = max_bb;
  const std::size_t fwd = static_cast<std::size_t>(2) * bb * H * sizeof(float);
  const std::size_t bwd = static_cast<std::size_t>(2) * bb * split_dgate_stride(H) * sizeof(float);
  const std::size_t optin = lim.smem_optin > 0 ? static_cast<std::size_t>(lim.smem_optin) : 0;
  if (fwd > optin || bwd > optin) return p;
  p.rows_per_block = bb;
  p.grid = (B + bb - 1) / bb;
  p.smem_fwd = fwd;
  p.smem_bwd = bwd;
  return p;
}

}  // namespace lstmad::kernels
