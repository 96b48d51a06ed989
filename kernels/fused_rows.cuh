// What the FMA time-loop kernels (one block, forward and backward, and their cluster variants) share
// besides the cell math: which batch rows a thread owns, and the host's switch from the plan's rows per
// thread to the kernel instantiated for it.
#pragma once

#include <cstddef>
#include <type_traits>

#include "kernels/const_hidden.hpp"
#include "kernels/lstm_fused_plan.hpp"  // kFusedInputMax
#include "kernels/recurrent_order.hpp"  // fold_quarters

namespace lstmad::kernels {

// Thread row g of a block of G thread rows owns the block's local rows g, g + G, ..., MAXR slots.
// lr: the local row, clamped into the block so that shared reads stay in bounds; valid: a real batch row
// of this block (a clamped or past-the-end slot computes and writes nothing); grow: its row in the batch.
template <int MAXR>
__device__ __forceinline__ void own_rows(int g, int G, int BB, int row0, int nrows, int (&lr)[MAXR],
                                         bool (&valid)[MAXR], long long (&grow)[MAXR]) {
#pragma unroll
  for (int r = 0; r < MAXR; ++r) {
    const int l = g + G * r;
    valid[r] = l < BB && row0 + l < nrows;
    lr[r] = l < BB ? l : BB - 1;
    grow[r] = row0 + lr[r];
  }
}

// The input projection of one (step, row) for NQ gate columns col0 + q * gate_stride (FusedInput):
// out[q] = sum over d < D of x[d] W[col][d], one fmaf chain in d order from 0, as the multi-model GEMM
// computes gx, so the result is its bits. x: the step's D <= kFusedInputMax inputs, already in registers
// (the kernels load them a step ahead, as they load gx, so that no global load starts a step).
template <int NQ>
__device__ __forceinline__ void input_projection(const float (&x)[kFusedInputMax], const float* W, int D,
                                                 int col0, int gate_stride, float (&out)[NQ]) {
#pragma unroll
  for (int q = 0; q < NQ; ++q) out[q] = 0.f;
#pragma unroll
  for (int d = 0; d < kFusedInputMax; ++d) {
    if (d >= D) break;
#pragma unroll
    for (int q = 0; q < NQ; ++q)
      out[q] = fmaf(x[d], W[static_cast<std::size_t>(col0 + q * gate_stride) * D + d], out[q]);
  }
}

// A step's D <= kFusedInputMax inputs into registers (zeros past D).
__device__ __forceinline__ void load_step_input(const float* xr, int D, float (&x)[kFusedInputMax]) {
#pragma unroll
  for (int d = 0; d < kFusedInputMax; ++d) x[d] = d < D ? xr[d] : 0.f;
}

// The forward step's input of one row for unit u into `out`: gx's four gate columns, or with FusedInput the
// row's x (D <= kFusedInputMax values in the same registers, projected when the step starts); zeros where
// !ok. The time loops load it one step ahead: it does not depend on h, and a global load at the start of a
// step would put a memory latency on every step's critical path.
__device__ __forceinline__ void load_fwd_input(bool ok, long long tb, const float* gx, const FusedInput& in,
                                               int H, int u, float (&out)[4]) {
  static_assert(kFusedInputMax == 4, "x shares gx's four registers per row");
  if (!ok) {
#pragma unroll
    for (int q = 0; q < 4; ++q) out[q] = 0.f;
  } else if (in.x != nullptr) {
    load_step_input(in.x + tb * in.D, in.D, out);
  } else {
    const float* gxr = gx + tb * 4 * H;
#pragma unroll
    for (int q = 0; q < 4; ++q) out[q] = gxr[q * H + u];
  }
}

// A row's gx + bias for the step (its four chains' starting values) from what load_fwd_input loaded.
__device__ __forceinline__ void fwd_start_values(const float (&loaded)[4], const FusedInput& in, int u, int H,
                                                 const float (&bias)[4], float (&out)[4]) {
  float pre[4];
  if (in.x != nullptr) {
    input_projection<4>(loaded, in.W, in.D, u, H, pre);
  } else {
#pragma unroll
    for (int q = 0; q < 4; ++q) pre[q] = loaded[q];
  }
#pragma unroll
  for (int q = 0; q < 4; ++q) out[q] = pre[q] + bias[q];
}

// What the backward step t reads from global memory for the thread's rows of unit u: dy, the four
// activated gates and c_{t-1} (zeros for a row that is not real, for t < 0, and c_{-1}). None of it depends
// on the recurrence, so the time loops load step t - 1's into one of these while step t runs from a copy.
template <int MAXR>
struct BwdStepInputs {
  float dy[MAXR], g[MAXR][4], cp[MAXR];

  __device__ __forceinline__ void load(int t, int B, int H, int u, const bool (&valid)[MAXR],
                                       const long long (&grow)[MAXR], const float* dy_src, const float* gates,
                                       const float* cst) {
#pragma unroll
    for (int r = 0; r < MAXR; ++r) {
      const bool ok = valid[r] && t >= 0;
      const long long tb = static_cast<long long>(t) * B + grow[r];
      dy[r] = ok && dy_src != nullptr ? dy_src[tb * H + u] : 0.f;
      const float* gr = gates + tb * 4 * H + u;
#pragma unroll
      for (int q = 0; q < 4; ++q) g[r][q] = ok ? gr[q * H] : 0.f;
      cp[r] = ok && t > 0 ? cst[(tb - B) * H + u] : 0.f;
    }
  }
};

// Element i (a compile-time constant after unrolling) of a float4.
__device__ __forceinline__ float component(const float4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// The forward step's recurrent product for hidden unit j: acc[r][q] += sum over k < H of
// R[k * ld + q * gate + j] h[lr[r] * H + k], R holding R^T (gate: the stride between the four gate
// columns of a unit; ld: between rows k). The sum runs in k order, which the kernels'
// bit-identical reruns rely on; each weight is read once for all of the thread's rows.
//
// Shared memory, not the FMAs, bounds this loop: per k a thread loads 4 weights and one h per row for
// 4 MAXR FMAs. When H is a multiple of 4 a row's h is read as one 16-byte broadcast per four k (hp and
// its rows then start on 16-byte boundaries), which at MAXR = 4 cuts a warp's shared loads per four k
// from 32 to 20 (and their cycles from 32 to 24: a broadcast 16-byte load takes two); the chains and
// their order are the same, so are the bits.
//
// KH > 0: H is the constant KH (a multiple of 4), and the loop over k unrolls by four groups of four k, so
// that the compiler may issue the next groups' shared loads while a group's FMAs run (the kernels' small-H
// instantiations, kFusedConstHidden); the same chains in the same order.
template <int MAXR, int KH = 0>
__device__ __forceinline__ void add_recurrent_product(float (&acc)[MAXR][4], const float* R, int j, int ld,
                                                      int gate, const float* hp, const int (&lr)[MAXR],
                                                      int H) {
  if ((H & 3) == 0) {
    const auto four_k = [&](int k) {
      float4 h4[MAXR];
#pragma unroll
      for (int r = 0; r < MAXR; ++r) h4[r] = *reinterpret_cast<const float4*>(hp + lr[r] * H + k);
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) {
        const float* rk = R + static_cast<std::size_t>(k + kk) * ld + j;
        const float w0 = rk[0], w1 = rk[gate], w2 = rk[2 * gate], w3 = rk[3 * gate];
#pragma unroll
        for (int r = 0; r < MAXR; ++r) {
          const float hk = component(h4[r], kk);
          acc[r][0] = fmaf(w0, hk, acc[r][0]);
          acc[r][1] = fmaf(w1, hk, acc[r][1]);
          acc[r][2] = fmaf(w2, hk, acc[r][2]);
          acc[r][3] = fmaf(w3, hk, acc[r][3]);
        }
      }
    };
    if constexpr (KH > 0) {
      // Four groups of four k at a time: unrolled whole, the compiler hoists so many loads that the
      // forward spills at H = 32 and 64 (ptxas); four groups keep it within its registers.
#pragma unroll 4
      for (int k = 0; k < KH; k += 4) four_k(k);
    } else {
      for (int k = 0; k < H; k += 4) four_k(k);
    }
    return;
  }
#pragma unroll 4
  for (int k = 0; k < H; ++k) {
    const float* rk = R + static_cast<std::size_t>(k) * ld + j;
    const float w0 = rk[0], w1 = rk[gate], w2 = rk[2 * gate], w3 = rk[3 * gate];
#pragma unroll
    for (int r = 0; r < MAXR; ++r) {
      const float hk = hp[lr[r] * H + k];
      acc[r][0] = fmaf(w0, hk, acc[r][0]);
      acc[r][1] = fmaf(w1, hk, acc[r][1]);
      acc[r][2] = fmaf(w2, hk, acc[r][2]);
      acc[r][3] = fmaf(w3, hk, acc[r][3]);
    }
  }
}

// add_recurrent_product for a whole block's rows at once, by tiles (fused_fwd_tiled): thread `tid` owns TV
// local rows of unit j = tid % H (the units vary fastest across threads, so a warp's lanes share their rows
// and h is a broadcast) and adds to pre[row * 4H + q * H + j] the sum over k < H of
// R[k * 4H + q * H + j] h[row * H + k] for the 4 gates q: each chain starts at the value pre holds (gx +
// bias, which the cell phase wrote there) and runs in k order with fmaf, as add_recurrent_product's: the
// same bits. Per four k a thread loads 16 weights and TV 16-byte words of h for 16 TV FMAs, where one unit
// per thread loads 16 and MAXR <= 4. Threads past the tiles (and rows past BB) do nothing. H a multiple of 4.
template <int TV>
__device__ __forceinline__ void tiled_recurrent_product(const float* R, int H, const float* hp, int BB,
                                                        int tid, float* pre) {
  const int H4 = 4 * H;
  if (tid >= H * ((BB + TV - 1) / TV)) return;
  const int j = tid % H, r0 = (tid / H) * TV;
  int lr[TV];
#pragma unroll
  for (int v = 0; v < TV; ++v) lr[v] = r0 + v < BB ? r0 + v : BB - 1;
  float acc[TV][4];
#pragma unroll
  for (int v = 0; v < TV; ++v)
#pragma unroll
    for (int q = 0; q < 4; ++q) acc[v][q] = pre[lr[v] * H4 + q * H + j];
  add_recurrent_product<TV>(acc, R, j, H4, H, hp, lr, H);  // its 16-byte loads of h: H is a multiple of 4
#pragma unroll
  for (int v = 0; v < TV; ++v) {
    if (r0 + v >= BB) break;
#pragma unroll
    for (int q = 0; q < 4; ++q) pre[(r0 + v) * H4 + q * H + j] = acc[v][q];
  }
}

// The backward step's recurrent gradient for hidden unit j: dh[r] = sum over m < 4H of R[m * ld + j]
// dg[lr[r] * 4H + m] (ld: the stride between R's rows), dg the step's gate gradients of the block's rows,
// in the quarters' order (recurrent_order.hpp). Up to two rows per thread a row's four chains run interleaved
// (the latency the split is for); with four rows, whose 16 chains would spill, the quarters run one after
// another, folded as they come, the rows' chains hiding each other's latency: the same sums either way.
// Where H is a multiple of 4 each quarter of a row's gate gradients is read as one 16-byte broadcast per
// four k (a row's quarters then start on 16-byte boundaries whenever dg does, as the kernels' layouts make
// it), which at MAXR = 4 cuts a warp's shared loads per four m from 20 to 8 (cycles 20 to 12).
// KH as in add_recurrent_product.
template <int NQ, int MAXR, int KH = 0>
__device__ __forceinline__ void quarter_chains(float (&acc)[MAXR][NQ], int p0, const float* R, int j, int ld,
                                               const float* dg, const int (&lr)[MAXR], int H) {
  const int H4 = 4 * H;
#pragma unroll
  for (int r = 0; r < MAXR; ++r)
#pragma unroll
    for (int p = 0; p < NQ; ++p) acc[r][p] = 0.f;
  if ((H & 3) == 0) {
    const auto four_k = [&](int k) {
#pragma unroll
      for (int p = 0; p < NQ; ++p) {
        const int m = (p0 + p) * H + k;
        float4 d4[MAXR];
#pragma unroll
        for (int r = 0; r < MAXR; ++r) d4[r] = *reinterpret_cast<const float4*>(dg + lr[r] * H4 + m);
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
          const float w = R[static_cast<std::size_t>(m + kk) * ld + j];
#pragma unroll
          for (int r = 0; r < MAXR; ++r) acc[r][p] = fmaf(w, component(d4[r], kk), acc[r][p]);
        }
      }
    };
    if constexpr (KH > 0) {
#pragma unroll
      for (int k = 0; k < KH; k += 4) four_k(k);
    } else {
      for (int k = 0; k < H; k += 4) four_k(k);
    }
  } else {
#pragma unroll 2
    for (int k = 0; k < H; ++k) {
#pragma unroll
      for (int p = 0; p < NQ; ++p) {
        const int m = (p0 + p) * H + k;
        const float w = R[static_cast<std::size_t>(m) * ld + j];
#pragma unroll
        for (int r = 0; r < MAXR; ++r) acc[r][p] = fmaf(w, dg[lr[r] * H4 + m], acc[r][p]);
      }
    }
  }
}

template <int MAXR, int KH = 0>
__device__ __forceinline__ void recurrent_gradient(float (&dh)[MAXR], const float* R, int j, int ld,
                                                   const float* dg, const int (&lr)[MAXR], int H4) {
  const int H = H4 / 4;
  if constexpr (MAXR <= 2) {
    float acc[MAXR][4];
    quarter_chains<4, MAXR, KH>(acc, 0, R, j, ld, dg, lr, H);
#pragma unroll
    for (int r = 0; r < MAXR; ++r) dh[r] = fold_quarters(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
  } else {
#pragma unroll 1
    for (int p = 0; p < 4; ++p) {
      float acc[MAXR][1];
      quarter_chains<1>(acc, p, R, j, ld, dg, lr, H);
#pragma unroll
      for (int r = 0; r < MAXR; ++r) dh[r] = fold_quarter(dh[r], acc[r][0], p);
    }
  }
}

// recurrent_gradient for a whole block's rows at once, by tiles (fused_bwd_tiled): thread `tid` of the
// block owns TV local rows x TU = kBwdTileUnits units (the units vary fastest across threads, so a warp's
// lanes share few rows and the gate gradients are near-broadcasts) and writes dhs[row * H + unit] = sum over
// m < 4H of R[m * H + unit] dg[row * 4H + m], its quarters one after another (each one fmaf chain in k
// order) and folded as they come, ((q0 + q1) + q2) + q3, as recurrent_gradient sums it: the same bits. Per
// four m a thread loads TV 16-byte gate-gradient words and 4 weight words of TU floats for 4 TU TV FMAs,
// where recurrent_gradient loads MAXR and 4 single weights for 4 MAXR. Threads past the tiles (and rows past
// BB) do nothing. R holds 4H x H floats, H a multiple of TU, 16-byte aligned.
template <int TV>
__device__ __forceinline__ void tiled_recurrent_gradient(const float* R, int H, const float* dg, int BB,
                                                         int tid, float* dhs) {
  constexpr int TU = kBwdTileUnits;
  static_assert(TU == 4, "weights are read as one float4 of TU adjacent units");
  const int ugroups = H / TU, H4 = 4 * H;
  if (tid >= ugroups * ((BB + TV - 1) / TV)) return;
  const int u0 = (tid % ugroups) * TU, r0 = (tid / ugroups) * TV;
  int lr[TV];
#pragma unroll
  for (int v = 0; v < TV; ++v) lr[v] = r0 + v < BB ? r0 + v : BB - 1;
  float sum[TV][TU] = {};
#pragma unroll 1
  for (int p = 0; p < 4; ++p) {
    float acc[TV][TU];
#pragma unroll
    for (int v = 0; v < TV; ++v)
#pragma unroll
      for (int u = 0; u < TU; ++u) acc[v][u] = 0.f;
    for (int k = 0; k < H; k += 4) {
      const int m = p * H + k;
      float4 d4[TV];
#pragma unroll
      for (int v = 0; v < TV; ++v) d4[v] = *reinterpret_cast<const float4*>(dg + lr[v] * H4 + m);
#pragma unroll
      for (int mm = 0; mm < 4; ++mm) {
        const float4 w4 = *reinterpret_cast<const float4*>(R + static_cast<std::size_t>(m + mm) * H + u0);
#pragma unroll
        for (int v = 0; v < TV; ++v) {
          const float d = component(d4[v], mm);
#pragma unroll
          for (int u = 0; u < TU; ++u) acc[v][u] = fmaf(component(w4, u), d, acc[v][u]);
        }
      }
    }
#pragma unroll
    for (int v = 0; v < TV; ++v)
#pragma unroll
      for (int u = 0; u < TU; ++u) sum[v][u] = fold_quarter(sum[v][u], acc[v][u], p);
  }
#pragma unroll
  for (int v = 0; v < TV; ++v) {
    if (r0 + v >= BB) break;
#pragma unroll
    for (int u = 0; u < TU; ++u) dhs[(r0 + v) * H + u0 + u] = sum[v][u];
  }
}

// f(std::integral_constant<int, R>{}) for the instantiated rows per thread R (1, 2, or 4 for any other
// plan value, as lstm_fused_plan.hpp rounds max_rows up to one of them).
template <class F>
decltype(auto) with_max_rows(int max_rows, F&& f) {
  switch (max_rows) {
    case 1:
      return f(std::integral_constant<int, 1>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    default:
      return f(std::integral_constant<int, 4>{});
  }
}

// The one-block time loops' instantiation at H: f(std::integral_constant<int, KH>{}), KH = H where the
// kernel is also compiled with H constant (one row per thread, R in shared memory, untiled: version 1.7),
// else 0. Both directions use it, so the forward and backward of one plan always pair the same way.
template <int MAXR, bool R_SMEM, bool TILED, class F>
decltype(auto) with_row_hidden(int H, F&& f) {
  if constexpr (MAXR == 1 && R_SMEM && !TILED) {
    return with_const_hidden(H, f);
  } else {
    return f(std::integral_constant<int, 0>{});
  }
}

}  // namespace lstmad::kernels
