// The scoring stages of detect/: hand-checked values, the floor that keeps flat-series noise from
// alarming, suppression, and causality (changing data after row t changes no score at or before t).
#include <gtest/gtest.h>

#include <cmath>

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

TEST(Scoring, LikelihoodFlagsAnOutlierAndIgnoresNoise) {
  Rng rng(3);
  std::vector<double> e(2000);
  for (auto& v : e) v = std::fabs(rng.normal(0.0, 0.05));
  for (int i = 1500; i < 1510; ++i) e[static_cast<size_t>(i)] = 1.0;
  LikelihoodOptions o;
  o.long_window = 500;
  o.short_window = 5;
  o.std_floor = 0.001;
  auto s = likelihood_scores(e, o);
  double before = 0;
  for (int i = 100; i < 1500; ++i) before = std::max(before, s[static_cast<size_t>(i)]);
  EXPECT_GT(s[1505], 0.9);
  EXPECT_GT(s[1505], before) << "the outlier must outscore every normal row";
  for (double v : s) EXPECT_TRUE(v >= 0.0 && v <= 1.0);
  // Flat noise at 2e-8 stays far below any alarm because of the spread floor.
  std::vector<double> flat(1000, 2e-8);
  flat[700] = 4e-8;
  for (double v : likelihood_scores(flat, o)) EXPECT_LT(v, 0.1);
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
  for (const char* rule : {"error_ratio", "likelihood"}) {
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
