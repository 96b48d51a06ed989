// Tensor-core time loops of one LSTM layer (version 3): the recurrent product of every step on mma.sync,
// TF32 (m16n8k8) or BF16 (m16n8k16) operands with fp32 accumulation; the gate math, the cell state and
// every stored value stay fp32, the sigmoid and tanh on the special-function units (lstm_cell.hpp,
// Activations::Fast). Plain C++ header; the index maps are in lstm_mma_layout.hpp.
//
// Same inputs and outputs as the FMA kernels (lstm_fused_fwd.hpp, lstm_fused_bwd.hpp), per model:
// gx (T x B x 4H, the caller's GEMM; or, with FusedInput, the layer's x and W, projected in the loop in
// fp32 FMAs), R (4H x H), the biases, y ((T+1) x B x H), gates and c for backward,
// hy and cy; backward reads R, gates, c, dy, dhy and writes dgates (T x B x 4H).
//
// Geometry: a block owns 8 batch rows (the N of one mma) for all T steps, so blocks never synchronise;
// grid = ceil(B / 8). Forward: one warp per 8 hidden units (two per 16 units when H > 128, to stay within
// 512 threads), each warp computing the 16-row tiles (i, f) and (g, o) of its units, so that a lane holds
// all four gates of the (unit, row) pairs it updates. Backward: one 16-unit tile per 16 hidden units, its
// k-steps split over 4 warps (H <= 64) or 2 (H <= 128) where the launch's blocks fit the SMs, else one warp
// (version 3.4, mma_bwd_parts in lstm_mma_plan.hpp: the same bits either way). R, staged
// once per launch into fragment order (rounded to the operand format), sits in shared memory when it fits
// the device's opt-in limit (TF32: H <= 112; BF16: H <= 160 on an H200), else as many k-steps of every
// tile as fit do and the rest is read from L2 every step (version 3.5, MmaLaunch::r_ksteps_*).
//
// Several models per launch (ModelStrides, blockIdx.y = model) as in the FMA kernels: the multi-model
// engine runs them at tf32 / bf16.
//
// Limits: H a multiple of 16, at most 256. Sums run in a fixed order (k-steps split over 2 forward and 4
// backward accumulators, added in a fixed order, the backward's across warps through shared memory where
// it is split), so a rerun gives bit-identical results.
#pragma once
#include <cuda_runtime.h>

#include "kernels/lstm_fused_bwd.hpp"
#include "kernels/lstm_fused_fwd.hpp"
#include "kernels/lstm_mma_plan.hpp"

namespace lstmad::kernels {

// Sets the kernels' dynamic shared memory limits for `plan`; call before capturing into a CUDA graph.
cudaError_t prepare_lstm_mma(const MmaLaunch& plan);

// Stages R into fragment order (workspace: mma_r_bytes(format, H) bytes per model, 16-byte aligned; where
// the plan keeps R in shared memory the kernel's blocks stage it there themselves and the workspace is not
// touched), then runs the forward time loop. Several models in one launch as in the FMA kernels (args.models; its `rt`
// stride counts 32-bit words of staged R, a multiple of 4 and at least a_words(format, H)). Returns
// cudaErrorInvalidValue (nothing launched) for an empty plan or such strides; launch errors are left for
// the caller's launch check.
cudaError_t launch_lstm_mma_forward(const MmaLaunch& plan, const FusedFwdArgs& args, void* workspace,
                                    cudaStream_t stream);
// Stages R^T into fragment order (workspace as above, the same exception), then runs the backward time
// loop.
cudaError_t launch_lstm_mma_backward(const MmaLaunch& plan, const FusedBwdArgs& args, void* workspace,
                                     cudaStream_t stream);

}  // namespace lstmad::kernels
