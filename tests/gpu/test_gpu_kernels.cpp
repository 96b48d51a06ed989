// Each training kernel against a host reference in double: Adam (with clipping and weight decay, over
// several steps), the CUB sum of squares and clip factor, the window gather, the head and its MSE, the
// multi-model GEMM at fp32 and on the tensor cores (TF32, BF16), and the cell's activations.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/gpu/check.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/gpu/resources.hpp"
#include "gpu/gpu_test.hpp"
#include "kernels/adam.hpp"
#include "kernels/cell_activations.hpp"
#include "kernels/gather_windows.hpp"
#include "kernels/head.hpp"
#include "kernels/lstm_multi.hpp"
#include "kernels/reduce.hpp"

namespace lstmad {
namespace {

using gpu::DeviceBuffer;

TEST(GpuKernels, SumOfSquaresMatchesHost) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream s;
  for (std::size_t n : {1u, 7u, 1000u, 1u << 20}) {
    const auto x = test::random_vector(n, 11 + n);
    double ref = 0;
    for (float v : x) ref += static_cast<double>(v) * v;
    DeviceBuffer<float> dx(n);
    dx.upload(x, s);
    DeviceBuffer<double> out(1);
    out.fill_bytes_async(0xFF, s);
    DeviceBuffer<unsigned char> temp(kernels::sum_squares_temp_bytes(n));
    CUDA_CHECK(kernels::launch_sum_squares(dx.data(), n, out.data(), temp.data(), temp.size(), s));
    KERNEL_CHECK("sum_squares");
    double got = 0;
    out.download(&got, 1, s);
    EXPECT_NEAR(got, ref, 1e-12 * ref) << "n=" << n;
    EXPECT_GT(got, 0);
  }
}

// The order in which the thin products and the column sums add up K terms (lstm_multi.hpp): kChainParts
// chains over fixed ranges of k, each from 0, then added in order. next(acc, k): the chain's next value.
template <class Next>
float split_chain(int K, Next next) {
  const int len = kernels::multi_chain_part_len(K);
  float out = 0.f;
  for (int s = 0; s < kernels::kChainParts; ++s) {
    float p = 0.f;
    for (int k = std::min(K, s * len); k < std::min(K, s * len + len); ++k) p = next(p, k);
    out = s == 0 ? p : out + p;
  }
  return out;
}

// C_m = A_m B_m for 3 models (the middle one skipped) through launch_multi_gemm, or with `split` through
// launch_multi_gemm_split with the row sums of A asked for (its workspace, room for the row sums' parts
// too, filled with NaN first: what it held must not matter), at every
// precision and both ways of reading each operand (A transposed and B row-major, as dR = dG^T h reads them;
// A row-major and B transposed, as dX = dG W does). Relative Frobenius error against double: fp32 1e-6,
// TF32 2e-3, BF16 1.5e-2; at fp32 every output is bit for bit the host's fmaf chain over k = 0..K-1, or
// where the kernels split K (the thin path, N <= 4; a split GEMM with multi_gemm_parts(N, K) > 1) its
// split_chain: the kernels' contract, which makes a model's result independent of the launch. Where the
// split GEMM splits, it also writes both row sums, each the split_chain of adds (so launch_multi_colsum's
// bits), and says so; where not, it writes none. Bit-identical reruns; the skipped model untouched.
void expect_multi_gemm_matches_host(int M, int N, int K, bool a_transposed, bool split) {
  gpu::Stream s;
  const int models = 3;
  // a_transposed: A stored K x M ((i, k) at k * M + i), B K x N row-major. Otherwise A M x K row-major
  // and B stored N x K ((k, j) at j * K + k).
  const auto a = test::random_vector(static_cast<std::size_t>(models) * K * M, 91 + M);
  const auto b = test::random_vector(static_cast<std::size_t>(models) * K * N, 92 + N);
  DeviceBuffer<float> da(a.size()), db(b.size()), dc(static_cast<std::size_t>(models) * M * N);
  const long long work_batch = static_cast<long long>(kernels::kChainParts) * M * (N + 1);
  DeviceBuffer<float> work(static_cast<std::size_t>(models * work_batch));
  DeviceBuffer<float> dsum(static_cast<std::size_t>(models) * M), dsum2(dsum.size());
  da.upload(a, s);
  db.upload(b, s);
  const std::vector<unsigned char> act{1, 0, 1};
  DeviceBuffer<unsigned char> dact(act.size());
  dact.upload(act, s);
  kernels::StridedOperand A, B;
  A.p = da.data();
  A.rs = a_transposed ? 1 : K;
  A.cs = a_transposed ? M : 1;
  A.batch = static_cast<long long>(K) * M;
  B.p = db.data();
  B.rs = a_transposed ? N : 1;
  B.cs = a_transposed ? 1 : K;
  B.batch = static_cast<long long>(K) * N;
  const auto a_at = [&](int m, int i, int k) {
    return a[static_cast<std::size_t>(m) * K * M + static_cast<std::size_t>(i * A.rs + k * A.cs)];
  };
  const auto b_at = [&](int m, int k, int j) {
    return b[static_cast<std::size_t>(m) * K * N + static_cast<std::size_t>(k * B.rs + j * B.cs)];
  };
  const bool split_gemm = split && N > kernels::kMultiThinCols && kernels::multi_gemm_parts(N, K) > 1;
  const bool parts = N <= kernels::kMultiThinCols || split_gemm;
  for (const auto& [math, tol] : {std::pair<kernels::GemmMath, double>{kernels::GemmMath::FP32, 1e-6},
                                  {kernels::GemmMath::TF32, 2e-3},
                                  {kernels::GemmMath::BF16, 1.5e-2}}) {
    const std::string tag = std::string(split ? "split " : "") + "M=" + std::to_string(M) +
                            " N=" + std::to_string(N) + " K=" + std::to_string(K) +
                            (a_transposed ? " A^T" : " B^T") + " math " +
                            std::to_string(static_cast<int>(math));
    const auto run = [&] {
      work.fill_bytes_async(0xFF, s);
      dsum.fill_bytes_async(0xFF, s);
      dsum2.fill_bytes_async(0xFF, s);
      if (split)
        EXPECT_EQ(split_gemm, kernels::launch_multi_gemm_split(
                                  M, N, K, A, B, dc.data(), N, static_cast<long long>(M) * N, work.data(),
                                  work_batch, models, dact.data(), s, math, dsum.data(), dsum2.data(), M))
            << tag << ": whether the row sums were written";
      else
        kernels::launch_multi_gemm(M, N, K, A, B, dc.data(), N, static_cast<long long>(M) * N, models,
                                   dact.data(), s, math);
      KERNEL_CHECK("multi_gemm");
      return dc.to_host(s);
    };
    dc.fill_bytes_async(0xFF, s);  // NaN: the skipped model's block must stay so
    const std::vector<float> c = run();
    const std::vector<float> sum = dsum.to_host(s), sum2 = dsum2.to_host(s);
    // Bits, not values: the skipped model's NaNs compare unequal to themselves.
    const std::vector<float> again = run();
    EXPECT_EQ(0, std::memcmp(c.data(), again.data(), c.size() * sizeof(float))) << tag << ": rerun differs";
    for (int m = 0; m < models; ++m) {
      const float* cm = c.data() + static_cast<std::size_t>(m) * M * N;
      const std::size_t so = static_cast<std::size_t>(m) * M;
      if (act[m] == 0 || !split_gemm) {
        EXPECT_TRUE(std::isnan(sum[so]) && std::isnan(sum2[so + M - 1])) << tag << ": row sums written";
      }
      if (act[m] == 0) {
        EXPECT_TRUE(std::isnan(cm[0]) && std::isnan(cm[M * N - 1])) << tag << ": skipped model written";
        continue;
      }
      for (int i = 0; split_gemm && i < M; ++i) {
        const float chain = split_chain(K, [&](float p, int k) { return p + a_at(m, i, k); });
        if (std::memcmp(&chain, &sum[so + i], sizeof(float)) != 0 ||
            std::memcmp(&chain, &sum2[so + i], sizeof(float)) != 0)
          ADD_FAILURE() << tag << " model " << m << " row sum " << i << ": " << sum[so + i] << " and "
                        << sum2[so + i] << ", the chain of adds gives " << chain;
      }
      double num = 0, den = 0;
      int chain_mismatches = 0;
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
          double r = 0;
          float chain = 0.f;
          for (int k = 0; k < K; ++k) {
            r += double(a_at(m, i, k)) * b_at(m, k, j);
            chain = std::fmaf(a_at(m, i, k), b_at(m, k, j), chain);
          }
          if (parts)
            chain =
                split_chain(K, [&](float p, int k) { return std::fmaf(a_at(m, i, k), b_at(m, k, j), p); });
          num += (cm[i * N + j] - r) * (cm[i * N + j] - r);
          den += r * r;
          if (math == kernels::GemmMath::FP32 && std::memcmp(&chain, &cm[i * N + j], sizeof(float)) != 0 &&
              chain_mismatches++ < 3)
            ADD_FAILURE() << tag << " model " << m << " (" << i << ", " << j << "): " << cm[i * N + j]
                          << ", the fmaf chain gives " << chain;
        }
      const double err = std::sqrt(num / den);
      std::printf("%s model %d: relative error %.2e\n", tag.c_str(), m, err);
      EXPECT_LT(err, tol) << tag << " model " << m;
      EXPECT_EQ(chain_mismatches, 0) << tag << " model " << m << ": outputs that are not the fmaf chain";
    }
  }
}

// Sizes that are not multiples of the 64 x 64 tile or the K-step of 16, and the thin path (N <= 4).
TEST(GpuKernels, MultiGemmMatchesHostAtEachPrecision) {
  LSTMAD_REQUIRE_GPU();
  for (const bool a_transposed : {true, false})
    for (const auto& [M, N, K] :
         {std::array<int, 3>{70, 129, 37}, std::array<int, 3>{256, 3, 500}, std::array<int, 3>{33, 64, 1}})
      expect_multi_gemm_matches_host(M, N, K, a_transposed, false);
}

// The weight-gradient GEMMs split over K (launch_multi_gemm_split): K = 16 N exactly (the largest N that
// splits), K with parts that do not start on a K-step (300: 15 parts of 19 and one of 15) and N below one
// K-step, and K too short for N (one chain, launch_multi_gemm's bits); a workspace smaller than the parts
// refused, and one with room for C's parts only: no row sums, but C's bits. The row sums are
// launch_multi_colsum's of dG (A transposed, as dR reads dG) bit for bit.
TEST(GpuKernels, MultiGemmSplitSumsFixedPartsOfKInOrder) {
  LSTMAD_REQUIRE_GPU();
  EXPECT_EQ(kernels::multi_gemm_parts(65, 1040), kernels::kChainParts);
  EXPECT_EQ(kernels::multi_gemm_parts(66, 1040), 1);
  EXPECT_EQ(kernels::multi_gemm_parts(12, 300), kernels::kChainParts);
  EXPECT_EQ(kernels::multi_gemm_parts(8, 255), 1);  // a part shorter than one K-step
  EXPECT_EQ(kernels::multi_gemm_parts(129, 1100), 1);
  EXPECT_NE(kernels::multi_chain_part_len(300) % kernels::kMultiGemmKStep, 0);
  for (const bool a_transposed : {true, false})
    for (const auto& [M, N, K] : {std::array<int, 3>{20, 65, 1040}, std::array<int, 3>{70, 12, 300},
                                  std::array<int, 3>{33, 129, 1100}})
      expect_multi_gemm_matches_host(M, N, K, a_transposed, true);
  gpu::Stream s;
  const int M = 70, N = 12, K = 300;
  const long long c_parts = static_cast<long long>(kernels::kChainParts) * M * N;
  const auto a =
      test::random_vector(static_cast<std::size_t>(K) * M, 97);  // dG: K x M, as the step stores it
  const auto b = test::random_vector(static_cast<std::size_t>(K) * N, 98);
  DeviceBuffer<float> da(a.size()), db(b.size()), work(static_cast<std::size_t>(c_parts)),
      dc(static_cast<std::size_t>(M) * N), dref(dc.size()), dsum(static_cast<std::size_t>(M)),
      dcol(dsum.size());
  da.upload(a, s);
  db.upload(b, s);
  kernels::StridedOperand A, B;
  A.p = da.data();
  A.rs = 1;
  A.cs = M;
  B.p = db.data();
  B.rs = N;
  B.cs = 1;
  EXPECT_THROW(kernels::launch_multi_gemm_split(M, N, K, A, B, dc.data(), N, 0, work.data(), c_parts - 1, 1,
                                                nullptr, s),
               std::invalid_argument);
  dsum.fill_bytes_async(0xFF, s);
  EXPECT_FALSE(kernels::launch_multi_gemm_split(M, N, K, A, B, dc.data(), N, 0, work.data(), c_parts, 1,
                                                nullptr, s, kernels::GemmMath::FP32, dsum.data(), nullptr,
                                                0));
  KERNEL_CHECK("multi_gemm_split");
  EXPECT_TRUE(std::isnan(dsum.to_host(s)[0])) << "row sums written without room for their parts";
  const std::vector<float> c_only = dc.to_host(s);
  DeviceBuffer<float> big(static_cast<std::size_t>(c_parts + kernels::kChainParts * M));
  EXPECT_TRUE(kernels::launch_multi_gemm_split(M, N, K, A, B, dref.data(), N, 0, big.data(),
                                               static_cast<long long>(big.size()), 1, nullptr, s,
                                               kernels::GemmMath::FP32, dsum.data(), nullptr, 0));
  kernels::launch_multi_colsum(da.data(), K, M, 0, dcol.data(), nullptr, 0, 1, nullptr, s);
  KERNEL_CHECK("multi_gemm_split, multi_colsum");
  const std::vector<float> ref = dref.to_host(s), sum = dsum.to_host(s), col = dcol.to_host(s);
  EXPECT_EQ(0, std::memcmp(c_only.data(), ref.data(), ref.size() * sizeof(float)))
      << "C with and without the row sums";
  EXPECT_EQ(0, std::memcmp(sum.data(), col.data(), col.size() * sizeof(float)))
      << "the row sums are not launch_multi_colsum's";
}

// The bias gradients' column sums: each column's split_chain of float adds over the rows, bit for bit (so
// a model's result does not depend on the launch), written to both outputs; parts shorter and longer than
// a batch of 16 loads, empty last parts (37 rows: 13 parts of 3), columns past whole blocks; the skipped
// model untouched.
TEST(GpuKernels, MultiColsumSumsFixedRangesOfRowsInOrder) {
  LSTMAD_REQUIRE_GPU();
  for (const int rows : {37, 700}) {
    gpu::Stream s;
    const int models = 3, width = 130;
    const auto in = test::random_vector(static_cast<std::size_t>(models) * rows * width, 93);
    DeviceBuffer<float> din(in.size()), dout(static_cast<std::size_t>(models) * width),
        dout2(static_cast<std::size_t>(models) * width);
    din.upload(in, s);
    const std::vector<unsigned char> act{1, 0, 1};
    DeviceBuffer<unsigned char> dact(act.size());
    dact.upload(act, s);
    dout.fill_bytes_async(0xFF, s);
    dout2.fill_bytes_async(0xFF, s);
    kernels::launch_multi_colsum(din.data(), rows, width, static_cast<long long>(rows) * width, dout.data(),
                                 dout2.data(), width, models, dact.data(), s);
    KERNEL_CHECK("multi_colsum");
    const std::vector<float> out = dout.to_host(s), out2 = dout2.to_host(s);
    for (int m = 0; m < models; ++m)
      for (int n = 0; n < width; ++n) {
        const std::size_t o = static_cast<std::size_t>(m) * width + n;
        if (act[m] == 0) {
          EXPECT_TRUE(std::isnan(out[o]) && std::isnan(out2[o])) << "skipped model written at " << n;
          continue;
        }
        const float chain = split_chain(rows, [&](float p, int i) {
          return p + in[(static_cast<std::size_t>(m) * rows + i) * width + n];
        });
        EXPECT_EQ(0, std::memcmp(&chain, &out[o], sizeof(float)))
            << rows << " rows, model " << m << " column " << n;
        EXPECT_EQ(0, std::memcmp(&out[o], &out2[o], sizeof(float)))
            << rows << " rows, model " << m << " column " << n;
      }
  }
}

// dW of layer 0 and the bias gradients in one pass (launch_multi_gemm_rowsum): for 1 to 4 columns and K
// past whole batches of 16, C is bit for bit launch_multi_gemm's (the host's split_chain of fmaf) and both
// row sums are bit for bit launch_multi_colsum's column sums of the same gate gradients (its split_chain of
// adds);
// the skipped model untouched; more than 4 columns refused.
TEST(GpuKernels, MultiGemmRowsumIsTheThinGemmAndTheColsum) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream s;
  const int models = 3, M = 130, K = 37;  // A = dG^T: (i, k) at k * M + i, as the step stores dG
  const auto a = test::random_vector(static_cast<std::size_t>(models) * K * M, 94);
  DeviceBuffer<float> da(a.size());
  da.upload(a, s);
  const std::vector<unsigned char> act{1, 0, 1};
  DeviceBuffer<unsigned char> dact(act.size());
  dact.upload(act, s);
  kernels::StridedOperand A;
  A.p = da.data();
  A.rs = 1;
  A.cs = M;
  A.batch = static_cast<long long>(K) * M;
  const std::size_t sums = static_cast<std::size_t>(models) * M;
  DeviceBuffer<float> dsum(sums), dsum2(sums), dcol(sums);
  kernels::launch_multi_colsum(da.data(), K, M, A.batch, dcol.data(), nullptr, M, models, dact.data(), s);
  KERNEL_CHECK("multi_colsum");
  const std::vector<float> col = dcol.to_host(s);
  for (int N = 1; N <= kernels::kMultiThinCols; ++N) {
    const auto b = test::random_vector(static_cast<std::size_t>(models) * K * N, 95 + N);
    DeviceBuffer<float> db(b.size()), dc(static_cast<std::size_t>(models) * M * N), dref(dc.size());
    db.upload(b, s);
    kernels::StridedOperand B;  // X: (k, j) at k * N + j
    B.p = db.data();
    B.rs = N;
    B.cs = 1;
    B.batch = static_cast<long long>(K) * N;
    for (auto* buf : {&dc, &dref, &dsum, &dsum2}) buf->fill_bytes_async(0xFF, s);
    kernels::launch_multi_gemm(M, N, K, A, B, dref.data(), N, static_cast<long long>(M) * N, models,
                               dact.data(), s);
    kernels::launch_multi_gemm_rowsum(M, N, K, A, B, dc.data(), N, static_cast<long long>(M) * N, dsum.data(),
                                      dsum2.data(), M, models, dact.data(), s);
    KERNEL_CHECK("multi_gemm_rowsum");
    const std::vector<float> c = dc.to_host(s), ref = dref.to_host(s), sum = dsum.to_host(s),
                             sum2 = dsum2.to_host(s);
    for (int m = 0; m < models; ++m) {
      const std::size_t co = static_cast<std::size_t>(m) * M * N, so = static_cast<std::size_t>(m) * M;
      if (act[m] == 0) {
        EXPECT_TRUE(std::isnan(c[co]) && std::isnan(sum[so]) && std::isnan(sum2[so + M - 1]))
            << "N=" << N << ": skipped model written";
        continue;
      }
      int wrong = 0;
      for (int i = 0; i < M; ++i) {
        const float chain = split_chain(K, [&](float p, int k) {
          return p + a[static_cast<std::size_t>(m) * K * M + static_cast<std::size_t>(k) * M + i];
        });
        for (float got : {sum[so + i], sum2[so + i], col[so + i]})
          if (std::memcmp(&got, &chain, sizeof(float)) != 0 && wrong++ < 3)
            ADD_FAILURE() << "N=" << N << " model " << m << " row " << i << ": sum " << got << ", the chain "
                          << chain;
        for (int j = 0; j < N; ++j) {
          const float fma_chain = split_chain(K, [&](float p, int k) {
            return std::fmaf(a[static_cast<std::size_t>(m) * K * M + static_cast<std::size_t>(k) * M + i],
                             b[static_cast<std::size_t>(m) * K * N + static_cast<std::size_t>(k) * N + j], p);
          });
          const std::size_t o = co + static_cast<std::size_t>(i) * N + j;
          if ((std::memcmp(&c[o], &fma_chain, sizeof(float)) != 0 ||
               std::memcmp(&c[o], &ref[o], sizeof(float)) != 0) &&
              wrong++ < 3)
            ADD_FAILURE() << "N=" << N << " model " << m << " (" << i << ", " << j << "): " << c[o]
                          << ", launch_multi_gemm " << ref[o] << ", the fmaf chain " << fma_chain;
        }
      }
      EXPECT_EQ(wrong, 0) << "N=" << N << " model " << m;
    }
  }
  kernels::StridedOperand B5;
  EXPECT_THROW(kernels::launch_multi_gemm_rowsum(M, kernels::kMultiThinCols + 1, K, A, B5, nullptr, 5, 0,
                                                 dsum.data(), nullptr, M, models, dact.data(), s),
               std::invalid_argument);
}

TEST(GpuKernels, ClipFactorAndScale) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream s;
  const auto x = test::random_vector(5000, 3);
  DeviceBuffer<float> dx(x.size());
  dx.upload(x, s);
  DeviceBuffer<double> norm_sq(1);
  DeviceBuffer<unsigned char> temp(kernels::sum_squares_temp_bytes(x.size()));
  DeviceBuffer<float> scale(1);
  CUDA_CHECK(kernels::launch_sum_squares(dx.data(), x.size(), norm_sq.data(), temp.data(), temp.size(), s));
  kernels::launch_clip_factor(norm_sq.data(), 1.0f, scale.data(), s);
  kernels::launch_scale(dx.data(), x.size(), scale.data(), s);
  KERNEL_CHECK("clip");
  const auto y = dx.to_host(s);
  double n2 = 0;
  for (float v : x) n2 += static_cast<double>(v) * v;
  const double f = 1.0 / (std::sqrt(n2) + 1e-6);
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(y[i], x[i] * f, 1e-6) << i;
  // A norm below the threshold leaves the gradient alone.
  kernels::launch_clip_factor(norm_sq.data(), 1e9f, scale.data(), s);
  float sc = 0;
  scale.download(&sc, 1, s);
  EXPECT_EQ(sc, 1.0f);
}

// The time loops' sigmoid and tanh as the device computes them (kernels/lstm_cell.hpp), against double,
// within the bounds their building blocks are documented to keep: expf and tanhf 2 ulp and the division
// correctly rounded (Precise); __expf 2 + 1.173 |x| ulp, the reciprocal of __fdividef about 1 ulp (Fast).
// Every input of [-20, 20] on a grid of 2^-10, random ones out to +-90, and the saturating and special
// values; what lies past the bounds is counted and the worst is named.
TEST(GpuKernels, CellActivationsStayWithinTheirErrorBounds) {
  LSTMAD_REQUIRE_GPU();
  std::vector<float> x;
  for (int k = -20 * 1024; k <= 20 * 1024; ++k) x.push_back(static_cast<float>(k) / 1024.f);
  for (float v : test::random_vector(20000, 77, -90.0, 90.0)) x.push_back(v);
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {1e-30f, -1e-30f, 1e-6f, -1e-6f, 87.f, -87.f, 89.f, -89.f, 1e6f, -1e6f, inf, -inf})
    x.push_back(v);
  const std::size_t n = x.size();
  gpu::Stream s;
  DeviceBuffer<float> dx(n);
  dx.upload(x, s);
  DeviceBuffer<float> dout(n * kernels::kCellActivations);
  dout.fill_bytes_async(0xFF, s);
  CUDA_CHECK(kernels::launch_cell_activations(dx.data(), n, dout.data(), s));
  KERNEL_CHECK("cell_activations");
  const auto out = dout.to_host(s);
  constexpr double ulp1 = 1.0 / (1 << 23);  // ulp of [1, 2)
  struct Bound {
    const char* name;
    int slot;
    bool tanh;
    double abs;
    double rel_base, rel_per_x;  // relative bound (in ulp of 1) where the value is a normal float
  };
  const Bound bounds[] = {{"precise sigmoid", kernels::kSigmoidPrecise, false, 3e-7, 4, 0},
                          {"precise tanh", kernels::kTanhPrecise, true, 3e-7, 4, 0},
                          {"fast sigmoid", kernels::kSigmoidFast, false, 1e-6, 5, 1.2},
                          {"fast tanh", kernels::kTanhFast, true, 2e-6, -1, 0}};
  for (const Bound& b : bounds) {
    int wrong = 0;
    double worst = 0, worst_x = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double xi = x[i];
      const double ref = b.tanh ? std::tanh(xi) : 1.0 / (1.0 + std::exp(-xi));
      const double got = out[i * kernels::kCellActivations + b.slot];
      const double err = std::fabs(got - ref);
      bool ok = std::isfinite(got) && err <= b.abs;
      // Relative where the activation is a small normal float: the sigmoid's tail, tanh near 0.
      if (b.rel_base >= 0 && std::fabs(ref) >= std::numeric_limits<float>::min() && std::fabs(ref) < 0.5 &&
          std::fabs(xi) <= 80)
        ok = ok && err <= (b.rel_base + b.rel_per_x * std::fabs(xi)) * ulp1 * std::fabs(ref);
      if (!ok) {
        ++wrong;
        if (!(err <= worst)) worst = err, worst_x = xi;
      }
    }
    EXPECT_EQ(wrong, 0) << b.name << ": worst error " << worst << " at x = " << worst_x;
  }
  // Saturation is exact on both paths, and NaN stays NaN.
  const std::size_t pinf = n - 2, minf = n - 1;
  for (int slot = 0; slot < kernels::kCellActivations; ++slot) {
    const bool is_tanh = slot == kernels::kTanhPrecise || slot == kernels::kTanhFast;
    EXPECT_EQ(out[pinf * kernels::kCellActivations + slot], 1.f) << "slot " << slot;
    EXPECT_EQ(out[minf * kernels::kCellActivations + slot], is_tanh ? -1.f : 0.f) << "slot " << slot;
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  dx.upload(std::vector<float>{nan}, s);
  CUDA_CHECK(kernels::launch_cell_activations(dx.data(), 1, dout.data(), s));
  KERNEL_CHECK("cell_activations");
  const auto nan_out = dout.to_host(s);
  for (int slot = 0; slot < kernels::kCellActivations; ++slot) EXPECT_TRUE(std::isnan(nan_out[slot])) << slot;
}

// torch.optim.Adam in double, with clip_grad_norm_ before it.
void adam_reference(std::vector<double>& p, const std::vector<double>& g_in, std::vector<double>& m,
                    std::vector<double>& v, int t, const kernels::AdamHyper& h) {
  double n2 = 0;
  for (double x : g_in) n2 += x * x;
  double scale = 1.0;
  if (h.clip_norm > 0) scale = std::min(1.0, h.clip_norm / (std::sqrt(n2) + 1e-6));
  const double bc1 = 1 - std::pow(static_cast<double>(h.beta1), t);
  const double bc2 = 1 - std::pow(static_cast<double>(h.beta2), t);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double g = g_in[i] * scale + h.weight_decay * p[i];
    m[i] = h.beta1 * m[i] + (1 - h.beta1) * g;
    v[i] = h.beta2 * v[i] + (1 - h.beta2) * g * g;
    p[i] -= (h.lr / bc1) * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + h.eps);
  }
}

TEST(GpuKernels, AdamMatchesTorchSemantics) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream s;
  for (float wd : {0.f, 0.01f}) {
    for (float clip : {0.f, 0.5f}) {
      const std::size_t n = 10007;
      kernels::AdamHyper h;
      h.lr = 3e-3f;
      h.weight_decay = wd;
      h.clip_norm = clip;
      auto p = test::random_vector(n, 21);
      std::vector<double> pr(p.begin(), p.end()), mr(n, 0), vr(n, 0);
      DeviceBuffer<float> dp(n), dg(n), dm(n), dv(n);
      DeviceBuffer<kernels::AdamHyper> dh(1);
      DeviceBuffer<kernels::AdamStepState> ds(1);
      DeviceBuffer<double> norm_sq(1);
      DeviceBuffer<unsigned char> temp(kernels::sum_squares_temp_bytes(n));
      dp.upload(p, s);
      dm.zero_async(s);
      dv.zero_async(s);
      ds.zero_async(s);
      dh.upload(&h, 1, s);
      for (int t = 1; t <= 5; ++t) {
        const auto g = test::random_vector(n, 100 + t, -0.1, 0.1);
        dg.upload(g, s);
        CUDA_CHECK(kernels::launch_sum_squares(dg.data(), n, norm_sq.data(), temp.data(), temp.size(), s));
        kernels::launch_adam_prepare(dh.data(), norm_sq.data(), ds.data(), s);
        kernels::launch_adam_update(dp.data(), dg.data(), dm.data(), dv.data(), n, dh.data(), ds.data(), s);
        KERNEL_CHECK("adam");
        adam_reference(pr, std::vector<double>(g.begin(), g.end()), mr, vr, t, h);
      }
      const auto got = dp.to_host(s);
      const auto e = test::compare(got.data(), pr.data(), n);
      EXPECT_LT(e.max_abs, 2e-6) << "wd=" << wd << " clip=" << clip << ": " << e.str();
      kernels::AdamStepState st;
      ds.download(&st, 1, s);
      EXPECT_EQ(st.step, 5);
    }
  }
}

TEST(GpuKernels, GatherWindowsWithDeviceCursor) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream s;
  const int n = 500, D = 3, T = 17, hz = 2, B = 5;
  const auto xs = test::random_vector(static_cast<std::size_t>(n) * D, 1);
  const auto ys = test::random_vector(n, 2);
  const std::vector<int> starts{0, 40, 3, 480 - T, 7, 100, 200, 300, 11, 12};
  DeviceBuffer<float> dxs(xs.size()), dys(ys.size()), xb(B * T * D), yb(B * hz);
  DeviceBuffer<int> dst(starts.size()), cursor(1);
  dxs.upload(xs, s);
  dys.upload(ys, s);
  dst.upload(starts.data(), starts.size(), s);
  cursor.zero_async(s);
  for (int k = 0; k < 2; ++k) {
    xb.fill_bytes_async(0xFF, s);
    yb.fill_bytes_async(0xFF, s);
    kernels::launch_gather_windows(dxs.data(), dys.data(), D, dst.data(), cursor.data(), B, T, hz, xb.data(),
                                   yb.data(), s);
    kernels::launch_advance_cursor(cursor.data(), B, s);
    KERNEL_CHECK("gather");
    const auto x = xb.to_host(s), y = yb.to_host(s);
    for (int b = 0; b < B; ++b) {
      const int st = starts[k * B + b];
      for (int i = 0; i < T * D; ++i) ASSERT_EQ(x[b * T * D + i], xs[st * D + i]) << "k=" << k << " b=" << b;
      for (int j = 0; j < hz; ++j) ASSERT_EQ(y[b * hz + j], ys[st + T + j]) << "k=" << k << " b=" << b;
    }
  }
}

TEST(GpuKernels, HeadForwardBackwardAndMse) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream s;
  for (int H : {1, 7, 64, 100, 256}) {
    for (int hz : {1, 3}) {
      const int B = 33;
      const auto h = test::random_vector(static_cast<std::size_t>(B) * H, 5 + H);
      const auto W = test::random_vector(static_cast<std::size_t>(hz) * H, 6 + H);
      const auto bh = test::random_vector(hz, 7);
      const auto y = test::random_vector(static_cast<std::size_t>(B) * hz, 8);
      DeviceBuffer<float> dh_in(h.size()), dW(W.size()), db(bh.size()), dy(y.size()), yhat(y.size()),
          dyhat(y.size()), resid(y.size()), gW(W.size()), gb(bh.size()), gh(h.size());
      dh_in.upload(h, s);
      dW.upload(W, s);
      db.upload(bh, s);
      dy.upload(y, s);
      for (auto* buf : {&yhat, &dyhat, &resid, &gW, &gb, &gh}) buf->fill_bytes_async(0xFF, s);
      kernels::launch_head_forward(dh_in.data(), B, H, hz, dW.data(), db.data(), yhat.data(), dy.data(),
                                   dyhat.data(), resid.data(), s);
      kernels::launch_head_backward(dh_in.data(), dyhat.data(), B, H, hz, dW.data(), gW.data(), gb.data(),
                                    gh.data(), s);
      KERNEL_CHECK("head");
      std::vector<double> ryhat(y.size()), rdy(y.size()), rresid(y.size()), rgW(W.size(), 0), rgb(hz, 0),
          rgh(h.size(), 0);
      for (int b = 0; b < B; ++b)
        for (int j = 0; j < hz; ++j) {
          double a = bh[j];
          for (int k = 0; k < H; ++k) a += static_cast<double>(W[j * H + k]) * h[b * H + k];
          ryhat[b * hz + j] = a;
          const double d = a - y[b * hz + j];
          rresid[b * hz + j] = d;
          rdy[b * hz + j] = 2 * d / (B * hz);
        }
      for (int b = 0; b < B; ++b)
        for (int j = 0; j < hz; ++j) {
          rgb[j] += rdy[b * hz + j];
          for (int k = 0; k < H; ++k) {
            rgW[j * H + k] += rdy[b * hz + j] * h[b * H + k];
            rgh[b * H + k] += rdy[b * hz + j] * W[j * H + k];
          }
        }
      const std::string tag = "H=" + std::to_string(H) + " horizon=" + std::to_string(hz);
      auto check = [&](const DeviceBuffer<float>& got_d, const std::vector<double>& ref, const char* what) {
        const auto got = got_d.to_host(s);
        EXPECT_TRUE(test::finite_and_nonzero(got.data(), got.size())) << tag << " " << what;
        const auto e = test::compare(got.data(), ref.data(), ref.size());
        EXPECT_LT(e.rel_frobenius, 1e-5) << tag << " " << what << ": " << e.str();
      };
      check(yhat, ryhat, "yhat");
      check(resid, rresid, "residual");
      check(dyhat, rdy, "dyhat");
      check(gW, rgW, "dWh");
      check(gb, rgb, "dbh");
      check(gh, rgh, "dh");
    }
  }
}

}  // namespace
}  // namespace lstmad
