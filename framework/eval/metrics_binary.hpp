// Metrics of binary detections against binary labels, both one entry per row (nonzero = anomalous):
// point-wise, event-wise (overlap counting of Hundman et al. 2018), point-adjusted and PA%K (Kim et al.
// 2022) and range-based precision/recall (Tatbul et al. 2018). Definitions and NaN conventions are in
// docs/metrics.md; all functions here run in O(n).
#pragma once
#include <vector>

namespace lstmad::metrics {

// Rows [start, end], both inclusive.
struct Segment {
  int start = 0;
  int end = 0;
  int length() const { return end - start + 1; }
};

// The maximal runs of nonzero entries, in row order.
std::vector<Segment> runs_of(const std::vector<int>& binary);

// 1 where score >= threshold, else 0.
std::vector<int> detections_at(const std::vector<double>& scores, double threshold);

struct PrecisionRecall {
  double precision = 0;
  double recall = 0;
  double f1 = 0;
};

// Harmonic mean with this project's conventions: NaN when recall is NaN (nothing to find); 0 when
// precision is NaN (nothing predicted) or when both are 0.
double f1_of(double precision, double recall);

// Row counts: TP = rows predicted and labeled, FP = predicted and unlabeled, FN = labeled and missed.
PrecisionRecall point_metrics(const std::vector<int>& predicted, const std::vector<int>& labels);

struct EventCounts {
  int true_events = 0;       // runs of labeled rows
  int detected_events = 0;   // true events overlapped by at least one predicted event (TP)
  int missed_events = 0;     // true events overlapped by none (FN)
  int predicted_events = 0;  // runs of predicted rows
  int false_events = 0;      // predicted events that overlap no true event (FP)
};
struct EventMetrics {
  PrecisionRecall scores;
  EventCounts counts;
};
// Overlap counting: precision = TP / (TP + FP) mixes counts of true events (TP) and of predicted
// events (FP), exactly as Hundman et al. and Orion's contextual metrics do.
EventMetrics event_metrics(const std::vector<int>& predicted, const std::vector<int>& labels);

// PA%K adjustment: every labeled segment in which strictly more than k_percent % of its rows are
// predicted becomes fully predicted; k_percent = 0 is classic point adjustment (one hit suffices),
// k_percent = 100 changes nothing.
std::vector<int> point_adjust(const std::vector<int>& predicted, const std::vector<int>& labels,
                              double k_percent);
// Point-wise F1 after point_adjust.
double pak_f1(const std::vector<int>& predicted, const std::vector<int>& labels, double k_percent);
// Area under the PA%K F1-versus-K curve over K = 0, step, 2 step, ..., 100 (trapezoids, K scaled to
// [0, 1], so the area is in [0, 1]). step_percent must divide 100 into whole steps (e.g. 1, 5, 10).
double pak_auc(const std::vector<int>& predicted, const std::vector<int>& labels, int step_percent = 10);

// Range-based precision and recall with flat positional bias and cardinality factor 1/x; alpha weighs
// the existence reward in recall (precision has none, as in the paper).
PrecisionRecall range_metrics(const std::vector<int>& predicted, const std::vector<int>& labels,
                              double alpha = 0.0);

}  // namespace lstmad::metrics
