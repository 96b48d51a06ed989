#include "detect/detector.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.hpp"

namespace lstmad {

std::vector<double> spatial_anomalies(const std::vector<double>& values, double margin) {
  std::vector<double> flag(values.size(), 0.0);
  double lo = 0, hi = 0;
  bool seen = false;
  for (size_t i = 0; i < values.size(); ++i) {
    double v = values[i];
    if (std::isnan(v)) continue;
    if (seen) {
      double pad = margin * (hi - lo);
      // A flat history has no range to compare against: any departure from it is outside.
      if (hi > lo ? (v > hi + pad || v < lo - pad) : (v != hi)) flag[i] = 1.0;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    } else {
      lo = hi = v;
      seen = true;
    }
  }
  return flag;
}

std::vector<double> mean_of_errors(const std::vector<std::vector<double>>& models) {
  return mean_of_errors(models, std::vector<int>(models.size(), 1));
}

std::vector<double> mean_of_errors(const std::vector<std::vector<double>>& errors, const std::vector<int>& weights) {
  if (errors.empty()) return {};
  if (weights.size() != errors.size())
    throw Error("ensemble: " + std::to_string(errors.size()) + " error series but " + std::to_string(weights.size()) +
                " weights");
  // sum_k w_k e_k / W, summed in model order. Weight 1 adds each error as it is, so a run's plain mean is
  // exact as before; weight 2^j undoes a 2^j-model mean exactly, so an ensemble run of two models plus a
  // third gives the three-model run's errors to the last bit.
  std::vector<double> mean(errors.front().size(), 0.0);
  double total = 0;
  for (size_t k = 0; k < errors.size(); ++k) {
    if (weights[k] < 1) throw Error("ensemble: a model count of " + std::to_string(weights[k]));
    if (errors[k].size() != mean.size())
      throw Error("ensemble: a model has errors for " + std::to_string(errors[k].size()) + " rows, another for " +
                  std::to_string(mean.size()));
    total += weights[k];
    for (size_t i = 0; i < mean.size(); ++i) mean[i] += weights[k] * errors[k][i];  // NaN stays NaN
  }
  for (auto& x : mean) x /= total;
  return mean;
}

std::vector<double> anomaly_scores_from_errors(const std::vector<double>& raw_errors, const std::vector<double>& values,
                                               const DetectorOptions& o) {
  // A non-finite error (an overflowing prediction) is no measurement: dropped like a missing one, so that
  // it cannot turn every later running sum, fit or average into inf or NaN.
  std::vector<double> finite_errors = raw_errors;
  for (auto& e : finite_errors)
    if (!std::isfinite(e)) e = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> errors = moving_average(finite_errors, o.smoothing);
  if (o.ewma_span > 0) errors = ewma(errors, o.ewma_span);
  if (o.error_cap > 0)
    for (auto& e : errors)
      if (e > o.error_cap) e = o.error_cap;  // NaN stays NaN
  // In-sample errors of the early training rows are the smallest the model will ever make: the fitted rules
  // leave them out (the likelihood the first `learning` fraction, the dynamic threshold all), and score
  // only rows the model was not trained on.
  const int n = static_cast<int>(errors.size());
  const int skip = std::min(n, static_cast<int>(std::floor(o.learning * o.train_rows)));
  std::vector<double> scores;
  if (o.score == "error_ratio") {
    scores = error_ratio_scores(errors, o.error_floor);
  } else if (o.score == "error") {
    scores = squashed_error_scores(errors, o.error_floor);
  } else if (o.score == "likelihood") {
    LikelihoodOptions lo = o.likelihood;
    lo.std_floor = o.error_floor;
    lo.skip = skip;
    lo.start = o.train_rows;
    scores = likelihood_scores(errors, lo);
  } else if (o.score == "dynamic_threshold") {
    // A threshold chosen from in-sample errors flags ordinary errors just after training: every training
    // row's error is left out (with only the first `learning` fraction left out, the rest still put the
    // threshold below the out-of-sample errors, and the first hundred or so scored rows were flagged).
    for (int i = 0; i < std::min(n, o.train_rows); ++i)
      errors[static_cast<size_t>(i)] = std::numeric_limits<double>::quiet_NaN();
    scores = dynamic_threshold_detections(errors, o.ndt);
    for (int i = 0; i < std::min(n, o.train_rows); ++i) scores[static_cast<size_t>(i)] = 0.0;
  } else if (o.score == "telemanom") {
    // As telemanom, which thresholds the test set's errors only.
    for (int i = 0; i < std::min(n, o.train_rows); ++i)
      errors[static_cast<size_t>(i)] = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> scaled(values.size());
    for (size_t i = 0; i < values.size(); ++i) scaled[i] = values[i] / o.value_scale;
    scores = telemanom_detections(errors, scaled, o.telemanom);
  } else {
    throw ConfigError("detector.score: unknown rule \"" + o.score +
                      "\" (expected error, error_ratio, likelihood, dynamic_threshold or telemanom)");
  }
  for (auto& s : scores)
    if (!std::isfinite(s)) s = 0.0;
  if (o.spatial_margin > 0) {
    auto flag = spatial_anomalies(values, o.spatial_margin);
    for (size_t i = 0; i < scores.size() && i < flag.size(); ++i)
      if (flag[i] > 0) scores[i] = 1.0;
  }
  return suppress_repeats(scores, o.suppress_level, suppression_span(o, scores.size()));
}

long suppression_span(const DetectorOptions& o, std::size_t scored_rows) {
  if (o.suppress_rows > 0) return o.suppress_rows;
  if (o.suppress <= 0) return 0;
  const double n = o.series_rows > 0 ? o.series_rows : static_cast<double>(scored_rows);
  return static_cast<long>(std::floor(o.suppress * n));
}

std::vector<double> anomaly_scores(const std::vector<double>& actual, const std::vector<double>& predicted,
                                   const DetectorOptions& o) {
  return anomaly_scores_from_errors(absolute_errors(actual, predicted), actual, o);
}

}  // namespace lstmad
