// Split time-loop kernels (fp32 FMA, candidate, opt-in): the one-block kernels' work for small H spread
// over four threads per hidden unit, R in registers. Plain C++ header.
//
// Forward: thread (j, q) computes gate q of unit j, gx + bias + R[q H + j, :] . h_{t-1}, with the H
// weights of that row in registers and h_{t-1} read from shared memory as float4 broadcasts, in the same
// order (k = 0 .. H-1, one accumulator started at gx + bias) as the one-block kernel, so its outputs are
// the one-block kernel's bits; each thread activates its own gate, the four activated gates meet through
// warp shuffles, and each of the four threads updates c and h (the same inputs, the same result).
// Backward: thread (j, p) holds R[p H .. p H + H-1, j] and sums its quarter of dh_rec = R[:, j] . dgates
// in order; the four partial sums are added as (p0 + p1) + (p2 + p3), a fixed order, so gradients are
// bitwise repeatable (not the one-block kernel's bits: that one sums all 4H terms in one chain).
// Same arguments and outputs as lstm_fused_fwd.hpp / lstm_fused_bwd.hpp; several models per launch too.
#pragma once
#include <cuda_runtime.h>

#include "kernels/lstm_fused_bwd.hpp"
#include "kernels/lstm_fused_fwd.hpp"
#include "kernels/lstm_fused_split_plan.hpp"

namespace lstmad::kernels {

// The launches follow `plan` (plan_fused_split(H, B, limits)); args.R is R as stored (4H x H), no
// workspace. `gates` and `c` must both be set or both be null. Their shared memory (the step buffers
// alone, at most a few KB) stays under the default limit, so nothing needs raising before graph capture.
void launch_lstm_fused_forward_split(const SplitLaunch& plan, const FusedFwdArgs& args, cudaStream_t stream);
void launch_lstm_fused_backward_split(const SplitLaunch& plan, const FusedBwdArgs& args, cudaStream_t stream);

}  // namespace lstmad::kernels
