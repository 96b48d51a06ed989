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
// Registers of A fragments a lane may hold (mma_r_in_registers): with 64 the backward kernel, which also
// holds the next step's inputs, spills (nvcc 13.0: 16-80 bytes at BF16 H = 48, 64 and TF32 H = 32).
constexpr int kMmaRegBudgetFwd = 64, kMmaRegBudgetBwd = 32;

struct MmaLaunch {
  mma::Format format = mma::Format::TF32;
  int H = 0, B = 0;
  int grid = 0;                                 // blocks of 8 batch rows
  int fwd_threads = 0;                          // 32 x warps
  int fwd_units_per_warp = 0;                   // 8 or 16
  int bwd_threads = 0;                          // 32 x H / 16
  bool r_reg_fwd = false, r_reg_bwd = false;    // R held in registers (mma_r_in_registers)
  bool r_smem_fwd = false, r_smem_bwd = false;  // else R in shared memory, else read from L2
  std::size_t smem_fwd = 0, smem_bwd = 0;       // dynamic shared memory, bytes
};

// Where R fits in registers: each lane then holds its A fragments for every k-step of its tiles, loaded
// once, and the step reads no R from shared memory at all. Forward: 2 tiles x H / K k-steps x 4 registers
// within 64 (half of the 128 that __launch_bounds__(512, 1) allows): H <= 64 TF32, H <= 128 BF16.
// Backward: 1 tile x 4H / K k-steps x 4 within 32: H <= 16 TF32, H <= 32 BF16. The kernels are
// instantiated for exactly these H.
constexpr bool mma_r_in_registers(mma::Format f, int H, bool backward) {
  if (H < 16 || H % 16 != 0) return false;
  const int K = f == mma::Format::TF32 ? 8 : 16;
  const int regs = backward ? 4 * (4 * H / K) : 2 * 4 * (H / K);
  return regs <= (backward ? kMmaRegBudgetBwd : kMmaRegBudgetFwd);
}

// Bytes of fragment-ordered R (the staging workspace of one direction).
inline std::size_t mma_r_bytes(mma::Format f, int H) {
  return static_cast<std::size_t>(mma::a_words(f, H)) * 4;
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

inline MmaLaunch plan_fused_mma(mma::Format f, int H, int B, const FusedLimits& lim) {
  MmaLaunch p;
  p.format = f;
  p.H = H;
  p.B = B;
  if (!mma_unsupported_reason(f, H, B, lim).empty()) return p;
  p.grid = (B + kMmaRowsPerBlock - 1) / kMmaRowsPerBlock;
  p.fwd_units_per_warp = H <= 128 ? 8 : 16;
  p.fwd_threads = H / p.fwd_units_per_warp * 32;
  p.bwd_threads = H / 16 * 32;
  const std::size_t optin = lim.smem_optin > 0 ? static_cast<std::size_t>(lim.smem_optin) : 0;
  const std::size_t r = mma_r_bytes(f, H);
  const std::size_t fwd_buf = static_cast<std::size_t>(2) * kMmaRowsPerBlock * mma::b_stride(f, H) * 4;
  const std::size_t bwd_buf = static_cast<std::size_t>(2) * kMmaRowsPerBlock * mma::b_stride(f, 4 * H) * 4;
  p.r_reg_fwd = mma_r_in_registers(f, H, false);
  p.r_reg_bwd = mma_r_in_registers(f, H, true);
  p.r_smem_fwd = !p.r_reg_fwd && r + fwd_buf <= optin;
  p.r_smem_bwd = !p.r_reg_bwd && r + bwd_buf <= optin;
  p.smem_fwd = (p.r_smem_fwd ? r : 0) + fwd_buf;
  p.smem_bwd = (p.r_smem_bwd ? r : 0) + bwd_buf;
  return p;
}

}  // namespace lstmad::kernels
