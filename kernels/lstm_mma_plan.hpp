// Launch plan of the tensor-core time loops (lstm_fused_mma.hpp) from the operand format, H, B and the
// device's limits, which the caller reads at run time. Host-only (no CUDA headers), tested without a device.
#pragma once
#include <cstddef>
#include <string>

#include "kernels/lstm_fused_plan.hpp"
#include "kernels/lstm_mma_layout.hpp"

namespace lstmad::kernels {

constexpr int kMmaMaxHidden = 256;
constexpr int kMmaRowsPerBlock = 8;
constexpr int kMmaMaxThreads = 512;  // the kernels' __launch_bounds__
// Registers of A fragments a lane may hold (mma_r_in_registers): with 64 the unsplit backward kernel, which
// also holds the next step's inputs for four cells, spills (nvcc 13.0: 16-80 bytes at BF16 H = 48, 64 and
// TF32 H = 32); split into parts of K (mma_bwd_parts), a lane holds one or two cells' and takes 64.
constexpr int kMmaRegBudgetFwd = 64, kMmaRegBudgetBwd = 32, kMmaRegBudgetBwdSplit = 64;

// The parts of K the backward time loop splits each 16-unit tile's k-steps into, one warp per part
// (version 3.4): part p runs the accumulator chains p, p + P, ... of the four the unsplit warp runs
// (k-steps ks with ks % 4 == chain, in order) and takes the cells p, p + P, ... of each lane's four, so a
// step's cell math, step inputs and A fragments spread over P times the warps, and the chains meet in
// shared memory, added in the unsplit kernel's order: the same bits. 4 up to H = 64 and 2 up to H = 128,
// so that H / 16 x 32 x P threads stay within the kernels' 512.
constexpr int mma_bwd_parts(int H) {
  return H <= 64 ? 4 : H <= 128 ? 2 : 1;
}
// When plan_fused_mma splits the backward (version 3.4): never; where the launch has no more blocks than
// the device has SMs (the default); or wherever mma_bwd_parts allows (to compare, at many models).
enum class BwdSplit { Off, FitSms, Always };

// Bytes of the chains' exchange buffer of a split backward block: per tile 4 chains x 4 cells x 32 lanes.
constexpr std::size_t mma_bwd_exchange_bytes(int H) {
  return static_cast<std::size_t>(H / 16) * 4 * 4 * 32 * 4;
}

struct MmaLaunch {
  mma::Format format = mma::Format::TF32;
  int H = 0, B = 0;
  int grid = 0;                                 // blocks of 8 batch rows
  int fwd_threads = 0;                          // 32 x warps
  int fwd_units_per_warp = 0;                   // 8 or 16
  int bwd_parts = 1;                            // parts of K per backward tile (mma_bwd_parts), 1 unsplit
  int bwd_threads = 0;                          // 32 x H / 16 x bwd_parts
  bool r_reg_fwd = false, r_reg_bwd = false;    // R held in registers (mma_r_in_registers)
  bool r_smem_fwd = false, r_smem_bwd = false;  // else all of R in shared memory, else some or none of it
  // K-steps per tile whose A fragments sit in shared memory where R is not in registers: all of them where
  // r_smem_*, else as many as fit beside the step buffers (a multiple of 4), the rest read from L2.
  int r_ksteps_fwd = 0, r_ksteps_bwd = 0;
  std::size_t smem_fwd = 0, smem_bwd = 0;       // dynamic shared memory, bytes
};

// Where R fits in registers: each lane then holds its A fragments for every k-step of its tiles, loaded
// once, and the step reads no R from shared memory at all. Forward: 2 tiles x H / K k-steps x 4 registers
// within 64 (half of the 128 that __launch_bounds__(512, 1) allows): H <= 64 TF32, H <= 128 BF16.
// Backward, `parts` warps per tile: 4H / K / parts k-steps x 4 within 32 unsplit (H <= 16 TF32, H <= 32
// BF16), 64 split (4 parts: H <= 64 in both formats; 2 parts: BF16 up to H = 128, TF32 none). The kernels
// are instantiated for exactly these H.
constexpr bool mma_r_in_registers(mma::Format f, int H, bool backward, int parts = 1) {
  if (H < 16 || H % 16 != 0) return false;
  const int K = f == mma::Format::TF32 ? 8 : 16;
  if (!backward) return 2 * 4 * (H / K) <= kMmaRegBudgetFwd;
  return 4 * (4 * H / K) / parts <= (parts > 1 ? kMmaRegBudgetBwdSplit : kMmaRegBudgetBwd);
}

// Bytes of fragment-ordered R (the staging workspace of one direction).
inline std::size_t mma_r_bytes(mma::Format f, int H) {
  return static_cast<std::size_t>(mma::a_words(f, H)) * 4;
}

// Bytes of one k-step of every tile of fragment-ordered A (32 lanes x 16 bytes per tile).
inline std::size_t mma_kstep_bytes(int tiles) {
  return static_cast<std::size_t>(tiles) * 32 * 16;
}

// The k-steps per tile of fragment-ordered A (`ksteps` in all, `tiles` tiles) that fit `room` bytes of
// shared memory: all of them (R in shared memory), else as many as fit rounded down to a multiple of 4, so
// that each accumulator chain (and each part's, in a split backward) crosses from shared memory to L2 at
// the same k-step.
inline int mma_smem_ksteps(int tiles, int ksteps, std::size_t room) {
  const std::size_t k = room / mma_kstep_bytes(tiles);
  return k >= static_cast<std::size_t>(ksteps) ? ksteps : static_cast<int>(k - k % 4);
}

// Empty when the tensor-core kernels take hidden size H and batch B on a device with these limits.
inline std::string mma_unsupported_reason(mma::Format f, int H, int B, const FusedLimits& lim) {
  const char* name = f == mma::Format::TF32 ? "tf32" : "bf16";
  if (H < 16 || H % 16 != 0 || H > kMmaMaxHidden)
    return std::string("the fused tensor-core kernels (") + name +
           ") take hidden sizes that are multiples of 16 up to " + std::to_string(kMmaMaxHidden) + ", not " +
           std::to_string(H) +
           (H <= kFusedMaxHidden
                ? "; precision fp32 on engine \"fused\", or engine \"cudnn\", takes this shape"
                : "; engine \"cudnn\" takes this shape (the fused fp32 kernels take H up to " +
                      std::to_string(kFusedMaxHidden) + ")");
  if (B < 1) return "the fused tensor-core kernels need batch >= 1";
  const int threads = H <= 128 ? H / 8 * 32 : H / 16 * 32;
  if (threads > lim.max_threads || H / 16 * 32 > lim.max_threads)
    return "the device allows " + std::to_string(lim.max_threads) + " threads per block, the tensor-core " +
           "kernels need " + std::to_string(threads) + " at H=" + std::to_string(H) +
           "; engine \"cudnn\" takes this shape";
  const std::size_t optin = lim.smem_optin > 0 ? static_cast<std::size_t>(lim.smem_optin) : 0;
  const std::size_t bwd_buf =
      static_cast<std::size_t>(2) * kMmaRowsPerBlock * mma::b_stride(f, 4 * H) * 4;  // dgates, 2 buffers
  if (bwd_buf > optin)
    return "the fused tensor-core kernels need " + std::to_string(bwd_buf) +
           " bytes of shared memory at H=" + std::to_string(H) + ", the device allows " +
           std::to_string(optin) + "; engine \"cudnn\" takes this shape";
  return {};
}

// `models` models of this shape per launch (the multi-model engine; blockIdx.y). split: the backward in
// parts of K where mma_bwd_parts says so, the device takes its threads and exchange buffer, and (FitSms)
// the launch has no more blocks than the device has SMs (the same bits either way; Off keeps one warp per
// tile, Always splits at any number of blocks, both to compare). The split shortens a step, the time of a
// launch whose blocks all run at once; with more blocks than SMs the time is the SMs' throughput, and there a
// split block of 512 threads holds an SM that the unsplit kernel shares among up to four blocks of its 8 rows
// (at H = 64: 128 threads, 126 registers).
inline MmaLaunch plan_fused_mma(mma::Format f, int H, int B, const FusedLimits& lim, int models = 1,
                                BwdSplit split = BwdSplit::FitSms) {
  MmaLaunch p;
  p.format = f;
  p.H = H;
  p.B = B;
  if (!mma_unsupported_reason(f, H, B, lim).empty()) return p;
  p.grid = (B + kMmaRowsPerBlock - 1) / kMmaRowsPerBlock;
  p.fwd_units_per_warp = H <= 128 ? 8 : 16;
  p.fwd_threads = H / p.fwd_units_per_warp * 32;
  const std::size_t optin = lim.smem_optin > 0 ? static_cast<std::size_t>(lim.smem_optin) : 0;
  const std::size_t fwd_buf = static_cast<std::size_t>(2) * kMmaRowsPerBlock * mma::b_stride(f, H) * 4;
  std::size_t bwd_buf = static_cast<std::size_t>(2) * kMmaRowsPerBlock * mma::b_stride(f, 4 * H) * 4;
  const long long blocks = static_cast<long long>(p.grid) * (models > 1 ? models : 1);
  const bool split_here = split == BwdSplit::Always || (split == BwdSplit::FitSms && blocks <= lim.sm_count);
  const int parts = split_here ? mma_bwd_parts(H) : 1;
  const int fks = mma::fwd_ksteps(f, H), bks = mma::bwd_ksteps(f, H);
  const int ft = mma::fwd_tiles(H), bt = mma::bwd_tiles(H);
  // R's k-steps per tile in shared memory beside `buf` bytes of step buffers (0 where they do not fit).
  const auto smem_ksteps = [&](int tiles, int ks, std::size_t buf) {
    return optin > buf ? mma_smem_ksteps(tiles, ks, optin - buf) : 0;
  };
  // Where R^T sits, 2 registers, 1 all of it in shared memory, 0 some or none: the split must not move it
  // further out (its exchange buffer would push R out of shared memory at TF32 H = 112 on an H200).
  const auto placement = [&](int n, std::size_t buf) {
    return mma_r_in_registers(f, H, true, n) ? 2 : smem_ksteps(bt, bks, buf) == bks ? 1 : 0;
  };
  const std::size_t split_buf = bwd_buf + mma_bwd_exchange_bytes(H);
  const int max_threads = lim.max_threads < kMmaMaxThreads ? lim.max_threads : kMmaMaxThreads;
  if (parts > 1 && H / 16 * 32 * parts <= max_threads && split_buf <= optin &&
      placement(parts, split_buf) >= placement(1, bwd_buf)) {
    p.bwd_parts = parts;
    bwd_buf = split_buf;
  }
  p.bwd_threads = H / 16 * 32 * p.bwd_parts;
  p.r_reg_fwd = mma_r_in_registers(f, H, false);
  p.r_reg_bwd = mma_r_in_registers(f, H, true, p.bwd_parts);
  // Where all of R does not fit, as much of it as does: per step each block then reads only the rest from
  // L2 (at TF32 H = 128 on an H200 about 1/4 of R's 256 KB instead of all of it).
  p.r_ksteps_fwd = p.r_reg_fwd ? 0 : smem_ksteps(ft, fks, fwd_buf);
  p.r_ksteps_bwd = p.r_reg_bwd ? 0 : smem_ksteps(bt, bks, bwd_buf);
  p.r_smem_fwd = !p.r_reg_fwd && p.r_ksteps_fwd == fks;
  p.r_smem_bwd = !p.r_reg_bwd && p.r_ksteps_bwd == bks;
  p.smem_fwd = p.r_ksteps_fwd * mma_kstep_bytes(ft) + fwd_buf;
  p.smem_bwd = p.r_ksteps_bwd * mma_kstep_bytes(bt) + bwd_buf;
  return p;
}

}  // namespace lstmad::kernels
