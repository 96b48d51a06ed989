// The ModelBatch contract on the "cpu" engine, fp32 and fp64: a model trained in a batch of N (models with
// other data, seeds, learning rates, minibatch sizes, epoch counts; some stopping early, one going
// non-finite) ends with bit-identical parameters and the same TrainResult (losses, epochs, best epoch,
// status, message) as the same job trained alone, whatever the thread count. The GPU engines are held to
// the same contract by tests/gpu/test_fused_multi.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "lstm/engine.hpp"
#include "lstm/init.hpp"

namespace lstmad {
namespace {

struct Series {
  std::vector<float> x, y;  // n x D inputs, n targets (column 0 of the next row)
  int n = 0;
};

// A seasonal series with noise; from `flip_from` on the targets are negated, so a model that fits the
// training part gets worse on validation and early stopping must end it.
Series make_series(int n, int D, double period, uint64_t seed, int flip_from) {
  Rng rng(seed);
  Series s;
  s.n = n;
  for (int t = 0; t < n; ++t) {
    const double v = 0.7 * std::sin(6.283185307179586 * t / period) + 0.05 * rng.normal();
    for (int d = 0; d < D; ++d) s.x.push_back(static_cast<float>(d == 0 ? v : 0.3 * v * (d + 1)));
    s.y.push_back(static_cast<float>(t >= flip_from ? -v : v));
  }
  return s;
}

struct Batch {
  std::vector<Series> series;
  std::vector<ModelJob> jobs;
};

constexpr int kModels = 7;
constexpr int kNonFinite = 5;  // this model's series has a NaN in its training part

// kModels jobs of one shape that differ in everything a job may differ in.
Batch make_batch(const ModelShape& shape, int T) {
  Batch b;
  for (int m = 0; m < kModels; ++m) {
    const int n = 260 + 41 * m;
    const int train_end = n * 3 / 4;
    // Models 1 and 4 see contradicting validation targets: they stop early.
    const int flip = (m == 1 || m == 4) ? train_end : n + 1;
    b.series.push_back(make_series(n, shape.input, 11.0 + 2.5 * m, 900 + static_cast<uint64_t>(m), flip));
  }
  b.series[kNonFinite].x[40 * static_cast<std::size_t>(shape.input)] = std::nanf("");
  for (int m = 0; m < kModels; ++m) {
    const Series& s = b.series[static_cast<std::size_t>(m)];
    const int train_end = s.n * 3 / 4;
    ModelJob j;
    j.params = init_params(shape, 7000 + static_cast<uint64_t>(m));
    j.data.x = s.x.data();
    j.data.y = s.y.data();
    j.data.n = s.n;
    for (int st = 0; st + T + shape.horizon <= train_end; ++st) j.data.train.push_back(st);
    if (m != 3)  // model 3 has no validation windows: every epoch runs, the last is kept
      for (int st = train_end - T; st + T + shape.horizon <= s.n; ++st) j.data.val.push_back(st);
    j.options.window = T;
    j.options.batch = 12 + 5 * m;  // a partial last minibatch for most models
    j.options.epochs = 6 + (m % 3) * 3;
    j.options.adam.lr = 4e-3 * (1 + m);
    j.options.adam.weight_decay = m == 2 ? 1e-3 : 0.0;
    j.options.clip_norm = m == 6 ? 0.0 : 0.5;
    j.options.patience = (m == 1 || m == 4) ? 2 : 0;
    j.options.seed = 31 + 17 * static_cast<uint64_t>(m);
    b.jobs.push_back(std::move(j));
  }
  return b;
}

std::unique_ptr<Engine> cpu_engine(Precision p, int threads) {
  EngineOptions eo;
  eo.name = "cpu";
  eo.precision = p;
  eo.threads = threads;
  return make_engine(eo);
}

// Everything a TrainResult holds but its timings.
void expect_same_job(const ModelJob& got, const ModelJob& want, const std::string& what) {
  ASSERT_EQ(got.params.size(), want.params.size()) << what;
  EXPECT_EQ(0, std::memcmp(got.params.data(), want.params.data(), got.params.size() * sizeof(float)))
      << what << ": parameters differ";
  const TrainResult &a = got.result, &b = want.result;
  EXPECT_EQ(a.status, b.status) << what;
  EXPECT_EQ(a.message, b.message) << what;
  EXPECT_EQ(a.epochs_run, b.epochs_run) << what;
  EXPECT_EQ(a.best_epoch, b.best_epoch) << what;
  ASSERT_EQ(a.train_loss.size(), b.train_loss.size()) << what;
  ASSERT_EQ(a.val_loss.size(), b.val_loss.size()) << what;
  for (std::size_t e = 0; e < a.train_loss.size(); ++e) {
    const bool both_nan = std::isnan(a.train_loss[e]) && std::isnan(b.train_loss[e]);
    if (!both_nan) {
      EXPECT_EQ(0, std::memcmp(&a.train_loss[e], &b.train_loss[e], sizeof(double)))
          << what << ": train loss of epoch " << e << ": " << a.train_loss[e] << " vs " << b.train_loss[e];
    }
  }
  for (std::size_t e = 0; e < a.val_loss.size(); ++e)
    EXPECT_EQ(0, std::memcmp(&a.val_loss[e], &b.val_loss[e], sizeof(double)))
        << what << ": validation loss of epoch " << e;
}

class ModelBatchContract : public ::testing::TestWithParam<Precision> {};

TEST_P(ModelBatchContract, AModelInABatchEqualsTheModelAloneWhateverTheThreads) {
  const Precision prec = GetParam();
  const ModelShape shape{2, 2, 10, 1};
  const int T = 9;
  Batch batch = make_batch(shape, T);
  const std::vector<float> initial_nonfinite = batch.jobs[kNonFinite].params;
  cpu_engine(prec, 3)->train(shape, batch.jobs);

  // The batch is a real test: models learned, two stopped early, one went non-finite, one ran without
  // validation, and they did not all end alike.
  int early = 0;
  for (int m = 0; m < kModels; ++m) {
    const ModelJob& j = batch.jobs[static_cast<std::size_t>(m)];
    if (m == kNonFinite) {
      EXPECT_EQ(j.result.status, TrainStatus::NonFinite) << j.result.message;
      // Row 40 lies in the first epoch's windows.
      EXPECT_NE(j.result.message.find("non-finite training loss at epoch 0"), std::string::npos)
          << j.result.message;
      EXPECT_EQ(j.params, initial_nonfinite) << "a non-finite job keeps its initial parameters";
      continue;
    }
    ASSERT_EQ(j.result.status, TrainStatus::Ok) << "model " << m << ": " << j.result.message;
    ASSERT_FALSE(j.result.train_loss.empty());
    EXPECT_LT(j.result.train_loss.back(), j.result.train_loss.front()) << "model " << m << " did not learn";
    if (j.result.message.find("early stop") != std::string::npos) {
      ++early;
      EXPECT_LT(j.result.epochs_run, j.options.epochs) << "model " << m;
    }
  }
  EXPECT_EQ(early, 2) << "models 1 and 4 should stop early";
  EXPECT_EQ(batch.jobs[3].result.best_epoch, -1);
  EXPECT_NE(batch.jobs[0].result.epochs_run, batch.jobs[1].result.epochs_run);

  for (int threads : {1, 2}) {
    for (int m = 0; m < kModels; ++m) {
      Batch fresh = make_batch(shape, T);
      std::vector<ModelJob> alone{fresh.jobs[static_cast<std::size_t>(m)]};
      cpu_engine(prec, threads)->train(shape, alone);
      expect_same_job(batch.jobs[static_cast<std::size_t>(m)], alone[0],
                      to_string(prec) + " model " + std::to_string(m) + " in a batch of " +
                          std::to_string(kModels) + " on 3 threads vs alone on " + std::to_string(threads));
    }
  }

  // A reordered batch on another thread count: every model still ends as in the first batch.
  Batch reordered = make_batch(shape, T);
  std::vector<ModelJob> rev(reordered.jobs.rbegin(), reordered.jobs.rend());
  cpu_engine(prec, 2)->train(shape, rev);
  for (int m = 0; m < kModels; ++m)
    expect_same_job(batch.jobs[static_cast<std::size_t>(m)], rev[static_cast<std::size_t>(kModels - 1 - m)],
                    to_string(prec) + " model " + std::to_string(m) + " in a reversed batch on 2 threads");
}

// predict_batch: each job's forecasts equal predict()'s for it, whatever the other jobs and the threads;
// a job without windows is left alone.
TEST_P(ModelBatchContract, BatchedForecastsEqualEachModelsOwn) {
  const Precision prec = GetParam();
  const ModelShape shape{2, 2, 10, 2};
  const int T = 9;
  Batch batch = make_batch(shape, T);
  batch.series[kNonFinite].x[40 * static_cast<std::size_t>(shape.input)] = 0.5f;
  std::vector<std::vector<float>> out(kModels);
  std::vector<PredictJob> asks;
  for (int m = 0; m < kModels; ++m) {
    const ModelJob& j = batch.jobs[static_cast<std::size_t>(m)];
    PredictJob a;
    a.params = &j.params;
    a.x = j.data.x;
    a.n = j.data.n;
    if (m != 2)
      for (int st = m; st + T <= j.data.n; st += 1 + m % 3) a.starts.push_back(st);
    out[static_cast<std::size_t>(m)].assign(a.starts.size() * 2 + 1, -7.f);  // one sentinel past the end
    a.out = out[static_cast<std::size_t>(m)].data();
    asks.push_back(std::move(a));
  }
  cpu_engine(prec, 3)->predict_batch(shape, T, asks, 3);
  for (int m = 0; m < kModels; ++m) {
    const PredictJob& a = asks[static_cast<std::size_t>(m)];
    const std::vector<float>& got = out[static_cast<std::size_t>(m)];
    EXPECT_EQ(got.back(), -7.f) << "model " << m << ": written past its windows";
    if (a.starts.empty()) {
      EXPECT_EQ(got.size(), 1u);
      continue;
    }
    std::vector<float> own(a.starts.size() * 2);
    cpu_engine(prec, 1)->predict(shape, T, *a.params, a.x, a.n, a.starts, own.data());
    EXPECT_EQ(0, std::memcmp(own.data(), got.data(), own.size() * sizeof(float)))
        << to_string(prec) << " model " << m << ": predict_batch on 3 threads vs predict";
    for (std::size_t k = 0; k + 1 < got.size(); ++k)
      ASSERT_TRUE(std::isfinite(got[k]) && got[k] != -7.f) << "model " << m << " forecast " << k;
  }
}

// A window's forecast does not depend on the windows beside it in the call: the windows of a series, and
// of the same series with rows appended (more windows, so the last call holds others), get the same bits.
// Shapes on both of the fp32 engine's paths (4H a multiple of small_gemm's panel, and not) and fp64's
// Eigen, horizons of 1 (a matrix-vector head) and 10, calls of 64 windows with a partial last one.
TEST_P(ModelBatchContract, AWindowsForecastIsTheSameInALongerSeries) {
  const Precision prec = GetParam();
  for (const ModelShape& shape : {ModelShape{1, 1, 64, 10}, ModelShape{2, 1, 64, 10}, ModelShape{1, 1, 6, 10},
                                  ModelShape{1, 2, 10, 1}, ModelShape{2, 1, 32, 3}}) {
    const int T = 12;
    const Series s = make_series(400, shape.input, 17.0, 31, 401);
    const std::vector<float> params = init_params(shape, 77);
    std::vector<int> starts;
    for (int st = 0; st + T <= 170; ++st) starts.push_back(st);  // 159 windows: 64 + 64 + 31
    std::vector<int> longer = starts;
    for (int st = 170 - T + 1; st + T <= 400; ++st) longer.push_back(st);
    const std::size_t hz = static_cast<std::size_t>(shape.horizon);
    std::vector<float> a(starts.size() * hz), b(longer.size() * hz);
    auto engine = cpu_engine(prec, 1);
    engine->predict(shape, T, params, s.x.data(), s.n, starts, a.data());
    engine->predict(shape, T, params, s.x.data(), s.n, longer, b.data());
    const std::string what = to_string(prec) + " L" + std::to_string(shape.layers) + " D" +
                             std::to_string(shape.input) + " H" + std::to_string(shape.hidden) + " horizon " +
                             std::to_string(shape.horizon);
    for (std::size_t k = 0; k < a.size(); ++k) {
      ASSERT_TRUE(std::isfinite(a[k]) && a[k] != 0.0f) << what << " forecast " << k;
      ASSERT_EQ(0, std::memcmp(&a[k], &b[k], sizeof(float)))
          << what << ": window " << k / hz << " step " << k % hz << " forecast " << a[k] << " alone, " << b[k]
          << " with more windows after it";
    }
    // And a call of a few windows (fewer than one block) forecasts them as the long call does.
    const std::vector<int> few(starts.begin() + 130, starts.begin() + 135);
    std::vector<float> c(few.size() * hz);
    engine->predict(shape, T, params, s.x.data(), s.n, few, c.data());
    if (shape.hidden % 8 == 0 && prec == Precision::FP32) {  // only small_gemm's rows are free of place
      for (std::size_t k = 0; k < c.size(); ++k)
        ASSERT_EQ(0, std::memcmp(&c[k], &a[130 * hz + k], sizeof(float))) << what << " few, forecast " << k;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, ModelBatchContract, ::testing::Values(Precision::FP32, Precision::FP64),
                         [](const ::testing::TestParamInfo<Precision>& i) { return to_string(i.param); });

}  // namespace
}  // namespace lstmad
