// LstmCpu<double>: the analytic gradient of the MSE loss w.r.t. every parameter and every input value
// against central finite differences (Richardson-extrapolated, so truncation error is far below the
// tolerance), on small random shapes: 1-3 layers, H not a multiple of the vector width, T = 1 and T > 1,
// B = 1 and B > 1, D > 1, horizon 1 and > 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <vector>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "lstm/cpu/lstm_cpu.hpp"
#include "lstm/shape.hpp"

namespace lstmad {
namespace {

struct Case {
  int L, D, H, horizon, T, B;
  std::string str() const {
    std::ostringstream os;
    os << "L=" << L << " D=" << D << " H=" << H << " horizon=" << horizon << " T=" << T << " B=" << B;
    return os.str();
  }
  ModelShape shape() const { return {L, D, H, horizon}; }
};

// Where flat parameter k lives, for failure messages.
std::string param_name(const ModelShape& s, std::size_t k) {
  ParamLayout lay(s);
  const int H = s.hidden;
  const char* gates = "ifgo";
  std::ostringstream os;
  for (int l = 0; l < s.layers; ++l) {
    const LayerOffsets& o = lay.layer[static_cast<std::size_t>(l)];
    const std::size_t Din = static_cast<std::size_t>(s.layer_input(l));
    auto gate_of = [&](std::size_t row) { return gates[row / static_cast<std::size_t>(H)]; };
    if (k >= o.W && k < o.R) {
      const std::size_t i = k - o.W;
      os << "layer " << l << " W[" << i / Din << "," << i % Din << "] gate " << gate_of(i / Din);
      return os.str();
    }
    if (k >= o.R && k < o.bW) {
      const std::size_t i = k - o.R;
      os << "layer " << l << " R[" << i / H << "," << i % H << "] gate " << gate_of(i / H);
      return os.str();
    }
    if (k >= o.bW && k < o.bR) {
      os << "layer " << l << " bW[" << k - o.bW << "] gate " << gate_of(k - o.bW);
      return os.str();
    }
    if (k >= o.bR && k < o.bR + 4 * static_cast<std::size_t>(H)) {
      os << "layer " << l << " bR[" << k - o.bR << "] gate " << gate_of(k - o.bR);
      return os.str();
    }
  }
  if (k >= lay.head_W && k < lay.head_b) {
    os << "head W[" << (k - lay.head_W) / H << "," << (k - lay.head_W) % H << "]";
    return os.str();
  }
  os << "head b[" << k - lay.head_b << "]";
  return os.str();
}

// At T = 1 the previous state is zero: R and the forget gate (which scales c_{-1} = 0) get no gradient.
bool zero_in_exact_arithmetic(const Case& c, std::size_t k) {
  if (c.T != 1) return false;
  const ModelShape s = c.shape();
  ParamLayout lay(s);
  const std::size_t H = static_cast<std::size_t>(c.H);
  for (int l = 0; l < c.L; ++l) {
    const LayerOffsets& o = lay.layer[static_cast<std::size_t>(l)];
    const std::size_t Din = static_cast<std::size_t>(s.layer_input(l));
    if (k >= o.R && k < o.bW) return true;
    if (k >= o.W && k < o.R && (k - o.W) / Din / H == 1) return true;
    if (k >= o.bW && k < o.bR && (k - o.bW) / H == 1) return true;
    if (k >= o.bR && k < o.bR + 4 * H && (k - o.bR) / H == 1) return true;
  }
  return false;
}

// Richardson-extrapolated central difference: O(h^4) truncation error.
double numeric_derivative(const std::function<double(double)>& f, double x0) {
  const double h = 1e-3;
  auto central = [&](double step) { return (f(x0 + step) - f(x0 - step)) / (2 * step); };
  return (4 * central(h / 2) - central(h)) / 3;
}

// Relative error, with an absolute floor for derivatives near zero. The floor is the difference
// quotient's own rounding noise: each loss carries a few ulps of |loss| (about 1e-15 |loss|), and the
// extrapolated quotient above divides differences of such losses by h = 1e-3, so the numeric
// derivative is uncertain by about 2e-12 |loss| whatever the true value. With a floor of 1e-5 |loss|,
// a derivative below it must match to 1e-11 |loss| absolute (five times that noise), one above it to
// 1e-6 relative. (A floor of 1e-8 failed a correct 1.9e-7 gradient by 1.9e-13 when the sanitizer
// build's -O1 rounded the losses differently.)
double rel_error(double analytic, double numeric, double loss) {
  const double floor = 1e-5 * std::max(1.0, std::fabs(loss));
  const double scale = std::max({std::fabs(analytic), std::fabs(numeric), floor});
  return std::fabs(analytic - numeric) / scale;
}

struct Problem {
  Case c;
  std::vector<double> params, x, y;
  Problem(const Case& cs, uint64_t seed) : c(cs) {
    Rng rng(seed);
    // Larger than the usual init, so that gates leave their linear range and every term matters.
    params.resize(param_count(c.shape()));
    for (auto& v : params) v = rng.uniform(-0.8, 0.8);
    x.resize(static_cast<std::size_t>(c.B) * c.T * c.D);
    for (auto& v : x) v = rng.normal(0.0, 1.0);
    y.resize(static_cast<std::size_t>(c.B) * c.horizon);
    for (auto& v : y) v = rng.normal(0.0, 1.0);
  }
};

class LstmGradients : public ::testing::TestWithParam<Case> {};

TEST_P(LstmGradients, EveryParameterMatchesFiniteDifferences) {
  const Case c = GetParam();
  Problem p(c, 0x5eed0000u + static_cast<uint64_t>(c.L * 1000 + c.H * 100 + c.T * 10 + c.B));
  // max_batch above B: a partly used workspace must not change anything.
  LstmCpu<double> net(c.shape(), c.T, c.B + 2);
  const std::size_t P = p.params.size();
  std::vector<double> grad(P, std::numeric_limits<double>::quiet_NaN());  // must be overwritten
  const double loss = net.loss_and_grad(p.params.data(), p.x.data(), p.y.data(), c.B, grad.data());
  ASSERT_TRUE(std::isfinite(loss)) << c.str();
  ASSERT_GT(loss, 0.0) << c.str();

  std::vector<double> scratch(P);
  LstmCpu<double> probe(c.shape(), c.T, c.B);
  double worst = 0.0, gmax = 0.0;
  std::size_t worst_k = 0, nonzero = 0;
  for (std::size_t k = 0; k < P; ++k) {
    ASSERT_TRUE(std::isfinite(grad[k])) << c.str() << ": " << param_name(c.shape(), k) << " not written";
    std::vector<double> q = p.params;
    auto f = [&](double v) {
      q[k] = v;
      return static_cast<double>(probe.loss_and_grad(q.data(), p.x.data(), p.y.data(), c.B, scratch.data()));
    };
    const double num = numeric_derivative(f, p.params[k]);
    const double e = rel_error(grad[k], num, loss);
    EXPECT_LT(e, 1e-6) << c.str() << ": " << param_name(c.shape(), k) << " analytic " << grad[k]
                       << " numeric " << num;
    if (e > worst) {
      worst = e;
      worst_k = k;
    }
    gmax = std::max(gmax, std::fabs(grad[k]));
    if (std::fabs(grad[k]) > 1e-10) ++nonzero;
  }
  // 0 == 0 proves nothing: every gradient that is not zero in exact arithmetic must be clearly non-zero
  // (allowing a few accidental near-zeros), and the structural zeros must be exact.
  EXPECT_GT(gmax, 1e-3) << c.str();
  std::size_t structural = 0;
  for (std::size_t k = 0; k < P; ++k)
    if (zero_in_exact_arithmetic(c, k)) {
      ++structural;
      EXPECT_EQ(grad[k], 0.0) << c.str() << ": " << param_name(c.shape(), k);
    }
  EXPECT_GE(nonzero + P / 20, P - structural)
      << c.str() << ": only " << nonzero << " of " << P - structural << " non-zero";
  RecordProperty("worst_rel_error", std::to_string(worst));
  std::cout << c.str() << ": P=" << P << " worst relative error " << worst << " at "
            << param_name(c.shape(), worst_k) << " (gradient " << grad[worst_k] << ", largest " << gmax
            << ")\n";
}

TEST_P(LstmGradients, InputGradientMatchesFiniteDifferences) {
  const Case c = GetParam();
  Problem p(c, 0xd00d0000u + static_cast<uint64_t>(c.L * 1000 + c.H * 100 + c.T * 10 + c.B));
  LstmCpu<double> net(c.shape(), c.T, c.B);
  const std::size_t nx = p.x.size(), ny = p.y.size();
  std::vector<double> yhat(ny), dyhat(ny), grad(param_count(c.shape())), dx(nx, std::nan(""));
  net.forward(p.params.data(), p.x.data(), c.B, yhat.data());
  // Loss summed over the windows (mean over the horizon only), so that each window's dx keeps its size
  // at any batch.
  for (std::size_t k = 0; k < ny; ++k) dyhat[k] = 2.0 * (yhat[k] - p.y[k]) / static_cast<double>(c.horizon);
  net.backward(p.params.data(), dyhat.data(), grad.data(), dx.data());

  LstmCpu<double> probe(c.shape(), c.T, c.B);
  std::vector<double> out(ny);
  double gmax = 0.0;
  // Every window's every input up to 16 windows; beyond, the first two, a middle one and the last two:
  // each differentiation runs the whole batch forward, so checking all B windows costs B^2, and the
  // windows of a minibatch go through the same steps and chunks (BatchRowsAreIndependent checks that a
  // window's output does not depend on the others). Every step, so every chunk, is still checked.
  const std::size_t per_window = static_cast<std::size_t>(c.T) * c.D;
  std::vector<std::size_t> checked;
  for (int b = 0; b < c.B; ++b)
    if (c.B <= 16 || b < 2 || b == c.B / 2 || b >= c.B - 2)
      for (std::size_t i = 0; i < per_window; ++i)
        checked.push_back(static_cast<std::size_t>(b) * per_window + i);
  // The windows left out are still written: dx started as NaN.
  for (std::size_t k = 0; k < nx; ++k) ASSERT_TRUE(std::isfinite(dx[k])) << c.str() << ": dx[" << k << "]";
  for (const std::size_t k : checked) {
    std::vector<double> xq = p.x;
    auto f = [&](double v) {
      xq[k] = v;
      probe.forward(p.params.data(), xq.data(), c.B, out.data());
      // Only window b's output depends on x[k] (BatchRowsAreIndependent checks that), so the other
      // windows' terms are left out of the difference quotient, where at large B they would be noise.
      const std::size_t b = k / (static_cast<std::size_t>(c.T) * c.D),
                        hz = static_cast<std::size_t>(c.horizon);
      double s = 0.0;
      for (std::size_t j = b * hz; j < (b + 1) * hz; ++j) s += (out[j] - p.y[j]) * (out[j] - p.y[j]);
      return s / static_cast<double>(c.horizon);
    };
    const double window_loss = f(p.x[k]);
    const double num = numeric_derivative(f, p.x[k]);
    const std::size_t b = k / (static_cast<std::size_t>(c.T) * c.D), t = (k / c.D) % c.T, d = k % c.D;
    EXPECT_LT(rel_error(dx[k], num, window_loss), 1e-6)
        << c.str() << ": dx[b=" << b << ",t=" << t << ",d=" << d << "] analytic " << dx[k] << " numeric "
        << num;
    gmax = std::max(gmax, std::fabs(dx[k]));
  }
  EXPECT_GT(gmax, 1e-3) << c.str();
}

INSTANTIATE_TEST_SUITE_P(Shapes, LstmGradients,
                         ::testing::Values(Case{1, 1, 3, 1, 1, 1}, Case{1, 2, 5, 3, 4, 3},
                                           Case{1, 3, 7, 1, 6, 1}, Case{2, 3, 7, 2, 5, 2},
                                           Case{2, 1, 5, 1, 1, 4}, Case{2, 2, 3, 4, 6, 1},
                                           Case{3, 2, 4, 2, 3, 2},
                                           // backward in chunks of about 256 rows (lstm_cpu.cpp): chunks of
                                           // 2, 2, 2 and 1 steps; and one step per chunk at B > 256
                                           Case{2, 1, 3, 1, 7, 90}, Case{1, 2, 4, 2, 5, 300}),
                         [](const ::testing::TestParamInfo<Case>& param_info) {
                           const Case& c = param_info.param;
                           return "L" + std::to_string(c.L) + "_D" + std::to_string(c.D) + "_H" +
                                  std::to_string(c.H) + "_hz" + std::to_string(c.horizon) + "_T" +
                                  std::to_string(c.T) + "_B" + std::to_string(c.B);
                         });

// Rows of a minibatch are independent: each window's prediction equals its prediction alone.
TEST(LstmCpu, BatchRowsAreIndependent) {
  const Case c{2, 2, 5, 3, 7, 6};
  Problem p(c, 77);
  LstmCpu<double> net(c.shape(), c.T, c.B);
  std::vector<double> all(static_cast<std::size_t>(c.B) * c.horizon),
      one(static_cast<std::size_t>(c.horizon));
  net.forward(p.params.data(), p.x.data(), c.B, all.data());
  for (int b = 0; b < c.B; ++b) {
    net.forward(p.params.data(), p.x.data() + static_cast<std::size_t>(b) * c.T * c.D, 1, one.data());
    for (int j = 0; j < c.horizon; ++j) {
      const double a = all[static_cast<std::size_t>(b) * c.horizon + j];
      EXPECT_NEAR(a, one[static_cast<std::size_t>(j)], 1e-13 * (1 + std::fabs(a)))
          << "row " << b << " output " << j;
      EXPECT_NE(a, 0.0);
    }
  }
}

// A minibatch whose activations exceed the cache budget runs as several passes (LstmCpu::part_size);
// its loss and gradient equal one forward and backward over the whole minibatch (itself checked against
// finite differences above), in fp64 and in fp32, with 2 layers and horizon 2 so that every accumulated
// term (head, biases, W, R of both layers) is covered.
template <typename Real>
void check_parts_match_whole(double tol) {
  const Case c{2, 1, 32, 2, 100, 90};
  Problem p(c, 2024);
  LstmCpu<Real> net(c.shape(), c.T, c.B);
  const int part = net.part_size(c.B);
  ASSERT_LT(part, c.B) << "this shape must be split, or the test checks nothing";
  std::vector<Real> params(p.params.begin(), p.params.end()), x(p.x.begin(), p.x.end()), y(p.y.begin(), p.y.end());
  std::vector<Real> split(params.size()), whole(params.size());
  const Real loss = net.loss_and_grad(params.data(), x.data(), y.data(), c.B, split.data());

  std::vector<Real> yhat(static_cast<std::size_t>(c.B) * c.horizon), dy(yhat.size());
  net.forward(params.data(), x.data(), c.B, yhat.data());
  double sum = 0;
  for (std::size_t k = 0; k < yhat.size(); ++k) {
    const double e = static_cast<double>(yhat[k]) - static_cast<double>(y[k]);
    sum += e * e;
    dy[k] = static_cast<Real>(2 * e / static_cast<double>(yhat.size()));
  }
  net.backward(params.data(), dy.data(), whole.data());
  EXPECT_NEAR(static_cast<double>(loss), sum / static_cast<double>(yhat.size()), tol * sum / static_cast<double>(yhat.size()));
  double scale = 0, worst = 0;
  std::size_t at = 0;
  for (std::size_t k = 0; k < whole.size(); ++k) {
    scale = std::max(scale, std::fabs(static_cast<double>(whole[k])));
    const double d = std::fabs(static_cast<double>(split[k]) - static_cast<double>(whole[k]));
    if (d > worst) worst = d, at = k;
  }
  ASSERT_GT(scale, 0.0);
  EXPECT_LE(worst, tol * scale) << "parts of " << part << ": " << param_name(c.shape(), at) << " split "
                                << split[at] << " whole " << whole[at];
}

TEST(LstmCpu, MinibatchInPartsHasTheWholeGradientFp64) { check_parts_match_whole<double>(1e-12); }
TEST(LstmCpu, MinibatchInPartsHasTheWholeGradientFp32) { check_parts_match_whole<float>(2e-5); }

// The same gradient, bit for bit, wherever the model's buffers and the caller's arrays lie in memory: a
// vectorised sum that starts at the first aligned element would change its order, and so the last bits,
// with the heap's state (another model trained before, another thread's arena), and a model trained in a
// ModelBatch or at another -j would then differ from the same model trained alone. The fp64 shapes are
// those where Eigen's reduction over the head (horizon >= 8 fills a vector register of doubles) and its
// small head product did depend on it (L=2 D=2 H=5 failed here before the sums were made fixed-order
// loops); the fp32 ones, horizons of a register of floats and more, guard the same for floats.
template <typename Real>
void check_placement_independent(const Case& c) {
  Problem p(c, 77);
  std::vector<Real> first;
  int placements = 0;
  for (int heap_shift = 0; heap_shift < 8; ++heap_shift)
    for (int offset = 0; offset < 8; ++offset) {
      std::vector<std::unique_ptr<char[]>> shift;  // moves where the model's own buffers land
      for (int k = 0; k < heap_shift; ++k) shift.emplace_back(new char[8 + 8 * k]);
      LstmCpu<Real> net(c.shape(), c.T, c.B);
      // The caller's parameters, inputs and targets at `offset` elements past a 64-byte boundary.
      std::vector<Real> storage(p.params.size() + p.x.size() + p.y.size() + 64 + 16);
      Real* base = storage.data();
      while (reinterpret_cast<std::uintptr_t>(base) % 64 != 0) ++base;
      Real* params = base + offset;
      Real* x = params + p.params.size();
      Real* y = x + p.x.size();
      std::copy(p.params.begin(), p.params.end(), params);
      std::copy(p.x.begin(), p.x.end(), x);
      std::copy(p.y.begin(), p.y.end(), y);
      std::vector<Real> grad(p.params.size());
      net.loss_and_grad(params, x, y, c.B, grad.data());
      if (first.empty()) first = grad;
      for (std::size_t k = 0; k < grad.size(); ++k)
        ASSERT_EQ(0, std::memcmp(&grad[k], &first[k], sizeof(Real)))
            << c.str() << " heap shift " << heap_shift << " offset " << offset << ": "
            << param_name(c.shape(), k) << " " << grad[k] << " vs " << first[k];
      ++placements;
    }
  EXPECT_EQ(placements, 64);
}

TEST(LstmCpu, GradientBitsDoNotDependOnWhereBuffersLieFp64) {
  for (const Case& c : {Case{1, 1, 16, 10, 20, 7}, Case{2, 2, 5, 3, 12, 1}, Case{2, 1, 64, 10, 50, 7}})
    check_placement_independent<double>(c);
}
TEST(LstmCpu, GradientBitsDoNotDependOnWhereBuffersLieFp32) {
  for (const Case& c : {Case{1, 3, 64, 64, 20, 5}, Case{1, 1, 32, 16, 30, 9}})
    check_placement_independent<float>(c);
}

// infer() (prediction and validation) reuses one gate buffer and two c slots where forward() keeps every
// step's for backward(): the same outputs and final states, bit for bit, at odd and even T (the final c
// lands in either slot), 1-3 layers, D > 1, horizon > 1, a batch below the workspace's, and H on and off
// the packed fp32 kernels' panel width; backward() after it is refused.
template <typename Real>
void check_infer_is_forward(const Case& c) {
  Problem p(c, 515);
  const std::vector<Real> params(p.params.begin(), p.params.end()), x(p.x.begin(), p.x.end());
  LstmCpu<Real> kept(c.shape(), c.T, c.B + 3), inferred(c.shape(), c.T, c.B + 3);
  std::vector<Real> a(static_cast<std::size_t>(c.B) * c.horizon), b(a.size());
  kept.forward(params.data(), x.data(), c.B, a.data());
  // A forward() of other windows first, so that infer() cannot lean on states left in the buffers.
  std::vector<Real> other(x.size());
  for (std::size_t k = 0; k < x.size(); ++k) other[k] = static_cast<Real>(0.5) - x[k];
  inferred.forward(params.data(), other.data(), c.B, b.data());
  inferred.infer(params.data(), x.data(), c.B, b.data());
  ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(Real))) << c.str();
  const std::size_t BH = static_cast<std::size_t>(c.B) * c.H;
  for (int l = 0; l < c.L; ++l) {
    EXPECT_EQ(0, std::memcmp(kept.final_h(l), inferred.final_h(l), BH * sizeof(Real)))
        << c.str() << " h " << l;
    EXPECT_EQ(0, std::memcmp(kept.final_c(l), inferred.final_c(l), BH * sizeof(Real)))
        << c.str() << " c " << l;
  }
  std::vector<Real> dy(a.size(), Real(1)), grad(params.size());
  EXPECT_THROW(inferred.backward(params.data(), dy.data(), grad.data()), Error) << c.str();
}

TEST(LstmCpu, InferIsForwardBitForBit) {
  for (const Case& c : {Case{1, 1, 32, 1, 50, 64}, Case{2, 3, 16, 5, 7, 9}, Case{3, 2, 5, 2, 1, 4},
                        Case{2, 1, 64, 1, 12, 33}, Case{1, 2, 7, 3, 8, 1}}) {
    check_infer_is_forward<float>(c);
    check_infer_is_forward<double>(c);
  }
}

// The hand-checkable case: one step, H = 1, D = 1, zero initial state.
TEST(LstmCpu, OneStepMatchesTheLstmEquations) {
  ModelShape s;
  s.layers = 1;
  s.input = 1;
  s.hidden = 1;
  s.horizon = 1;
  ParamLayout lay(s);
  std::vector<double> p(lay.total);
  const double W[4] = {0.3, -0.2, 0.5, 0.7}, bW[4] = {0.1, 0.2, -0.1, 0.05}, bR[4] = {-0.05, 0.1, 0.2, 0.0};
  for (int g = 0; g < 4; ++g) {
    p[lay.layer[0].W + static_cast<std::size_t>(g)] = W[g];
    p[lay.layer[0].R + static_cast<std::size_t>(g)] = 9.0;  // no effect at t = 0 (h_{-1} = 0)
    p[lay.layer[0].bW + static_cast<std::size_t>(g)] = bW[g];
    p[lay.layer[0].bR + static_cast<std::size_t>(g)] = bR[g];
  }
  p[lay.head_W] = 1.5;
  p[lay.head_b] = -0.25;
  const double x = 0.8;
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  const double i = sig(W[0] * x + bW[0] + bR[0]), g = std::tanh(W[2] * x + bW[2] + bR[2]);
  const double o = sig(W[3] * x + bW[3] + bR[3]);
  const double cc = i * g, h = o * std::tanh(cc);
  LstmCpu<double> net(s, 1, 1);
  double y = 0;
  net.forward(p.data(), &x, 1, &y);
  EXPECT_NEAR(y, 1.5 * h - 0.25, 1e-15);
  EXPECT_NEAR(net.final_h(0)[0], h, 1e-15);
  EXPECT_NEAR(net.final_c(0)[0], cc, 1e-15);
}

TEST(LstmCpu, RejectsBatchOutsideWorkspace) {
  ModelShape s;
  s.hidden = 4;
  LstmCpu<double> net(s, 3, 2);
  std::vector<double> p(param_count(s), 0.1), x(9, 0.0), y(3);
  EXPECT_THROW(net.forward(p.data(), x.data(), 3, y.data()), Error);
  EXPECT_THROW(net.forward(p.data(), x.data(), 0, y.data()), Error);
  EXPECT_THROW(LstmCpu<double>(s, 0, 2), Error);
}

}  // namespace
}  // namespace lstmad
