// The runner-facing metric set: validates the options, cuts off the unscored prefix, and evaluates every
// metric of metrics_binary / metrics_curve in the fixed column order.
#include "eval/metrics.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"

namespace lstmad::metrics {
namespace {

void check_options(const SeriesMetricOptions& o) {
  if (o.vus_max_buffer < 0 || o.vus_max_buffer > kMaxVusBuffer)
    throw Error("metrics: vus_max_buffer must be in 0.." + std::to_string(kMaxVusBuffer) + ", got " +
                std::to_string(o.vus_max_buffer));
  if (!(o.range_alpha >= 0 && o.range_alpha <= 1))
    throw Error("metrics: range_alpha must lie in [0, 1], got " + std::to_string(o.range_alpha));
  if (!(o.pak_k >= 0 && o.pak_k <= 100))
    throw Error("metrics: pak_k must be a percentage in [0, 100], got " + std::to_string(o.pak_k));
  if (o.ucr_tolerance < 0)
    throw Error("metrics: ucr_tolerance must be >= 0, got " + std::to_string(o.ucr_tolerance));
  if (o.pak_k_step <= 0 || o.pak_k_step > 100 || 100 % o.pak_k_step != 0)
    throw Error("metrics: pak_k_step must divide 100, got " + std::to_string(o.pak_k_step));
}

template <class T>
std::vector<T> scored_part(const std::vector<T>& v, size_t labels, int first_row, const char* what) {
  if (v.size() != labels)
    throw Error(std::string(what) + ": " + std::to_string(v.size()) + " rows of input for " +
                std::to_string(labels) + " labels");
  if (first_row < 0 || static_cast<size_t>(first_row) > labels)
    throw Error(std::string(what) + ": first_row " + std::to_string(first_row) + " outside 0.." +
                std::to_string(labels));
  return std::vector<T>(v.begin() + first_row, v.end());
}

void add_detection_metrics(NamedMetrics& out, const std::vector<int>& pred, const std::vector<int>& labels,
                           const SeriesMetricOptions& o, const CurveMetrics* curves) {
  const PrecisionRecall point = point_metrics(pred, labels);
  out.emplace_back("point_precision", point.precision);
  out.emplace_back("point_recall", point.recall);
  out.emplace_back("point_f1", point.f1);
  if (curves != nullptr) {
    out.emplace_back("best_f1", curves->best_f1.f1);
    out.emplace_back("best_f1_threshold", curves->best_f1.threshold);
  }
  const EventMetrics event = event_metrics(pred, labels);
  out.emplace_back("event_precision", event.scores.precision);
  out.emplace_back("event_recall", event.scores.recall);
  out.emplace_back("event_f1", event.scores.f1);
  out.emplace_back("pa_f1", pak_f1(pred, labels, 0.0));
  out.emplace_back("pak_f1", pak_f1(pred, labels, o.pak_k));
  out.emplace_back("pak_auc", pak_auc(pred, labels, o.pak_k_step));
  const PrecisionRecall range = range_metrics(pred, labels, o.range_alpha);
  out.emplace_back("range_precision", range.precision);
  out.emplace_back("range_recall", range.recall);
  out.emplace_back("range_f1", range.f1);
  const PrecisionRecall affiliation = affiliation_metrics(pred, labels);
  out.emplace_back("aff_precision", affiliation.precision);
  out.emplace_back("aff_recall", affiliation.recall);
  out.emplace_back("aff_f1", affiliation.f1);
}

}  // namespace

const std::vector<std::string>& series_metric_names() {
  static const std::vector<std::string> names = {
      "point_precision", "point_recall", "point_f1", "best_f1", "best_f1_threshold", "event_precision",
      "event_recall", "event_f1", "pa_f1", "pak_f1", "pak_auc", "range_precision", "range_recall", "range_f1",
      "aff_precision", "aff_recall", "aff_f1", "roc_auc", "pr_auc", "vus_roc", "vus_pr", "ucr_score"};
  return names;
}

const std::vector<std::string>& detection_metric_names() {
  static const std::vector<std::string> names = {
      "point_precision", "point_recall", "point_f1", "event_precision", "event_recall", "event_f1", "pa_f1",
      "pak_f1", "pak_auc", "range_precision", "range_recall", "range_f1", "aff_precision", "aff_recall", "aff_f1"};
  return names;
}

NamedMetrics evaluate_series(const std::vector<double>& scores, const std::vector<int>& labels,
                             const SeriesMetricOptions& options, int first_row) {
  check_options(options);
  // +-inf are thresholds (every row, no row); NaN compares false with every score, so it would quietly
  // detect nothing. (evaluate_detections takes no threshold.)
  if (std::isnan(options.threshold)) throw Error("evaluate_series: the threshold is NaN");
  const std::vector<double> s = scored_part(scores, labels.size(), first_row, "evaluate_series");
  const std::vector<int> l(labels.begin() + first_row, labels.end());
  for (size_t i = 0; i < s.size(); ++i)
    if (std::isnan(s[i]))
      throw Error("evaluate_series: the score of row " + std::to_string(i + static_cast<size_t>(first_row)) +
                  " is NaN; leave unscored rows out with first_row");
  NamedMetrics out;
  out.reserve(series_metric_names().size());
  const CurveMetrics curves = curve_metrics(s, l, options.vus_max_buffer, options.vus_definition);
  add_detection_metrics(out, detections_at(s, options.threshold), l, options, &curves);
  out.emplace_back("roc_auc", curves.roc_auc);
  out.emplace_back("pr_auc", curves.pr_auc);
  out.emplace_back("vus_roc", curves.vus.roc);
  out.emplace_back("vus_pr", curves.vus.pr);
  out.emplace_back("ucr_score", ucr_score(s, l, options.ucr_tolerance));
  return out;
}

NamedMetrics evaluate_detections(const std::vector<int>& detections, const std::vector<int>& labels,
                                 const SeriesMetricOptions& options, int first_row) {
  check_options(options);
  const std::vector<int> d = scored_part(detections, labels.size(), first_row, "evaluate_detections");
  const std::vector<int> l(labels.begin() + first_row, labels.end());
  NamedMetrics out;
  out.reserve(detection_metric_names().size());
  add_detection_metrics(out, d, l, options, nullptr);
  return out;
}

double metric_value(const NamedMetrics& metrics, const std::string& name) {
  for (const auto& [key, value] : metrics)
    if (key == name) return value;
  throw Error("no metric named \"" + name + "\"");
}

}  // namespace lstmad::metrics
