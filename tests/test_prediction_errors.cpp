// The per-row prediction error that every score, metric and NAB file is built from (stream_errors,
// experiments/cell_pipeline.hpp), against a computation made here from the engine's forward of one window
// at a time; and the fine-tuning schedule (train.retrain_every, docs/detectors.md step 3): what it changes,
// and what it leaves alone.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "experiments/cell_pipeline.hpp"
#include "experiments/prepare.hpp"
#include "lstm/engine.hpp"
#include "lstm/init.hpp"

namespace lstmad {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// A series as prepare_series leaves it, made here: column 0 (the value predicted) a noisy sine in
// normalized units, and with dims 2 a second input column that is never predicted.
PreparedSeries make_prepared(int n, int dims, int train_end, uint64_t seed) {
  Rng rng(seed);
  PreparedSeries p;
  p.series.name = "k/s" + std::to_string(seed) + ".csv";
  p.series.dims = dims;
  p.train_end = train_end;
  p.input_dims = dims;
  for (int i = 0; i < n; ++i) {
    const double v = std::sin(0.21 * i) + 0.4 * rng.normal();
    for (int d = 0; d < dims; ++d) {
      const double value = d == 0 ? v : std::cos(0.05 * i) + 0.5 * rng.normal();
      p.series.values.push_back(value);
      p.x.push_back(static_cast<float>(value));
    }
    p.y.push_back(static_cast<float>(v));
    p.target.push_back(v);
  }
  return p;
}

std::unique_ptr<Engine> cpu_engine() {
  EngineOptions o;
  o.name = "cpu";
  o.threads = 1;
  return make_engine(o);
}

ModelJob make_job(const ModelShape& shape, int T, uint64_t seed, const PreparedSeries& p) {
  ModelJob j;
  j.params = init_params(shape, seed);
  j.data.x = p.x.data();
  j.data.y = p.y.data();
  j.data.n = p.series.rows();
  j.options.window = T;
  j.options.batch = 16;
  j.options.adam.lr = 1e-2;
  j.options.seed = seed + 100;
  return j;
}

// Row r's error as docs/detectors.md defines it: the mean, over the horizon steps q = 0 .. h-1 whose
// window exists, of |y_r - output q of the window of the T rows r-T-q .. r-q-1|. Each window goes to the
// engine alone, copied into a buffer of its T rows, so that no other row can be read. `shift` 1 moves
// every window one row later: the window of the first step then holds row r itself (the leak this test
// must catch).
std::vector<double> errors_by_hand(Engine& engine, const ModelShape& shape, int T,
                                   const std::vector<float>& params, const PreparedSeries& p, int shift = 0) {
  const int n = p.series.rows(), D = shape.input, h = shape.horizon;
  std::vector<double> err(static_cast<size_t>(n), kNaN);
  std::vector<float> window(static_cast<size_t>(T * D)), out(static_cast<size_t>(h));
  for (int r = 0; r < n; ++r) {
    double sum = 0;
    int count = 0;
    for (int q = 0; q < h; ++q) {
      const int first = r - T - q + shift;
      if (first < 0 || first + T > n) continue;
      std::memcpy(window.data(), p.x.data() + static_cast<size_t>(first) * D, window.size() * sizeof(float));
      engine.predict(shape, T, params, window.data(), T, {0}, out.data());
      sum += std::fabs(p.target[static_cast<size_t>(r)] - out[static_cast<size_t>(q)]);
      ++count;
    }
    if (count > 0) err[static_cast<size_t>(r)] = sum / count;
  }
  return err;
}

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Two models of one batch, each with its own series and parameters: each row's error is the mean
// absolute error of the predictions made for it, from the windows before it only, in normalized units.
// Horizon 1 and 3 (up to three predictions per row, fewer in the rows just after the first window), one
// input column and two (the target is column 0).
TEST(PredictionErrors, EachRowsErrorIsTheMeanOverItsHorizonPredictionsFromTheRowsBeforeIt) {
  const int T = 12;
  auto engine = cpu_engine();
  for (const auto& [horizon, dims] : std::vector<std::pair<int, int>>{{1, 1}, {3, 1}, {3, 2}}) {
    const std::string what =
        "horizon " + std::to_string(horizon) + ", " + std::to_string(dims) + " column(s)";
    const ModelShape shape{1, dims, 8, horizon};
    std::vector<PreparedSeries> series;
    series.push_back(make_prepared(300, dims, 60, 1));
    series.push_back(make_prepared(260, dims, 60, 2));
    std::vector<ModelJob> jobs;
    std::vector<const PreparedSeries*> data;
    for (size_t m = 0; m < series.size(); ++m) {
      jobs.push_back(make_job(shape, T, 11 + m, series[m]));
      data.push_back(&series[m]);
    }
    const std::vector<std::vector<float>> params = {jobs[0].params, jobs[1].params};
    const auto got = stream_errors(*engine, shape, T, jobs, data, Retraining{}, 2);
    ASSERT_EQ(got.size(), 2u);
    for (size_t m = 0; m < series.size(); ++m) {
      const auto want = errors_by_hand(*engine, shape, T, params[m], series[m]);
      const auto leaked = errors_by_hand(*engine, shape, T, params[m], series[m], 1);
      ASSERT_EQ(got[m].size(), want.size()) << what;
      int leak_seen = 0;
      for (size_t r = 0; r < want.size(); ++r) {
        if (r < static_cast<size_t>(T)) {
          EXPECT_TRUE(std::isnan(got[m][r]))
              << what << ", model " << m << ": row " << r << " has no full window";
          continue;
        }
        ASSERT_FALSE(std::isnan(got[m][r])) << what << ", model " << m << ", row " << r;
        EXPECT_NEAR(got[m][r], want[r], 1e-6) << what << ", model " << m << ", row " << r;
        leak_seen += std::fabs(leaked[r] - want[r]) > 1e-5;
      }
      // The comparison tells a window that holds row r from the one before it, on almost every row: the
      // two differ by 10 times the tolerance (float rounding of one forward: a few 1e-8).
      const int scored = static_cast<int>(want.size()) - T;
      EXPECT_GE(leak_seen, scored * 95 / 100) << what << ", model " << m << ": of " << scored;
    }
  }
}

struct Tuned {
  std::vector<double> errors;
  std::vector<float> params;  // the model's parameters after the last fine-tuning
};

// One model (initial parameters given, as a trained one would be) over a 500-row series whose training
// part is its first 200 rows, with `rt` as its fine-tuning schedule; `change_row` >= 0 adds 5 to that
// row's value.
Tuned run_schedule(const Retraining& rt, int horizon, int change_row = -1) {
  const int T = 10;
  const ModelShape shape{1, 1, 6, horizon};
  PreparedSeries p = make_prepared(500, 1, 200, 7);
  if (change_row >= 0) {
    const size_t i = static_cast<size_t>(change_row);
    p.series.values[i] += 5;
    p.x[i] += 5;
    p.y[i] += 5;
    p.target[i] += 5;
  }
  std::vector<ModelJob> jobs{make_job(shape, T, 3, p)};
  auto engine = cpu_engine();
  Tuned t;
  t.errors = stream_errors(*engine, shape, T, jobs, {&p}, rt, 1)[0];
  t.params = jobs[0].params;
  return t;
}

// Rows up to the first fine-tuning (the training part's 200 rows and the first segment of 100) are
// predicted by the model as trained: their errors are those of a run without fine-tuning, bit for bit.
// Every row after it is predicted by a fine-tuned model, and so differs; so does a second epoch.
TEST(PredictionErrors, FineTuningChangesTheErrorsFromTheFirstFineTuningOnAndNoneBefore) {
  for (int horizon : {1, 2}) {
    const Tuned plain = run_schedule(Retraining{0, 0, 5}, horizon);
    const Tuned one = run_schedule(Retraining{100, 40, 1}, horizon);
    const Tuned two = run_schedule(Retraining{100, 40, 2}, horizon);
    ASSERT_EQ(plain.errors.size(), 500u);
    for (size_t r = 0; r < 300; ++r) {
      EXPECT_TRUE(same_bits(one.errors[r], plain.errors[r])) << "horizon " << horizon << ", row " << r;
      EXPECT_TRUE(same_bits(two.errors[r], plain.errors[r])) << "horizon " << horizon << ", row " << r;
    }
    // With horizon 2, row 300's second prediction still comes from the model as trained (its window ends
    // at row 298), but its first comes from the fine-tuned one: the mean changes.
    int changed = 0, by_epochs = 0;
    for (size_t r = 300; r < 500; ++r) {
      changed += one.errors[r] != plain.errors[r];
      by_epochs += two.errors[r] != one.errors[r];
    }
    EXPECT_EQ(changed, 200) << "horizon " << horizon;
    EXPECT_EQ(by_epochs, 200) << "horizon " << horizon;
    EXPECT_NE(one.params, plain.params) << "the model ends as its last fine-tuning left it";
  }
}

// A fine-tuning learns from the windows whose targets lie in the latest retrain_rows rows. At row 300 with
// retrain_rows 40 and a 10-row window, those windows read rows 250 .. 299 only; the next fine-tunings read
// later rows still. So a change at row 240 changes the errors of the rows whose windows hold it
// (241 .. 250) and its own, and none after. With retrain_rows 0 (the training part's 200 rows: windows
// reading rows 90 .. 299) the same change reaches the fine-tuned model, and every later row.
TEST(PredictionErrors, FineTuningLearnsFromTheLatestRetrainRowsOnly) {
  const Tuned base = run_schedule(Retraining{100, 40, 1}, 1);
  const Tuned changed = run_schedule(Retraining{100, 40, 1}, 1, 240);
  for (size_t r = 240; r <= 250; ++r) EXPECT_NE(changed.errors[r], base.errors[r]) << "row " << r;
  for (size_t r = 251; r < 500; ++r) EXPECT_TRUE(same_bits(changed.errors[r], base.errors[r])) << "row " << r;
  EXPECT_EQ(changed.params, base.params);

  const Tuned wide = run_schedule(Retraining{100, 0, 1}, 1);
  const Tuned wide_changed = run_schedule(Retraining{100, 0, 1}, 1, 240);
  int later = 0;
  for (size_t r = 300; r < 500; ++r) later += wide_changed.errors[r] != wide.errors[r];
  EXPECT_EQ(later, 200);
}

}  // namespace
}  // namespace lstmad
