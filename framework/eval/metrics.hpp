// Per-series metrics for the runner: one call turns a series' anomaly scores (or binary detections) and
// point labels into named values with stable snake_case names in a stable order; these become columns of
// results.csv. The individual metrics live in metrics_binary.hpp and metrics_affiliation.hpp (from
// detections) and metrics_curve.hpp (from scores); docs/metrics.md defines each one and its NaN convention.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "eval/metrics_affiliation.hpp"
#include "eval/metrics_binary.hpp"
#include "eval/metrics_curve.hpp"

namespace lstmad::metrics {

struct SeriesMetricOptions {
  double threshold = 0.5;    // a row is a detection when score >= threshold
  int vus_max_buffer = 100;  // VUS averages Range-AUC over buffer lengths 0 .. vus_max_buffer rows
  RangeAucDefinition vus_definition = RangeAucDefinition::TsbAd;  // of vus_roc and vus_pr
  double range_alpha = 0.0;  // existence-reward weight of range-based recall, in [0, 1]
  double pak_k = 20.0;       // K (percent) of the reported pak_f1
  int pak_k_step = 10;       // K grid step (percent) of pak_auc; must divide 100
  int ucr_tolerance = 100;   // least margin (rows) of ucr_score around the one labeled run
};

using NamedMetrics = std::vector<std::pair<std::string, double>>;

// Names, in order, of what evaluate_series returns: point_precision, point_recall, point_f1, best_f1,
// best_f1_threshold, event_precision, event_recall, event_f1, pa_f1, pak_f1, pak_auc, range_precision,
// range_recall, range_f1, aff_precision, aff_recall, aff_f1, roc_auc, pr_auc, vus_roc, vus_pr, ucr_score.
const std::vector<std::string>& series_metric_names();
// Names, in order, of what evaluate_detections returns: the subset of series_metric_names() that needs
// only binary detections (point_*, event_*, pa_f1, pak_f1, pak_auc, range_*, aff_*).
const std::vector<std::string>& detection_metric_names();

// Scores and labels (nonzero = anomalous) of one series, one entry per row. Rows before first_row are
// left out (warm-up rows without a score, a probationary period); the remaining rows are scored as one
// contiguous series. A NaN score among the scored rows, a size mismatch or a bad option is an Error.
NamedMetrics evaluate_series(const std::vector<double>& scores, const std::vector<int>& labels,
                             const SeriesMetricOptions& options, int first_row = 0);
// The same for binary detections (nonzero = detected), e.g. from a dynamic threshold; options.threshold,
// the VUS option and ucr_tolerance are unused.
NamedMetrics evaluate_detections(const std::vector<int>& detections, const std::vector<int>& labels,
                                 const SeriesMetricOptions& options, int first_row = 0);

// The value named `name` in `metrics`; Error when absent.
double metric_value(const NamedMetrics& metrics, const std::string& name);

}  // namespace lstmad::metrics
