// The per-step products of the fp32 LSTM recurrence, C (M x N) += A (M x K) * P, with the right-hand
// operand packed once per sequence instead of once per step (a general GEMM repacks it on every call,
// T times per layer for the same R):
//   forward:  act_t (B x 4H) += h_{t-1} (B x H) * R^T   P = pack_cols(R^T),  K = H
//   backward: dh    (B x H)  += dg_t   (B x 4H) * R     P = pack_cols(R),    K = 4H
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

// MR rows of C (leading dimension ldc) by kPanel columns += MR rows of A (lda) * one packed panel.
template <int MR>
inline void tile(const float* A, int lda, const float* panel, float* C, int ldc, int K) {
  vec acc[MR][kVectors];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < kVectors; ++v)
      std::memcpy(&acc[r][v], C + static_cast<std::size_t>(r) * ldc + kLanes * v, sizeof(vec));
  for (int k = 0; k < K; ++k) {
    vec b[kVectors];
    for (int v = 0; v < kVectors; ++v)
      std::memcpy(&b[v], panel + static_cast<std::size_t>(k) * kPanel + kLanes * v, sizeof(vec));
    for (int r = 0; r < MR; ++r) {
      const float a = A[static_cast<std::size_t>(r) * lda + k];
      for (int v = 0; v < kVectors; ++v) acc[r][v] += b[v] * a;
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < kVectors; ++v)
      std::memcpy(C + static_cast<std::size_t>(r) * ldc + kLanes * v, &acc[r][v], sizeof(vec));
}

// C (M x N, ldc) += A (M x K, lda) * P (from pack_cols); N a multiple of kPanel.
inline void multiply_add(int M, int N, int K, const float* A, int lda, const float* P, float* C, int ldc) {
  for (int p = 0; p < N / kPanel; ++p) {
    const float* panel = P + static_cast<std::size_t>(p) * K * kPanel;
    float* Cp = C + static_cast<std::size_t>(p) * kPanel;
    int i = 0;
    for (; i + kRows <= M; i += kRows)
      tile<kRows>(A + static_cast<std::size_t>(i) * lda, lda, panel, Cp + static_cast<std::size_t>(i) * ldc,
                  ldc, K);
    for (; i + 2 <= M; i += 2)
      tile<2>(A + static_cast<std::size_t>(i) * lda, lda, panel, Cp + static_cast<std::size_t>(i) * ldc, ldc,
              K);
    for (; i < M; ++i)
      tile<1>(A + static_cast<std::size_t>(i) * lda, lda, panel, Cp + static_cast<std::size_t>(i) * ldc, ldc,
              K);
  }
}

}  // namespace lstmad::small_gemm

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
