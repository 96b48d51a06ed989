// Launch configuration of the fused LSTM time-loop kernels (lstm_fused_fwd.hpp, lstm_fused_bwd.hpp), from
// the hidden size H, the batch B and the device's limits, which the caller reads from the device at run
// time. Host-only and header-only (no CUDA headers), so that the decision is testable without a device.
//
// The kernels' geometry: a block is H x G threads; thread (j, g) owns hidden unit j of up to MAXR batch
// rows (local rows g, g + G, g + 2G, ...). A block owns `rows_per_block` (BB) batch rows for all T steps,
// so blocks never synchronise with each other; the batch is split over `grid` blocks. Shared memory holds
// R (4H x H fp32 = 16 H^2 bytes) when it fits next to the per-step buffers, otherwise the kernels read a
// pre-transposed R from global memory (it stays in L2: 1 MB at H = 256) - see docs/kernels.md.
#pragma once
#include <cstddef>
#include <string>

namespace lstmad::kernels {

struct FusedLimits {
  int sm_count = 1;            // cudaDevAttrMultiProcessorCount
  int smem_optin = 48 * 1024;  // cudaDevAttrMaxSharedMemoryPerBlockOptin, bytes
  int max_threads = 1024;      // cudaDevAttrMaxThreadsPerBlock
};

struct FusedLaunch {
  int H = 0, B = 0;
  int grid = 0;            // blocks
  int rows_per_block = 0;  // BB
  int groups = 0;          // G = blockDim.y; blockDim.x = H
  int max_rows = 0;        // MAXR, the kernel instantiation: 1, 2 or 4 rows per thread
  bool r_smem_fwd = false, r_smem_bwd = false;
  std::size_t smem_fwd = 0, smem_bwd = 0;  // dynamic shared memory bytes
};

// Limits of this version (v1): one hidden unit per thread, so H <= kFusedMaxHidden; 512 threads per block
// at most, which leaves 128 registers per thread.
constexpr int kFusedMaxHidden = 512;
constexpr int kFusedMaxThreads = 512;
constexpr int kFusedMaxRowsPerThread = 4;

inline std::size_t fused_r_bytes(int H) {
  return static_cast<std::size_t>(16) * H * H;  // 4H x H floats
}

inline FusedLaunch plan_fused(int H, int B, const FusedLimits& lim) {
  FusedLaunch p;
  p.H = H;
  p.B = B;
  if (H < 1 || B < 1) return p;
  const int threads_cap = lim.max_threads < kFusedMaxThreads ? lim.max_threads : kFusedMaxThreads;
  const int g_cap = threads_cap / H > 1 ? threads_cap / H : 1;
  // One block per SM first: the time loop is latency-bound, so fewer rows per block is a shorter step.
  const int sms = lim.sm_count > 0 ? lim.sm_count : 1;
  const int grid0 = B < sms ? B : sms;
  int bb = (B + grid0 - 1) / grid0;
  const int g = bb < g_cap ? bb : g_cap;
  int rpt = (bb + g - 1) / g;
  if (rpt > kFusedMaxRowsPerThread) {  // more rows than one wave of blocks holds: more blocks, in waves
    rpt = kFusedMaxRowsPerThread;
    bb = g * rpt;
  }
  p.rows_per_block = bb;
  p.groups = g;
  p.grid = (B + bb - 1) / bb;
  p.max_rows = rpt <= 1 ? 1 : (rpt <= 2 ? 2 : 4);
  const std::size_t fwd_buf = static_cast<std::size_t>(2) * bb * H * sizeof(float);  // h, double-buffered
  const std::size_t bwd_buf =
      static_cast<std::size_t>(2) * bb * 4 * H * sizeof(float);  // dgates, double-buffered
  const std::size_t optin = lim.smem_optin > 0 ? static_cast<std::size_t>(lim.smem_optin) : 0;
  p.r_smem_fwd = fused_r_bytes(H) + fwd_buf <= optin;
  p.r_smem_bwd = fused_r_bytes(H) + bwd_buf <= optin;
  p.smem_fwd = (p.r_smem_fwd ? fused_r_bytes(H) : 0) + fwd_buf;
  p.smem_bwd = (p.r_smem_bwd ? fused_r_bytes(H) : 0) + bwd_buf;
  return p;
}

// Empty when the fused kernels can run hidden size H at batch B on a device with these limits; otherwise
// why not, naming the engine that can.
inline std::string fused_unsupported_reason(int H, int B, const FusedLimits& lim) {
  if (H > kFusedMaxHidden)
    return "the fused kernels take hidden sizes up to " + std::to_string(kFusedMaxHidden) +
           " (one hidden unit per thread), not " + std::to_string(H) + "; engine \"cudnn\" takes this shape";
  if (H < 1 || B < 1) return "the fused kernels need H >= 1 and batch >= 1";
  const FusedLaunch p = plan_fused(H, B, lim);
  if (p.groups * H > lim.max_threads)
    return "the device allows " + std::to_string(lim.max_threads) + " threads per block, hidden size " +
           std::to_string(H) + " needs " + std::to_string(p.groups * H) +
           "; engine \"cudnn\" takes this shape";
  if (p.smem_fwd > static_cast<std::size_t>(lim.smem_optin) ||
      p.smem_bwd > static_cast<std::size_t>(lim.smem_optin))
    return "the fused kernels need " + std::to_string(p.smem_bwd) +
           " bytes of shared memory per block at H=" + std::to_string(H) + ", the device allows " +
           std::to_string(lim.smem_optin) + "; engine \"cudnn\" takes this shape";
  return {};
}

}  // namespace lstmad::kernels
