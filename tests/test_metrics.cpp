// Per-series metrics on small cases whose values are worked out by hand in the comments, plus seeded
// random cross-checks of the O(n log n) sweeps against direct O(n^2) evaluations of the definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>

#include "core/error.hpp"
#include "eval/metrics.hpp"

using namespace lstmad::metrics;

namespace {

constexpr double kTol = 1e-12;

}  // namespace

TEST(MetricsPoint, HandCase) {
  // labels    0 1 1 1 0 0 1 0
  // predicted 1 1 0 1 0 0 0 0
  // TP = rows 1,3 = 2; FP = row 0 = 1; FN = rows 2,6 = 2.
  // P = 2/3, R = 2/4, F1 = 2 (2/3)(1/2) / (2/3 + 1/2) = (2/3) / (7/6) = 4/7.
  const PrecisionRecall m = point_metrics({1, 1, 0, 1, 0, 0, 0, 0}, {0, 1, 1, 1, 0, 0, 1, 0});
  EXPECT_NEAR(m.precision, 2.0 / 3.0, kTol);
  EXPECT_NEAR(m.recall, 0.5, kTol);
  EXPECT_NEAR(m.f1, 4.0 / 7.0, kTol);
}

TEST(MetricsPoint, NanConventions) {
  // Nothing predicted: precision 0/0 is NaN, recall 0/2 = 0, F1 = 0.
  PrecisionRecall m = point_metrics({0, 0, 0}, {0, 1, 1});
  EXPECT_TRUE(std::isnan(m.precision));
  EXPECT_EQ(m.recall, 0.0);
  EXPECT_EQ(m.f1, 0.0);
  // Nothing to find: precision 0/1 = 0, recall 0/0 NaN, F1 NaN.
  m = point_metrics({1, 0, 0}, {0, 0, 0});
  EXPECT_EQ(m.precision, 0.0);
  EXPECT_TRUE(std::isnan(m.recall));
  EXPECT_TRUE(std::isnan(m.f1));
  EXPECT_THROW(point_metrics({1, 0}, {0, 0, 0}), lstmad::Error);
}

TEST(MetricsPoint, DetectionsAtThresholdIncludeEquality) {
  EXPECT_EQ(detections_at({0.1, 0.5, 0.7}, 0.5), (std::vector<int>{0, 1, 1}));
}

TEST(MetricsPoint, RunsOf) {
  const std::vector<Segment> runs = runs_of({1, 1, 0, 0, 1, 0, 1});
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].start, 0);
  EXPECT_EQ(runs[0].end, 1);
  EXPECT_EQ(runs[1].start, 4);
  EXPECT_EQ(runs[1].end, 4);
  EXPECT_EQ(runs[2].start, 6);
  EXPECT_EQ(runs[2].end, 6);
  EXPECT_TRUE(runs_of({0, 0}).empty());
}

TEST(MetricsCurve, BestF1HandCase) {
  // scores 0.9 0.8 0.8 0.3 0.2 0.1, labels 1 0 1 1 0 0, P = 3; F1 = 2TP / (predicted + P):
  // t=0.9: TP 1 of 1 -> 2/4; t=0.8: TP 2 of 3 -> 4/6; t=0.3: TP 3 of 4 -> 6/7; t=0.2: 6/8; t=0.1: 6/9.
  const BestF1 b = best_f1({0.9, 0.8, 0.8, 0.3, 0.2, 0.1}, {1, 0, 1, 1, 0, 0});
  EXPECT_NEAR(b.f1, 6.0 / 7.0, kTol);
  EXPECT_EQ(b.threshold, 0.3);
  // Ties in F1 keep the highest threshold. scores 4 3 2 1, labels 1 0 0 1, P = 2:
  // t=4: 2/(1+2) = 2/3; t=3: 2/(2+2) = 1/2; t=2: 2/5; t=1: 4/(4+2) = 2/3 -> threshold 4.
  const BestF1 tie = best_f1({4, 3, 2, 1}, {1, 0, 0, 1});
  EXPECT_NEAR(tie.f1, 2.0 / 3.0, kTol);
  EXPECT_EQ(tie.threshold, 4.0);
  EXPECT_TRUE(std::isnan(best_f1({0.1, 0.2}, {0, 0}).f1));
}

TEST(MetricsCurve, RocAucHandCaseWithTie) {
  // Same data, N = 3. (FPR, TPR) per threshold: 0.9 (0, 1/3); 0.8 (1/3, 2/3); 0.3 (1/3, 1);
  // 0.2 (2/3, 1); 0.1 (1, 1). Trapezoids: 1/3 (1/3 + 2/3)/2 = 1/6, then 1/3 + 1/3 at height 1: 5/6.
  // Mann-Whitney agrees: 0.9 beats 3, 0.8 beats 2 and ties 1 (2.5), 0.3 beats 2: 7.5 / 9 = 5/6.
  EXPECT_NEAR(roc_auc({0.9, 0.8, 0.8, 0.3, 0.2, 0.1}, {1, 0, 1, 1, 0, 0}), 5.0 / 6.0, kTol);
  EXPECT_NEAR(roc_auc({3, 2, 1}, {1, 1, 0}), 1.0, kTol);
  EXPECT_NEAR(roc_auc({1, 1, 1}, {1, 0, 0}), 0.5, kTol);  // one tie group: the diagonal
  EXPECT_TRUE(std::isnan(roc_auc({1, 2}, {0, 0})));
  EXPECT_TRUE(std::isnan(roc_auc({1, 2}, {1, 1})));
  EXPECT_THROW(roc_auc({1, std::numeric_limits<double>::quiet_NaN()}, {1, 0}), lstmad::Error);
}

TEST(MetricsCurve, AveragePrecisionHandCase) {
  // Recall gains and precisions: 0.9 -> +1/3 at 1/1; 0.8 -> +1/3 at 2/3; 0.3 -> +1/3 at 3/4.
  // AP = 1/3 + 2/9 + 1/4 = (12 + 8 + 9) / 36 = 29/36.
  EXPECT_NEAR(average_precision({0.9, 0.8, 0.8, 0.3, 0.2, 0.1}, {1, 0, 1, 1, 0, 0}), 29.0 / 36.0, kTol);
  EXPECT_TRUE(std::isnan(average_precision({1, 2}, {0, 0})));
}

TEST(MetricsCurve, PerfectRankingsScoreExactlyOne) {
  // Every labeled row above every unlabeled one: ROC-AUC and average precision are 1, not a rounding above
  // it. With the recall increments 2/7, 3/7, 1/7, 1/7 each rounded and weighted, AP summed to
  // 1.0000000000000002.
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> s = {5.5, 5.5, 5.5, -4.875, inf, 3.5, inf, 3.375, 2.375};
  const std::vector<int> l = {1, 1, 1, 0, 1, 1, 1, 1, 0};
  EXPECT_EQ(average_precision(s, l), 1.0);
  EXPECT_EQ(roc_auc(s, l), 1.0);
  // Positives in tie groups of every size from 1 to 4, 1 to 60 of them, above 5 negatives.
  for (int positives = 1; positives <= 60; ++positives)
    for (int group = 1; group <= 4; ++group) {
      std::vector<double> scores;
      std::vector<int> labels;
      for (int i = 0; i < positives; ++i) {
        scores.push_back(100.0 - i / group);
        labels.push_back(1);
      }
      for (int i = 0; i < 5; ++i) {
        scores.push_back(-i);
        labels.push_back(0);
      }
      EXPECT_EQ(average_precision(scores, labels), 1.0) << positives << " " << group;
      EXPECT_EQ(roc_auc(scores, labels), 1.0) << positives << " " << group;
    }
}

TEST(MetricsEvent, HandCase) {
  // labels    0 1 1 0 0 1 1 1 0 0 1 0   true events [1,2] [5,7] [10,10]
  // predicted 1 0 1 1 0 0 0 0 0 1 0 0   predicted events [0,0] [2,3] [9,9]
  // [2,3] shares row 2 with [1,2]: TP = 1. [5,7] and [10,10] missed (row 9 only touches 10): FN = 2.
  // [0,0] and [9,9] overlap nothing: FP = 2. P = 1/3, R = 1/3, F1 = 1/3.
  const EventMetrics m =
      event_metrics({1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0}, {0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0});
  EXPECT_EQ(m.counts.true_events, 3);
  EXPECT_EQ(m.counts.detected_events, 1);
  EXPECT_EQ(m.counts.missed_events, 2);
  EXPECT_EQ(m.counts.predicted_events, 3);
  EXPECT_EQ(m.counts.false_events, 2);
  EXPECT_NEAR(m.scores.precision, 1.0 / 3.0, kTol);
  EXPECT_NEAR(m.scores.recall, 1.0 / 3.0, kTol);
  EXPECT_NEAR(m.scores.f1, 1.0 / 3.0, kTol);
}

TEST(MetricsEvent, OnePredictionSpanningTwoEventsDetectsBoth) {
  // true [0,1] [3,4]; predicted [1,3] overlaps both: TP = 2, FN = 0, FP = 0 -> P = R = 1.
  const EventMetrics m = event_metrics({0, 1, 1, 1, 0}, {1, 1, 0, 1, 1});
  EXPECT_EQ(m.counts.detected_events, 2);
  EXPECT_EQ(m.counts.predicted_events, 1);
  EXPECT_EQ(m.scores.precision, 1.0);
  EXPECT_EQ(m.scores.recall, 1.0);
}

TEST(MetricsEvent, TwoPredictionsInOneEventCountOnce) {
  // true [0,3]; predicted [0,0] [2,2] [5,5]. TP = 1 (the event), FP = 1 ([5,5]); the second hit
  // inside the event is neither. P = 1/(1+1) = 1/2, R = 1, F1 = 2 (1/2) / (3/2) = 2/3.
  const EventMetrics m = event_metrics({1, 0, 1, 0, 0, 1}, {1, 1, 1, 1, 0, 0});
  EXPECT_NEAR(m.scores.precision, 0.5, kTol);
  EXPECT_EQ(m.scores.recall, 1.0);
  EXPECT_NEAR(m.scores.f1, 2.0 / 3.0, kTol);
  // No predicted events: precision NaN, recall 0, F1 0. No true events: recall and F1 NaN.
  const EventMetrics none = event_metrics({0, 0, 0}, {0, 1, 0});
  EXPECT_TRUE(std::isnan(none.scores.precision));
  EXPECT_EQ(none.scores.f1, 0.0);
  EXPECT_TRUE(std::isnan(event_metrics({1, 0, 0}, {0, 0, 0}).scores.f1));
}

TEST(MetricsPak, HandCase) {
  // labels    0 1 1 1 1 0 1 1 0 0   segments A = [1,4] (4 rows), B = [6,7] (2 rows)
  // predicted 1 0 1 0 0 0 0 0 0 0   A: 1 hit of 4 (25 %), B: none.
  // K < 25: 1 > K% of 4, A becomes fully detected: TP 4, FP 1, FN 2 -> F1 = 8 / (8 + 1 + 2) = 8/11.
  // K >= 25: unchanged: TP 1, FP 1, FN 5 -> F1 = 2 / (2 + 1 + 5) = 1/4.
  const std::vector<int> pred = {1, 0, 1, 0, 0, 0, 0, 0, 0, 0};
  const std::vector<int> labels = {0, 1, 1, 1, 1, 0, 1, 1, 0, 0};
  EXPECT_EQ(point_adjust(pred, labels, 0), (std::vector<int>{1, 1, 1, 1, 1, 0, 0, 0, 0, 0}));
  EXPECT_NEAR(pak_f1(pred, labels, 0), 8.0 / 11.0, kTol);
  EXPECT_NEAR(pak_f1(pred, labels, 20), 8.0 / 11.0, kTol);
  EXPECT_NEAR(pak_f1(pred, labels, 25), 0.25, kTol);  // 1 > 1.0 is false
  EXPECT_NEAR(pak_f1(pred, labels, 100), point_metrics(pred, labels).f1, kTol);
  // Step 10: F1 = 8/11 at K = 0, 10, 20 and 1/4 at K = 30..100. Area (K scaled to [0,1]):
  // 0.1 (8/11) x 2 + 0.1 (8/11 + 1/4)/2 + 7 x 0.1 x 1/4 = 2/11 + 1/80 + 7/40 = 2/11 + 3/16 = 65/176.
  EXPECT_NEAR(pak_auc(pred, labels, 10), 65.0 / 176.0, kTol);
  EXPECT_THROW(pak_auc(pred, labels, 7), lstmad::Error);
  EXPECT_THROW(point_adjust(pred, labels, 101), lstmad::Error);
  EXPECT_TRUE(std::isnan(pak_auc({1, 0}, {0, 0}, 10)));
}

TEST(MetricsPak, AreaOfAPerfectDetectorIsOneAtEveryStep) {
  // F1 = 1 at every K: the area must be 1, not above it. Summing each trapezoid already scaled gave
  // 1.0000000000000004 at a step of 2.
  const std::vector<int> labels = {0, 1, 1, 0};
  for (int step : {1, 2, 4, 5, 10, 20, 25, 50, 100}) EXPECT_EQ(pak_auc(labels, labels, step), 1.0) << step;
}

TEST(MetricsPak, ExactlyKPercentIsNotMoreThanK) {
  // One segment of 90 rows with 63 detected: exactly 70 %, so K = 70 leaves it alone and K = 69 adjusts
  // it. In floating point 0.7 * 90 is 62.99999..., below 63: a K / 100 * length test would adjust at 70.
  std::vector<int> labels(90, 1), pred(90, 0);
  std::fill(pred.begin(), pred.begin() + 63, 1);
  EXPECT_EQ(point_adjust(pred, labels, 70), pred);
  EXPECT_EQ(point_adjust(pred, labels, 69), labels);
  EXPECT_NEAR(pak_f1(pred, labels, 70), 126.0 / 153.0, kTol);
}

TEST(MetricsRange, HandCase) {
  // labels    0 1 1 1 1 0 0 1 1 0   R1 = [1,4] (4 rows), R2 = [7,8] (2 rows)
  // predicted 0 0 1 0 1 1 1 1 0 0   P1 = [2,2] (1 row),  P2 = [4,7] (4 rows)
  // Overlaps: R1 n P1 = 1 row, R1 n P2 = 1 row (row 4), R2 n P2 = 1 row (row 7).
  // Recall: R1 meets 2 ranges, gamma = 1/2: overlap = 1/2 (1 + 1)/4 = 1/4; R2: overlap 1/2; both exist.
  //   alpha = 0: (1/4 + 1/2) / 2 = 3/8.
  //   alpha = 1/2: ((1/2 + 1/8) + (1/2 + 1/4)) / 2 = 11/16.
  // Precision: P1 meets R1 only: 1/1 = 1; P2 meets 2 ranges: 1/2 (1 + 1)/4 = 1/4. (1 + 1/4)/2 = 5/8.
  // F1 (alpha 0) = 2 (5/8)(3/8) / 1 = 15/32; F1 (alpha 1/2) = 2 (5/8)(11/16) / (21/16) = 55/84.
  const std::vector<int> pred = {0, 0, 1, 0, 1, 1, 1, 1, 0, 0};
  const std::vector<int> labels = {0, 1, 1, 1, 1, 0, 0, 1, 1, 0};
  PrecisionRecall m = range_metrics(pred, labels, 0.0);
  EXPECT_NEAR(m.precision, 5.0 / 8.0, kTol);
  EXPECT_NEAR(m.recall, 3.0 / 8.0, kTol);
  EXPECT_NEAR(m.f1, 15.0 / 32.0, kTol);
  m = range_metrics(pred, labels, 0.5);
  EXPECT_NEAR(m.precision, 5.0 / 8.0, kTol);
  EXPECT_NEAR(m.recall, 11.0 / 16.0, kTol);
  EXPECT_NEAR(m.f1, 55.0 / 84.0, kTol);
  m = range_metrics(labels, labels, 0.3);
  EXPECT_EQ(m.precision, 1.0);
  EXPECT_EQ(m.recall, 1.0);
  EXPECT_THROW(range_metrics(pred, labels, 1.5), lstmad::Error);
  m = range_metrics({0, 0}, {0, 1});
  EXPECT_TRUE(std::isnan(m.precision));
  EXPECT_EQ(m.recall, 0.0);
  EXPECT_EQ(m.f1, 0.0);
}

TEST(MetricsVus, BufferedLabels) {
  // buffer 4: half = 2; d = 1 -> sqrt(1 - 1/4) = sqrt(0.75), d = 2 -> sqrt(1 - 2/4) = sqrt(0.5).
  std::vector<double> y = buffered_labels({0, 0, 0, 1, 1, 0, 0, 0}, 4);
  const std::vector<double> expect = {0, std::sqrt(0.5),  std::sqrt(0.75), 1,
                                      1, std::sqrt(0.75), std::sqrt(0.5),  0};
  ASSERT_EQ(y.size(), expect.size());
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], expect[i], kTol) << i;
  // buffer 1: half = 0, the labels unchanged; buffer 2 between two runs: sqrt(.5) twice, capped at 1.
  EXPECT_EQ(buffered_labels({0, 1, 0}, 1), (std::vector<double>{0, 1, 0}));
  y = buffered_labels({1, 0, 1}, 2);
  EXPECT_EQ(y[1], 1.0);
  // At the edges the buffer is cut off.
  y = buffered_labels({1, 0, 0}, 2);
  EXPECT_NEAR(y[1], std::sqrt(0.5), kTol);
  EXPECT_EQ(y[2], 0.0);
}

namespace {
// labels 0 1 1 0 0 1 0 0: segments [1,1..2] and [5,5], P = 3, n = 8. Scores give the order
// row 1, 7, 5, 2, 0, 3, 4, 6 (all distinct).
const std::vector<int> kVusLabels = {0, 1, 1, 0, 0, 1, 0, 0};
const std::vector<double> kVusScores = {0.5, 0.9, 0.6, 0.4, 0.3, 0.7, 0.2, 0.8};
}  // namespace

TEST(MetricsVus, RangeAucBufferZeroHandCase) {
  // The VLDB 2022 definition. Buffer 0: y = labels, P_new = 3, N_new = 5, 2 segments. TPR = min(TP/3, 1) x
  // hit/2.
  //   row 1: TP 1, hit 1 -> TPR 1/6, FPR 0,   prec 1
  //   row 7:               TPR 1/6, FPR 1/5, prec 1/2
  //   row 5: TP 2, hit 2 -> TPR 2/3, FPR 1/5, prec 2/3
  //   row 2: TP 3        -> TPR 1,   FPR 1/5, prec 3/4
  //   rows 0, 3, 4, 6    -> TPR 1,   FPR 2/5 .. 1, prec 3/5, 1/2, 3/7, 3/8
  // ROC: 1/5 x 1/6 + 4/5 x 1 = 1/30 + 24/30 = 5/6 (plain ROC-AUC would be 13/15: the existence
  // factor costs the early detection of only one of two segments).
  // PR from (0, 1): 1/6 x 1 + 1/2 x (1/2 + 2/3)/2 + 1/3 x (2/3 + 3/4)/2 = 12/72 + 21/72 + 17/72 = 25/36.
  const RangeAuc r = range_auc(kVusScores, kVusLabels, 0, RangeAucDefinition::Vldb2022);
  EXPECT_NEAR(r.roc, 5.0 / 6.0, kTol);
  EXPECT_NEAR(r.pr, 25.0 / 36.0, kTol);
  EXPECT_NEAR(roc_auc(kVusScores, kVusLabels), 13.0 / 15.0, kTol);
  // TSB-AD: the same points (no buffer rows at buffer 0), and the PR curve in steps at each threshold's
  // precision: 1/6 x 1 + 1/2 x 2/3 + 1/3 x 3/4 = 3/4.
  const RangeAuc t = range_auc(kVusScores, kVusLabels, 0, RangeAucDefinition::TsbAd);
  EXPECT_NEAR(t.roc, 5.0 / 6.0, kTol);
  EXPECT_NEAR(t.pr, 3.0 / 4.0, kTol);
}

TEST(MetricsVus, RangeAucBufferTwoAndVolume) {
  // The VLDB 2022 definition. Buffer 2: half = 1, s = sqrt(1 - 1/2). Rows 0, 3 (around [1,2]) and 4, 6
  // (around [5,5]) get s: y = s 1 1 s s 1 s 0, one soft run (rows 0..6). sum y = 3 + 4s, P_new = (3 + 3 +
  // 4s)/2 = 3 + 2s, N_new = 8 - P_new = 5 - 2s. With a = 3 + 2s, b = 5 - 2s, in score order (TP, predicted):
  //   row 1 (1, 1):       TPR 1/a,       FPR 0,           prec 1
  //   row 7 (1, 2):       TPR 1/a,       FPR 1/b,         prec 1/2
  //   row 5 (2, 3):       TPR 2/a,       FPR 1/b,         prec 2/3
  //   row 2 (3, 4):       TPR 3/a,       FPR 1/b,         prec 3/4
  //   row 0 (3+s, 5):     TPR (3+s)/a,   FPR (2-s)/b,     prec (3+s)/5
  //   row 3 (3+2s, 6):    TPR 1,         FPR (3-2s)/b,    prec (3+2s)/6
  //   rows 4, 6:          TPR 1 (capped), FPR rising to (5-4s)/b, then the closing point (1, 1).
  const double s = std::sqrt(0.5), a = 3 + 2 * s, b = 5 - 2 * s;
  const double t1 = 1 / a, t3 = 3 / a, t4 = (3 + s) / a;
  const double f1 = 1 / b, f2 = (2 - s) / b, f3 = (3 - 2 * s) / b;
  const double roc = f1 * t1 + (f2 - f1) * (t3 + t4) / 2 + (f3 - f2) * (t4 + 1) / 2 + (1 - f3) * 1;
  const double pr = t1 * 1 + (2 / a - t1) * (0.5 + 2.0 / 3) / 2 + (t3 - 2 / a) * (2.0 / 3 + 0.75) / 2 +
                    (t4 - t3) * (0.75 + (3 + s) / 5) / 2 + (1 - t4) * ((3 + s) / 5 + (3 + 2 * s) / 6) / 2;
  const RangeAuc r2 = range_auc(kVusScores, kVusLabels, 2, RangeAucDefinition::Vldb2022);
  EXPECT_NEAR(r2.roc, roc, kTol);
  EXPECT_NEAR(r2.pr, pr, kTol);
  // Buffer 1 has half-width 0, so it equals buffer 0; VUS over 0..2 is the mean of three.
  const RangeAuc v = vus(kVusScores, kVusLabels, 2, RangeAucDefinition::Vldb2022);
  EXPECT_NEAR(v.roc, (5.0 / 6 + 5.0 / 6 + roc) / 3, kTol);
  EXPECT_NEAR(v.pr, (25.0 / 36 + 25.0 / 36 + pr) / 3, kTol);
}

TEST(MetricsVus, TsbAdCountsABufferRowOnlyWhereItIsDetected) {
  // labels 0 1 1 0 0 0, buffer 2: h = 1, s = sqrt(1/2), y = s 1 1 s 0 0, one range [0, 3], P = 2.
  // Scores put the buffer row 3 first: order 3, 1, 4, 2, 0, 5. P' = 2 + (detected buffer weight) / 2:
  //   row 3 (TP s,     P' 2 + s/2, 1 predicted): TPR s/(2 + s/2),     FPR (1 - s)/(4 - s/2), prec s
  //   row 1 (TP 1 + s, P' 2 + s/2, 2):           TPR (1 + s)/(2 + s/2), FPR (1 - s)/(4 - s/2), prec (1 + s)/2
  //   row 4 (outside the range, 3):              TPR as above,          FPR (2 - s)/(4 - s/2), prec (1 + s)/3
  //   row 2 (TP 2 + s, 4):                       TPR 1 (capped),        FPR (2 - s)/(4 - s/2), prec (2 + s)/4
  //   row 0 (TP 2 + 2s, P' 2 + s, 5):            TPR 1,                 FPR (3 - 2s)/(4 - s),  prec (2 +
  //   2s)/5 row 5 (6):                                 TPR 1,                 FPR (4 - 2s)/(4 - s),  prec (2
  //   + 2s)/6
  // then the closing point (1, 1).
  const std::vector<int> labels = {0, 1, 1, 0, 0, 0};
  const std::vector<double> scores = {0.5, 0.8, 0.6, 0.9, 0.7, 0.4};
  const double s = std::sqrt(0.5);
  const double t1 = s / (2 + s / 2), t2 = (1 + s) / (2 + s / 2);
  const double f1 = (1 - s) / (4 - s / 2), f3 = (2 - s) / (4 - s / 2), f5 = (3 - 2 * s) / (4 - s),
               f6 = (4 - 2 * s) / (4 - s);
  const double roc = f1 * t1 / 2 + (f3 - f1) * t2 + (f5 - f3) * 1 + (f6 - f5) * 1 + (1 - f6) * 1;
  const double pr = t1 * s + (t2 - t1) * (1 + s) / 2 + (1 - t2) * (2 + s) / 4;
  const RangeAuc r = range_auc(scores, labels, 2, RangeAucDefinition::TsbAd);
  EXPECT_NEAR(r.roc, roc, kTol);
  EXPECT_NEAR(r.pr, pr, kTol);
  // VLDB 2022 counts the undetected buffer row 0 as a positive from the start: another value.
  EXPECT_GT(std::abs(range_auc(scores, labels, 2, RangeAucDefinition::Vldb2022).pr - pr), 1e-3);
}

// A perfect detector scores 1 at every buffer length under TSB-AD; under VLDB 2022 its undetected buffer
// rows hold it below 1 from buffer 2 on.
TEST(MetricsVus, APerfectDetectorScoresOneUnderTsbAd) {
  const std::vector<int> labels = {0, 0, 1, 1, 0, 0, 0, 1, 0, 0};
  std::vector<double> scores(labels.begin(), labels.end());
  const RangeAuc t = vus(scores, labels, 6, RangeAucDefinition::TsbAd);
  EXPECT_NEAR(t.roc, 1.0, kTol);
  EXPECT_NEAR(t.pr, 1.0, kTol);
  const RangeAuc v = vus(scores, labels, 6, RangeAucDefinition::Vldb2022);
  EXPECT_LT(v.roc, 0.99);
  EXPECT_LT(v.pr, 0.99);
  // The smallest case: scores 0 1, labels 0 1, buffers 0..2.
  const RangeAuc small = vus({0, 1}, {0, 1}, 2, RangeAucDefinition::TsbAd);
  EXPECT_NEAR(small.roc, 1.0, kTol);
  EXPECT_NEAR(small.pr, 1.0, kTol);
  EXPECT_EQ(parse_range_auc_definition("tsb_ad"), RangeAucDefinition::TsbAd);
  EXPECT_STREQ(range_auc_definition_name(RangeAucDefinition::Vldb2022), "vldb2022");
  EXPECT_THROW(parse_range_auc_definition("2022"), lstmad::Error);
}

TEST(MetricsVus, PerfectDetectorAtBufferZeroAndNan) {
  const RangeAuc r = range_auc({0, 1, 1, 0}, {0, 1, 1, 0}, 0);
  EXPECT_NEAR(r.roc, 1.0, kTol);
  EXPECT_NEAR(r.pr, 1.0, kTol);
  const RangeAuc none = vus({0.1, 0.2}, {0, 0}, 4);
  EXPECT_TRUE(std::isnan(none.roc));
  EXPECT_TRUE(std::isnan(none.pr));
  EXPECT_TRUE(std::isnan(range_auc({0.1, 0.2}, {1, 1}, 0).roc));  // no negatives
  EXPECT_THROW(vus({0.1}, {0}, -1), lstmad::Error);
  EXPECT_THROW(vus({0.1}, {0}, kMaxVusBuffer + 1), lstmad::Error);
}

TEST(MetricsVus, BuffersLongerThanTheSeriesStayInsideIt) {
  // A buffer far longer than the series weighs the rows it reaches as a short one would compute them.
  const int buffer = 2000000;
  const std::vector<double> y = buffered_labels({0, 0, 1, 0}, buffer);
  EXPECT_NEAR(y[0], std::sqrt(1.0 - 2.0 / buffer), kTol);
  EXPECT_NEAR(y[1], std::sqrt(1.0 - 1.0 / buffer), kTol);
  EXPECT_EQ(y[2], 1.0);
  EXPECT_NEAR(y[3], std::sqrt(1.0 - 1.0 / buffer), kTol);
}

namespace {

// Seeded scores with many ties (values on a coarse grid) and labels in runs.
void random_case(unsigned seed, int n, std::vector<double>& scores, std::vector<int>& labels) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> grid(0, 9);
  std::uniform_real_distribution<double> u(0, 1);
  scores.assign(static_cast<size_t>(n), 0);
  labels.assign(static_cast<size_t>(n), 0);
  int state = 0;
  for (int i = 0; i < n; ++i) {
    if (u(rng) < (state ? 0.25 : 0.08)) state = 1 - state;
    labels[static_cast<size_t>(i)] = state;
    scores[static_cast<size_t>(i)] = grid(rng) / 10.0 + 0.3 * state;
  }
}

// Range-AUC straight from the definition: recompute every quantity at every distinct threshold, from
// arrays as the definition states them (VLDB 2022: the soft labels' runs and sum; TSB-AD: the labeled runs
// widened and merged where they share a row, the labels rewritten per threshold).
RangeAuc direct_range_auc(const std::vector<double>& scores, const std::vector<int>& labels, int buffer,
                          RangeAucDefinition definition) {
  const bool tsb_ad = definition == RangeAucDefinition::TsbAd;
  const int n = static_cast<int>(labels.size()), h = buffer / 2;
  const std::vector<double> y = buffered_labels(labels, buffer);
  std::vector<Segment> ranges;
  if (tsb_ad) {
    for (const Segment& r : runs_of(labels)) {
      const int a = std::max(r.start - h, 0), b = std::min(r.end + h, n - 1);
      if (!ranges.empty() && a <= ranges.back().end)
        ranges.back().end = std::max(ranges.back().end, b);
      else
        ranges.push_back({a, b});
    }
  } else {
    std::vector<int> soft(y.size());
    for (size_t i = 0; i < y.size(); ++i) soft[i] = y[i] > 0;
    ranges = runs_of(soft);
  }
  double p = 0;
  for (int l : labels) p += l != 0;
  std::set<double, std::greater<double>> thresholds(scores.begin(), scores.end());
  double px = 0, py = 0, pp = 1, roc = 0, pr = 0;
  for (double t : thresholds) {
    std::vector<double> rewritten = y;  // TSB-AD: buffer rows keep their weight only where detected
    if (tsb_ad)
      for (size_t i = 0; i < y.size(); ++i)
        rewritten[i] = labels[i] != 0 ? 1.0 : y[i] * (scores[i] >= t ? 1.0 : 0.0);
    double tp = 0, pred = 0, weight = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      weight += rewritten[i];
      if (scores[i] >= t) {
        tp += rewritten[i];
        pred += 1;
      }
    }
    const double p_new = (p + weight) / 2, n_new = static_cast<double>(n) - p_new;
    int hit = 0;
    for (const Segment& sg : ranges) {
      bool any = false;
      for (int i = sg.start; i <= sg.end; ++i) any = any || scores[static_cast<size_t>(i)] >= t;
      hit += any;
    }
    const double tpr = std::min(tp / p_new, 1.0) * hit / static_cast<double>(ranges.size());
    const double fpr = (pred - tp) / n_new, prec = tp / pred;
    roc += (fpr - px) * (tpr + py) / 2;
    pr += (tpr - py) * (tsb_ad ? prec : (prec + pp) / 2);
    px = fpr;
    py = tpr;
    pp = prec;
  }
  roc += (1 - px) * (1 + py) / 2;
  return {roc, pr};
}

}  // namespace

TEST(MetricsCrossCheck, RocAucEqualsMannWhitneyWithTies) {
  for (unsigned seed = 1; seed <= 5; ++seed) {
    std::vector<double> s;
    std::vector<int> l;
    random_case(seed, 300, s, l);
    double wins = 0, pos = 0, neg = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      pos += l[i];
      neg += !l[i];
      if (!l[i]) continue;
      for (size_t j = 0; j < s.size(); ++j)
        if (!l[j]) wins += s[i] > s[j] ? 1.0 : (s[i] == s[j] ? 0.5 : 0.0);
    }
    ASSERT_GT(pos, 0);
    ASSERT_GT(neg, 0);
    const double auc = roc_auc(s, l);
    EXPECT_GT(auc, 0.5);  // the labels raise the scores, so the case is not trivial
    EXPECT_NEAR(auc, wins / (pos * neg), 1e-12) << "seed " << seed;
  }
}

TEST(MetricsCrossCheck, SweepsMatchDirectEvaluation) {
  for (unsigned seed = 11; seed <= 14; ++seed) {
    std::vector<double> s;
    std::vector<int> l;
    random_case(seed, 250, s, l);
    // best F1 and AP against per-threshold recomputation.
    std::set<double, std::greater<double>> thresholds(s.begin(), s.end());
    double best = -1, best_t = 0, ap = 0, prev_r = 0;
    for (double t : thresholds) {
      const PrecisionRecall m = point_metrics(detections_at(s, t), l);
      if (m.f1 > best) {
        best = m.f1;
        best_t = t;
      }
      ap += (m.recall - prev_r) * m.precision;
      prev_r = m.recall;
    }
    const BestF1 b = best_f1(s, l);
    EXPECT_EQ(b.f1, best);  // both 2TP / (2TP + FP + FN) from the counts: the same bits
    EXPECT_EQ(b.threshold, best_t);
    EXPECT_NEAR(average_precision(s, l), ap, 1e-12);
    for (int buffer : {0, 3, 8, 21})
      for (const auto def : {RangeAucDefinition::TsbAd, RangeAucDefinition::Vldb2022}) {
        const RangeAuc fast = range_auc(s, l, buffer, def), slow = direct_range_auc(s, l, buffer, def);
        const std::string where = "seed " + std::to_string(seed) + " buffer " + std::to_string(buffer) + " " +
                                  range_auc_definition_name(def);
        EXPECT_NEAR(fast.roc, slow.roc, 1e-12) << where;
        EXPECT_NEAR(fast.pr, slow.pr, 1e-12) << where;
        EXPECT_GT(fast.roc, 0.0);
        EXPECT_GT(fast.pr, 0.0);
      }
  }
}

namespace {

// Range-AUC written out plainly from docs/metrics.md for one buffer length: soft labels added run by run,
// a range index per row, then one pass over the distinct thresholds, every row visited at every buffer.
RangeAuc plain_range_auc(const std::vector<double>& scores, const std::vector<int>& labels, int buffer,
                         bool tsb_ad) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const int n = static_cast<int>(labels.size()), h = buffer / 2;
  std::vector<std::pair<int, int>> runs;  // [first, last]
  for (int i = 0; i < n; ++i)
    if (labels[static_cast<size_t>(i)] != 0) {
      if (i > 0 && labels[static_cast<size_t>(i - 1)] != 0)
        runs.back().second = i;
      else
        runs.push_back({i, i});
    }
  double p = 0;
  for (int l : labels) p += l != 0 ? 1 : 0;
  if (p == 0) return {nan, nan};
  std::vector<double> y(labels.size(), 0.0);
  for (int i = 0; i < n; ++i) y[static_cast<size_t>(i)] = labels[static_cast<size_t>(i)] != 0 ? 1 : 0;
  for (const auto& [a, b] : runs)
    for (int d = 1; d <= h; ++d) {
      const double w = std::sqrt(1.0 - static_cast<double>(d) / buffer);
      if (a - d >= 0) y[static_cast<size_t>(a - d)] += w;
      if (b + d < n) y[static_cast<size_t>(b + d)] += w;
    }
  for (double& v : y) v = std::min(v, 1.0);
  std::vector<int> range(labels.size(), -1);
  int ranges = 0;
  if (tsb_ad) {  // each run widened by h, merged with the previous range where they share a row
    int previous_last = -1;
    for (const auto& [a, b] : runs) {
      const int first = std::max(a - h, 0), last = std::min(b + h, n - 1);
      if (ranges == 0 || first > previous_last) ++ranges;
      for (int i = first; i <= last; ++i) range[static_cast<size_t>(i)] = ranges - 1;
      previous_last = last;
    }
  } else {  // runs of y > 0
    for (int i = 0; i < n; ++i)
      if (y[static_cast<size_t>(i)] > 0) {
        if (i == 0 || y[static_cast<size_t>(i - 1)] <= 0) ++ranges;
        range[static_cast<size_t>(i)] = ranges - 1;
      }
  }
  double buffer_weight = 0;  // B: all buffer rows (VLDB 2022), or the detected ones so far (TSB-AD)
  if (!tsb_ad)
    for (int i = 0; i < n; ++i)
      if (labels[static_cast<size_t>(i)] == 0) buffer_weight += y[static_cast<size_t>(i)];
  std::map<double, std::vector<int>, std::greater<double>> rows_at;
  for (int i = 0; i < n; ++i) rows_at[scores[static_cast<size_t>(i)]].push_back(i);
  std::vector<bool> range_hit(static_cast<size_t>(ranges), false);
  double tp = 0, detected = 0, hit = 0;
  double last_fpr = 0, last_tpr = 0, last_precision = 1, roc = 0, pr = 0;
  for (const auto& [threshold, rows] : rows_at) {
    for (int i : rows) {
      const size_t r = static_cast<size_t>(i);
      detected += 1;
      tp += y[r];
      if (tsb_ad && labels[r] == 0) buffer_weight += y[r];
      if (range[r] >= 0 && !range_hit[static_cast<size_t>(range[r])]) {
        range_hit[static_cast<size_t>(range[r])] = true;
        hit += 1;
      }
    }
    const double positives = p + buffer_weight / 2;
    const double tpr = std::min(tp / positives, 1.0) * hit / ranges;
    const double fpr = (detected - tp) / (n - positives);
    const double precision = tp / detected;
    roc += (fpr - last_fpr) * (tpr + last_tpr) / 2;
    pr += (tpr - last_tpr) * (tsb_ad ? precision : (precision + last_precision) / 2);
    last_fpr = fpr;
    last_tpr = tpr;
    last_precision = precision;
  }
  roc += (1 - last_fpr) * (1 + last_tpr) / 2;
  return {p < n ? roc : nan, pr};
}

// Labels in runs of random lengths with gaps of 1..3 rows as often as long ones (ranges that touch or
// merge at small buffers), often starting at row 0 or ending at the last row; scores on a grid of a few
// values (many ties) or continuous, higher on average inside the runs.
void random_vus_case(std::mt19937& rng, std::vector<double>& scores, std::vector<int>& labels) {
  const int n = 1 + static_cast<int>(rng() % 300);
  labels.assign(static_cast<size_t>(n), 0);
  int i = rng() % 3 == 0 ? 0 : static_cast<int>(rng() % 40);
  while (i < n) {
    const int length = 1 + static_cast<int>(rng() % (rng() % 2 ? 4 : 25));
    for (int k = i; k < std::min(n, i + length); ++k) labels[static_cast<size_t>(k)] = 1;
    i += length + 1 + static_cast<int>(rng() % (rng() % 2 ? 3 : 60));
  }
  if (rng() % 10 == 0) std::fill(labels.begin(), labels.end(), rng() % 2);  // none or all labeled
  const int levels = rng() % 2 ? 2 + static_cast<int>(rng() % 4) : 0;       // 0: continuous
  std::uniform_real_distribution<double> u(0, 1);
  scores.resize(labels.size());
  for (size_t r = 0; r < scores.size(); ++r) {
    const double v = u(rng) + (labels[r] ? 0.4 : 0.0);
    scores[r] = levels > 0 ? std::floor(v / 1.4 * levels) : v;
  }
}

void expect_same(double fast, double plain, const std::string& where) {
  if (std::isnan(plain)) {
    EXPECT_TRUE(std::isnan(fast)) << where;
    return;
  }
  EXPECT_NEAR(fast, plain, 1e-12 * std::abs(plain)) << where;
}

}  // namespace

// vus and range_auc against the plain sweep, over buffers up to 40 (longer than many of the series).
TEST(MetricsCrossCheck, VusMatchesAPlainSweepOfEveryBuffer) {
  std::mt19937 rng(2024);
  for (int c = 0; c < 300; ++c) {
    std::vector<double> s;
    std::vector<int> l;
    random_vus_case(rng, s, l);
    const int max_buffer = static_cast<int>(rng() % 41);
    for (const auto def : {RangeAucDefinition::TsbAd, RangeAucDefinition::Vldb2022}) {
      const bool tsb_ad = def == RangeAucDefinition::TsbAd;
      const std::string where = "case " + std::to_string(c) + " n " + std::to_string(s.size()) + " " +
                                range_auc_definition_name(def) + " L " + std::to_string(max_buffer);
      double roc = 0, pr = 0;
      for (int b = 0; b <= max_buffer; ++b) {
        const RangeAuc plain = plain_range_auc(s, l, b, tsb_ad);
        roc += plain.roc;
        pr += plain.pr;
        if (b % 7 == c % 7) {
          const RangeAuc fast = range_auc(s, l, b, def);
          expect_same(fast.roc, plain.roc, where + " buffer " + std::to_string(b));
          expect_same(fast.pr, plain.pr, where + " buffer " + std::to_string(b));
        }
      }
      const RangeAuc fast = vus(s, l, max_buffer, def);
      expect_same(fast.roc, roc / (max_buffer + 1), where);
      expect_same(fast.pr, pr / (max_buffer + 1), where);
    }
  }
}

// One sort for the four curve metrics gives what four separate calls give.
TEST(MetricsCrossCheck, CurveMetricsEqualTheSeparateCalls) {
  std::mt19937 rng(77);
  for (int c = 0; c < 40; ++c) {
    std::vector<double> s;
    std::vector<int> l;
    random_vus_case(rng, s, l);
    const auto def = c % 2 ? RangeAucDefinition::TsbAd : RangeAucDefinition::Vldb2022;
    const int max_buffer = static_cast<int>(rng() % 30);
    const CurveMetrics m = curve_metrics(s, l, max_buffer, def);
    const BestF1 best = best_f1(s, l);
    const RangeAuc v = vus(s, l, max_buffer, def);
    const std::vector<std::pair<double, double>> pairs = {
        {m.best_f1.f1, best.f1},    {m.best_f1.threshold, best.threshold},
        {m.roc_auc, roc_auc(s, l)}, {m.pr_auc, average_precision(s, l)},
        {m.vus.roc, v.roc},         {m.vus.pr, v.pr}};
    for (size_t k = 0; k < pairs.size(); ++k) {
      if (std::isnan(pairs[k].second))
        EXPECT_TRUE(std::isnan(pairs[k].first)) << "case " << c << " value " << k;
      else
        EXPECT_EQ(pairs[k].first, pairs[k].second) << "case " << c << " value " << k;
    }
  }
  EXPECT_THROW(curve_metrics({0.1}, {0}, -1), lstmad::Error);
  EXPECT_THROW(curve_metrics({0.1, 0.2}, {0}, 0), lstmad::Error);
}

TEST(MetricsSeries, NamesOrderAndValues) {
  const std::vector<double> scores = {0.9, 0.8, 0.8, 0.3, 0.2, 0.1};
  const std::vector<int> labels = {1, 0, 1, 1, 0, 0};
  SeriesMetricOptions o;
  o.threshold = 0.8;
  o.vus_max_buffer = 4;
  const NamedMetrics m = evaluate_series(scores, labels, o);
  ASSERT_EQ(m.size(), series_metric_names().size());
  for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i].first, series_metric_names()[i]);
  // At t = 0.8 the detections are rows 0..2: TP 2, FP 1, FN 1 -> P = R = F1 = 2/3.
  EXPECT_NEAR(metric_value(m, "point_precision"), 2.0 / 3.0, kTol);
  EXPECT_NEAR(metric_value(m, "point_f1"), 2.0 / 3.0, kTol);
  EXPECT_NEAR(metric_value(m, "best_f1"), 6.0 / 7.0, kTol);
  EXPECT_EQ(metric_value(m, "best_f1_threshold"), 0.3);
  // Events: true [0,0] [2,3], predicted [0,2] overlaps both: P = R = 1.
  EXPECT_EQ(metric_value(m, "event_f1"), 1.0);
  // PA: [2,3] has 1 of 2 detected -> fully detected; TP 3, FP 1 -> F1 = 6/7.
  EXPECT_NEAR(metric_value(m, "pa_f1"), 6.0 / 7.0, kTol);
  // pak_f1 at K = 20: 1 > 0.4 -> same as PA.
  EXPECT_NEAR(metric_value(m, "pak_f1"), 6.0 / 7.0, kTol);
  EXPECT_NEAR(metric_value(m, "roc_auc"), 5.0 / 6.0, kTol);
  EXPECT_NEAR(metric_value(m, "pr_auc"), 29.0 / 36.0, kTol);
  EXPECT_NEAR(metric_value(m, "vus_roc"), vus(scores, labels, 4).roc, kTol);
  EXPECT_THROW(metric_value(m, "nope"), lstmad::Error);

  const NamedMetrics d = evaluate_detections(detections_at(scores, 0.8), labels, o);
  ASSERT_EQ(d.size(), detection_metric_names().size());
  for (size_t i = 0; i < d.size(); ++i) {
    EXPECT_EQ(d[i].first, detection_metric_names()[i]);
    EXPECT_EQ(d[i].second, metric_value(m, d[i].first)) << d[i].first;
  }
}

TEST(MetricsSeries, FirstRowAndNanConventions) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  SeriesMetricOptions o;
  o.vus_max_buffer = 2;
  // The first two rows are unscored (NaN) and dropped; the rest is the hand case above.
  const NamedMetrics m =
      evaluate_series({nan, nan, 0.9, 0.8, 0.8, 0.3, 0.2, 0.1}, {1, 1, 1, 0, 1, 1, 0, 0}, o, 2);
  EXPECT_NEAR(metric_value(m, "roc_auc"), 5.0 / 6.0, kTol);
  EXPECT_THROW(evaluate_series({nan, 0.5}, {0, 1}, o, 0), lstmad::Error);
  EXPECT_THROW(evaluate_series({0.5}, {0, 1}, o, 0), lstmad::Error);
  EXPECT_THROW(evaluate_series({0.5, 0.1}, {0, 1}, o, 3), lstmad::Error);
  SeriesMetricOptions bad = o;
  bad.range_alpha = -0.1;
  EXPECT_THROW(evaluate_series({0.5, 0.1}, {0, 1}, bad, 0), lstmad::Error);
  // A NaN threshold detects nothing without a word; +-inf are thresholds (all rows, no row).
  SeriesMetricOptions nan_threshold = o;
  nan_threshold.threshold = nan;
  EXPECT_THROW(evaluate_series({0.5, 0.1}, {0, 1}, nan_threshold, 0), lstmad::Error);
  nan_threshold.threshold = -std::numeric_limits<double>::infinity();
  EXPECT_EQ(metric_value(evaluate_series({0.5, 0.1}, {0, 1}, nan_threshold, 0), "point_recall"), 1.0);

  // Nothing left to score (first_row == n): every value is NaN.
  for (const auto& [name, value] : evaluate_series({0.1, 0.2}, {1, 0}, o, 2))
    EXPECT_TRUE(std::isnan(value)) << name;

  // No anomalies: every label-dependent value is NaN; precisions are 0 when something was detected.
  const NamedMetrics clean = evaluate_series({0.9, 0.1, 0.2}, {0, 0, 0}, o);
  for (const auto& [name, value] : clean) {
    if (name == "point_precision" || name == "event_precision" || name == "range_precision")
      EXPECT_EQ(value, 0.0) << name;
    else
      EXPECT_TRUE(std::isnan(value)) << name;
  }
}

TEST(MetricsSeries, TwentyThousandRowsStayCheap) {
  std::vector<double> s;
  std::vector<int> l;
  random_case(99, 20000, s, l);
  SeriesMetricOptions o;
  o.vus_max_buffer = 100;
  const NamedMetrics m = evaluate_series(s, l, o);
  // The UCR score is defined for one anomaly only; this case has many.
  for (const auto& [name, value] : m)
    EXPECT_EQ(std::isfinite(value), name != "ucr_score") << name << " = " << value;
  EXPECT_GT(metric_value(m, "vus_roc"), 0.5);
}

// ---- affiliation (Huet et al. 2022): row i is the time [i, i + 1) ----

TEST(MetricsAffiliation, OneEventAndOnePredictionByHand) {
  // 20 rows, event J = [10, 11) (row 10), zone E = [0, 20), prediction [15, 16) (row 15).
  // Precision: x in [15, 16) lies d = x - 11 in [4, 5) from J; P(dist(X, J) >= d) for X uniform in E is
  // (10 - d + 9 - d) / 20, whose mean over d in [4, 5) is (19 - 9) / 20 = 0.5.
  // Recall: y in [10, 11) lies 15 - y from the prediction and at least 9 from E's ends, so
  // P(|y - X| >= 15 - y) = 1 - 2 (15 - y) / 20, whose mean over y in [10, 11) is 1 - 4.5 / 10 = 0.55.
  std::vector<int> labels(20, 0), pred(20, 0);
  labels[10] = 1;
  pred[15] = 1;
  const PrecisionRecall m = affiliation_metrics(pred, labels);
  EXPECT_NEAR(m.precision, 0.5, kTol);
  EXPECT_NEAR(m.recall, 0.55, kTol);
  EXPECT_NEAR(m.f1, 2 * 0.5 * 0.55 / 1.05, kTol);
}

TEST(MetricsAffiliation, ExactAndEverywherePredictions) {
  std::vector<int> labels(10, 0);
  labels[4] = labels[5] = 1;
  PrecisionRecall m = affiliation_metrics(labels, labels);
  EXPECT_NEAR(m.precision, 1.0, kTol);
  EXPECT_NEAR(m.recall, 1.0, kTol);
  // Every row predicted: recall 1, but precision is the mean over E of P(dist(X, J) >= dist(x, J)): 1 on
  // J (|J| / |E| = 0.2 of the time) and uniform on [0, 0.8) elsewhere: 0.2 + 0.8 * 0.4 = 0.52.
  m = affiliation_metrics(std::vector<int>(10, 1), labels);
  EXPECT_NEAR(m.precision, 0.52, kTol);
  EXPECT_NEAR(m.recall, 1.0, kTol);
}

TEST(MetricsAffiliation, NanConventions) {
  PrecisionRecall m = affiliation_metrics({0, 0, 0, 0}, {0, 1, 1, 0});
  EXPECT_TRUE(std::isnan(m.precision));
  EXPECT_EQ(m.recall, 0.0);
  EXPECT_EQ(m.f1, 0.0);
  m = affiliation_metrics({1, 0, 0, 0}, {0, 0, 0, 0});  // no events, no zones
  EXPECT_TRUE(std::isnan(m.precision));
  EXPECT_TRUE(std::isnan(m.recall));
  EXPECT_TRUE(std::isnan(m.f1));
}

namespace {

// The definitions integrated numerically on a fine grid (midpoint rule, `steps` points per row), each
// survival function measured directly as the length of the zone that is at least d away.
PrecisionRecall affiliation_by_grid(const std::vector<int>& pred, const std::vector<int>& labels, int steps) {
  const auto truth = runs_of(labels);
  const int n = static_cast<int>(labels.size());
  double psum = 0, rsum = 0;
  int pzones = 0;
  for (size_t j = 0; j < truth.size(); ++j) {
    const double jl = truth[j].start, jh = truth[j].end + 1.0;
    const double el = j == 0 ? 0.0 : 0.5 * (truth[j - 1].end + 1.0 + jl);
    const double eh = j + 1 == truth.size() ? n : 0.5 * (jh + truth[j + 1].start);
    const double len = eh - el;
    auto in_pred = [&](double t) {
      const int row = static_cast<int>(std::floor(t));
      return t >= el && t < eh && row >= 0 && row < n && pred[static_cast<size_t>(row)] != 0;
    };
    double ptime = 0, pint = 0;
    for (int i = 0; i < n * steps; ++i) {
      const double x = (i + 0.5) / steps;
      if (!in_pred(x)) continue;
      ptime += 1.0 / steps;
      const double d = x < jl ? jl - x : (x > jh ? x - jh : 0.0);
      const double f = d == 0 ? 1.0 : (std::max(0.0, (jl - el) - d) + std::max(0.0, (eh - jh) - d)) / len;
      pint += f / steps;
    }
    if (ptime == 0) continue;
    psum += pint / ptime;
    ++pzones;
    double rint = 0;
    for (int i = 0; i < static_cast<int>((jh - jl) * steps); ++i) {
      const double y = jl + (i + 0.5) / steps;
      double d = std::numeric_limits<double>::infinity();
      for (int k = 0; k < n * steps; ++k) {
        const double x = (k + 0.5) / steps;
        if (in_pred(x)) d = std::min(d, std::abs(x - y));
      }
      const double f = (std::max(0.0, y - d - el) + std::max(0.0, eh - (y + d))) / len;
      rint += f / steps;
    }
    rsum += rint / (jh - jl);
  }
  PrecisionRecall r;
  r.precision = pzones ? psum / pzones : std::numeric_limits<double>::quiet_NaN();
  r.recall = rsum / static_cast<double>(truth.size());
  return r;
}

}  // namespace

// Several events (zones cut at the midpoints between them), predictions inside, across zone borders and
// far from any event, zones without predictions: the exact piecewise integration against the grid.
TEST(MetricsAffiliation, MatchesTheDefinitionsIntegratedOnAFineGrid) {
  std::mt19937 rng(7);
  for (int c = 0; c < 12; ++c) {
    const int n = 40 + static_cast<int>(rng() % 30);
    std::vector<int> labels(static_cast<size_t>(n), 0), pred(static_cast<size_t>(n), 0);
    for (int e = 0; e < 3; ++e) {
      const int s = static_cast<int>(rng() % static_cast<unsigned>(n - 4));
      for (int i = s; i < s + 1 + static_cast<int>(rng() % 4); ++i) labels[static_cast<size_t>(i)] = 1;
    }
    for (int i = 0; i < n; ++i) pred[static_cast<size_t>(i)] = rng() % 6 == 0;
    if (c % 4 == 0) std::fill(pred.begin(), pred.begin() + n / 2, 0);  // a zone with no prediction
    const PrecisionRecall exact = affiliation_metrics(pred, labels);
    const PrecisionRecall grid = affiliation_by_grid(pred, labels, 40);
    EXPECT_NEAR(exact.precision, grid.precision, 2e-3) << "case " << c;
    EXPECT_NEAR(exact.recall, grid.recall, 2e-3) << "case " << c;
    EXPECT_GE(exact.precision, 0.0);
    EXPECT_LE(exact.recall, 1.0);
  }
}

namespace {

// The definitions by the midpoint rule on quarter rows. Every breakpoint of both integrands is a multiple
// of 1/4 (event ends, zone borders at midpoints between events, the midpoint between two predictions,
// where a distance reaches the zone's edge), so each integrand is linear on every quarter row and the
// rule is exact up to rounding.
PrecisionRecall affiliation_by_quarters(const std::vector<int>& pred, const std::vector<int>& labels) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto truth = runs_of(labels), predicted = runs_of(pred);
  if (truth.empty()) return {nan, nan, nan};
  const double n = static_cast<double>(labels.size());
  double psum = 0, rsum = 0;
  int pzones = 0;
  for (size_t j = 0; j < truth.size(); ++j) {
    const double jl = truth[j].start, jh = truth[j].end + 1.0;
    const double el = j == 0 ? 0.0 : 0.5 * (truth[j - 1].end + 1.0 + jl);
    const double eh = j + 1 == truth.size() ? n : 0.5 * (jh + truth[j + 1].start);
    const double len = eh - el;
    std::vector<std::pair<double, double>> parts;  // the predictions cut to the zone
    for (const Segment& p : predicted) {
      const double lo = std::max<double>(p.start, el), hi = std::min(p.end + 1.0, eh);
      if (lo < hi) parts.push_back({lo, hi});
    }
    if (parts.empty()) continue;
    double ptime = 0, pint = 0;
    for (const auto& [lo, hi] : parts)
      for (double x = lo + 0.125; x < hi; x += 0.25) {
        const double d = x < jl ? jl - x : (x > jh ? x - jh : 0.0);
        ptime += 0.25;
        pint += 0.25 * (d == 0 ? 1.0 : (std::max(0.0, jl - el - d) + std::max(0.0, eh - jh - d)) / len);
      }
    psum += pint / ptime;
    ++pzones;
    double rint = 0;
    for (double y = jl + 0.125; y < jh; y += 0.25) {
      double d = std::numeric_limits<double>::infinity();
      for (const auto& [lo, hi] : parts) d = std::min(d, y < lo ? lo - y : (y > hi ? y - hi : 0.0));
      rint += 0.25 * (std::max(0.0, y - d - el) + std::max(0.0, eh - y - d)) / len;
    }
    rsum += rint / (jh - jl);
  }
  return {pzones ? psum / pzones : nan, rsum / static_cast<double>(truth.size()), 0};
}

}  // namespace

// Many events and predictions, including predictions spanning several zones, zones without any,
// events at the ends and every row predicted, against the exact quarter-row sums.
TEST(MetricsAffiliation, MatchesQuarterRowSumsOnRandomCases) {
  std::mt19937 rng(31);
  for (int c = 0; c < 300; ++c) {
    const int n = 1 + static_cast<int>(rng() % 300);
    std::vector<int> labels(static_cast<size_t>(n), 0), pred(static_cast<size_t>(n), 0);
    auto fill_runs = [&](std::vector<int>& v, int max_length, int max_gap) {
      for (int i = rng() % 3 == 0 ? 0 : static_cast<int>(rng() % static_cast<unsigned>(max_gap)); i < n;) {
        const int length = 1 + static_cast<int>(rng() % static_cast<unsigned>(max_length));
        for (int k = i; k < std::min(n, i + length); ++k) v[static_cast<size_t>(k)] = 1;
        i += length + 1 + static_cast<int>(rng() % static_cast<unsigned>(max_gap));
      }
    };
    fill_runs(labels, 1 + static_cast<int>(rng() % 10), 2 + static_cast<int>(rng() % 40));
    switch (c % 4) {
      case 0:
        fill_runs(pred, 1 + static_cast<int>(rng() % 4), 2 + static_cast<int>(rng() % 10));
        break;
      case 1:
        fill_runs(pred, 20 + static_cast<int>(rng() % 80), 2 + static_cast<int>(rng() % 30));
        break;
      case 2:
        fill_runs(pred, 1 + static_cast<int>(rng() % 6), 40 + static_cast<int>(rng() % 100));
        break;
      default:
        std::fill(pred.begin(), pred.end(), rng() % 4 != 0);
        break;  // all or nothing
    }
    const PrecisionRecall exact = affiliation_metrics(pred, labels);
    const PrecisionRecall sums = affiliation_by_quarters(pred, labels);
    const std::string where = "case " + std::to_string(c) + " n " + std::to_string(n);
    EXPECT_EQ(std::isnan(exact.precision), std::isnan(sums.precision)) << where;
    EXPECT_EQ(std::isnan(exact.recall), std::isnan(sums.recall)) << where;
    if (!std::isnan(sums.precision)) {
      EXPECT_NEAR(exact.precision, sums.precision, 1e-10) << where;
    }
    if (!std::isnan(sums.recall)) {
      EXPECT_NEAR(exact.recall, sums.recall, 1e-10) << where;
    }
  }
}

TEST(MetricsUcr, TopScoreWithinTheMarginOfTheOneAnomaly) {
  // 400 rows, the anomaly is rows [200, 209] (w = 10).
  std::vector<int> labels(400, 0);
  for (int i = 200; i <= 209; ++i) labels[static_cast<size_t>(i)] = 1;
  auto peak_at = [](int row) {
    std::vector<double> s(400, 0.1);
    s[static_cast<size_t>(row)] = 0.9;
    return s;
  };
  // Tolerance 100 > w: the margin is 100 rows, so [100, 309] hits.
  EXPECT_EQ(ucr_score(peak_at(205), labels, 100), 1.0);
  EXPECT_EQ(ucr_score(peak_at(100), labels, 100), 1.0);
  EXPECT_EQ(ucr_score(peak_at(99), labels, 100), 0.0);
  EXPECT_EQ(ucr_score(peak_at(309), labels, 100), 1.0);
  EXPECT_EQ(ucr_score(peak_at(310), labels, 100), 0.0);
  // Tolerance 0: the margin is w = 10 rows, [190, 219].
  EXPECT_EQ(ucr_score(peak_at(190), labels, 0), 1.0);
  EXPECT_EQ(ucr_score(peak_at(189), labels, 0), 0.0);
  EXPECT_EQ(ucr_score(peak_at(219), labels, 0), 1.0);
  EXPECT_EQ(ucr_score(peak_at(220), labels, 0), 0.0);
  // A long anomaly widens its own margin: w = 150 > 100.
  std::vector<int> wide(400, 0);
  for (int i = 200; i <= 349; ++i) wide[static_cast<size_t>(i)] = 1;
  EXPECT_EQ(ucr_score(peak_at(50), wide, 100), 1.0);
  EXPECT_EQ(ucr_score(peak_at(49), wide, 100), 0.0);
}

TEST(MetricsUcr, TiesGoToTheEarliestRowAndOnlyOneAnomalyIsScored) {
  std::vector<int> labels(400, 0);
  for (int i = 300; i <= 304; ++i) labels[static_cast<size_t>(i)] = 1;
  std::vector<double> s(400, 0.0);
  s[10] = 1.0;   // an early saturated score ...
  s[302] = 1.0;  // ... ties with the one at the anomaly: the earliest row is t*
  EXPECT_EQ(ucr_score(s, labels, 100), 0.0);
  s[10] = 0.999;
  EXPECT_EQ(ucr_score(s, labels, 100), 1.0);
  // Infinite scores are allowed and win.
  s[0] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ucr_score(s, labels, 100), 0.0);
  // No anomaly, or two: the score is undefined.
  EXPECT_TRUE(std::isnan(ucr_score(s, std::vector<int>(400, 0), 100)));
  std::vector<int> two = labels;
  two[100] = 1;
  EXPECT_TRUE(std::isnan(ucr_score(s, two, 100)));
  EXPECT_THROW(ucr_score(s, labels, -1), lstmad::Error);
  s[5] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(ucr_score(s, labels, 100), lstmad::Error);
}

TEST(MetricsUcr, EvaluateSeriesReportsItAfterFirstRow) {
  // The scored part starts at row 3; the anomaly is row 8 (row 5 of the scored part). The highest score
  // overall is in the unscored prefix, which does not count.
  std::vector<double> scores = {9.0, 9.0, 9.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.5, 0.1};
  std::vector<int> labels = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
  SeriesMetricOptions o;
  o.vus_max_buffer = 2;
  o.ucr_tolerance = 0;  // margin w = 1: rows 7 .. 9
  EXPECT_EQ(metric_value(evaluate_series(scores, labels, o, 3), "ucr_score"), 1.0);
  scores[4] = 0.6;  // now the top is row 4, four rows early
  EXPECT_EQ(metric_value(evaluate_series(scores, labels, o, 3), "ucr_score"), 0.0);
  o.ucr_tolerance = 4;
  EXPECT_EQ(metric_value(evaluate_series(scores, labels, o, 3), "ucr_score"), 1.0);
  o.ucr_tolerance = -1;
  EXPECT_THROW(evaluate_series(scores, labels, o, 3), lstmad::Error);
}
