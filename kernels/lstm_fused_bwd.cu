// Backward time loop of one LSTM layer (see lstm_fused_bwd.hpp), v1: fp32 FMA, one persistent kernel.
//
// Same geometry as the forward: block = H x G threads, BB batch rows per block for all T steps, thread
// (j, g) owns hidden unit j of rows g, g+G, ... Per step t (from T-1 down to 0) each thread forms
//   dh = dh_rec + dy[t] (+ dhy at t = T-1),  dc = dc_next + dh o (1 - tanh(c_t)^2)
//   d(pre) for i, f, g, o, and dc_next = dc f,
// writes them to dgates (global, for the GEMMs) and to shared memory, and after one barrier computes
// dh_rec for step t-1 = sum over m < 4H of R[m][j] d(pre)[m]: R in its stored row-major layout makes the
// threads of a warp read consecutive words for a fixed m while d(pre)[m] is a broadcast. The dh_rec of a
// unit is needed only by the thread that owns it, so it stays in a register. The shared d(pre) buffer is
// double-buffered: one barrier per step.
//
// Every sum runs in a fixed order (m = 0..4H-1, one accumulator), so gradients are bitwise repeatable.
//
// TILED (fused_bwd_tiled, for blocks of many rows): the product dh_rec = dgates R of a step is computed by
// tiles of kBwdTileRows rows x kBwdTileUnits units per thread (fused_rows.cuh, tiled_recurrent_gradient)
// into shared memory, and each thread reads its cells' dh_rec from there at the next step. The gate
// gradients then need one buffer, and the other holds dh_rec: a step is cell math, barrier, product,
// barrier. The sums are the same chains, so the bits are the untiled kernel's.
//
// KH > 0: as in lstm_fused_fwd.cu, one row per thread with R in shared memory, untiled, H the constant KH.

#include "kernels/fused_rows.cuh"
#include "kernels/launch.cuh"
#include "kernels/lstm_cell.hpp"
#include "kernels/lstm_fused_bwd.hpp"
#include "kernels/smem_limit.hpp"

namespace lstmad::kernels {

namespace {

template <int MAXR, bool R_SMEM, bool TILED, int KH = 0>
__global__ void __launch_bounds__(kFusedMaxThreads, 1)
    lstm_fused_bwd_kernel(const float* __restrict__ Rg, const float* __restrict__ gates,
                          const float* __restrict__ cst, const float* __restrict__ dy,
                          const float* __restrict__ dhy, int T, int B, int H_arg, int BB,
                          float* __restrict__ dgates, const ModelStrides ms) {
  LSTMAD_DYNAMIC_SMEM(float4, smem4);  // float4: fused_rows.cuh reads 16-byte words
  float* const smem = reinterpret_cast<float*>(smem4);
  const int H = KH > 0 ? KH : H_arg;
  // Model blockIdx.y of the launch (0 for a single model); see the forward kernel.
  const int model = blockIdx.y;
  const int nrows = model_rows(ms, model, B);
  if (static_cast<int>(blockIdx.x) * BB >= nrows) return;
  {
    const std::size_t m = model;
    Rg += m * ms.param;
    backward_at_model(ms, m, gates, cst, dy, dhy, dgates);
  }
  const int j = threadIdx.x, g = threadIdx.y, G = blockDim.y;
  const int H4 = 4 * H;
  const int nthreads = blockDim.x * blockDim.y, tid = g * blockDim.x + j;
  float* rs = smem;
  static_assert(!TILED || R_SMEM, "the tiled product reads R from shared memory");
  float* ds = smem + (R_SMEM ? static_cast<std::size_t>(H4) * H : 0);  // [2][BB][4H]
  float* const dhs = ds + BB * H4;  // TILED: [BB][H] dh_rec, in the second gate-gradient buffer
  if (R_SMEM)
    for (int i = tid; i < H4 * H; i += nthreads) rs[i] = Rg[i];
  for (int i = tid; i < 2 * BB * H4; i += nthreads) ds[i] = 0.f;
  const float* __restrict__ R = R_SMEM ? rs : Rg;

  const int row0 = blockIdx.x * BB;
  int lr[MAXR];
  bool valid[MAXR];
  long long grow[MAXR];
  own_rows<MAXR>(g, G, BB, row0, nrows, lr, valid, grow);
  float dh_rec[MAXR], dc[MAXR], ct[MAXR];
#pragma unroll
  for (int r = 0; r < MAXR; ++r) {
    dh_rec[r] = 0.f;
    dc[r] = 0.f;
    ct[r] = valid[r] ? cst[(static_cast<long long>(T - 1) * B + grow[r]) * H + j] : 0.f;
  }
  __syncthreads();

  // What step t reads from global memory is loaded one step ahead (BwdStepInputs).
  BwdStepInputs<MAXR> next;
  next.load(T - 1, B, H, j, valid, grow, dy, gates, cst);

  for (int t = T - 1; t >= 0; --t) {
    float* dcur = TILED ? ds : ds + (t & 1) * BB * H4;
    if (TILED && t < T - 1) {  // the product of step t + 1, written before the last barrier
#pragma unroll
      for (int r = 0; r < MAXR; ++r) dh_rec[r] = dhs[lr[r] * H + j];
    }
    const BwdStepInputs<MAXR> in = next;
    next.load(t - 1, B, H, j, valid, grow, dy, gates, cst);
#pragma unroll
    for (int r = 0; r < MAXR; ++r) {
      if (!valid[r]) continue;
      const long long tb = static_cast<long long>(t) * B + grow[r];
      float dh = dh_rec[r] + in.dy[r];
      if (t == T - 1 && dhy != nullptr) dh += dhy[grow[r] * H + j];
      float da[4];
      cell::backward(dh, in.g[r], ct[r], in.cp[r], dc[r], da);
      ct[r] = in.cp[r];
      float* dgr = dgates + tb * H4 + j;
      float* dsr = dcur + lr[r] * H4 + j;
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        dgr[q * H] = da[q];
        dsr[q * H] = da[q];
      }
    }
    __syncthreads();
    if (t == 0) break;
    if (TILED) {
      // dhs was last read before the barrier above; dcur is read here and next written after the one below.
      tiled_recurrent_gradient<kBwdTileRows>(R, H, dcur, BB, tid, dhs);
      __syncthreads();
    } else {
      recurrent_gradient<MAXR, KH>(dh_rec, R, j, H, dcur, lr, H4);
    }
  }
}

template <int MAXR, bool R_SMEM, bool TILED>
cudaError_t configure_bwd(std::size_t smem, int H) {
  return with_row_hidden<MAXR, R_SMEM, TILED>(H, [&](auto kh) {
    return raise_dynamic_smem_limit(lstm_fused_bwd_kernel<MAXR, R_SMEM, TILED, decltype(kh)::value>, smem);
  });
}

template <int MAXR, bool R_SMEM, bool TILED>
void launch_bwd(const FusedLaunch& p, const FusedBwdArgs& a, cudaStream_t stream) {
  if (configure_bwd<MAXR, R_SMEM, TILED>(p.smem_bwd, p.H) != cudaSuccess)
    return;  // left for the launch check
  const dim3 block(p.H, p.groups);
  const dim3 grid(p.grid, a.models.models);
  with_row_hidden<MAXR, R_SMEM, TILED>(p.H, [&](auto kh) {
    launch_kernel(lstm_fused_bwd_kernel<MAXR, R_SMEM, TILED, decltype(kh)::value>, grid, block, p.smem_bwd,
                  stream, a.R, a.gates, a.c, a.dy, a.dhy, a.T, p.B, p.H, p.rows_per_block, a.dgates,
                  a.models);
  });
}

template <bool R_SMEM, bool TILED>
void dispatch_bwd(const FusedLaunch& p, const FusedBwdArgs& a, cudaStream_t stream) {
  with_max_rows(p.max_rows,
                [&](auto rows) { launch_bwd<decltype(rows)::value, R_SMEM, TILED>(p, a, stream); });
}

template <bool R_SMEM, bool TILED>
cudaError_t configure_bwd_for(const FusedLaunch& p) {
  return with_max_rows(p.max_rows, [&](auto rows) {
    return configure_bwd<decltype(rows)::value, R_SMEM, TILED>(p.smem_bwd, p.H);
  });
}

}  // namespace

void launch_lstm_fused_backward(const FusedLaunch& plan, const FusedBwdArgs& args, cudaStream_t stream) {
  if (plan.grid <= 0 || args.T <= 0 || args.models.models <= 0) return;
  if (args.tiled && fused_bwd_tiled(plan))
    dispatch_bwd<true, true>(plan, args, stream);
  else if (plan.r_smem_bwd)
    dispatch_bwd<true, false>(plan, args, stream);
  else
    dispatch_bwd<false, false>(plan, args, stream);
}

cudaError_t prepare_lstm_fused_backward(const FusedLaunch& plan) {
  if (plan.grid <= 0) return cudaSuccess;
  if (!plan.r_smem_bwd) return configure_bwd_for<false, false>(plan);
  const cudaError_t e = configure_bwd_for<true, false>(plan);
  if (e != cudaSuccess || !fused_bwd_tiled(plan)) return e;
  return configure_bwd_for<true, true>(plan);
}

}  // namespace lstmad::kernels
