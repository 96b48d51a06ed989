// Tensor-core time loops (see lstm_fused_mma.hpp for the design and lstm_mma_layout.hpp for the index
// maps, which tests/test_mma_layout.cpp checks on the host against the mma fragment layout).
//
// Per forward step a warp, for each of its tiles (i, f) and (g, o) of 8 units, accumulates gx + bias and
// then R[tile rows, :] . h_{t-1}^T over the k-steps (even and odd k-steps into two accumulators, added at
// the end: two dependent chains of H / 16 mma instead of one of H / 8), applies the gate math to the four
// gates of each of its (unit, row) cells in registers (the activations on the special-function units),
// and writes h_t to the other half of a double-buffered B buffer (rounded to the operand format; y, gates
// and c keep fp32). One barrier per step.
// Backward mirrors the FMA kernel: the cells' gate gradients go to global memory and, rounded, to a
// double-buffered B buffer; after one barrier the warps of a 16-unit tile compute dh_rec (16 x 8) as
// R^T . dgates^T over 4H / K k-steps in four accumulator chains, one warp all four or, split (version
// 3.4), P warps a share each, the chains then added through shared memory after a second barrier.
#include <cstdint>
#include <type_traits>

#include "kernels/fused_rows.cuh"
#include "kernels/launch.cuh"
#include "kernels/lstm_cell.hpp"
#include "kernels/lstm_fused_mma.hpp"
#include "kernels/mma_ops.cuh"
#include "kernels/smem_limit.hpp"

namespace lstmad::kernels {

namespace {

using mma::bf16_bits;
using mma::Format;
using mma::mma_acc;
using mma::tf32_bits;

// The gate math on the special-function units (lstm_cell.hpp): within 2e-6 of the exact activations,
// against operands rounded by up to 2^-11 (TF32) or 2^-8 (BF16) before every recurrent product.
constexpr cell::Activations kMmaActivations = cell::Activations::Fast;

// Element (n, k) of a B buffer, rounded to the format.
template <Format F>
__device__ __forceinline__ void store_b(uint32_t* buf, int n, int k, int stride, float v) {
  if constexpr (F == Format::TF32) {
    buf[mma::b_element(F, n, k, stride)] = tf32_bits(v);
  } else {
    reinterpret_cast<uint16_t*>(buf)[mma::b_element(F, n, k, stride)] = static_cast<uint16_t>(bf16_bits(v));
  }
}

// Word w of R (4H x H, fp32) in fragment order, rounded to the format (lstm_mma_layout.hpp, a_source).
template <Format F>
__device__ __forceinline__ uint32_t staged_word(const float* __restrict__ R, bool backward, int H,
                                                long long w) {
  if constexpr (F == Format::TF32) {
    return tf32_bits(R[mma::a_source(F, backward, H, w, 0)]);
  } else {
    return bf16_bits(R[mma::a_source(F, backward, H, w, 0)]) |
           (bf16_bits(R[mma::a_source(F, backward, H, w, 1)]) << 16);
  }
}

// The 16-byte word i of fragment-ordered R (words 4 i .. 4 i + 3).
template <Format F>
__device__ __forceinline__ uint4 staged_vec(const float* __restrict__ R, bool backward, int H, long long i) {
  return make_uint4(staged_word<F>(R, backward, H, 4 * i), staged_word<F>(R, backward, H, 4 * i + 1),
                    staged_word<F>(R, backward, H, 4 * i + 2), staged_word<F>(R, backward, H, 4 * i + 3));
}

// R into fragment order for the time loops that hold it in registers or read it from L2 (where R sits in
// shared memory, each block stages its own from R with the same staged_word: one launch per direction and
// step less). Model blockIdx.y: R moves by ms.param floats, the staged words by ms.rt.
template <Format F>
__global__ void stage_a_kernel(const float* __restrict__ R, int H, bool backward, uint32_t* __restrict__ out,
                               const ModelStrides ms) {
  const int model = blockIdx.y;
  if (ms.active != nullptr && ms.active[model] == 0) return;
  R += static_cast<std::size_t>(model) * ms.param;
  out += static_cast<std::size_t>(model) * ms.rt;
  const long long n = mma::a_words(F, H);
  for (long long w = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; w < n;
       w += static_cast<long long>(gridDim.x) * blockDim.x)
    out[w] = staged_word<F>(R, backward, H, w);
}

// The block's share of R in shared memory: k-steps 0 .. KSM-1 of every tile of fragment-ordered R (KS
// k-steps per tile), as [tile][KSM][32] 16-byte words, from fp32 R with staged_vec (the staging kernel's
// words, so the same bits as R from L2). Nothing where KSM is 0.
template <Format F>
__device__ __forceinline__ void stage_part(uint4* ras, long long n, int KSM, int KS,
                                           const float* __restrict__ Rg, bool backward, int H) {
  for (long long i = threadIdx.x; i < n; i += blockDim.x) {
    const long long tk = i >> 5;  // tile * KSM + ks
    const int lane = static_cast<int>(i & 31);
    const int tile = static_cast<int>(tk / KSM), ks = static_cast<int>(tk % KSM);
    ras[i] = staged_vec<F>(Rg, backward, H, mma::a_index(tile, ks, lane, KS));
  }
}

// UG: tile pairs (groups of 8 units) per warp, 1 or 2. HC > 0: H is HC and each lane holds its A
// fragments in registers for all k-steps (mma_r_in_registers); HC = 0: H at run time, the first KSM
// k-steps of every tile from shared memory, the rest from L2 (MmaLaunch::r_ksteps_fwd: all of them, some,
// or none). In shared memory the block stages A from Rg (fp32 R) itself; in registers and from L2 it reads
// Ra, which stage_a_kernel wrote (staging each lane's fragments from R spilled at HC >= 48: the scattered
// loads of all k-steps at once).
template <Format F, int UG, int HC>
__global__ void __launch_bounds__(kMmaMaxThreads, 1)
    lstm_mma_fwd_kernel(const float* __restrict__ Rg, const uint4* __restrict__ Ra, int KSM,
                        const float* __restrict__ gx, FusedInput in, const float* __restrict__ bW,
                        const float* __restrict__ bR, int T, int B, int H, float* __restrict__ y,
                        float* __restrict__ gates, float* __restrict__ c_out, float* __restrict__ hy,
                        float* __restrict__ cy, const ModelStrides ms) {
  LSTMAD_DYNAMIC_SMEM(uint4, smem4);
  constexpr bool R_REG = HC > 0;
  constexpr int KSC = R_REG ? HC / (F == Format::TF32 ? 8 : 16) : 1;  // k-steps, when known here
  if (R_REG) H = HC;
  // Model blockIdx.y of the launch (0 for a single model): a block of a skipped model, or of rows past the
  // model's real ones, has nothing to do (the whole block leaves before any barrier).
  const int model = blockIdx.y;
  const int nrows = model_rows(ms, model, B);
  if (static_cast<int>(blockIdx.x) * kMmaRowsPerBlock >= nrows) return;
  {
    const std::size_t m = model;
    Rg += m * ms.param;
    if (Ra != nullptr) Ra = reinterpret_cast<const uint4*>(reinterpret_cast<const uint32_t*>(Ra) + m * ms.rt);
    in = model_input(in, ms, m);
    forward_at_model(ms, m, gx, bW, bR, y, gates, c_out, hy, cy);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int H4 = 4 * H;
  const int KS = R_REG ? KSC : mma::fwd_ksteps(F, H);
  if (R_REG) KSM = 0;
  const int HS = mma::b_stride(F, H);
  uint4* const ras = smem4;  // [tile][KSM][32]: k-steps 0 .. KSM-1 of every tile in fragment order
  const long long ras_vec = static_cast<long long>(mma::fwd_tiles(H)) * KSM * 32;
  uint32_t* hs = reinterpret_cast<uint32_t*>(smem4 + ras_vec);  // [2][8][HS]
  stage_part<F>(ras, ras_vec, KSM, KS, Rg, false, H);
  for (int i = threadIdx.x; i < 2 * kMmaRowsPerBlock * HS; i += blockDim.x) hs[i] = 0u;
  uint4 areg[R_REG ? 2 * UG : 1][KSC];  // this lane's A fragments (R_REG)
  if constexpr (R_REG) {
#pragma unroll
    for (int ug = 0; ug < UG; ++ug)
#pragma unroll
      for (int kind = 0; kind < 2; ++kind)
#pragma unroll
        for (int ks = 0; ks < KSC; ++ks)
          areg[2 * ug + kind][ks] = Ra[mma::a_index(mma::fwd_tile(warp, UG, ug, kind), ks, lane, KSC)];
  }

  const int row0 = blockIdx.x * kMmaRowsPerBlock;
  // This lane's cells: unit j(ug) = 8 (warp UG + ug) + lane / 4, local rows n = 2 (lane % 4) + e2.
  int unit[UG];
  bool valid[2];
  long long grow[2];
#pragma unroll
  for (int ug = 0; ug < UG; ++ug) unit[ug] = mma::fwd_c_owner(warp * UG + ug, 0, lane, 0).j;
#pragma unroll
  for (int e2 = 0; e2 < 2; ++e2) {
    const int n = mma::c_pos(lane, e2).col;
    valid[e2] = row0 + n < nrows;
    grow[e2] = valid[e2] ? row0 + n : row0;
  }
  float bias[UG][4], c[UG][2], hlast[UG][2];
#pragma unroll
  for (int ug = 0; ug < UG; ++ug) {
#pragma unroll
    for (int q = 0; q < 4; ++q) bias[ug][q] = bW[q * H + unit[ug]] + bR[q * H + unit[ug]];
#pragma unroll
    for (int e2 = 0; e2 < 2; ++e2) {
      c[ug][e2] = 0.f;
      hlast[ug][e2] = 0.f;
      if (valid[e2]) y[grow[e2] * H + unit[ug]] = 0.f;  // h_0
    }
  }
  __syncthreads();

  // gx of the next step (or, with FusedInput, its x, projected when the step starts) is loaded while this
  // step's products run: it does not depend on h (fused_rows.cuh, as in the FMA kernels).
  float gxn[UG][2][4];
  auto load = [&](int t) {
#pragma unroll
    for (int ug = 0; ug < UG; ++ug)
#pragma unroll
      for (int e2 = 0; e2 < 2; ++e2)
        load_fwd_input(valid[e2] && t < T, static_cast<long long>(t) * B + grow[e2], gx, in, H, unit[ug],
                       gxn[ug][e2]);
  };
  load(0);

  for (int t = 0; t < T; ++t) {
    const uint32_t* hp = hs + (t & 1) * kMmaRowsPerBlock * HS;
    uint32_t* hn = hs + ((t + 1) & 1) * kMmaRowsPerBlock * HS;
    // acc[ug][kind][split][reg]; register reg of kind k holds gate 2k + reg / 2 of row reg % 2.
    float acc[UG][2][2][4];
#pragma unroll
    for (int ug = 0; ug < UG; ++ug) {
      float start[2][4];  // gx + bias of the cell (unit[ug], row e2), per gate
#pragma unroll
      for (int e2 = 0; e2 < 2; ++e2) fwd_start_values(gxn[ug][e2], in, unit[ug], H, bias[ug], start[e2]);
#pragma unroll
      for (int kind = 0; kind < 2; ++kind)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          acc[ug][kind][0][e] = start[e & 1][2 * kind + (e >> 1)];
          acc[ug][kind][1][e] = 0.f;
        }
    }
    load(t + 1);
    if constexpr (R_REG) {
#pragma unroll
      for (int ks = 0; ks < KSC; ++ks) {
        const uint32_t b0 = hp[mma::b_word(lane, ks, 0, HS)], b1 = hp[mma::b_word(lane, ks, 1, HS)];
#pragma unroll
        for (int ug = 0; ug < UG; ++ug)
#pragma unroll
          for (int kind = 0; kind < 2; ++kind)
            mma_acc<F>(acc[ug][kind][ks & 1], areg[2 * ug + kind][ks], b0, b1);
      }
    } else {
      // k-steps [0, KSM) from shared memory, [KSM, KS) from L2; KSM is even, so chain ks & 1 keeps its
      // k-steps in order either way: the bits do not depend on where R sits.
      const auto ksteps = [&](const uint4* __restrict__ A, int lo, int hi, int ld) {
#pragma unroll 2
        for (int ks = lo; ks < hi; ks += 2) {
#pragma unroll
          for (int s = 0; s < 2; ++s) {
            if (ks + s >= hi) break;  // KS odd: BF16 with R outside registers at H = 144, 176, 208, 240
            const uint32_t b0 = hp[mma::b_word(lane, ks + s, 0, HS)],
                           b1 = hp[mma::b_word(lane, ks + s, 1, HS)];
#pragma unroll
            for (int ug = 0; ug < UG; ++ug)
#pragma unroll
              for (int kind = 0; kind < 2; ++kind) {
                const uint4 a = A[mma::a_index(mma::fwd_tile(warp, UG, ug, kind), ks + s, lane, ld)];
                mma_acc<F>(acc[ug][kind][s], a, b0, b1);
              }
          }
        }
      };
      ksteps(ras, 0, KSM, KSM);
      ksteps(Ra, KSM, KS, KS);
    }
#pragma unroll
    for (int ug = 0; ug < UG; ++ug) {
      const int j = unit[ug];
#pragma unroll
      for (int e2 = 0; e2 < 2; ++e2) {
        float pre[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const int kind = q >> 1, e = ((q & 1) << 1) | e2;
          pre[q] = acc[ug][kind][0][e] + acc[ug][kind][1][e];
        }
        float gt[4];
        const float h = cell::forward<kMmaActivations>(pre, gt, c[ug][e2]);
        hlast[ug][e2] = h;
        const int n = mma::c_pos(lane, e2).col;
        store_b<F>(hn, n, j, HS, valid[e2] ? h : 0.f);
        if (!valid[e2]) continue;
        const long long tb = static_cast<long long>(t) * B + grow[e2];
        y[(tb + B) * H + j] = h;
        if (gates != nullptr) {
          float* gr = gates + tb * H4 + j;
#pragma unroll
          for (int q = 0; q < 4; ++q) gr[q * H] = gt[q];
          c_out[tb * H + j] = c[ug][e2];
        }
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int ug = 0; ug < UG; ++ug)
#pragma unroll
    for (int e2 = 0; e2 < 2; ++e2) {
      if (!valid[e2]) continue;
      if (hy != nullptr) hy[grow[e2] * H + unit[ug]] = hlast[ug][e2];
      if (cy != nullptr) cy[grow[e2] * H + unit[ug]] = c[ug][e2];
    }
}

// HC as in the forward kernel. P: the warps per 16-unit tile (mma_bwd_parts; 1 unsplit). Warp w takes
// tile w % (H / 16) and part p = w / (H / 16): the k-steps ks = p, p + P, ... (the accumulator chains
// ks % 4 = p, p + P, ... of the unsplit warp, each in k order) and the cells e = p, p + P, ... of its
// lanes' four accumulator registers. With P > 1 the chains meet in shared memory after a second barrier
// and each warp adds its cells' four in the unsplit order, ((a0 + a1) + a2) + a3: the same bits as P = 1.
template <Format F, int HC, int P>
__global__ void __launch_bounds__(kMmaMaxThreads, 1)
    lstm_mma_bwd_kernel(const float* __restrict__ Rg, const uint4* __restrict__ Ra, int KSM,
                        const float* __restrict__ gates, const float* __restrict__ cst,
                        const float* __restrict__ dy, const float* __restrict__ dhy, int T, int B, int H,
                        float* __restrict__ dgates, const ModelStrides ms) {
  static_assert(P == 1 || P == 2 || P == 4, "the four chains split evenly");
  LSTMAD_DYNAMIC_SMEM(uint4, smem4);
  constexpr bool R_REG = HC > 0;
  constexpr int NE = 4 / P;  // a lane's cells (registers e = part + P i) and chains (ks % 4 = part + P i)
  constexpr int KSC = R_REG ? 4 * HC / (F == Format::TF32 ? 8 : 16) / P : NE;  // k-steps of a part
  if (R_REG) H = HC;
  const int model = blockIdx.y;  // see the forward kernel
  const int nrows = model_rows(ms, model, B);
  if (static_cast<int>(blockIdx.x) * kMmaRowsPerBlock >= nrows) return;
  {
    const std::size_t m = model;
    Rg += m * ms.param;
    if (Ra != nullptr) Ra = reinterpret_cast<const uint4*>(reinterpret_cast<const uint32_t*>(Ra) + m * ms.rt);
    backward_at_model(ms, m, gates, cst, dy, dhy, dgates);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int tiles = H / 16;
  const int tile = warp % tiles, part = P == 1 ? 0 : warp / tiles;  // unsplit: cells known at compile time
  const int H4 = 4 * H;
  const int KS = R_REG ? KSC * P : mma::bwd_ksteps(F, H);  // a multiple of 4
  if (R_REG) KSM = 0;                                      // else a multiple of 4 too (or KS)
  const int DS = mma::b_stride(F, H4);
  uint4* const ras = smem4;  // [tile][KSM][32], as in the forward kernel
  const long long ras_vec = static_cast<long long>(tiles) * KSM * 32;
  uint32_t* ds = reinterpret_cast<uint32_t*>(smem4 + ras_vec);  // [2][8][DS]
  // P > 1: the chains' exchange, [tile][chain][cell e][lane] (a warp's accesses: consecutive words).
  float* const xch = reinterpret_cast<float*>(ds + 2 * kMmaRowsPerBlock * DS);
  stage_part<F>(ras, ras_vec, KSM, KS, Rg, true, H);
  for (int i = threadIdx.x; i < 2 * kMmaRowsPerBlock * DS; i += blockDim.x) ds[i] = 0u;
  uint4 areg[R_REG ? KSC : 1];  // this lane's A fragments (R_REG), k-step part + P i in areg[i]
  if constexpr (R_REG) {
#pragma unroll
    for (int i = 0; i < KSC; ++i) areg[i] = Ra[mma::a_index(tile, part + P * i, lane, KS)];
  }

  const int row0 = blockIdx.x * kMmaRowsPerBlock;
  // Cell e = accumulator register e of `tile`: mma::bwd_cell(c0, e), unit c0.j + 8 (e / 2), local row
  // n0 + e % 2 (the CPU test checks it against bwd_c_owner). Rows are ints and cells are rebuilt from c0, so
  // that the per-model strides do not cost the spills that four 64-bit row offsets did. This warp's cells
  // are e = part + P i, i < NE.
  const mma::UnitCell c0 = mma::bwd_c_owner(tile, lane, 0);
  const int n0 = c0.n;
  auto reg_of = [&](int i) { return part + P * i; };
  auto cj = [&](int i) { return mma::bwd_cell(c0, reg_of(i)).j; };
  // Per cell, not per row: a split warp's rows depend on its part, and an array indexed by that would
  // live in local memory (unsplit, cells 0 and 2 share a row, and the compiler keeps one copy).
  bool valid[NE];
  int grow[NE];
#pragma unroll
  for (int i = 0; i < NE; ++i) {
    const int n = n0 + (reg_of(i) & 1);
    valid[i] = row0 + n < nrows;
    grow[i] = valid[i] ? row0 + n : row0;
  }
  float dh_rec[NE], dc[NE], ct[NE];
#pragma unroll
  for (int i = 0; i < NE; ++i) {
    dh_rec[i] = 0.f;
    dc[i] = 0.f;
    ct[i] = valid[i] ? cst[(static_cast<long long>(T - 1) * B + grow[i]) * H + cj(i)] : 0.f;
  }
  __syncthreads();

  // Step t's inputs (dy, the gates, c_{t-1}) do not depend on the recurrence: loaded one step ahead.
  float in_dy[NE], in_g[NE][4], in_cp[NE];
  auto load = [&](int t) {
#pragma unroll
    for (int i = 0; i < NE; ++i) {
      const bool ok = valid[i] && t >= 0;
      const long long tb = static_cast<long long>(t) * B + grow[i];
      in_dy[i] = ok && dy != nullptr ? dy[tb * H + cj(i)] : 0.f;
      const float* gr = gates + tb * H4 + cj(i);
#pragma unroll
      for (int q = 0; q < 4; ++q) in_g[i][q] = ok ? gr[q * H] : 0.f;
      in_cp[i] = ok && t > 0 ? cst[(tb - B) * H + cj(i)] : 0.f;
    }
  };
  load(T - 1);

  for (int t = T - 1; t >= 0; --t) {
    uint32_t* cur = ds + (t & 1) * kMmaRowsPerBlock * DS;
    float s_dy[NE], s_g[NE][4], s_cp[NE];
#pragma unroll
    for (int i = 0; i < NE; ++i) {
      s_dy[i] = in_dy[i];
      s_cp[i] = in_cp[i];
#pragma unroll
      for (int q = 0; q < 4; ++q) s_g[i][q] = in_g[i][q];
    }
    load(t - 1);
#pragma unroll
    for (int i = 0; i < NE; ++i) {
      float da[4] = {0.f, 0.f, 0.f, 0.f};
      if (valid[i]) {
        float dh = dh_rec[i] + s_dy[i];
        if (t == T - 1 && dhy != nullptr) dh += dhy[static_cast<long long>(grow[i]) * H + cj(i)];
        cell::backward<kMmaActivations>(dh, s_g[i], ct[i], s_cp[i], dc[i], da);
        ct[i] = s_cp[i];
        float* dgr = dgates + (static_cast<long long>(t) * B + grow[i]) * H4 + cj(i);
#pragma unroll
        for (int q = 0; q < 4; ++q) dgr[q * H] = da[q];
      }
#pragma unroll
      for (int q = 0; q < 4; ++q) store_b<F>(cur, mma::bwd_cell(c0, reg_of(i)).n, q * H + cj(i), DS, da[q]);
    }
    __syncthreads();
    if (t == 0) break;
    float acc[NE][4];  // chain part + P c in acc[c]
#pragma unroll
    for (int c = 0; c < NE; ++c)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[c][e] = 0.f;
    if constexpr (R_REG) {
#pragma unroll
      for (int i = 0; i < KSC; ++i) {
        const int ks = part + P * i;
        const uint32_t b0 = cur[mma::b_word(lane, ks, 0, DS)], b1 = cur[mma::b_word(lane, ks, 1, DS)];
        mma_acc<F>(acc[i % NE], areg[i], b0, b1);
      }
    } else {
      // This part's k-steps below KSM from shared memory, the rest from L2; KSM is a multiple of 4, so a
      // chain's k-steps stay in order either way: the bits do not depend on where R sits.
      const auto ksteps = [&](const uint4* __restrict__ A, int lo, int hi, int ld) {
        for (int i = lo; i < hi; i += NE) {
#pragma unroll
          for (int c = 0; c < NE; ++c) {
            const int ks = part + P * (i + c);
            const uint32_t b0 = cur[mma::b_word(lane, ks, 0, DS)], b1 = cur[mma::b_word(lane, ks, 1, DS)];
            const uint4 a = A[mma::a_index(tile, ks, lane, ld)];
            mma_acc<F>(acc[c], a, b0, b1);
          }
        }
      };
      ksteps(ras, 0, KSM / P, KSM);
      ksteps(Ra, KSM / P, KS / P, KS);
    }
    if constexpr (P == 1) {
#pragma unroll
      for (int e = 0; e < 4; ++e) dh_rec[e] = ((acc[0][e] + acc[1][e]) + acc[2][e]) + acc[3][e];
    } else {
      float* const tx = xch + tile * (4 * 4 * 32) + lane;
#pragma unroll
      for (int c = 0; c < NE; ++c)
#pragma unroll
        for (int e = 0; e < 4; ++e) tx[((part + P * c) * 4 + e) * 32] = acc[c][e];
      // The exchange is read below and written again only after the next step's first barrier, which every
      // warp reaches after its reads: one buffer suffices.
      __syncthreads();
#pragma unroll
      for (int i = 0; i < NE; ++i) {
        const float* ch = tx + reg_of(i) * 32;
        dh_rec[i] = ((ch[0] + ch[4 * 32]) + ch[2 * 4 * 32]) + ch[3 * 4 * 32];
      }
    }
  }
}

int stage_grid(long long n) {
  const long long b = (n + 255) / 256;
  return static_cast<int>(b < 4096 ? (b > 0 ? b : 1) : 4096);
}

// The H a kernel holding R in registers is instantiated for: those mma_r_in_registers takes, backward only
// with the parts plan_fused_mma gives them (mma_bwd_parts, or 1 unsplit).
constexpr bool instantiated(Format f, int H, bool backward, int parts) {
  return mma_r_in_registers(f, H, backward, parts) && (parts == 1 || mma_bwd_parts(H) == parts);
}

// Calls fn(std::integral_constant<int, HC>) with HC = H when the plan holds R in registers (instantiated
// for exactly those H), else HC = 0 (H at run time).
template <Format F, bool BACKWARD, int PARTS = 1, typename Fn>
void with_hc(int H, bool in_registers, Fn&& fn) {
  if (in_registers) {
    switch (H) {
#define LSTMAD_MMA_HC(h)                                 \
  case h:                                                \
    if constexpr (instantiated(F, h, BACKWARD, PARTS)) { \
      fn(std::integral_constant<int, h>{});              \
      return;                                            \
    }                                                    \
    break;
      LSTMAD_MMA_HC(16)
      LSTMAD_MMA_HC(32)
      LSTMAD_MMA_HC(48)
      LSTMAD_MMA_HC(64)
      LSTMAD_MMA_HC(80)
      LSTMAD_MMA_HC(96)
      LSTMAD_MMA_HC(112)
      LSTMAD_MMA_HC(128)
#undef LSTMAD_MMA_HC
      default:
        break;
    }
  }
  fn(std::integral_constant<int, 0>{});
}

// Calls fn with the forward kernel instantiation the plan selects.
template <Format F, typename Fn>
void with_fwd_kernel(const MmaLaunch& p, Fn&& fn) {
  with_hc<F, false>(p.H, p.r_reg_fwd, [&](auto hc) {
    constexpr int HC = decltype(hc)::value;
    if constexpr (HC > 0) {
      fn(lstm_mma_fwd_kernel<F, 1, HC>);
    } else if (p.fwd_units_per_warp == 8) {
      fn(lstm_mma_fwd_kernel<F, 1, 0>);
    } else {
      fn(lstm_mma_fwd_kernel<F, 2, 0>);
    }
  });
}

template <Format F, int P, typename Fn>
void with_bwd_kernel_parts(const MmaLaunch& p, Fn&& fn) {
  with_hc<F, true, P>(p.H, p.r_reg_bwd, [&](auto hc) {
    constexpr int HC = decltype(hc)::value;
    fn(lstm_mma_bwd_kernel<F, HC, P>);
  });
}

template <Format F, typename Fn>
void with_bwd_kernel(const MmaLaunch& p, Fn&& fn) {
  switch (p.bwd_parts) {
    case 4:
      return with_bwd_kernel_parts<F, 4>(p, fn);
    case 2:
      return with_bwd_kernel_parts<F, 2>(p, fn);
    default:
      return with_bwd_kernel_parts<F, 1>(p, fn);
  }
}

template <Format F>
cudaError_t configure(const MmaLaunch& p) {
  cudaError_t e = cudaSuccess;
  with_fwd_kernel<F>(p, [&](auto kernel) { e = raise_dynamic_smem_limit(kernel, p.smem_fwd); });
  if (e != cudaSuccess) return e;
  with_bwd_kernel<F>(p, [&](auto kernel) { e = raise_dynamic_smem_limit(kernel, p.smem_bwd); });
  return e;
}

// R staged by its own launch, unless the time loop keeps all of R in shared memory and stages it there
// itself: the workspace's words, or null.
template <Format F>
const uint4* stage_unless_smem(bool in_smem, const MmaLaunch& p, const float* R, bool backward, void* ws,
                               const ModelStrides& ms, cudaStream_t stream) {
  if (in_smem) return nullptr;
  const dim3 sgrid(stage_grid(mma::a_words(F, p.H)), ms.models);
  launch_kernel(stage_a_kernel<F>, sgrid, 256, 0, stream, R, p.H, backward, static_cast<uint32_t*>(ws), ms);
  return static_cast<const uint4*>(ws);
}

template <Format F>
void launch_fwd(const MmaLaunch& p, const FusedFwdArgs& a, void* ws, cudaStream_t stream) {
  const dim3 grid(p.grid, a.models.models);
  const uint4* ra = stage_unless_smem<F>(p.r_smem_fwd, p, a.R, false, ws, a.models, stream);
  with_fwd_kernel<F>(p, [&](auto kernel) {
    if (raise_dynamic_smem_limit(kernel, p.smem_fwd) != cudaSuccess) return;  // left for the launch check
    launch_kernel(kernel, grid, p.fwd_threads, p.smem_fwd, stream, a.R, ra, p.r_ksteps_fwd, a.gx, a.input,
                  a.bW, a.bR, a.T, p.B, p.H, a.y, a.gates, a.c, a.hy, a.cy, a.models);
  });
}

template <Format F>
void launch_bwd(const MmaLaunch& p, const FusedBwdArgs& a, void* ws, cudaStream_t stream) {
  const dim3 grid(p.grid, a.models.models);
  const uint4* ra = stage_unless_smem<F>(p.r_smem_bwd, p, a.R, true, ws, a.models, stream);
  with_bwd_kernel<F>(p, [&](auto kernel) {
    if (raise_dynamic_smem_limit(kernel, p.smem_bwd) != cudaSuccess) return;
    launch_kernel(kernel, grid, p.bwd_threads, p.smem_bwd, stream, a.R, ra, p.r_ksteps_bwd, a.gates, a.c,
                  a.dy, a.dhy, a.T, p.B, p.H, a.dgates, a.models);
  });
}

// The staged words of one model must stay 16-byte aligned: ms.rt (in 32-bit words) a multiple of 4 and at
// least the model's a_words.
bool takes(const MmaLaunch& p, const ModelStrides& m) {
  if (p.grid <= 0 || m.models < 1 || m.models > 65535) return false;
  return m.models == 1 || (m.rt % 4 == 0 && m.rt >= static_cast<std::size_t>(mma::a_words(p.format, p.H)));
}

}  // namespace

cudaError_t prepare_lstm_mma(const MmaLaunch& plan) {
  if (plan.grid <= 0) return cudaSuccess;
  return plan.format == Format::TF32 ? configure<Format::TF32>(plan) : configure<Format::BF16>(plan);
}

cudaError_t launch_lstm_mma_forward(const MmaLaunch& plan, const FusedFwdArgs& args, void* workspace,
                                    cudaStream_t stream) {
  if (args.T <= 0) return cudaSuccess;
  if (!takes(plan, args.models)) return cudaErrorInvalidValue;
  if (plan.format == Format::TF32)
    launch_fwd<Format::TF32>(plan, args, workspace, stream);
  else
    launch_fwd<Format::BF16>(plan, args, workspace, stream);
  return cudaSuccess;
}

cudaError_t launch_lstm_mma_backward(const MmaLaunch& plan, const FusedBwdArgs& args, void* workspace,
                                     cudaStream_t stream) {
  if (args.T <= 0) return cudaSuccess;
  if (!takes(plan, args.models)) return cudaErrorInvalidValue;
  if (plan.format == Format::TF32)
    launch_bwd<Format::TF32>(plan, args, workspace, stream);
  else
    launch_bwd<Format::BF16>(plan, args, workspace, stream);
  return cudaSuccess;
}

}  // namespace lstmad::kernels
