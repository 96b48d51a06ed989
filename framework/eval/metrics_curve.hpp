// Threshold-free metrics of real-valued anomaly scores against binary labels (nonzero = anomalous), one
// entry per row: best F1 over all thresholds, ROC-AUC, PR-AUC (average precision), and the range-aware
// Range-AUC / VUS of Paparrizos et al. (VLDB 2022; as TSB-AD computes it by default), and the UCR score of
// the UCR anomaly archive. Every curve is swept over all distinct score values (a row is a detection when
// score >= threshold, tied rows enter together), after one sort: O(n log n), plus, for VUS, per buffer
// length the rows within the largest buffer's half-width of a labeled run (the only rows that can be
// positives). Definitions and NaN conventions are in docs/metrics.md.
#pragma once
#include <string>
#include <vector>

namespace lstmad::metrics {

struct BestF1 {
  double f1 = 0;
  double threshold = 0;  // the highest threshold reaching the best F1
};
// Point-wise F1 maximised over thresholds t in the set of score values (detections: score >= t).
BestF1 best_f1(const std::vector<double>& scores, const std::vector<int>& labels);

// Area under the ROC curve: trapezoids between the (FPR, TPR) points of successive distinct thresholds,
// from (0, 0) to (1, 1); tied scores give a diagonal step (the Mann-Whitney convention).
double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels);
// Average precision: sum over distinct thresholds of (recall gain) x (precision at that threshold), a
// step function with no interpolation (as scikit-learn's average_precision_score).
double average_precision(const std::vector<double>& scores, const std::vector<int>& labels);

// Soft labels for buffer length `buffer` (>= 0): 1 inside every labeled run; at distance d = 1 ..
// floor(buffer / 2) before a run's start or after its end, sqrt(1 - d / buffer) added; capped at 1.
std::vector<double> buffered_labels(const std::vector<int>& labels, int buffer);

struct RangeAuc {
  double roc = 0;
  double pr = 0;
};
// Which Range-AUC: the definition of the VUS authors' current code (TSB-AD, the benchmark the field now
// reports VUS-PR from: a buffer row counts as a positive only where it is detected, existence over the
// buffered ranges that overlap, a step-wise PR curve), or that of their VLDB 2022 paper and its code (every
// buffer row a positive, existence over the runs of buffered labels, trapezoids under the PR curve).
// docs/metrics.md has both.
enum class RangeAucDefinition { TsbAd, Vldb2022 };
// Its name in a config ("tsb_ad", "vldb2022"), and back (an Error naming the valid ones).
const char* range_auc_definition_name(RangeAucDefinition d);
RangeAucDefinition parse_range_auc_definition(const std::string& name);
// Range-AUC-ROC and Range-AUC-PR for one buffer length (see docs/metrics.md for TPR, FPR, precision).
RangeAuc range_auc(const std::vector<double>& scores, const std::vector<int>& labels, int buffer,
                   RangeAucDefinition definition = RangeAucDefinition::TsbAd);
// VUS-ROC and VUS-PR: the mean of range_auc over buffer lengths 0, 1, ..., max_buffer (at most
// kMaxVusBuffer: each length is one pass over the rows within max_buffer / 2 of a labeled run).
constexpr int kMaxVusBuffer = 10000000;
RangeAuc vus(const std::vector<double>& scores, const std::vector<int>& labels, int max_buffer,
             RangeAucDefinition definition = RangeAucDefinition::TsbAd);

// best_f1, roc_auc, average_precision (pr_auc) and vus of one series from one sort of its scores, the
// larger part of the cost of the first three; equal to the four calls.
struct CurveMetrics {
  BestF1 best_f1;
  double roc_auc = 0;
  double pr_auc = 0;
  RangeAuc vus;
};
CurveMetrics curve_metrics(const std::vector<double>& scores, const std::vector<int>& labels,
                           int vus_max_buffer, RangeAucDefinition vus_definition = RangeAucDefinition::TsbAd);

// The UCR score (Wu and Keogh; with the tolerance of Rewicki et al. 2023), for a series with exactly one
// labeled run [b, e] of length w: 1 when t*, the first row holding the highest score, lies in
// [b - m, e + m] with m = max(w, tolerance), else 0. NaN when the labels hold no run or more than one.
// Ties at the top go to the earliest row (numpy's argmax), so a score that saturates early is not
// rewarded for also saturating at the anomaly. tolerance >= 0.
double ucr_score(const std::vector<double>& scores, const std::vector<int>& labels, int tolerance);

}  // namespace lstmad::metrics
