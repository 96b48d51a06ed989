// The scoring stages of detect/: hand-checked values, the floor that keeps flat-series noise from
// alarming, suppression, and causality (changing data after row t changes no score at or before t).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "detect/detector.hpp"
#include "detect/scoring.hpp"

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
  auto out = suppress_repeats(s, 0.99, 0.1);  // 10 rows
  EXPECT_EQ(out[10], 1.0);
  EXPECT_EQ(out[12], 0.0);
  EXPECT_EQ(out[30], 0.995);
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
  o.learning = 1.0;
  auto s = anomaly_scores_from_errors(e, values, o);
  int flagged = 0;
  for (double v : s) flagged += v > 0 ? 1 : 0;
  EXPECT_EQ(flagged, 0) << "ordinary errors after training flagged";
  for (int i = 0; i < 600; ++i) ASSERT_EQ(s[static_cast<size_t>(i)], 0.0) << "training row " << i;
  // A real anomaly in the scored part is still found.
  for (int i = 1500; i < 1510; ++i) e[static_cast<size_t>(i)] = 1.0;
  s = anomaly_scores_from_errors(e, values, o);
  EXPECT_EQ(s[1500], 1.0);
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
