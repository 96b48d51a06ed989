// small_gemm.hpp's register-tiled products against a plain triple loop in double, on shapes that reach
// every tile height (kRows, 2, 1), more than one row block and depth pass, and padded leading dimensions.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "lstm/cpu/small_gemm.hpp"

namespace {

namespace sg = lstmad::small_gemm;

std::vector<float> random_matrix(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// sum_k a[k * as] b[k * bs] in double, and the sum of the terms' magnitudes.
struct Dot {
  double sum = 0.0, scale = 0.0;
};
Dot dot(const float* a, std::size_t as, const float* b, std::size_t bs, int K) {
  Dot d;
  for (int k = 0; k < K; ++k) {
    const std::size_t kk = static_cast<std::size_t>(k);
    const double t = static_cast<double>(a[kk * as]) * b[kk * bs];
    d.sum += t;
    d.scale += std::fabs(t);
  }
  return d;
}

// Relative to the sum of |terms|, so that cancellation does not make a correct result look wrong.
void expect_close(double got, double want, double scale, const char* what, int i, int j) {
  EXPECT_NEAR(got, want, 1e-5 * (scale + 1.0)) << what << " at (" << i << ", " << j << ")";
}

class SmallGemm : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(SmallGemm, MultiplyAndMultiplyAddMatchTheDefinition) {
  const auto [M, N, K] = GetParam();
  const int lda = K + 3, ldc = N + 16;  // leading dimensions wider than the rows
  const auto A = random_matrix(static_cast<std::size_t>(M) * lda, 1);
  const auto Bm = random_matrix(static_cast<std::size_t>(K) * N, 2);  // K x N, row-major
  std::vector<float> P(static_cast<std::size_t>(K) * N);
  sg::pack_cols(
      K, N, [&, N = N](int k, int n) { return Bm[static_cast<std::size_t>(k) * N + n]; }, P.data());
  const auto C0 = random_matrix(static_cast<std::size_t>(M) * ldc, 3);
  std::vector<float> set = C0, add = C0;
  sg::multiply<false>(M, N, K, A.data(), lda, P.data(), set.data(), ldc);
  sg::multiply_add(M, N, K, A.data(), lda, P.data(), add.data(), ldc);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      const Dot d = dot(&A[static_cast<std::size_t>(i) * lda], 1, &Bm[static_cast<std::size_t>(j)], N, K);
      const double s = d.sum, scale = d.scale;
      const std::size_t c = static_cast<std::size_t>(i) * ldc + j;
      expect_close(set[c], s, scale, "multiply", i, j);
      expect_close(add[c], s + C0[c], scale + std::fabs(C0[c]), "multiply_add", i, j);
    }
  // Columns past N in each row of C are not written.
  for (int i = 0; i < M; ++i)
    for (int j = N; j < ldc; ++j) {
      const std::size_t c = static_cast<std::size_t>(i) * ldc + j;
      ASSERT_EQ(set[c], C0[c]);
      ASSERT_EQ(add[c], C0[c]);
    }
}

// C1 = A^T B1 and C2 = A^T B2 from one call (one packing of A) equal the definition, and each equals the
// single-product call.
TEST_P(SmallGemm, TransposedProductsShareOnePackingOfA) {
  const auto [M, N, K] = GetParam();
  const int lda = M + 16, N2 = 2 * sg::kPanel;
  const auto A = random_matrix(static_cast<std::size_t>(K) * lda, 4);  // K x M
  const auto B1 = random_matrix(static_cast<std::size_t>(K) * N, 5);
  const auto B2 = random_matrix(static_cast<std::size_t>(K) * N2, 6);
  std::vector<float> C1(static_cast<std::size_t>(M) * N, 7.0f), C2(static_cast<std::size_t>(M) * N2, 7.0f);
  std::vector<float> one(C1.size(), 7.0f), work(sg::at_b_workspace(M));
  const sg::AtB products[2] = {{B1.data(), N, N, C1.data(), N}, {B2.data(), N2, N2, C2.data(), N2}};
  sg::multiply_at_b(M, K, A.data(), lda, products, 2, work.data());
  const sg::AtB alone{B1.data(), N, N, one.data(), N};
  sg::multiply_at_b(M, K, A.data(), lda, &alone, 1, work.data());
  for (int q = 0; q < 2; ++q) {
    const int n = q == 0 ? N : N2;
    const auto& B = q == 0 ? B1 : B2;
    const auto& C = q == 0 ? C1 : C2;
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < n; ++j) {
        const Dot d = dot(&A[static_cast<std::size_t>(i)], lda, &B[static_cast<std::size_t>(j)], n, K);
        expect_close(C[static_cast<std::size_t>(i) * n + j], d.sum, d.scale, q == 0 ? "A^T B1" : "A^T B2", i,
                     j);
      }
  }
  EXPECT_EQ(one, C1);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SmallGemm,
    ::testing::Values(std::make_tuple(64, 4 * sg::kPanel, 128),  // a per-step product at H = 128
                      std::make_tuple(13, sg::kPanel, 7),        // every tile height, a short K
                      std::make_tuple(150, 2 * sg::kPanel, 33),  // three row blocks
                      std::make_tuple(19, sg::kPanel, 700),      // three depth passes in A^T B
                      std::make_tuple(1, sg::kPanel, 1)));

TEST(SmallGemm, TransposedProductOverNoRowsIsZero) {
  std::vector<float> C(static_cast<std::size_t>(9) * sg::kPanel, 3.0f), work(sg::at_b_workspace(9));
  const float dummy = 1.0f;
  const sg::AtB product{&dummy, sg::kPanel, sg::kPanel, C.data(), sg::kPanel};
  sg::multiply_at_b(9, 0, &dummy, 9, &product, 1, work.data());
  for (float c : C) EXPECT_EQ(c, 0.0f);
}

}  // namespace
