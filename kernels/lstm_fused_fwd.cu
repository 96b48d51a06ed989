// Forward time loop of one LSTM layer (see lstm_fused_fwd.hpp), v1: fp32 FMA, one persistent kernel.
//
// Block = H x G threads, owning BB batch rows for all T steps; thread (j, g) owns hidden unit j of the
// rows g, g+G, ... (MAXR at most). Per step each thread computes its 4 gate pre-activations
// gx + bW + bR + R[q*H + j, :] . h_{t-1} for its rows, then the cell update, in registers. h_{t-1} lives in
// shared memory (double-buffered, so one barrier per step suffices); R^T (H x 4H) lives in shared memory
// when it fits (R_SMEM) so that, for a fixed k, the threads of a warp read consecutive words (no bank
// conflicts) while h_{t-1}[k] is a broadcast. Each R value loaded serves MAXR rows.
//
// The dot product runs k = 0..H-1 in order with fmaf into one accumulator started at gx + bias: the
// reduction order is fixed, so results are bitwise repeatable.
//
// TILED (fused_fwd_tiled, for blocks of many rows): the product R^T h_{t-1} of a step runs in its own
// phase by tiles of kFwdTileRows rows x one unit's four gates per thread (fused_rows.cuh,
// tiled_recurrent_product), on a shared buffer of pre-activations (BB x 4H) in which each thread has left
// its cells' gx + bias for the step, the chains' starting values; after a barrier each thread reads its
// cells' sums from there. A step is product, barrier, cell math (which also stages the next step's
// gx + bias), barrier. The same chains, so the bits of the untiled kernel.
//
// KH > 0 (kernels/const_hidden.hpp): the kernel for one row per thread with R in shared memory, untiled (a
// block of one model's small batch, where a step's latency is the time) compiled with H the constant KH, so
// that the dot product unrolls whole; the same chains.
#include <cstdint>

#include "kernels/fused_rows.cuh"
#include "kernels/launch.cuh"
#include "kernels/lstm_cell.hpp"
#include "kernels/lstm_fused_fwd.hpp"
#include "kernels/smem_limit.hpp"

namespace lstmad::kernels {

namespace {

template <int MAXR, bool R_SMEM, bool TILED, int KH = 0>
__global__ void __launch_bounds__(kFusedMaxThreads, 1)
    lstm_fused_fwd_kernel(const float* __restrict__ gx, FusedInput in, const float* __restrict__ Rt,
                          const float* __restrict__ bW, const float* __restrict__ bR, int T, int B, int H_arg,
                          int BB, float* __restrict__ y, float* __restrict__ gates, float* __restrict__ c_out,
                          float* __restrict__ hy, float* __restrict__ cy, const ModelStrides ms) {
  LSTMAD_DYNAMIC_SMEM(float4, smem4);  // float4: fused_rows.cuh reads 16-byte words
  float* const smem = reinterpret_cast<float*>(smem4);
  const int H = KH > 0 ? KH : H_arg;
  // Model blockIdx.y of the launch (0 for a single model): a block of a skipped model, or of rows past
  // the model's real ones, has nothing to do (the whole block leaves before any barrier).
  const int model = blockIdx.y;
  const int nrows = model_rows(ms, model, B);
  if (static_cast<int>(blockIdx.x) * BB >= nrows) return;
  {
    const std::size_t m = model;
    in = model_input(in, ms, m);
    Rt += m * ms.rt;
    forward_at_model(ms, m, gx, bW, bR, y, gates, c_out, hy, cy);
  }
  const int j = threadIdx.x, g = threadIdx.y, G = blockDim.y;
  const int H4 = 4 * H;
  const int nthreads = blockDim.x * blockDim.y, tid = g * blockDim.x + j;
  float* rs = smem;
  static_assert(!TILED || R_SMEM, "the tiled product reads R from shared memory");
  float* hs = smem + (R_SMEM ? static_cast<std::size_t>(H4) * H : 0);  // [2][BB][H]
  float* const pre_s = hs + 2 * BB * H;                                // TILED: [BB][4H]
  if (R_SMEM)
    for (int i = tid; i < H4 * H; i += nthreads) rs[i] = Rt[i];
  for (int i = tid; i < (TILED ? 6 : 2) * BB * H; i += nthreads) hs[i] = 0.f;
  const float* __restrict__ R = R_SMEM ? rs : Rt;

  const int row0 = blockIdx.x * BB;
  int lr[MAXR];
  bool valid[MAXR];
  long long grow[MAXR];
  own_rows<MAXR>(g, G, BB, row0, nrows, lr, valid, grow);
  float bias[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) bias[q] = bW[q * H + j] + bR[q * H + j];
  float c[MAXR];
#pragma unroll
  for (int r = 0; r < MAXR; ++r) {
    c[r] = 0.f;
    if (valid[r]) y[grow[r] * H + j] = 0.f;  // h_0
  }
  __syncthreads();

  // gx of the next step (or, with FusedInput, its x) is loaded while this step's dot product runs
  // (load_fwd_input).
  float gxn[MAXR][4];
#pragma unroll
  for (int r = 0; r < MAXR; ++r) load_fwd_input(valid[r], grow[r], gx, in, H, j, gxn[r]);
  // A row's gx + bias for step t (the chains' starting values), from the registers loaded a step ahead,
  // which then take step t + 1's.
  const auto start_values = [&](int r, int t, float(&out)[4]) {
    fwd_start_values(gxn[r], in, j, H, bias, out);
    load_fwd_input(valid[r] && t + 1 < T, static_cast<long long>(t + 1) * B + grow[r], gx, in, H, j, gxn[r]);
  };
  // TILED: each thread leaves its cells' starting values for step t in pre_s, for the product's tiles.
  const auto stage = [&](int t) {
#pragma unroll
    for (int r = 0; r < MAXR; ++r) {
      float v[4];
      start_values(r, t, v);
      if (!valid[r]) continue;
#pragma unroll
      for (int q = 0; q < 4; ++q) pre_s[lr[r] * H4 + q * H + j] = v[q];
    }
  };
  if (TILED) {
    stage(0);
    __syncthreads();
  }

  for (int t = 0; t < T; ++t) {
    const float* hp = hs + (t & 1) * BB * H;
    float* hn = hs + ((t + 1) & 1) * BB * H;
    float acc[MAXR][4];
    if (TILED) {
      tiled_recurrent_product<kFwdTileRows>(R, H, hp, BB, tid, pre_s);
      __syncthreads();
#pragma unroll
      for (int r = 0; r < MAXR; ++r)
#pragma unroll
        for (int q = 0; q < 4; ++q) acc[r][q] = pre_s[lr[r] * H4 + q * H + j];
    } else {
#pragma unroll
      for (int r = 0; r < MAXR; ++r) start_values(r, t, acc[r]);
      add_recurrent_product<MAXR, KH>(acc, R, j, H4, H, hp, lr, H);
    }
#pragma unroll
    for (int r = 0; r < MAXR; ++r) {
      if (!valid[r]) continue;
      float gt[4];
      const float h = cell::forward(acc[r], gt, c[r]);
      hn[lr[r] * H + j] = h;
      const long long tb = static_cast<long long>(t) * B + grow[r];
      y[(tb + B) * H + j] = h;
      if (gates != nullptr) {
        float* gr = gates + tb * H4 + j;
#pragma unroll
        for (int q = 0; q < 4; ++q) gr[q * H] = gt[q];
        c_out[tb * H + j] = c[r];
      }
    }
    // The cells' sums were read above by the threads that now overwrite them; the tiles read them after
    // the barrier below.
    if (TILED && t + 1 < T) stage(t + 1);
    __syncthreads();
  }
  const float* hl = hs + (T & 1) * BB * H;
#pragma unroll
  for (int r = 0; r < MAXR; ++r) {
    if (!valid[r]) continue;
    if (hy != nullptr) hy[grow[r] * H + j] = hl[lr[r] * H + j];
    if (cy != nullptr) cy[grow[r] * H + j] = c[r];
  }
}

// Rt[k][m] = R[m][k]: R (4H x H) to H x 4H, so the time loop reads one row of Rt per k, coalesced.
__global__ void transpose_r_kernel(const float* __restrict__ R, int H, float* __restrict__ Rt,
                                   const ModelStrides ms) {
  const int model = blockIdx.y;
  if (ms.active != nullptr && ms.active[model] == 0) return;
  R += static_cast<std::size_t>(model) * ms.param;
  Rt += static_cast<std::size_t>(model) * ms.rt;
  const long long n = 4LL * H * H;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long m = i / H, k = i % H;
    Rt[k * 4 * H + m] = R[i];
  }
}

__global__ void permute_021_kernel(const float* __restrict__ in, int A, int C, int D,
                                   float* __restrict__ out) {
  const long long n = static_cast<long long>(A) * C * D;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long d = i % D, ac = i / D, cidx = ac % C, a = ac / C;
    out[(cidx * A + a) * D + d] = in[i];
  }
}

int grid_for(long long n, int threads) {
  const long long b = (n + threads - 1) / threads;
  return static_cast<int>(b < 4096 ? (b > 0 ? b : 1) : 4096);
}

// The shared memory opt-in is a per-function attribute: raise it once to the largest size asked for.
template <int MAXR, bool R_SMEM, bool TILED>
cudaError_t configure_fwd(std::size_t smem, int H) {
  return with_row_hidden<MAXR, R_SMEM, TILED>(H, [&](auto kh) {
    return raise_dynamic_smem_limit(lstm_fused_fwd_kernel<MAXR, R_SMEM, TILED, decltype(kh)::value>, smem);
  });
}

template <int MAXR, bool R_SMEM, bool TILED>
void launch_fwd(const FusedLaunch& p, const FusedFwdArgs& a, const float* rt, std::size_t smem,
                cudaStream_t stream) {
  if (configure_fwd<MAXR, R_SMEM, TILED>(smem, p.H) != cudaSuccess)
    return;  // the error is left for the launch check
  const dim3 block(p.H, p.groups);
  const dim3 grid(p.grid, a.models.models);
  with_row_hidden<MAXR, R_SMEM, TILED>(p.H, [&](auto kh) {
    launch_kernel(lstm_fused_fwd_kernel<MAXR, R_SMEM, TILED, decltype(kh)::value>, grid, block, smem, stream,
                  a.gx, a.input, rt, a.bW, a.bR, a.T, p.B, p.H, p.rows_per_block, a.y, a.gates, a.c, a.hy,
                  a.cy, a.models);
  });
}

template <bool R_SMEM, bool TILED>
void dispatch_fwd(const FusedLaunch& p, const FusedFwdArgs& a, const float* rt, std::size_t smem,
                  cudaStream_t stream) {
  with_max_rows(p.max_rows,
                [&](auto rows) { launch_fwd<decltype(rows)::value, R_SMEM, TILED>(p, a, rt, smem, stream); });
}

template <bool R_SMEM, bool TILED>
cudaError_t configure_fwd_for(const FusedLaunch& p, std::size_t smem) {
  return with_max_rows(
      p.max_rows, [&](auto rows) { return configure_fwd<decltype(rows)::value, R_SMEM, TILED>(smem, p.H); });
}

}  // namespace

void launch_lstm_fused_forward(const FusedLaunch& plan, const FusedFwdArgs& args, float* workspace,
                               cudaStream_t stream) {
  if (plan.grid <= 0 || args.T <= 0 || args.models.models <= 0) return;
  const dim3 tgrid(grid_for(4LL * plan.H * plan.H, 256), args.models.models);
  launch_kernel(transpose_r_kernel, tgrid, 256, 0, stream, args.R, plan.H, workspace, args.models);
  if (args.tiled && fused_fwd_tiled(plan))
    dispatch_fwd<true, true>(plan, args, workspace, fused_fwd_tiled_smem(plan), stream);
  else if (plan.r_smem_fwd)
    dispatch_fwd<true, false>(plan, args, workspace, plan.smem_fwd, stream);
  else
    dispatch_fwd<false, false>(plan, args, workspace, plan.smem_fwd, stream);
}

cudaError_t prepare_lstm_fused_forward(const FusedLaunch& plan) {
  if (plan.grid <= 0) return cudaSuccess;
  if (!plan.r_smem_fwd) return configure_fwd_for<false, false>(plan, plan.smem_fwd);
  const cudaError_t e = configure_fwd_for<true, false>(plan, plan.smem_fwd);
  if (e != cudaSuccess || !fused_fwd_tiled(plan)) return e;
  return configure_fwd_for<true, true>(plan, fused_fwd_tiled_smem(plan));
}

void launch_permute_021(const float* in, int A, int C, int D, float* out, cudaStream_t stream) {
  const long long n = static_cast<long long>(A) * C * D;
  if (n == 0) return;
  launch_kernel(permute_021_kernel, grid_for(n, 256), 256, 0, stream, in, A, C, D, out);
}

}  // namespace lstmad::kernels
