// The scoring stages of detect/: hand-checked values, the floor that keeps flat-series noise from
// alarming, suppression, and causality (changing data after row t changes no score at or before t).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "detect/detector.hpp"
#include "detect/dynamic_threshold.hpp"
#include "detect/scoring.hpp"
#include "experiments/cell_pipeline.hpp"
#include "experiments/config.hpp"

using namespace lstmad;

TEST(Scoring, AbsoluteErrorsAndMovingAverage) {
  auto e = absolute_errors({1.0, 2.0, 3.0, 4.0}, {std::nan(""), 2.5, 2.0, 4.0});
  EXPECT_TRUE(std::isnan(e[0]));
  EXPECT_DOUBLE_EQ(e[1], 0.5);
  EXPECT_DOUBLE_EQ(e[2], 1.0);
  EXPECT_DOUBLE_EQ(e[3], 0.0);
  auto m = moving_average(e, 2);
  EXPECT_TRUE(std::isnan(m[0]));
  EXPECT_DOUBLE_EQ(m[1], 0.5);   // one value so far
  EXPECT_DOUBLE_EQ(m[2], 0.75);  // (0.5 + 1.0) / 2
  EXPECT_DOUBLE_EQ(m[3], 0.5);   // (1.0 + 0.0) / 2
  // A row without an error takes the average of the errors before it, or none without smoothing (k = 1).
  for (int k : {1, 2, 3}) {
    const auto gap = moving_average({0.5, std::nan(""), 1.0}, k);
    if (k == 1)
      EXPECT_TRUE(std::isnan(gap[1]));
    else
      EXPECT_EQ(gap[1], 0.5) << k;
    EXPECT_EQ(gap[2], k == 1 ? 1.0 : 0.75) << k;
  }
}

TEST(Scoring, MovingAverageSumsOnlyTheWindowsValues) {
  // A running sum that subtracts the value leaving the window keeps the rounding of the large error: the
  // tiny one after it was lost in the sum (1e3 + 1e-20 == 1e3), so once the large one left, the window
  // {1e-20, 0} averaged 0, and {0, 0} -5e-21. Each average here sums the window's values only.
  const auto m = moving_average({1e3, 1e-20, 0.0, 0.0, 2.0}, 2);
  EXPECT_EQ(m[0], 1e3);
  EXPECT_EQ(m[1], 500.0);
  EXPECT_EQ(m[2], 5e-21);
  EXPECT_EQ(m[3], 0.0);
  EXPECT_EQ(m[4], 1.0);
}

TEST(Scoring, ErrorRatioUsesRunningMaximumAndFloor) {
  auto s = error_ratio_scores({0.001, 0.2, 0.1, 0.4, 0.2}, 0.01);
  EXPECT_DOUBLE_EQ(s[0], 0.0);  // below the floor
  EXPECT_DOUBLE_EQ(s[1], 1.0);  // new maximum
  EXPECT_DOUBLE_EQ(s[2], 0.5);
  EXPECT_DOUBLE_EQ(s[3], 1.0);
  EXPECT_DOUBLE_EQ(s[4], 0.5);
  // A perfectly predicted flat series: float noise never scores.
  std::vector<double> noise(1000, 2e-8);
  for (double v : error_ratio_scores(noise, 0.01)) EXPECT_EQ(v, 0.0);
}

TEST(Scoring, SquashedErrorKeepsTheErrorsRanking) {
  const std::vector<double> e = {0.0, 0.1, std::nan(""), 0.4, 0.1000001, 3.0};
  const auto s = squashed_error_scores(e, 0.1);
  EXPECT_EQ(s[0], 0.0);
  EXPECT_DOUBLE_EQ(s[1], 0.5);  // the scale scores one half
  EXPECT_EQ(s[2], 0.0);         // no prediction
  EXPECT_DOUBLE_EQ(s[3], 0.8);  // 0.4 / 0.5
  EXPECT_GT(s[4], s[1]) << "a slightly larger error still ranks above";
  EXPECT_LT(s[5], 1.0);
  EXPECT_GT(s[5], s[3]);
  // A zero scale is raised to 1e-12, so distinct small errors stay ordered instead of all scoring 1.
  const auto z = squashed_error_scores({1e-13, 2e-13, 1e-6}, 0.0);
  EXPECT_LT(z[0], z[1]);
  EXPECT_LT(z[1], z[2]);
  EXPECT_LT(z[2], 1.0);
}

TEST(Scoring, LikelihoodFlagsAnOutlierAndIgnoresNoise) {
  Rng rng(3);
  std::vector<double> e(2000);
  for (auto& v : e) v = std::fabs(rng.normal(0.0, 0.05));
  for (int i = 1500; i < 1510; ++i) e[static_cast<size_t>(i)] = 1.0;
  LikelihoodOptions o;
  o.long_window = 500;
  o.short_window = 5;
  o.std_floor = 0.001;
  o.filter = false;
  auto s = likelihood_scores(e, o);
  double before = 0;
  for (int i = 100; i < 1500; ++i) before = std::max(before, s[static_cast<size_t>(i)]);
  EXPECT_GT(s[1500], 0.9);
  EXPECT_GT(s[1505], 0.9);
  EXPECT_GT(s[1500], before) << "the outlier must outscore every normal row";
  for (double v : s) EXPECT_TRUE(v >= 0.0 && v <= 1.0);
  // With the filter, only the onset of the run of very unlikely rows keeps its top score; the rest of the
  // run drops to the yellow level, log(1e-3) / log(1e-10) = 0.3.
  o.filter = true;
  auto f = likelihood_scores(e, o);
  EXPECT_EQ(f[1500], s[1500]);
  EXPECT_NEAR(f[1505], std::log(kLikelihoodYellow + 1e-10) / std::log(1e-10), 1e-12);
  for (int i = 0; i < 1500; ++i) {
    if (s[static_cast<size_t>(i)] < 0.5) {
      EXPECT_EQ(f[static_cast<size_t>(i)], s[static_cast<size_t>(i)]) << i;
    }
  }
  // Flat noise at 2e-8 stays far below any alarm because of the spread floor.
  std::vector<double> flat(1000, 2e-8);
  flat[700] = 4e-8;
  for (double v : likelihood_scores(flat, o)) EXPECT_LT(v, 0.1);
}

TEST(Scoring, LikelihoodFitIsFrozenBetweenEstimates) {
  // Errors step from 0.1 to 0.3 at row 1000. Fits every 100 rows: the step is judged against the fit made
  // at row 900 (all 0.1) until the refit at row 1000 itself, which includes it.
  std::vector<double> e(1400, 0.1);
  for (size_t i = 1000; i < e.size(); ++i) e[i] = 0.3;
  LikelihoodOptions o;
  o.long_window = 1000;
  o.short_window = 1;
  o.std_floor = 0.01;
  o.filter = false;
  o.log_scale = false;
  o.start = 100;
  o.reestimate_every = 100;
  auto s = likelihood_scores(e, o);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s[static_cast<size_t>(i)], 0.0) << "rows before start score 0";
  // The refit at row 1000 has one 0.3 among 901 values: the mean barely moves, the spread grows, and the
  // rows up to 1099 are still far in the tail; the refit at 1100 holds 101 of them.
  EXPECT_GT(s[1000], 0.999);
  EXPECT_EQ(s[1050], s[1099]) << "the distribution does not move between fits";
  EXPECT_LT(s[1100], s[1099]);
  // Fitting at every row lets the run of high errors pull the distribution up at once.
  o.reestimate_every = 1;
  auto every = likelihood_scores(e, o);
  EXPECT_LT(every[1099], s[1099]);
}

TEST(Scoring, LikelihoodSkipKeepsEarlyErrorsOutOfTheFit) {
  // Tiny in-sample errors in rows < 500, then ordinary errors: with them in the fit the ordinary errors
  // look anomalous; skipped, they do not.
  Rng rng(8);
  std::vector<double> e(1500);
  for (size_t i = 0; i < e.size(); ++i) e[i] = i < 500 ? 0.001 : 0.1 + 0.02 * rng.normal(0.0, 1.0);
  LikelihoodOptions o;
  o.short_window = 5;
  o.std_floor = 0.001;
  o.filter = false;
  o.log_scale = false;
  o.start = 600;
  o.reestimate_every = 100000;  // one fit, at row 600
  o.skip = 0;
  auto with_early = likelihood_scores(e, o);
  o.skip = 500;
  auto skipped = likelihood_scores(e, o);
  double max_with = 0, max_skipped = 0;
  for (size_t i = 600; i < e.size(); ++i) {
    max_with = std::max(max_with, with_early[i]);
    max_skipped = std::max(max_skipped, skipped[i]);
  }
  EXPECT_GT(max_with, 0.99);
  EXPECT_LT(max_skipped, 0.99);
}

// detector.likelihood.mean_floor, from the config key to the scores: the fitted mean is at least the
// floor, and nothing else changes. One fit, at row 10 (the first scored row; nothing left out), of the
// errors of rows 0 .. 10: five 0.9, five 1.1 and 1.0, so mean 1.0 and spread sqrt(10 x 0.1^2 / 11) =
// 0.0953463. Scores are 1 - Q(z) = Phi(z), z = (error - mean) / spread.
// - floor 0 or 0.5 (below the mean): the same scores, bit for bit; 1.0 + spread scores Phi(1) = 0.841345,
//   1.0 scores 0.5.
// - floor 1.2: the mean is 1.2 and the spread stays; 1.0 scores Phi(-0.2 / 0.0953463) = Phi(-2.097618) =
//   0.0179695, 1.2 scores 0.5 and 1.2 + spread Phi(1).
TEST(Detector, LikelihoodMeanFloorRaisesTheFittedMeanOnly) {
  const double sd = std::sqrt(10 * 0.01 / 11);
  std::vector<double> e;
  for (int i = 0; i < 10; ++i) e.push_back(i % 2 == 0 ? 0.9 : 1.1);
  e.push_back(1.0);
  for (double v : {1.0 + sd, 1.0, 1.2, 1.2 + sd}) e.push_back(v);
  const std::vector<double> values(e.size(), 0.0);
  auto scores = [&](double floor) {
    const json cfg =
        resolve_config(json::parse(R"({"detector": {"score": "likelihood", "smoothing": 1, "ewma_span": 0,
          "spatial_margin": 0, "suppress": 0, "likelihood": {"short_window": 1, "long_window": 1000,
          "reestimate_every": 1000, "log": false, "filter": false, "learning": 0, "mean_floor": )" +
                                   std::to_string(floor) + "}}}"),
                       "t");
    DetectorOptions o = detector_options(cfg);
    EXPECT_EQ(o.likelihood.mean_floor, floor);
    o.train_rows = 10;
    return anomaly_scores_from_errors(e, values, o);
  };
  const std::vector<double> none = scores(0.0), low = scores(0.5), high = scores(1.2);
  ASSERT_EQ(none.size(), 15u);
  for (size_t i = 0; i < none.size(); ++i) {
    EXPECT_EQ(0, std::memcmp(&low[i], &none[i], sizeof(double))) << "row " << i;
    if (i < 10) {
      EXPECT_EQ(high[i], 0.0) << "row " << i << " is a training row";
    }
  }
  EXPECT_NEAR(none[11], 0.841345, 1e-6);
  EXPECT_NEAR(none[12], 0.5, 1e-9);
  EXPECT_NEAR(high[12], 0.0179695, 1e-6);
  EXPECT_NEAR(high[13], 0.5, 1e-9);
  EXPECT_NEAR(high[14], 0.841345, 1e-6);
}

TEST(Detector, ErrorCapBoundsTheErrorsBeforeTheRule) {
  std::vector<double> e(300, 0.2);
  e[0] = std::nan("");
  e[150] = 50.0;
  std::vector<double> values(300, 1.0);
  DetectorOptions o;
  o.score = "error_ratio";
  o.error_floor = 0.01;
  auto uncapped = anomaly_scores_from_errors(e, values, o);
  o.error_cap = 0.4;
  auto capped = anomaly_scores_from_errors(e, values, o);
  EXPECT_DOUBLE_EQ(uncapped[200], 0.2 / 50.0);
  EXPECT_DOUBLE_EQ(capped[150], 1.0);
  EXPECT_DOUBLE_EQ(capped[200], 0.5) << "0.2 over the capped running maximum 0.4";
  EXPECT_EQ(capped[0], 0.0) << "a row without an error stays unscored";
}

TEST(Scoring, SuppressionSilencesTheFollowingRows) {
  std::vector<double> s(100, 0.0);
  s[10] = 1.0;
  s[12] = 1.0;
  s[30] = 0.995;
  auto out = suppress_repeats(s, 0.99, 10);
  EXPECT_EQ(out[10], 1.0);
  EXPECT_EQ(out[12], 0.0);
  EXPECT_EQ(out[20], 0.0);
  EXPECT_EQ(out[30], 0.995);
  EXPECT_EQ(suppress_repeats(s, 0.99, 0), s);
}

// The span: suppress_rows when set; else floor(suppress x n), n being series_rows when set (lstmad detect:
// the series the models learned) and otherwise the rows scored.
TEST(Detector, SuppressionSpanComesFromRowsOrTheLearnedSeriesLength) {
  DetectorOptions o;
  EXPECT_EQ(suppression_span(o, 1000), 0) << "off by default";
  o.suppress = 0.05;
  EXPECT_EQ(suppression_span(o, 1000), 50);
  EXPECT_EQ(suppression_span(o, 1999), 99);
  o.series_rows = 1200;
  EXPECT_EQ(suppression_span(o, 701), 60) << "the learned series' span, however many rows are scored";
  EXPECT_EQ(suppression_span(o, 5000), 60);
  o.suppress = 0.0;
  o.suppress_rows = 25;
  EXPECT_EQ(suppression_span(o, 701), 25);
  // Through the detector: an error spike at row 300 scores 1 (spatial check) and silences the next 25 rows.
  o.score = "error";
  o.spatial_margin = 0.5;
  o.suppress_level = 0.99;
  std::vector<double> values(600, 0.0), errors(600, 0.2);
  for (size_t i = 0; i < values.size(); ++i) values[i] = (i % 2 == 0) ? 1.0 : -1.0;
  values[300] = 10.0;
  values[310] = 20.0;  // beyond the range [-1, 10] by more than half of it again, inside the silenced span
  const auto scores = anomaly_scores_from_errors(errors, values, o);
  EXPECT_EQ(scores[300], 1.0);
  for (size_t i = 301; i <= 325; ++i) EXPECT_EQ(scores[i], 0.0) << "row " << i;
  EXPECT_GT(scores[326], 0.0);
  o.suppress_rows = 0;  // unsilenced, the same rows score: row 310 is a spatial anomaly of its own
  const auto loud = anomaly_scores_from_errors(errors, values, o);
  EXPECT_EQ(loud[310], 1.0);
  EXPECT_GT(loud[305], 0.0);
}

TEST(Detector, ScoresAreCausal) {
  Rng rng(11);
  const int n = 3000;
  std::vector<double> actual(n), predicted(n);
  for (int i = 0; i < n; ++i) {
    actual[static_cast<size_t>(i)] = std::sin(i * 0.05) + rng.normal(0, 0.05);
    predicted[static_cast<size_t>(i)] = i < 50 ? std::nan("") : std::sin(i * 0.05);
  }
  for (const char* rule : {"error", "error_ratio", "likelihood"}) {
    DetectorOptions o;
    o.score = rule;
    o.smoothing = 4;
    o.likelihood.long_window = 400;
    o.suppress = 0.02;
    o.suppress_level = 0.9;
    auto base = anomaly_scores(actual, predicted, o);
    for (int t : {100, 1200, 2500}) {
      auto a2 = actual;
      for (int i = t + 1; i < n; ++i) a2[static_cast<size_t>(i)] += 5.0 * std::cos(i * 1.0);
      auto changed = anomaly_scores(a2, predicted, o);
      for (int i = 0; i <= t; ++i)
        ASSERT_EQ(base[static_cast<size_t>(i)], changed[static_cast<size_t>(i)]) << rule << " row " << i << " t " << t;
      bool differs = false;
      for (int i = t + 1; i < n; ++i) differs |= base[static_cast<size_t>(i)] != changed[static_cast<size_t>(i)];
      EXPECT_TRUE(differs) << rule << ": the change after t must matter somewhere";
    }
  }
}

TEST(Detector, MeanOfErrorsWeighsEachEntryByItsModels) {
  const double nan = std::nan("");
  const std::vector<std::vector<double>> e{{1.0, 2.0, nan, 4.0}, {4.0, 8.0, 1.0, nan}};
  auto plain = mean_of_errors(e);
  EXPECT_DOUBLE_EQ(plain[0], 2.5);
  EXPECT_DOUBLE_EQ(plain[1], 5.0);
  EXPECT_TRUE(std::isnan(plain[2]) && std::isnan(plain[3]));
  // The first entry is the mean of three models: (3 * 1 + 4) / 4.
  auto w = mean_of_errors(e, {3, 1});
  EXPECT_DOUBLE_EQ(w[0], 1.75);
  EXPECT_DOUBLE_EQ(w[1], 3.5);
  EXPECT_TRUE(std::isnan(w[2]) && std::isnan(w[3]));
  auto ones = mean_of_errors(e, {1, 1});
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(ones[i], plain[i]);
  EXPECT_THROW(mean_of_errors(e, {1}), Error);
  EXPECT_THROW(mean_of_errors(e, {0, 1}), Error);
  EXPECT_THROW(mean_of_errors({{1.0}, {1.0, 2.0}}, {2, 1}), Error);
}

TEST(Detector, DynamicThresholdIsChosenFromErrorsOfRowsTheModelWasNotFittedOn) {
  // In-sample errors of the training rows are small (0.03); from row 600 on the errors are a steady
  // 0.08 with no anomaly. A threshold chosen from the training errors flags the first scored rows.
  Rng rng(5);
  std::vector<double> e(2000), values(2000, 1.0);
  for (int i = 0; i < 2000; ++i)
    e[i] = (i < 600 ? 0.03 : 0.08) + (i < 600 ? 0.005 : 0.02) * (rng.uniform() - 0.5);
  DetectorOptions o;
  o.score = "dynamic_threshold";
  o.train_rows = 600;
  // Whatever the likelihood's learning fraction (the default 0.5, configs/nab.json's 0.6): with only a
  // fraction of the training rows left out, the rest flagged about 130 rows after training.
  std::vector<double> s;
  for (const double learning : {0.5, 0.6, 1.0}) {
    o.learning = learning;
    s = anomaly_scores_from_errors(e, values, o);
    int flagged = 0;
    for (double v : s) flagged += v > 0 ? 1 : 0;
    EXPECT_EQ(flagged, 0) << "ordinary errors after training flagged, learning " << learning;
  }
  for (int i = 0; i < 600; ++i) ASSERT_EQ(s[static_cast<size_t>(i)], 0.0) << "training row " << i;
  // A real anomaly in the scored part is still found.
  for (int i = 1500; i < 1510; ++i) e[static_cast<size_t>(i)] = 1.0;
  s = anomaly_scores_from_errors(e, values, o);
  EXPECT_EQ(s[1500], 1.0);
}

// Pruning compares a run's peak with the highest nominal error, not with the run's own flanks: after
// smoothing, the rows just before a moderate burst lie just below the threshold, and compared with them
// the burst fell by less than `prune` and was called nominal. Errors |N(0.05, 0.02)| with a 40-row burst
// at 0.10, smoothed as the paper does (EWMA): the burst is found in each of 10 series, and the same
// series without it raise no alarm.
TEST(Detector, DynamicThresholdPrunesAgainstErrorsAwayFromTheRun) {
  int found = 0, quiet = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    Rng rng(seed);
    std::vector<double> e(2600), values(2600, 1.0);
    for (double& v : e) v = std::fabs(0.05 + 0.02 * rng.normal());
    DetectorOptions o;
    o.score = "dynamic_threshold";
    o.train_rows = 300;
    o.ewma_span = 105;
    const auto clean = anomaly_scores_from_errors(e, values, o);
    quiet += std::count(clean.begin(), clean.end(), 1.0) == 0;
    for (size_t i = 1800; i < 1840; ++i) e[i] = 0.10;
    const auto s = anomaly_scores_from_errors(e, values, o);
    found += std::count(s.begin() + 1800, s.begin() + 1950, 1.0) > 0;
  }
  EXPECT_EQ(found, 10);
  EXPECT_GE(quiet, 9);
}

namespace {

// The rule as written down: the window shifted row by row, one pass per candidate threshold for its
// sums and one for its runs. dynamic_threshold_detections must give these bits exactly.
std::vector<double> dynamic_threshold_reference(const std::vector<double>& errors,
                                                const DynamicThresholdOptions& o) {
  struct Run {
    size_t begin, end;
    double peak;
  };
  auto runs_above = [](const std::vector<double>& e, double eps) {
    std::vector<Run> runs;
    for (size_t k = 0; k < e.size();) {
      if (e[k] < eps) {
        ++k;
        continue;
      }
      Run r{k, k, e[k]};
      while (k < e.size() && e[k] >= eps) {
        r.peak = std::max(r.peak, e[k]);
        r.end = k++;
      }
      runs.push_back(r);
    }
    return runs;
  };
  const size_t none = std::numeric_limits<size_t>::max();
  std::vector<double> out(errors.size(), 0.0), win;
  std::vector<size_t> rows;
  size_t last_anomalous = none;
  for (size_t i = 0; i < errors.size(); ++i) {
    if (std::isnan(errors[i])) continue;
    win.push_back(errors[i]);
    rows.push_back(i);
    if (static_cast<int>(win.size()) > o.window) {
      win.erase(win.begin());
      rows.erase(rows.begin());
    }
    bool flagged = false;
    if (static_cast<int>(win.size()) >= o.min_history) {
      double sum = 0, sq = 0;
      for (double v : win) {
        sum += v;
        sq += v * v;
      }
      const double cnt = static_cast<double>(win.size());
      const double mu = sum / cnt;
      const double sigma = std::sqrt(std::max(0.0, sq / cnt - mu * mu));
      double best_rating = -std::numeric_limits<double>::infinity(),
             best_eps = std::numeric_limits<double>::infinity();
      if (sigma > 0 && mu > 0) {
        for (double z = o.z_min; z <= o.z_max + 1e-12; z += o.z_step) {
          const double eps = mu + z * sigma;
          double bs = 0, bq = 0;
          size_t below = 0;
          for (double v : win)
            if (v < eps) {
              bs += v;
              bq += v * v;
              ++below;
            }
          const size_t above = win.size() - below;
          if (above == 0 || below == 0) continue;
          const double bmu = bs / static_cast<double>(below);
          const double bsig = std::sqrt(std::max(0.0, bq / static_cast<double>(below) - bmu * bmu));
          const double nseq = static_cast<double>(runs_above(win, eps).size());
          const double rating =
              ((mu - bmu) / mu + (sigma - bsig) / sigma) / (static_cast<double>(above) + nseq * nseq);
          if (rating > best_rating) {
            best_rating = rating;
            best_eps = eps;
          }
        }
      }
      if (std::isfinite(best_eps)) {
        std::vector<Run> sorted = runs_above(win, best_eps);
        std::sort(sorted.begin(), sorted.end(), [](const Run& a, const Run& b) { return a.peak > b.peak; });
        // The highest nominal error: below eps and more than `buffer` positions from every run; where
        // no position is that far from every run, the highest below eps.
        double below_max = 0, below_any = 0;
        bool outside = false;
        for (size_t k = 0; k < win.size(); ++k) {
          if (win[k] >= best_eps) continue;
          below_any = std::max(below_any, win[k]);
          bool near = false;
          for (const Run& r : sorted)
            near = near || (k + static_cast<size_t>(o.buffer) >= r.begin &&
                            k <= r.end + static_cast<size_t>(o.buffer));
          if (!near) below_max = std::max(below_max, win[k]);
          outside = outside || !near;
        }
        if (!outside) below_max = below_any;  // (a position outside every neighbourhood is below eps)
        size_t keep = 0;
        for (size_t k = 0; k < sorted.size(); ++k) {
          double next = k + 1 < sorted.size() ? sorted[k + 1].peak : below_max;
          if ((sorted[k].peak - next) / sorted[k].peak > o.prune) keep = k + 1;
        }
        for (size_t k = 0; k < keep; ++k) {
          if (sorted[k].end == win.size() - 1) flagged = true;
          last_anomalous =
              last_anomalous == none ? rows[sorted[k].end] : std::max(last_anomalous, rows[sorted[k].end]);
        }
      }
    }
    if (flagged || (last_anomalous != none && i <= last_anomalous + static_cast<size_t>(o.buffer)))
      out[i] = 1.0;
  }
  return out;
}

}  // namespace

TEST(Detector, DynamicThresholdMatchesTheRuleAsWrittenBitForBit) {
  // Noisy errors with gaps (NaN), bursts, a flat stretch, exact zeros and ties, under several windows and
  // candidate grids (16 candidates, 7, 23: whole and partial blocks; one), including a window shorter than
  // the history it needs.
  Rng rng(11);
  std::vector<double> e(3000);
  for (size_t i = 0; i < e.size(); ++i) {
    e[i] = 0.05 + 0.02 * rng.normal();
    if (e[i] < 0) e[i] = 0;
    if (rng.uniform() < 0.03) e[i] = std::nan("");
    if (rng.uniform() < 0.01) e[i] += 0.5 * rng.uniform();
  }
  for (size_t i = 1200; i < 1400; ++i) e[i] = 0.125;  // flat: no spread
  for (size_t i = 2000; i < 2030; ++i) e[i] = 0.9;
  for (size_t i = 2500; i < 2600; i += 7) e[i] = 0.25;  // ties
  std::vector<DynamicThresholdOptions> grid(5);
  grid[1].window = 300;
  grid[1].min_history = 50;
  grid[2].window = 150;
  grid[2].z_min = 1.0;
  grid[2].z_max = 4.0;  // 7 candidates
  grid[2].buffer = 10;  // a buffer in proportion to the short window
  grid[3].window = 500;
  grid[3].z_min = 0.5;
  grid[3].z_max = 11.5;  // 23 candidates
  grid[3].prune = 0.05;
  grid[4].window = 40;
  grid[4].min_history = 60;  // never enough history
  grid[4].z_min = grid[4].z_max = 3.0;
  for (size_t g = 0; g < grid.size(); ++g) {
    const std::vector<double> want = dynamic_threshold_reference(e, grid[g]);
    const std::vector<double> got = dynamic_threshold_detections(e, grid[g]);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_EQ(std::memcmp(&got[i], &want[i], sizeof(double)), 0) << "options " << g << ", row " << i;
    const auto flagged = std::count(want.begin(), want.end(), 1.0);
    if (g < 4) {
      EXPECT_GT(flagged, 0) << "options " << g << " flag nothing: the comparison would prove little";
    }
    EXPECT_LT(flagged, static_cast<long>(want.size()) / 2) << "options " << g;
  }
}

TEST(Detector, DynamicThresholdRejectsASweepThatNeverEnds) {
  // A z_step of 0 (or one too small to move z) once pushed candidates until memory ran out; the config
  // rejects such steps, a library caller got no such check.
  const std::vector<double> e(300, 0.1);
  for (double step : {0.0, -0.5, std::nan(""), 1e-12}) {
    DynamicThresholdOptions o;
    o.z_step = step;
    EXPECT_THROW(dynamic_threshold_detections(e, o), ConfigError) << "z_step " << step;
  }
  DynamicThresholdOptions o;
  o.z_min = o.z_max = 1e20;  // z + 1 == z
  o.z_step = 1.0;
  EXPECT_THROW(dynamic_threshold_detections(e, o), ConfigError);
  o.z_min = 3.0;
  o.z_max = 2.0;  // no candidate at all: nothing flagged, as before
  EXPECT_EQ(dynamic_threshold_detections(e, o), std::vector<double>(e.size(), 0.0));
}

TEST(Detector, ANonFiniteErrorOrAZeroSpreadDoesNotSaturateTheLikelihood) {
  // One infinite error at row 600 once made every later score 1.0 (its running sum stayed inf - inf).
  Rng rng(3);
  std::vector<double> e(2000), values(2000, 1.0);
  for (auto& x : e) x = 0.1 + 0.02 * rng.uniform();
  e[600] = std::numeric_limits<double>::infinity();
  DetectorOptions o;
  o.score = "likelihood";
  o.smoothing = 1;
  o.train_rows = 300;
  o.likelihood.short_window = 5;
  o.likelihood.long_window = 500;
  o.error_floor = 0.01;
  auto s = anomaly_scores_from_errors(e, values, o);
  int saturated = 0;
  for (size_t i = 700; i < s.size(); ++i) saturated += s[i] >= 1.0 ? 1 : 0;
  EXPECT_EQ(saturated, 0);
  // Errors of exactly 0 (a flat series, every prediction exact) with no floor: a spread of 0 makes the
  // tail probability 0 / 0, which scores 0, not the top score.
  std::vector<double> flat(1000, 0.0);
  o.error_floor = 0.0;
  s = anomaly_scores_from_errors(flat, std::vector<double>(1000, 1.0), o);
  for (size_t i = 0; i < s.size(); ++i) ASSERT_EQ(s[i], 0.0) << i;
}
