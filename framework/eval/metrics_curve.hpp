// Threshold-free metrics of real-valued anomaly scores against binary labels (nonzero = anomalous), one
// entry per row: best F1 over all thresholds, ROC-AUC, PR-AUC (average precision), and the range-aware
// Range-AUC / VUS of Paparrizos et al. (VLDB 2022). Every curve is swept over all distinct score values
// (a row is a detection when score >= threshold, tied rows enter together), after one sort: O(n log n),
// plus O(n) per buffer length for VUS. Definitions and NaN conventions are in docs/metrics.md.
#pragma once
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
// Range-AUC-ROC and Range-AUC-PR for one buffer length (see docs/metrics.md for TPR, FPR, precision).
RangeAuc range_auc(const std::vector<double>& scores, const std::vector<int>& labels, int buffer);
// VUS-ROC and VUS-PR: the mean of range_auc over buffer lengths 0, 1, ..., max_buffer.
RangeAuc vus(const std::vector<double>& scores, const std::vector<int>& labels, int max_buffer);

}  // namespace lstmad::metrics
