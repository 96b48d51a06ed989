// The prediction-error detector: per series, the model's predictions become anomaly scores in [0, 1]
// through the stages of detect/scoring.hpp, in this order: absolute error -> moving average ->
// exponential smoothing -> cap -> score rule (error, error_ratio, likelihood, dynamic_threshold or
// telemanom) -> spatial check -> optional suppression of repeated alarms.
// All causal (the score of row i depends on rows <= i only) but the telemanom rule, which decides a batch
// of rows at once.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "detect/dynamic_threshold.hpp"
#include "detect/scoring.hpp"
#include "detect/telemanom_threshold.hpp"

namespace lstmad {

struct DetectorOptions {
  std::string score =
      "likelihood";  // "error" | "error_ratio" | "likelihood" | "dynamic_threshold" | "telemanom"
  int smoothing = 1;                 // moving average of the errors over this many rows
  double ewma_span = 0;              // then an exponentially weighted average with this span (0 = none)
  double error_floor = 0.01;         // error: the scale; error_ratio: the floor; likelihood: the smallest spread
  double error_cap = 0.0;            // > 0: smoothed errors above this count as this (normalized units)
  LikelihoodOptions likelihood;      // its skip and start come from train_rows and learning
  double learning =
      0.5;  // likelihood, dynamic_threshold: leading fraction of the training rows kept out of the fit
  int train_rows = 0;                // rows the model was trained on (per series; scores start after them)
  DynamicThresholdOptions ndt;       // "dynamic_threshold": binary scores (1 = anomalous)
  TelemanomOptions telemanom;        // "telemanom": binary scores, decided per batch of rows
  double value_scale = 1.0;          // the normalizer's scale of the predicted column: values / value_scale
                                     // are in the errors' units (telemanom's scale check)
  double spatial_margin = 0.0;       // > 0: a value beyond the range seen so far by this fraction of it scores 1
  double suppress = 0.0;             // fraction of the series' rows silenced after an alarm (0 = off)
  int suppress_rows = 0;             // or this many rows: a span that does not depend on the series' length
  int series_rows = 0;               // the rows `suppress` is a fraction of (0: the scored rows)
  double suppress_level = 0.99;
};

// The rows silenced after an alarm when `scored_rows` rows are scored: suppress_rows, else
// floor(suppress x n) with n = series_rows, or scored_rows where series_rows is 0. `lstmad detect` sets
// series_rows to the length of the series the models learned, so rows appended to it keep the run's span.
long suppression_span(const DetectorOptions& options, std::size_t scored_rows);

// errors: absolute prediction errors per row in normalized units (NaN where a row has no prediction, and
// a non-finite error counts as none: such a row scores 0, or with smoothing > 1 the mean of the errors
// before it); values: the series' values (any affine scaling), for the spatial check.
std::vector<double> anomaly_scores_from_errors(const std::vector<double>& errors, const std::vector<double>& values,
                                               const DetectorOptions& options);

// An ensemble's errors: per row, the mean of the models' errors (all the same length), NaN where any
// model has none (a row one model cannot predict, e.g. before its longer window, stays unscored).
std::vector<double> mean_of_errors(const std::vector<std::vector<double>>& models);

// The same when each entry is itself the mean error of weights[k] models (an ensemble run's errors):
// the mean over all their models, sum_k weights[k] * errors[k] / sum_k weights[k].
std::vector<double> mean_of_errors(const std::vector<std::vector<double>>& errors, const std::vector<int>& weights);

// The same from actual and predicted values (normalized units).
std::vector<double> anomaly_scores(const std::vector<double>& actual, const std::vector<double>& predicted,
                                   const DetectorOptions& options);

// 1 where a value leaves the range [min, max] of all earlier values by more than margin * (max - min).
std::vector<double> spatial_anomalies(const std::vector<double>& values, double margin);

}  // namespace lstmad
