// Training through the "cpu" engine (make_engine): a noisy sine is learned (validation loss falls at least
// 100x from the first epoch), early stopping keeps the best validation epoch, fp64 training tracks fp32,
// the optimizer follows torch.optim.Adam, and model.forget_bias sets the forget gate's biases only. That a
// model ends alike in any batch on any thread count, a non-finite one included, is
// ModelBatchContract's (test_model_batch.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "lstm/engine.hpp"
#include "lstm/init.hpp"
#include "train/adam.hpp"

namespace lstmad {
namespace {

struct Series {
  std::vector<float> x, y;  // n x 1 inputs and n targets (the same values: predict the next one)
  int n = 0;
};

Series noisy_sine(int n, double period, double noise, uint64_t seed) {
  Rng rng(seed);
  Series s;
  s.n = n;
  s.x.resize(static_cast<std::size_t>(n));
  for (int t = 0; t < n; ++t)
    s.x[static_cast<std::size_t>(t)] =
        static_cast<float>(0.8 * std::sin(6.283185307179586 * t / period) + noise * rng.normal());
  s.y = s.x;
  return s;
}

// Training windows predict rows before train_end, validation windows the rows from train_end on.
WindowSource window_source(const Series& s, int T, int horizon, int train_end) {
  WindowSource w;
  w.x = s.x.data();
  w.y = s.y.data();
  w.n = s.n;
  for (int st = 0; st + T + horizon <= train_end; ++st) w.train.push_back(st);
  for (int st = train_end - T; st + T + horizon <= s.n; ++st) w.val.push_back(st);
  return w;
}

ModelShape small_shape(int H = 16, int L = 1) {
  return {L, 1, H, 1};
}

TrainOptions sine_options(int T, uint64_t seed) {
  TrainOptions o;
  o.window = T;
  o.batch = 32;
  o.epochs = 12;
  o.adam.lr = 1e-2;
  o.clip_norm = 1.0;
  o.patience = 0;
  o.seed = seed;
  return o;
}

std::unique_ptr<Engine> cpu_engine(int threads, Precision p = Precision::FP32) {
  EngineOptions eo;
  eo.name = "cpu";
  eo.threads = threads;
  eo.precision = p;
  return make_engine(eo);
}

// The MSE of a trained job's parameters on its validation windows (horizon 1), as the CPU engine predicts.
double validation_mse(const ModelShape& shape, int T, const ModelJob& job, const Series& s) {
  const WindowSource& w = job.data;
  std::vector<float> pred(w.val.size());
  cpu_engine(1)->predict(shape, T, job.params, s.x.data(), s.n, w.val, pred.data());
  double mse = 0.0;
  for (std::size_t k = 0; k < w.val.size(); ++k) {
    const double e = pred[k] - s.y[static_cast<std::size_t>(w.val[k] + T)];
    mse += e * e;
  }
  return mse / static_cast<double>(w.val.size());
}

std::string losses(const std::vector<double>& v) {
  std::string s;
  for (double d : v) s += (s.empty() ? "" : " ") + std::to_string(d);
  return s;
}

TEST(Training, NoisySineValidationLossFallsHundredfold) {
  const int T = 20;
  const ModelShape shape = small_shape();
  Series s = noisy_sine(1000, 25.0, 0.005, 7);
  std::vector<ModelJob> jobs(1);
  jobs[0].params = init_params(shape, 11);
  jobs[0].data = window_source(s, T, 1, 800);
  jobs[0].options = sine_options(T, 3);
  jobs[0].options.adam.lr = 2e-3;
  jobs[0].options.epochs = 30;
  const std::vector<float> initial = jobs[0].params;
  cpu_engine(1)->train(shape, jobs);
  const TrainResult& r = jobs[0].result;
  ASSERT_EQ(r.status, TrainStatus::Ok) << r.message;
  ASSERT_EQ(r.epochs_run, 30);
  ASSERT_EQ(r.val_loss.size(), 30u);
  ASSERT_EQ(r.train_loss.size(), 30u);
  ASSERT_EQ(r.epoch_seconds.size(), 30u);
  const double best = *std::min_element(r.val_loss.begin(), r.val_loss.end());
  std::cout << "val loss per epoch: " << losses(r.val_loss) << "\ntrain loss: " << losses(r.train_loss)
            << "\n";
  EXPECT_GT(r.val_loss.front(), 100.0 * best) << "val: " << losses(r.val_loss);
  EXPECT_LT(r.train_loss.back(), r.train_loss.front() / 10) << "train: " << losses(r.train_loss);
  EXPECT_GT(r.seconds, 0.0);
  EXPECT_NE(jobs[0].params, initial);

  // The kept parameters are the best epoch's: predicting the validation windows gives that epoch's loss.
  const double mse = validation_mse(shape, T, jobs[0], s);
  ASSERT_GE(r.best_epoch, 0);
  EXPECT_NEAR(mse, r.val_loss[static_cast<std::size_t>(r.best_epoch)], 1e-4 * mse);
  EXPECT_EQ(r.val_loss[static_cast<std::size_t>(r.best_epoch)], best);
}

// Validation targets that contradict the training data (the negated series): the better the model fits the
// training windows, the worse it does on validation, so early stopping must trigger and keep the best
// (earliest-low) epoch.
TEST(Training, EarlyStoppingKeepsTheBestEpoch) {
  const int T = 10, train_end = 600;
  const ModelShape shape = small_shape(8);
  Series s = noisy_sine(800, 20.0, 0.01, 5);
  for (int t = train_end; t < s.n; ++t) s.y[static_cast<std::size_t>(t)] = -s.y[static_cast<std::size_t>(t)];
  std::vector<ModelJob> jobs(1);
  jobs[0].params = init_params(shape, 2);
  jobs[0].data = window_source(s, T, 1, train_end);
  jobs[0].options = sine_options(T, 4);
  jobs[0].options.epochs = 40;
  jobs[0].options.patience = 3;
  cpu_engine(1)->train(shape, jobs);
  const TrainResult& r = jobs[0].result;
  ASSERT_EQ(r.status, TrainStatus::Ok) << r.message;
  EXPECT_LT(r.epochs_run, 40) << "val: " << losses(r.val_loss);
  ASSERT_GE(r.best_epoch, 0);
  EXPECT_EQ(r.epochs_run, r.best_epoch + 1 + 3) << r.message;
  EXPECT_NE(r.message.find("early stop"), std::string::npos) << r.message;
  const auto best_it = std::min_element(r.val_loss.begin(), r.val_loss.end());
  EXPECT_EQ(best_it - r.val_loss.begin(), r.best_epoch) << "val: " << losses(r.val_loss);
  // The returned parameters reproduce the best epoch's validation loss, not the last epoch's.
  const double mse = validation_mse(shape, T, jobs[0], s);
  EXPECT_NEAR(mse, *best_it, 1e-4 * *best_it);
  EXPECT_GT(std::fabs(r.val_loss.back() - *best_it), 1e-3 * *best_it) << "the last epoch should differ";
}

TEST(Training, WithoutValidationEveryEpochRunsAndTheLastIsKept) {
  const int T = 10;
  const ModelShape shape = small_shape(6);
  Series s = noisy_sine(300, 20.0, 0.05, 8);
  std::vector<ModelJob> jobs(1);
  jobs[0].params = init_params(shape, 9);
  jobs[0].data = window_source(s, T, 1, 300);
  jobs[0].data.val.clear();
  jobs[0].options = sine_options(T, 1);
  jobs[0].options.epochs = 4;
  jobs[0].options.patience = 1;
  cpu_engine(1)->train(shape, jobs);
  const TrainResult& r = jobs[0].result;
  EXPECT_EQ(r.status, TrainStatus::Ok);
  EXPECT_EQ(r.epochs_run, 4);
  EXPECT_EQ(r.best_epoch, -1);
  EXPECT_TRUE(r.val_loss.empty());
  EXPECT_EQ(r.train_loss.size(), 4u);
}

// N models of one shape, each with its own data, seed and learning rate.
std::vector<ModelJob> make_jobs(const ModelShape& shape, int T, int count, std::vector<Series>& data) {
  data.clear();
  for (int m = 0; m < count; ++m) data.push_back(noisy_sine(400 + 37 * m, 15.0 + 3 * m, 0.05, 100 + m));
  std::vector<ModelJob> jobs(static_cast<std::size_t>(count));
  for (int m = 0; m < count; ++m) {
    ModelJob& j = jobs[static_cast<std::size_t>(m)];
    const Series& s = data[static_cast<std::size_t>(m)];
    j.params = init_params(shape, 500 + static_cast<uint64_t>(m));
    j.data = window_source(s, T, shape.horizon, s.n * 3 / 4);
    j.options = sine_options(T, 40 + static_cast<uint64_t>(m));
    j.options.epochs = 3;
    j.options.batch = 16 + 8 * m;  // different minibatch sizes in one batch
    j.options.adam.lr = 5e-3 * (1 + m);
  }
  return jobs;
}

// model.forget_bias: in every layer, the forget gate's block (the second of i|f|g|o) of bW takes the value
// and that of bR takes 0; every other parameter keeps the uniform initialisation of the same seed. For
// L = 2, D = 3, H = 5, horizon 2 the layout (lstm/shape.hpp) gives layer 0: W 20 x 3 at 0, R 20 x 5 at
// 60, bW at 160, bR at 180; layer 1: W 20 x 5 at 200, R at 300, bW at 400, bR at 420; the head's 2 x 5 + 2
// from 440. So bW's forget block is 165 .. 169 and 405 .. 409, bR's 185 .. 189 and 425 .. 429.
TEST(Init, ForgetBiasSetsTheForgetGateBiasesAndNothingElse) {
  const ModelShape shape{2, 3, 5, 2};
  const std::vector<float> plain = init_params(shape, 17), biased = init_params(shape, 17, 2.5);
  ASSERT_EQ(plain.size(), 452u);
  ASSERT_EQ(biased.size(), 452u);
  for (std::size_t i = 0; i < plain.size(); ++i) {
    const bool in_bw = (i >= 165 && i < 170) || (i >= 405 && i < 410);
    const bool in_br = (i >= 185 && i < 190) || (i >= 425 && i < 430);
    if (in_bw) {
      EXPECT_EQ(biased[i], 2.5f) << "parameter " << i;
    } else if (in_br) {
      EXPECT_EQ(biased[i], 0.0f) << "parameter " << i;
    } else {
      EXPECT_EQ(0, std::memcmp(&biased[i], &plain[i], sizeof(float))) << "parameter " << i;
    }
    // The uniform initialisation is in +-1/sqrt(H): the forget block's values are not what it gives.
    EXPECT_LE(std::fabs(plain[i]), 1 / std::sqrt(5.0f)) << "parameter " << i;
  }
}

TEST(Training, Fp64EngineTracksFp32) {
  const int T = 12;
  const ModelShape shape = small_shape(8, 2);
  std::vector<Series> d32, d64;
  std::vector<ModelJob> a = make_jobs(shape, T, 2, d32), b = make_jobs(shape, T, 2, d64);
  for (auto* v : {&a, &b})
    for (auto& j : *v) j.options.epochs = 2;
  cpu_engine(1, Precision::FP32)->train(shape, a);
  cpu_engine(1, Precision::FP64)->train(shape, b);
  for (std::size_t m = 0; m < a.size(); ++m) {
    ASSERT_EQ(a[m].result.train_loss.size(), b[m].result.train_loss.size());
    for (std::size_t e = 0; e < a[m].result.train_loss.size(); ++e)
      EXPECT_NEAR(a[m].result.train_loss[e], b[m].result.train_loss[e], 1e-3 * b[m].result.train_loss[e])
          << "model " << m << " epoch " << e;
    double diff = 0.0, ref = 0.0;
    for (std::size_t k = 0; k < a[m].params.size(); ++k) {
      diff += (a[m].params[k] - b[m].params[k]) * (a[m].params[k] - b[m].params[k]);
      ref += b[m].params[k] * b[m].params[k];
    }
    EXPECT_LT(std::sqrt(diff / ref), 1e-3) << "model " << m;
  }
}

TEST(Training, EngineRejectsWhatItCannotRun) {
  EngineOptions eo;
  eo.name = "cpu";
  eo.precision = Precision::TF32;
  try {
    make_engine(eo);
    ADD_FAILURE() << "tf32 accepted";
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("cudnn"), std::string::npos) << e.what();
  }
  eo.precision = Precision::BF16;
  EXPECT_THROW(make_engine(eo), UnsupportedError);

  const ModelShape shape = small_shape(4);
  Series s = noisy_sine(100, 10.0, 0.0, 1);
  std::vector<ModelJob> jobs(1);
  jobs[0].params = init_params(shape, 1);
  jobs[0].data = window_source(s, 10, 1, 100);
  jobs[0].data.train.push_back(95);  // needs rows up to 106
  jobs[0].options = sine_options(10, 1);
  try {
    cpu_engine(1)->train(shape, jobs);
    ADD_FAILURE() << "window past the end accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("95"), std::string::npos) << e.what();
  }
  jobs[0].data.train.pop_back();
  jobs[0].params.pop_back();
  EXPECT_THROW(cpu_engine(1)->train(shape, jobs), Error);
}

// The engine's loss_and_grad equals a direct computation and is deterministic.
TEST(Training, EngineLossAndGradIsTheMinibatchMse) {
  const ModelShape shape = small_shape(5, 2);
  const int T = 6, B = 3;
  const std::vector<float> p = init_params(shape, 3);
  Rng rng(4);
  std::vector<float> xb(static_cast<std::size_t>(B) * T), yb(B), g1(p.size()), g2(p.size());
  for (auto& v : xb) v = static_cast<float>(rng.normal());
  for (auto& v : yb) v = static_cast<float>(rng.normal());
  auto e = cpu_engine(1);
  const double l1 = e->loss_and_grad(shape, T, p.data(), xb.data(), yb.data(), B, g1.data());
  const double l2 = e->loss_and_grad(shape, T, p.data(), xb.data(), yb.data(), B, g2.data());
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(g1, g2);
  std::vector<float> pred(B);
  std::vector<float> x(static_cast<std::size_t>(B) * T);
  // Predict through the engine on a series made of the three windows back to back.
  std::vector<int> starts{0, T, 2 * T};
  e->predict(shape, T, p, xb.data(), B * T, starts, pred.data());
  double mse = 0.0;
  for (int b = 0; b < B; ++b)
    mse += (pred[static_cast<std::size_t>(b)] - yb[static_cast<std::size_t>(b)]) *
           (pred[static_cast<std::size_t>(b)] - yb[static_cast<std::size_t>(b)]);
  EXPECT_NEAR(l1, mse / B, 1e-5 * l1);
  double gn = 0.0;
  for (float v : g1) gn += static_cast<double>(v) * v;
  EXPECT_GT(gn, 0.0);
}

// Adam against the torch.optim.Adam update written out in double, with weight decay and clipping.
TEST(Adam, FollowsTorchSemantics) {
  AdamOptions o;
  o.lr = 0.01;
  o.weight_decay = 0.1;
  const std::size_t n = 7;
  std::vector<double> p(n), ref(n), m(n, 0.0), v(n, 0.0);
  Rng rng(12);
  for (std::size_t k = 0; k < n; ++k) p[k] = ref[k] = rng.normal();
  Adam<double> adam(n, o);
  for (int t = 1; t <= 5; ++t) {
    std::vector<double> g(n);
    for (auto& x : g) x = rng.normal(0.0, 3.0);
    std::vector<double> gc = g;
    const double norm = clip_grad_norm(gc.data(), n, 1.0);
    double sq = 0.0;
    for (double x : g) sq += x * x;
    ASSERT_NEAR(norm, std::sqrt(sq), 1e-12);
    const double coef = std::min(1.0, 1.0 / (std::sqrt(sq) + 1e-6));
    for (std::size_t k = 0; k < n; ++k) {
      ASSERT_NEAR(gc[k], g[k] * coef, 1e-12);
      const double gk = gc[k] + o.weight_decay * ref[k];
      m[k] = o.beta1 * m[k] + (1 - o.beta1) * gk;
      v[k] = o.beta2 * v[k] + (1 - o.beta2) * gk * gk;
      const double mh = m[k] / (1 - std::pow(o.beta1, t)), vh = v[k] / (1 - std::pow(o.beta2, t));
      ref[k] -= o.lr * mh / (std::sqrt(vh) + o.eps);
    }
    adam.step(p.data(), gc.data());
    for (std::size_t k = 0; k < n; ++k) EXPECT_NEAR(p[k], ref[k], 1e-12) << "step " << t << " element " << k;
  }
  EXPECT_EQ(adam.steps(), 5);
  std::vector<double> bad{1.0, std::nan(""), 2.0};
  EXPECT_TRUE(std::isnan(clip_grad_norm(bad.data(), bad.size(), 1.0)));
  EXPECT_EQ(bad[0], 1.0) << "a non-finite norm leaves the gradient alone";
}

}  // namespace
}  // namespace lstmad
