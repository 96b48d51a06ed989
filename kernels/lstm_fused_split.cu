// Split time-loop kernels (see lstm_fused_split.hpp): four threads per hidden unit, R in registers.
//
// Why: with B <= the SM count a one-block kernel's block holds one batch row, so at H = 32 one warp runs
// the step: 4H shared loads of R and H of h per thread, four FMA chains of H, the gate math, a barrier
// (docs/kernels.md, "Measured on the H200": 0.94 us per forward step, where cuDNN's whole training step
// takes under 0.74 us per dependent step). Here a row has 4H threads; each holds its H weights in
// registers (H <= 64: at most 64 of the 128 registers 512 threads per block leave) and per step issues H/4
// shared loads (forward, float4 broadcasts of h) or H (backward), one chain of H FMAs, and a few shuffles.

#include <cstddef>

#include "kernels/fused_rows.cuh"
#include "kernels/launch.cuh"
#include "kernels/lstm_cell.hpp"
#include "kernels/lstm_fused_split.hpp"
#include "kernels/split_lanes.cuh"

namespace lstmad::kernels {

namespace {

using split::kFullWarp;
using split::pick;
using split::with_hidden;

// Block = 4H x BB threads; thread (4j + q, r) computes gate q of unit j for the block's local row r.
template <int H>
__global__ void __launch_bounds__(kFusedMaxThreads, 1)
    lstm_split_fwd_kernel(const float* __restrict__ gx, FusedInput in, const float* __restrict__ R,
                          const float* __restrict__ bW, const float* __restrict__ bR, int T, int B, int BB,
                          float* __restrict__ y, float* __restrict__ gates, float* __restrict__ c_out,
                          float* __restrict__ hy, float* __restrict__ cy, const ModelStrides ms) {
  constexpr int H4 = 4 * H;
  LSTMAD_DYNAMIC_SMEM(float4, smem4);  // float4: the broadcasts of h read 16-byte words
  float* const smem = reinterpret_cast<float*>(smem4);
  // Model blockIdx.y of the launch; a block past the model's real rows leaves before any barrier.
  const int model = blockIdx.y;
  const int nrows = model_rows(ms, model, B);
  if (static_cast<int>(blockIdx.x) * BB >= nrows) return;
  {
    const std::size_t m = model;
    in = model_input(in, ms, m);
    R += m * ms.param;
    forward_at_model(ms, m, gx, bW, bR, y, gates, c_out, hy, cy);
  }
  const int j = threadIdx.x >> 2, q = threadIdx.x & 3, lrow = threadIdx.y;
  const int tid = lrow * blockDim.x + threadIdx.x, nthreads = blockDim.x * blockDim.y;
  const int base = (tid & 31) & ~3;  // the lane of gate 0 of this unit (4H is a multiple of 32)
  const int row = blockIdx.x * BB + lrow;
  const bool valid = row < nrows;
  const int col = q * H + j;  // this thread's row of R, and its column of gx and the gates
  float w[H];
#pragma unroll
  for (int k = 0; k < H; ++k) w[k] = R[static_cast<std::size_t>(col) * H + k];
  const float bias = bW[col] + bR[col];
  float* hs = smem;  // [2][BB][H]
  for (int i = tid; i < 2 * BB * H; i += nthreads) hs[i] = 0.f;
  if (valid && q == 0) y[static_cast<long long>(row) * H + j] = 0.f;  // h_0
  __syncthreads();

  // gx of a step (or, with FusedInput, its x, projected when the step starts) loaded a step ahead
  float xn[kFusedInputMax] = {0.f, 0.f, 0.f, 0.f};
  const auto load_next = [&](bool ok, long long tb) {
    if (in.x != nullptr) {
      if (ok) load_step_input(in.x + tb * in.D, in.D, xn);
      return 0.f;
    }
    return ok ? gx[tb * H4 + col] : 0.f;
  };
  float gxn = load_next(valid, row);
  float c = 0.f;
  for (int t = 0; t < T; ++t) {
    const float* hp = hs + ((t & 1) * BB + lrow) * H;
    float* hn = hs + (((t + 1) & 1) * BB + lrow) * H;
    float acc;
    if (in.x != nullptr) {
      float g[1];
      input_projection<1>(xn, in.W, in.D, col, 0, g);
      acc = g[0] + bias;
    } else {
      acc = gxn + bias;
    }
    gxn = load_next(valid && t + 1 < T, static_cast<long long>(t + 1) * B + row);
#pragma unroll
    for (int k = 0; k < H; k += 4) {
      const float4 h4 = *reinterpret_cast<const float4*>(hp + k);
      acc = fmaf(w[k], h4.x, acc);
      acc = fmaf(w[k + 1], h4.y, acc);
      acc = fmaf(w[k + 2], h4.z, acc);
      acc = fmaf(w[k + 3], h4.w, acc);
    }
    // Each thread activates its own gate (one sigmoid or tanh, where running cell::forward on all four
    // took three sigmoids and a tanh per thread); the four activated gates meet through shuffles, and
    // each of the four threads updates c and h from them (the same functions of the same values).
    const float mine = cell::activate(q, acc);
    float gt[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) gt[i] = __shfl_sync(kFullWarp, mine, base + i);
    const float h = cell::update(gt, c);
    if (valid) {
      const long long tb = static_cast<long long>(t) * B + row;
      if (q == 0) {
        hn[j] = h;
        y[(tb + B) * H + j] = h;
      }
      if (gates != nullptr) {
        gates[tb * H4 + col] = mine;
        if (q == 0) c_out[tb * H + j] = c;
      }
    }
    __syncthreads();
  }
  if (valid && q == 0) {
    const float* hl = hs + ((T & 1) * BB + lrow) * H;
    if (hy != nullptr) hy[static_cast<long long>(row) * H + j] = hl[j];
    if (cy != nullptr) cy[static_cast<long long>(row) * H + j] = c;
  }
}

// Block = 4H x BB threads; thread (4j + p, r) holds R[p H + i, j] (i < H) and sums that quarter of unit
// j's recurrent gradient for local row r. All four run the cell's backward on the same inputs.
template <int H>
__global__ void __launch_bounds__(kFusedMaxThreads, 1)
    lstm_split_bwd_kernel(const float* __restrict__ R, const float* __restrict__ gates,
                          const float* __restrict__ cst, const float* __restrict__ dy,
                          const float* __restrict__ dhy, int T, int B, int BB, float* __restrict__ dgates,
                          const ModelStrides ms) {
  constexpr int H4 = 4 * H, DS = 4 * (H + 1);  // DS: split_dgate_stride(H)
  LSTMAD_DYNAMIC_SMEM(float, smem);
  const int model = blockIdx.y;
  const int nrows = model_rows(ms, model, B);
  if (static_cast<int>(blockIdx.x) * BB >= nrows) return;
  {
    const std::size_t m = model;
    R += m * ms.param;
    backward_at_model(ms, m, gates, cst, dy, dhy, dgates);
  }
  const int j = threadIdx.x >> 2, p = threadIdx.x & 3, lrow = threadIdx.y;
  const int tid = lrow * blockDim.x + threadIdx.x, nthreads = blockDim.x * blockDim.y;
  const int base = (tid & 31) & ~3;
  const int row = blockIdx.x * BB + lrow;
  const bool valid = row < nrows;
  float w[H];
#pragma unroll
  for (int i = 0; i < H; ++i) w[i] = R[static_cast<std::size_t>(p * H + i) * H + j];
  float* ds = smem;  // [2][BB][4 quarters of H + 1]
  for (int i = tid; i < 2 * BB * DS; i += nthreads) ds[i] = 0.f;
  float dh_rec = 0.f, dc = 0.f;
  float ct = valid ? cst[(static_cast<long long>(T - 1) * B + row) * H + j] : 0.f;
  __syncthreads();

  // What step t reads from global memory does not depend on the recurrence: loaded a step ahead. Each
  // thread loads its own gate p; the four meet through shuffles.
  float in_dy = 0.f, in_g = 0.f, in_cp = 0.f;
  auto load = [&](int t) {
    const bool ok = valid && t >= 0;
    const long long tb = static_cast<long long>(t) * B + row;
    in_dy = ok && dy != nullptr ? dy[tb * H + j] : 0.f;
    in_g = ok ? gates[tb * H4 + p * H + j] : 0.f;
    in_cp = ok && t > 0 ? cst[(tb - B) * H + j] : 0.f;
  };
  load(T - 1);

  for (int t = T - 1; t >= 0; --t) {
    float* dcur = ds + ((t & 1) * BB + lrow) * DS;
    const float s_dy = in_dy, s_cp = in_cp;
    float s_g[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) s_g[i] = __shfl_sync(kFullWarp, in_g, base + i);
    load(t - 1);
    float dh = dh_rec + s_dy;
    if (t == T - 1 && dhy != nullptr && valid) dh += dhy[static_cast<long long>(row) * H + j];
    float da[4];
    cell::backward(dh, s_g, ct, s_cp, dc, da);
    ct = s_cp;
    if (valid) {
      const float mine = pick(da, p);
      dgates[(static_cast<long long>(t) * B + row) * H4 + p * H + j] = mine;
      dcur[p * (H + 1) + j] = mine;
    }
    __syncthreads();
    if (t == 0) break;
    // dh_rec for step t-1: quarter p of sum over m of R[m, j] dgates[m], in m order, the quarters folded
    // in fold_quarters' order (recurrent_order.hpp), as the one-block and cluster kernels sum: the same bits.
    // The padded quarters put the four lanes of a unit in four banks.
    const float* dq = dcur + p * (H + 1);
    float part = 0.f;
#pragma unroll
    for (int i = 0; i < H; ++i) part = fmaf(w[i], dq[i], part);
    const float p0 = __shfl_sync(kFullWarp, part, base), p1 = __shfl_sync(kFullWarp, part, base + 1);
    const float p2 = __shfl_sync(kFullWarp, part, base + 2), p3 = __shfl_sync(kFullWarp, part, base + 3);
    dh_rec = fold_quarters(p0, p1, p2, p3);
  }
}

}  // namespace

void launch_lstm_fused_forward_split(const SplitLaunch& plan, const FusedFwdArgs& a, cudaStream_t stream) {
  if (plan.grid <= 0 || a.T <= 0 || a.models.models <= 0) return;
  with_hidden(plan.H, [&](auto h) {
    constexpr int H = decltype(h)::value;
    launch_kernel(lstm_split_fwd_kernel<H>, dim3(plan.grid, a.models.models),
                  dim3(4 * H, plan.rows_per_block), plan.smem_fwd, stream, a.gx, a.input, a.R, a.bW, a.bR,
                  a.T, plan.B, plan.rows_per_block, a.y, a.gates, a.c, a.hy, a.cy, a.models);
  });
}

void launch_lstm_fused_backward_split(const SplitLaunch& plan, const FusedBwdArgs& a, cudaStream_t stream) {
  if (plan.grid <= 0 || a.T <= 0 || a.models.models <= 0) return;
  with_hidden(plan.H, [&](auto h) {
    constexpr int H = decltype(h)::value;
    launch_kernel(lstm_split_bwd_kernel<H>, dim3(plan.grid, a.models.models),
                  dim3(4 * H, plan.rows_per_block), plan.smem_bwd, stream, a.R, a.gates, a.c, a.dy, a.dhy,
                  a.T, plan.B, plan.rows_per_block, a.dgates, a.models);
  });
}

}  // namespace lstmad::kernels
