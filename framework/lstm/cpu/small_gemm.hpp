// The fp32 LSTM's matrix products, on one register-tiled kernel. The per-step products, C (M x N) (+)=
// A (M x K) * P, with the right-hand operand packed once per sequence instead of once per step (a general
// GEMM repacks it on every call, T times per layer for the same matrix):
//   forward:  act_t (B x 4H)  = x_t     (B x D_l) * W^T   multiply<false>, P = pack_cols(W^T), K = D_l
//             act_t (B x 4H) += h_{t-1} (B x H)   * R^T   multiply_add,    P = pack_cols(R^T), K = H
//   backward: dh    (B x H)  += dg_t    (B x 4H)  * R     multiply_add,    P = pack_cols(R),   K = 4H
// and the products over the rows (steps x windows) of a backward chunk:
//   backward: dx  (rows x D_l) = dG (rows x 4H) * W       multiply<false>, P = pack_cols(W)
//             dW  (4H x D_l) += dG^T in, dR (4H x H) += dG^T h_prev   multiply_at_b, one packing of dG
// P holds N / kPanel panels of kPanel consecutive columns, each panel K rows of kPanel contiguous values;
// the kernel streams a panel while broadcasting A one element at a time into kRows x kPanel accumulators
// held in registers. N must be a multiple of kPanel (callers fall back to Eigen otherwise).
//
// Written with GCC/Clang vector extensions. The tile fits the register file: with AVX-512 (32 registers
// of 16 floats) 8 rows x 32 columns, 16 accumulators, measured at 240-266 GFLOP/s on one Zen 5 core for
// the shapes above; with AVX2 (16 registers of 8 floats) 6 rows x 16 columns, 12 accumulators; with SSE
// only, 4 rows x 8 columns.
#pragma once
#include <cstddef>
#include <cstring>

// The kernel's acc += b * a must become fused multiply-adds; ISO C++ mode (-std=c++17) turns contraction
// off by default, so it is turned on for this code alone (results stay deterministic).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
#endif

namespace lstmad::small_gemm {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
constexpr int kRows = 8;
#elif defined(__AVX__)
constexpr int kLanes = 8;
constexpr int kRows = 6;
#else  // SSE: 16 registers of 4 floats (wider vector types would be emulated, several times slower)
constexpr int kLanes = 4;
constexpr int kRows = 4;
#endif
constexpr int kVectors = 2;                // vectors per panel row
constexpr int kPanel = kLanes * kVectors;  // columns per panel
typedef float vec __attribute__((vector_size(kLanes * sizeof(float))));

// P[panel][k][c] = element(k, panel * kPanel + c) of a K x N matrix.
template <typename Element>
void pack_cols(int K, int N, Element element, float* P) {
  for (int p = 0; p < N / kPanel; ++p)
    for (int k = 0; k < K; ++k)
      for (int c = 0; c < kPanel; ++c)
        P[(static_cast<std::size_t>(p) * K + k) * kPanel + c] = element(k, p * kPanel + c);
}

// MR rows of C (leading dimension ldc) by kPanel columns (+)= MR rows of A times K rows of kPanel
// contiguous columns of B, row k at Bk + k * ldb (a packed panel: ldb = kPanel). A's element (r, k) is
// A[r * lda + k], or with kTransA (A stored K x M) A[k * lda + r]. Without kAccumulate C is overwritten.
template <int MR, bool kAccumulate, bool kTransA>
inline void tile(const float* A, int lda, const float* Bk, int ldb, float* C, int ldc, int K) {
  vec acc[MR][kVectors];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < kVectors; ++v) {
      if constexpr (kAccumulate)
        std::memcpy(&acc[r][v], C + static_cast<std::size_t>(r) * ldc + kLanes * v, sizeof(vec));
      else
        acc[r][v] = vec{};
    }
  for (int k = 0; k < K; ++k) {
    vec b[kVectors];
    for (int v = 0; v < kVectors; ++v)
      std::memcpy(&b[v], Bk + static_cast<std::size_t>(k) * ldb + kLanes * v, sizeof(vec));
    for (int r = 0; r < MR; ++r) {
      const float a =
          kTransA ? A[static_cast<std::size_t>(k) * lda + r] : A[static_cast<std::size_t>(r) * lda + k];
      for (int v = 0; v < kVectors; ++v) acc[r][v] += b[v] * a;
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < kVectors; ++v)
      std::memcpy(C + static_cast<std::size_t>(r) * ldc + kLanes * v, &acc[r][v], sizeof(vec));
}

// Rows [0, M) of one kPanel-column strip: tiles of kRows rows, then 2, then 1. rowA is the distance in A
// between consecutive rows of C (lda, or 1 with kTransA).
template <bool kAccumulate, bool kTransA>
inline void strip(int M, const float* A, int lda, const float* Bk, int ldb, float* C, int ldc, int K) {
  const std::size_t rowA = kTransA ? 1 : static_cast<std::size_t>(lda);
  int i = 0;
  for (; i + kRows <= M; i += kRows)
    tile<kRows, kAccumulate, kTransA>(A + i * rowA, lda, Bk, ldb, C + static_cast<std::size_t>(i) * ldc, ldc,
                                      K);
  for (; i + 2 <= M; i += 2)
    tile<2, kAccumulate, kTransA>(A + i * rowA, lda, Bk, ldb, C + static_cast<std::size_t>(i) * ldc, ldc, K);
  for (; i < M; ++i)
    tile<1, kAccumulate, kTransA>(A + i * rowA, lda, Bk, ldb, C + static_cast<std::size_t>(i) * ldc, ldc, K);
}

// Rows of C per block in multiply(): the block's rows of A (at most 64 x K) stay in L2 while every panel
// passes over them, and each panel stays in L1 across the block's row tiles. The per-step products
// (M = batch <= 64) are one block.
constexpr int kRowBlock = 64;

// C (M x N, ldc) += A (M x K, lda) * P (from pack_cols), or C = A * P without kAccumulate; N a multiple
// of kPanel.
template <bool kAccumulate = true>
inline void multiply(int M, int N, int K, const float* A, int lda, const float* P, float* C, int ldc) {
  for (int i0 = 0; i0 < M; i0 += kRowBlock) {
    const int m = M - i0 < kRowBlock ? M - i0 : kRowBlock;
    const float* Ai = A + static_cast<std::size_t>(i0) * lda;
    float* Ci = C + static_cast<std::size_t>(i0) * ldc;
    for (int p = 0; p < N / kPanel; ++p)
      strip<kAccumulate, false>(m, Ai, lda, P + static_cast<std::size_t>(p) * K * kPanel, kPanel,
                                Ci + static_cast<std::size_t>(p) * kPanel, ldc, K);
  }
}

inline void multiply_add(int M, int N, int K, const float* A, int lda, const float* P, float* C, int ldc) {
  multiply<true>(M, N, K, A, lda, P, C, ldc);
}

// Depth of one pass in multiply_at_b(): a panel's kDepth x kPanel block of B (32 KiB) stays in L1 while
// every row tile of C passes over it.
constexpr int kDepth = 256;

// Floats of workspace that multiply_at_b() needs for M rows of C: one pass of A, then one block of B.
inline std::size_t at_b_workspace(int M) {
  return (static_cast<std::size_t>((M + kRows - 1) / kRows) * kRows + kPanel) * kDepth;
}

// One product C (M x N, ldc) = A^T B of multiply_at_b(): B stored K x N (ldb), N a multiple of kPanel.
struct AtB {
  const float* B;
  int ldb;
  int N;
  float* C;
  int ldc;
};

// C = A^T B (C += A^T B with `accumulate`) for each of `count` products that share A, a sum over a long K: A
// stored K x M (lda), every B K x N, all row-major. The weight gradients sum gate gradients times inputs over
// every (step, window) row this way; the input and recurrent weights share their A (the gate gradients), so
// one packing of A serves both. B is read in place. A is repacked per pass of kDepth rows into `work`
// (at_b_workspace(M) floats), kRows columns of A (rows of C) at a time, so that a tile reads kRows contiguous
// values per k: read in place, those values lie one A row apart, and with a row length near a power of two
// every k of a tile falls in the same few L1 sets.
inline void multiply_at_b(int M, int K, const float* A, int lda, const AtB* products, int count, float* work,
                          bool accumulate = false) {
  if (K <= 0) {
    if (accumulate) return;
    for (int q = 0; q < count; ++q)
      for (int i = 0; i < M; ++i)
        std::memset(products[q].C + static_cast<std::size_t>(i) * products[q].ldc, 0,
                    sizeof(float) * products[q].N);
    return;
  }
  const int groups = (M + kRows - 1) / kRows;
  for (int k0 = 0; k0 < K; k0 += kDepth) {
    const int kc = K - k0 < kDepth ? K - k0 : kDepth;
    // work[g][k][r] = A[k0 + k][g * kRows + r], zero beyond M. Group by group, so that the writes are
    // sequential (k by k they would be kc * kRows floats apart, again one L1 set).
    const int full = M / kRows;
    for (int g = 0; g < groups; ++g) {
      const float* a = A + static_cast<std::size_t>(k0) * lda + g * kRows;
      float* w = work + static_cast<std::size_t>(g) * kc * kRows;
      if (g < full) {
        for (int k = 0; k < kc; ++k)
          std::memcpy(w + static_cast<std::size_t>(k) * kRows, a + static_cast<std::size_t>(k) * lda,
                      sizeof(float) * kRows);
      } else {
        for (int k = 0; k < kc; ++k)
          for (int r = 0; r < kRows; ++r)
            w[static_cast<std::size_t>(k) * kRows + r] =
                g * kRows + r < M ? a[static_cast<std::size_t>(k) * lda + r] : 0.0f;
      }
    }
    for (int q = 0; q < count; ++q) {
      const AtB& pr = products[q];
      const float* Bk = pr.B + static_cast<std::size_t>(k0) * pr.ldb;
      for (int p = 0; p < pr.N / kPanel; ++p) {
        // The panel's kc x kPanel block of B, made contiguous: in place its rows lie ldb floats apart, and
        // at a power-of-two ldb the block maps to a few L1 sets and falls out of L1 between row groups.
        float* bw = work + static_cast<std::size_t>(groups) * kRows * kDepth;
        for (int k = 0; k < kc; ++k)
          std::memcpy(bw + static_cast<std::size_t>(k) * kPanel,
                      Bk + static_cast<std::size_t>(k) * pr.ldb + static_cast<std::size_t>(p) * kPanel,
                      sizeof(float) * kPanel);
        float* Cp = pr.C + static_cast<std::size_t>(p) * kPanel;
        for (int g = 0; g < groups; ++g) {
          const float* w = work + static_cast<std::size_t>(g) * kc * kRows;
          float* Cg = Cp + static_cast<std::size_t>(g) * kRows * pr.ldc;
          const int rows = M - g * kRows;
          if (rows >= kRows) {
            if (k0 == 0 && !accumulate)
              tile<kRows, false, true>(w, kRows, bw, kPanel, Cg, pr.ldc, kc);
            else
              tile<kRows, true, true>(w, kRows, bw, kPanel, Cg, pr.ldc, kc);
          } else {
            for (int r = 0; r < rows; ++r) {
              float* Cr = Cg + static_cast<std::size_t>(r) * pr.ldc;
              if (k0 == 0 && !accumulate)
                tile<1, false, true>(w + r, kRows, bw, kPanel, Cr, pr.ldc, kc);
              else
                tile<1, true, true>(w + r, kRows, bw, kPanel, Cr, pr.ldc, kc);
            }
          }
        }
      }
    }
  }
}

}  // namespace lstmad::small_gemm

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
