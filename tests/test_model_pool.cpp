// The cpu engine's ModelPool (lstm/cpu/model_pool.hpp): a model taken again from the pool computes what a
// new one does, bit for bit, whatever it computed before. The probe: the pooled model first runs on NaN
// parameters and inputs, at its full batch and at a smaller one, so every buffer it has holds NaN; a stale
// read anywhere would then show as a NaN or a changed bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "lstm/cpu/lstm_cpu.hpp"
#include "lstm/cpu/model_pool.hpp"
#include "lstm/engine.hpp"
#include "lstm/init.hpp"

namespace lstmad {
namespace {

struct Case {
  int L, D, H, horizon, T, B;
};

std::string name(const Case& c) {
  return "L" + std::to_string(c.L) + " D" + std::to_string(c.D) + " H" + std::to_string(c.H) + " hz" +
         std::to_string(c.horizon) + " T" + std::to_string(c.T) + " B" + std::to_string(c.B);
}

// What one use of a model computes: a training step at `batch`, then a forward of batch - 1 windows with
// its backward (dx included) and final states.
template <typename Real>
struct Use {
  std::vector<Real> grad, yhat, grad2, dx, h, c;
  Real loss = 0;
};

template <typename Real>
Use<Real> use(LstmCpu<Real>& net, const ModelShape& s, const Case& c, const std::vector<Real>& p,
              const std::vector<Real>& x, const std::vector<Real>& y, int batch) {
  Use<Real> u;
  u.grad.assign(p.size(), Real(-1));
  u.loss = net.loss_and_grad(p.data(), x.data(), y.data(), batch, u.grad.data());
  const int b2 = batch > 1 ? batch - 1 : 1;
  u.yhat.assign(static_cast<std::size_t>(b2) * s.horizon, Real(-1));
  net.forward(p.data(), x.data(), b2, u.yhat.data());
  for (int l = 0; l < s.layers; ++l) {
    u.h.insert(u.h.end(), net.final_h(l), net.final_h(l) + static_cast<std::size_t>(b2) * s.hidden);
    u.c.insert(u.c.end(), net.final_c(l), net.final_c(l) + static_cast<std::size_t>(b2) * s.hidden);
  }
  u.grad2.assign(p.size(), Real(-1));
  u.dx.assign(static_cast<std::size_t>(b2) * c.T * s.input, Real(-1));
  net.backward(p.data(), y.data(), u.grad2.data(), u.dx.data());
  return u;
}

template <typename Real>
void expect_bits(const std::vector<Real>& got, const std::vector<Real>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t k = 0; k < got.size(); ++k)
    ASSERT_EQ(0, std::memcmp(&got[k], &want[k], sizeof(Real)))
        << what << " [" << k << "]: " << got[k] << " (reused) vs " << want[k] << " (new)";
}

template <typename Real>
void expect_reuse_equals_new(const Case& c) {
  ModelShape s{c.L, c.D, c.H, c.horizon};
  const std::vector<float> pf = init_params(s, 11);
  const std::vector<Real> p(pf.begin(), pf.end());
  Rng rng(5);
  std::vector<Real> x(static_cast<std::size_t>(c.B) * c.T * c.D),
      y(static_cast<std::size_t>(c.B) * c.horizon);
  for (auto& v : x) v = static_cast<Real>(rng.normal());
  for (auto& v : y) v = static_cast<Real>(rng.normal());
  const Real nan = std::numeric_limits<Real>::quiet_NaN();
  const std::vector<Real> p_nan(p.size(), nan), x_nan(x.size(), nan), y_nan(y.size(), nan);

  ModelPool<LstmCpu<Real>> pool(1);
  auto first = pool.take(s, c.T, c.B);
  const LstmCpu<Real>* address = first.get();
  const Use<Real> poisoned = use(*first, s, c, p_nan, x_nan, y_nan, c.B);
  ASSERT_TRUE(std::isnan(static_cast<double>(poisoned.grad[0])))
      << "the probe must fill the buffers with NaN";
  use(*first, s, c, p_nan, x_nan, y_nan, c.B > 2 ? c.B / 2 : 1);
  pool.give_back(std::move(first));

  LstmCpu<Real> fresh(s, c.T, c.B);
  for (const int batch : {c.B, c.B > 2 ? c.B / 2 : 1}) {
    auto reused = pool.take(s, c.T, c.B);
    ASSERT_EQ(reused.get(), address) << "the pool gave a new model, not the waiting one";
    const std::string what =
        std::string(sizeof(Real) == 4 ? "fp32 " : "fp64 ") + name(c) + " batch " + std::to_string(batch);
    const Use<Real> got = use(*reused, s, c, p, x, y, batch), want = use(fresh, s, c, p, x, y, batch);
    pool.give_back(std::move(reused));
    ASSERT_TRUE(std::isfinite(static_cast<double>(want.loss))) << what;
    EXPECT_EQ(0, std::memcmp(&got.loss, &want.loss, sizeof(Real))) << what << ": loss";
    expect_bits(got.grad, want.grad, what + ": loss_and_grad's gradient");
    expect_bits(got.yhat, want.yhat, what + ": forward");
    expect_bits(got.h, want.h, what + ": final h");
    expect_bits(got.c, want.c, what + ": final c");
    expect_bits(got.grad2, want.grad2, what + ": backward's gradient");
    expect_bits(got.dx, want.dx, what + ": dx");
  }
}

// Shapes over LstmCpu's paths: packed fp32 GEMMs (H a multiple of the panel) and Eigen's (H = 10, and
// fp64), one and two layers, D and horizon above 1, a backward in several chunks (T B above the chunk
// size), and a minibatch loss_and_grad runs in parts.
TEST(ModelPool, AReusedModelComputesWhatANewOneDoesBitForBit) {
  for (const Case& c : {Case{1, 1, 10, 1, 5, 3}, Case{2, 3, 16, 2, 9, 7}, Case{2, 1, 64, 1, 50, 64},
                        Case{1, 2, 32, 3, 100, 128}}) {
    expect_reuse_equals_new<float>(c);
    expect_reuse_equals_new<double>(c);
  }
}

TEST(ModelPool, GivesBackTheModelOfTheSameShapeWindowAndBatchAndKeepsAtMostItsLimit) {
  ModelPool<LstmCpu<float>> pool(2);
  const ModelShape a{1, 1, 8, 1}, b{2, 1, 8, 1};
  auto m1 = pool.take(a, 5, 4);
  const auto* p1 = m1.get();
  pool.give_back(std::move(m1));
  EXPECT_EQ(pool.waiting(), 1u);
  // Another shape, window or batch size gets a new model; the waiting one stays.
  EXPECT_NE(pool.take(b, 5, 4).get(), p1);
  EXPECT_NE(pool.take(a, 6, 4).get(), p1);
  EXPECT_NE(pool.take(a, 5, 3).get(), p1);
  EXPECT_EQ(pool.waiting(), 1u);
  auto again = pool.take(a, 5, 4);
  EXPECT_EQ(again.get(), p1);
  EXPECT_EQ(pool.waiting(), 0u);
  // Three given back to a pool of two: the oldest goes.
  auto m2 = pool.take(a, 5, 4), m3 = pool.take(b, 5, 4);
  const auto* p3 = m3.get();
  pool.give_back(std::move(again));
  pool.give_back(std::move(m2));
  pool.give_back(std::move(m3));
  EXPECT_EQ(pool.waiting(), 2u);
  EXPECT_EQ(pool.take(b, 5, 4).get(), p3);
  EXPECT_NE(pool.take(a, 5, 4).get(), p1) << "the oldest (the first model) was dropped";
}

// Through the engine: on one thread, models of one shape and batch train one after another on one
// model's buffers, the first of them going non-finite; each ends as it does alone on a new engine.
TEST(ModelPool, TheCpuEngineTrainsEachModelAsAloneAfterANonFiniteOne) {
  const ModelShape shape{2, 1, 16, 1};
  const int T = 12, n = 300;
  std::vector<std::vector<float>> series;
  for (int m = 0; m < 3; ++m) {
    Rng rng(40 + static_cast<uint64_t>(m));
    std::vector<float> s(n);
    for (int t = 0; t < n; ++t)
      s[static_cast<std::size_t>(t)] = static_cast<float>(std::sin(0.2 * t * (m + 1)) + 0.05 * rng.normal());
    series.push_back(std::move(s));
  }
  series[0][30] = std::nanf("");  // the first model's loss goes non-finite in its first epoch
  const auto jobs = [&] {
    std::vector<ModelJob> js;
    for (int m = 0; m < 3; ++m) {
      ModelJob j;
      j.params = init_params(shape, 70 + static_cast<uint64_t>(m));
      j.data.x = j.data.y = series[static_cast<std::size_t>(m)].data();
      j.data.n = n;
      for (int st = 0; st + T + 1 <= 240; ++st) j.data.train.push_back(st);
      for (int st = 240 - T; st + T + 1 <= n; ++st) j.data.val.push_back(st);
      j.options.window = T;
      j.options.batch = 32;
      j.options.epochs = 3;
      j.options.seed = 9 + static_cast<uint64_t>(m);
      js.push_back(std::move(j));
    }
    return js;
  };
  EngineOptions eo;
  eo.name = "cpu";
  eo.threads = 1;
  std::vector<ModelJob> in_turn = jobs();
  make_engine(eo)->train(shape, in_turn);
  ASSERT_EQ(in_turn[0].result.status, TrainStatus::NonFinite) << in_turn[0].result.message;
  for (int m = 1; m < 3; ++m) {
    std::vector<ModelJob> alone{jobs()[static_cast<std::size_t>(m)]};
    make_engine(eo)->train(shape, alone);
    const ModelJob &got = in_turn[static_cast<std::size_t>(m)], &want = alone[0];
    ASSERT_EQ(got.result.status, TrainStatus::Ok) << got.result.message;
    ASSERT_EQ(got.params.size(), want.params.size());
    EXPECT_EQ(0, std::memcmp(got.params.data(), want.params.data(), got.params.size() * sizeof(float)))
        << "model " << m << " after a non-finite model on the same thread";
    EXPECT_EQ(got.result.val_loss, want.result.val_loss) << "model " << m;
  }
}

}  // namespace
}  // namespace lstmad
