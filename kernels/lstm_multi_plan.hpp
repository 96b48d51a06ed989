// Launch plan and memory of the multi-model fused path (lstm_multi.hpp): N independent models of one
// shape trained in lockstep, the model index a grid dimension of every kernel. Host-only and header-only
// (no CUDA headers), so the scheduler (experiments/scheduler.hpp) and the tests use it without a device.
//
// Per model the buffers are those of one FusedLstm plus the training state (parameters, gradient, Adam
// moments, best parameters), the model's series and its window lists; models never share a buffer, so
// what one model computes cannot depend on the others or on N.
#pragma once
#include <cstddef>

#include "kernels/lstm_fused_plan.hpp"

namespace lstmad::kernels {

// The time-loop plan for one model of a batch of `models`: the SMs are shared out first, so with N at
// least the SM count each model gets the fewest blocks (most rows per block, most reuse of R in shared
// memory). The per-(row, unit) arithmetic of the kernels does not depend on the plan, so neither do the
// results.
// When those rows per block push R out of shared memory but fewer rows would keep it there (H of about
// 90 to 118), the rows per block shrink until R fits: more blocks, each with R on chip.
inline FusedLaunch plan_fused_multi(int H, int B, int models, const FusedLimits& lim) {
  FusedLimits per = lim;
  const int n = models > 0 ? models : 1;
  per.sm_count = lim.sm_count / n > 0 ? lim.sm_count / n : 1;
  FusedLaunch p = plan_fused(H, B, per);
  if (p.grid <= 0 || (p.r_smem_fwd && p.r_smem_bwd)) return p;
  const std::size_t optin = lim.smem_optin > 0 ? static_cast<std::size_t>(lim.smem_optin) : 0;
  const std::size_t per_row = static_cast<std::size_t>(2) * 4 * H * sizeof(float);  // backward's buffers
  if (fused_r_bytes(H) + per_row > optin) return p;  // R does not fit even with one row
  const int bb_max = static_cast<int>((optin - fused_r_bytes(H)) / per_row);
  // The most SMs' worth of blocks (at one row per block at the least) that keeps bb <= bb_max.
  for (int sms = per.sm_count; sms <= B; ++sms) {
    per.sm_count = sms;
    const FusedLaunch q = plan_fused(H, B, per);
    if (q.rows_per_block <= bb_max && q.r_smem_fwd && q.r_smem_bwd) return q;
  }
  return p;
}

// Blocks of the time-loop kernels that one SM holds at once: the least of what its threads (2048 an SM),
// its shared memory and its register file allow. The kernels are compiled with
// __launch_bounds__(kFusedMaxThreads, 1), which lets each thread take the register file's share of one
// kFusedMaxThreads-thread block (128 registers on sm_90; ptxas reports 72 to 128), so the register file
// is counted at that ceiling: kFusedMaxThreads / threads blocks.
inline int fused_blocks_per_sm(const FusedLaunch& p, int smem_per_sm) {
  const int threads = p.H * p.groups;
  if (threads <= 0) return 0;
  const int by_threads = 2048 / threads;
  const int by_regs = kFusedMaxThreads / threads;
  const std::size_t smem = p.smem_fwd > p.smem_bwd ? p.smem_fwd : p.smem_bwd;
  const int by_smem = smem > 0 ? static_cast<int>(static_cast<std::size_t>(smem_per_sm) / smem) : by_threads;
  int b = by_threads < by_smem ? by_threads : by_smem;
  b = b < by_regs ? b : by_regs;
  return b > 0 ? b : 0;
}

// What sizes one model's buffers in a multi-model batch.
struct MultiModelExtent {
  int layers = 1, input = 1, hidden = 64, horizon = 1;
  int window = 1;       // T
  int batch = 1;        // B: rows of a full minibatch
  long long rows = 0;   // rows of the longest series
  long long train = 0;  // most training windows of one model
  long long val = 0;    // most validation windows of one model
  // Layer 0's input projection runs inside the time loops (kernels::FusedInput: fp32, input <=
  // kFusedInputMax), so a one-layer model holds no gx buffer.
  bool input_in_loop = false;
};

inline std::size_t multi_param_count(const MultiModelExtent& e) {
  const std::size_t H = static_cast<std::size_t>(e.hidden);
  std::size_t p = 0;
  for (int l = 0; l < e.layers; ++l) {
    const std::size_t din = static_cast<std::size_t>(l == 0 ? e.input : e.hidden);
    p += 4 * H * (din + H) + 8 * H;
  }
  return p + static_cast<std::size_t>(e.horizon) * (H + 1);
}

// Floats one model holds for the forward pass in a multi-model batch, training or inference: x
// (time-major), gx (one buffer for all layers; none at L = 1 with the input projection in the loop), the R
// workspace (R^T, 4 H^2; at L = 2 the wavefront's R1, W2 and R2 transposed, 12 H^2), the final h and c per
// layer, y per layer, the parameters, the
// model's series (inputs) and the head's output for one step.
inline std::size_t multi_forward_floats(const MultiModelExtent& e) {
  const std::size_t H = static_cast<std::size_t>(e.hidden), D = static_cast<std::size_t>(e.input);
  const std::size_t T = static_cast<std::size_t>(e.window), B = static_cast<std::size_t>(e.batch);
  const std::size_t L = static_cast<std::size_t>(e.layers), hz = static_cast<std::size_t>(e.horizon);
  const std::size_t gx = e.input_in_loop && L == 1 ? 0 : T * B * 4 * H;
  const std::size_t rt = (L == 2 ? 12 : 4) * H * H;
  return T * B * D + gx + rt + 2 * L * B * H + L * (T + 1) * B * H + multi_param_count(e) +
         static_cast<std::size_t>(e.rows) * D + B * hz;
}

// Bytes of device memory one model holds in a multi-model training batch (FusedMulti's buffers, see
// framework/lstm/fused/multi_model_block.cpp): the forward floats, plus what backward and Adam keep.
inline std::size_t multi_model_bytes(const MultiModelExtent& e) {
  const std::size_t H = static_cast<std::size_t>(e.hidden), T = static_cast<std::size_t>(e.window);
  const std::size_t B = static_cast<std::size_t>(e.batch), L = static_cast<std::size_t>(e.layers);
  const std::size_t hz = static_cast<std::size_t>(e.horizon), TB = T * B;
  std::size_t floats = multi_forward_floats(e);
  floats += TB * 4 * H;                        // dgates
  floats += TB * H;                            // dy (the layer above's dx)
  floats += B * H;                             // dhy
  floats += L * (TB * 4 * H + TB * H);         // gates, c per layer
  floats += 4 * multi_param_count(e);          // dtheta, m, v, best
  floats += static_cast<std::size_t>(e.rows);  // the targets
  floats += 3 * B * hz;                        // yb, dyhat, resid
  std::size_t bytes = floats * sizeof(float);
  bytes += static_cast<std::size_t>(e.train + e.val) * sizeof(int);  // window order, validation starts
  bytes += 256;  // per-model scalars, hyperparameters, step state, flags
  return bytes;
}

// Bytes of device memory one model holds in a multi-model inference batch (predict_fused_multi: the
// forward pass and the head only). e.val: the most windows one model predicts; e.train is not read.
inline std::size_t multi_predict_bytes(const MultiModelExtent& e) {
  const std::size_t floats = multi_forward_floats(e) + static_cast<std::size_t>(e.val) * e.horizon;  // forecasts
  return floats * sizeof(float) + static_cast<std::size_t>(e.val) * sizeof(int) + 256;  // window starts
}

}  // namespace lstmad::kernels
