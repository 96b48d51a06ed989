// LstmCpu<float> against LstmCpu<double> on the same (fp32-representable) parameters and inputs: the
// predictions, every layer's final h and c, the loss and the gradient of every parameter block agree to
// ~1e-5 relative (Frobenius norm of the difference over the norm of the fp64 result). Everything
// compared must also be finite and non-zero. Bias gradients (sums with cancellation) get 3e-5.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "lstm/cpu/activations.hpp"
#include "lstm/cpu/lstm_cpu.hpp"
#include "lstm/init.hpp"
#include "lstm/shape.hpp"

namespace lstmad {
namespace {

struct Case {
  int L, D, H, horizon, T, B;
  ModelShape shape() const { return {L, D, H, horizon}; }
  std::string str() const {
    std::ostringstream os;
    os << shape().str() << " T=" << T << " B=" << B;
    return os.str();
  }
};

// ||a - b|| / ||b|| over n values; fails the test when either side is non-finite or b is all zeros.
double rel_frobenius(const float* a, const double* b, std::size_t n, const std::string& what) {
  double diff = 0.0, ref = 0.0;
  for (std::size_t k = 0; k < n; ++k) {
    EXPECT_TRUE(std::isfinite(a[k]) && std::isfinite(b[k]))
        << what << "[" << k << "]: " << a[k] << " vs " << b[k];
    const double d = static_cast<double>(a[k]) - b[k];
    diff += d * d;
    ref += b[k] * b[k];
  }
  EXPECT_GT(ref, 0.0) << what << " is all zeros";
  return std::sqrt(diff / ref);
}

class LstmPrecision : public ::testing::TestWithParam<Case> {};

TEST_P(LstmPrecision, FloatMatchesDouble) {
  const Case c = GetParam();
  const ModelShape s = c.shape();
  const std::vector<float> pf = init_params(s, 1234 + static_cast<uint64_t>(c.H), 1.0);
  const std::vector<double> pd(pf.begin(), pf.end());
  Rng rng(99);
  // A noisy sine per window, the kind of input the detector sees; targets its continuation.
  std::vector<float> xf(static_cast<std::size_t>(c.B) * c.T * c.D),
      yf(static_cast<std::size_t>(c.B) * c.horizon);
  for (int b = 0; b < c.B; ++b)
    for (int t = 0; t < c.T; ++t)
      for (int d = 0; d < c.D; ++d)
        xf[(static_cast<std::size_t>(b) * c.T + t) * c.D + d] =
            static_cast<float>(std::sin(0.3 * (t + 3 * b) + d) + 0.1 * rng.normal());
  for (auto& v : yf) v = static_cast<float>(rng.normal(0.0, 0.5));
  const std::vector<double> xd(xf.begin(), xf.end()), yd(yf.begin(), yf.end());

  LstmCpu<float> nf(s, c.T, c.B);
  LstmCpu<double> nd(s, c.T, c.B);
  const std::size_t P = pf.size(), ny = yf.size(), BH = static_cast<std::size_t>(c.B) * c.H;
  std::vector<float> yhf(ny), gf(P);
  std::vector<double> yhd(ny), gd(P);
  nf.forward(pf.data(), xf.data(), c.B, yhf.data());
  nd.forward(pd.data(), xd.data(), c.B, yhd.data());
  const double tol = 1e-5;
  EXPECT_LT(rel_frobenius(yhf.data(), yhd.data(), ny, "yhat"), tol) << c.str();
  for (int l = 0; l < c.L; ++l) {
    EXPECT_LT(rel_frobenius(nf.final_h(l), nd.final_h(l), BH, "h layer " + std::to_string(l)), tol)
        << c.str();
    EXPECT_LT(rel_frobenius(nf.final_c(l), nd.final_c(l), BH, "c layer " + std::to_string(l)), tol)
        << c.str();
  }

  const float lf = nf.loss_and_grad(pf.data(), xf.data(), yf.data(), c.B, gf.data());
  const double ld = nd.loss_and_grad(pd.data(), xd.data(), yd.data(), c.B, gd.data());
  ASSERT_TRUE(std::isfinite(lf));
  EXPECT_NEAR(lf, ld, tol * ld) << c.str();

  // Per block, so a failure names the block.
  ParamLayout lay(s);
  // Bias gradients are plain sums of signed terms over batch and time (the head's is the sum of the
  // residuals), so cancellation costs them a few more digits than the GEMM-shaped weight blocks.
  struct Block {
    std::string name;
    std::size_t off, n;
    double tol;
  };
  std::vector<Block> blocks;
  const std::size_t G = 4 * static_cast<std::size_t>(c.H);
  for (int l = 0; l < c.L; ++l) {
    const LayerOffsets& o = lay.layer[static_cast<std::size_t>(l)];
    const std::string L = "layer " + std::to_string(l) + " ";
    blocks.push_back({L + "dW", o.W, o.R - o.W, tol});
    blocks.push_back({L + "dR", o.R, o.bW - o.R, tol});
    blocks.push_back({L + "dbW", o.bW, G, 3 * tol});
    blocks.push_back({L + "dbR", o.bR, G, 3 * tol});
  }
  blocks.push_back({"head dW", lay.head_W, lay.head_b - lay.head_W, tol});
  blocks.push_back({"head db", lay.head_b, static_cast<std::size_t>(c.horizon), 3 * tol});
  double worst = 0.0;
  for (const Block& b : blocks) {
    const double e = rel_frobenius(gf.data() + b.off, gd.data() + b.off, b.n, b.name);
    EXPECT_LT(e, b.tol) << c.str() << ": " << b.name;
    worst = std::max(worst, e);
    if (e > 1e-6) std::cout << "  " << b.name << " " << e << "\n";
  }
  std::cout << c.str() << ": worst gradient block relative error " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(Shapes, LstmPrecision,
                         ::testing::Values(Case{2, 1, 64, 1, 50, 16}, Case{1, 3, 20, 3, 10, 5},
                                           Case{2, 2, 13, 2, 30, 7}, Case{1, 1, 128, 1, 50, 8},
                                           // fp32's packed per-step products: batch remainders of the
                                           // row tiles, and H where only one direction is packed
                                           Case{1, 2, 8, 1, 12, 9}, Case{2, 1, 32, 2, 20, 13},
                                           Case{1, 1, 48, 1, 7, 3}, Case{1, 1, 16, 1, 9, 1},
                                           // the all-steps products: T B rows past one 64-row block and
                                           // one 256-row pass of the weight gradients, with remainders
                                           Case{2, 2, 32, 1, 23, 17}, Case{2, 32, 32, 1, 9, 37},
                                           Case{1, 32, 13, 1, 6, 5}));

// The fp32 gate activations against the double-precision functions over a dense sweep: a few ulp relative
// wherever the result is a normal float, exact saturation beyond, NaN propagated (the trainer relies on
// it to detect non-finite data). This checks the form (fused multiply-add or not) that this test binary
// is compiled for; the framework's own build is checked through LstmCpu<float> above.
TEST(Activations, Fp32IsWithinAFewUlpOfDouble) {
  double worst_sig = 0.0, worst_tanh = 0.0, at_sig = 0.0, at_tanh = 0.0;
  auto sweep = [&](double lo, double hi, int n) {
    for (int k = 0; k <= n; ++k) {
      const float x = static_cast<float>(lo + (hi - lo) * k / n);
      const double xd = x;
      const double s = 1.0 / (1.0 + std::exp(-xd)), t = std::tanh(xd);
      const double es = std::fabs(act::sigmoid(x) - s) / s;
      if (xd > -80.0 && es > worst_sig) {
        worst_sig = es;
        at_sig = xd;
      }
      if (t != 0.0) {
        const double et = std::fabs(act::tanh(x) - t) / std::fabs(t);
        if (et > worst_tanh) {
          worst_tanh = et;
          at_tanh = xd;
        }
      }
    }
  };
  sweep(-100.0, 100.0, 2000000);
  sweep(-1.0, 1.0, 2000000);
  sweep(-1e-3, 1e-3, 200000);
  sweep(-1e-30, 1e-30, 2000);
  std::cout << "sigmoid worst relative error " << worst_sig << " at " << at_sig << "; tanh " << worst_tanh
            << " at " << at_tanh << "\n";
  const double ulp = 1.1920928955078125e-07;
  EXPECT_LT(worst_sig, 4 * ulp) << "at x = " << at_sig;
  EXPECT_LT(worst_tanh, 4 * ulp) << "at x = " << at_tanh;

  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(act::tanh(inf), 1.0f);
  EXPECT_EQ(act::tanh(-inf), -1.0f);
  EXPECT_EQ(act::tanh(30.0f), 1.0f);
  EXPECT_EQ(act::tanh(0.0f), 0.0f);
  EXPECT_EQ(act::sigmoid(inf), 1.0f);
  EXPECT_LT(act::sigmoid(-inf), 1e-37f);
  EXPECT_GE(act::sigmoid(-inf), 0.0f);
  EXPECT_TRUE(std::isnan(act::tanh(nan)));
  EXPECT_TRUE(std::isnan(act::sigmoid(nan)));
  EXPECT_TRUE(std::isnan(act::sigmoid(-nan)));
}

}  // namespace
}  // namespace lstmad
