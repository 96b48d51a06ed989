// Affiliation-based precision and recall (Huet, Navarro and Rossi, "Local Evaluation of Time Series
// Anomaly Detection Algorithms", KDD 2022), the "Affiliation-F" of TSB-AD and other recent benchmarks.
//
// Rows become time: row i is the interval [i, i + 1), a run of rows one event, the scored rows the range
// [0, n). Each labeled event J owns an affiliation zone E: the part of the range closer to J than to any
// other labeled event (cut at the midpoints between events). Inside E:
// - precision of J: the mean, over the predicted time in E, of P(dist(X, J) >= dist(x, J)) for X uniform
//   in E: how much closer to J the predictions are than random time of the zone (1 inside J);
// - recall of J: the mean, over y in J, of P(|y - X| >= dist(y, predictions in E)) for X uniform in E
//   (1 where y is predicted); 0 when nothing in E is predicted.
// Precision is the mean over the zones that hold predictions, recall the mean over all zones. Both are
// in [0, 1], and a prediction of every row gives recall 1 but precision about 1/2, not 1.
//
// The integrands are piecewise linear in time, so each zone's integrals are exact sums over the pieces
// between their breakpoints (docs/metrics.md).
#pragma once
#include <vector>

#include "eval/metrics_binary.hpp"

namespace lstmad::metrics {

// predicted and labels: one entry per row, nonzero = anomalous. NaN conventions of docs/metrics.md:
// everything NaN when nothing is labeled; precision NaN when nothing is predicted (recall 0, F1 0).
PrecisionRecall affiliation_metrics(const std::vector<int>& predicted, const std::vector<int>& labels);

}  // namespace lstmad::metrics
