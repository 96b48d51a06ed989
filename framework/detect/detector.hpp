// The prediction-error detector: per series, the model's predictions become anomaly scores in [0, 1]
// through the stages of detect/scoring.hpp, in this order: absolute error -> moving average ->
// score rule (error_ratio or likelihood) -> optional suppression of repeated alarms. All causal.
#pragma once
#include <string>
#include <vector>

#include "detect/scoring.hpp"

namespace lstmad {

struct DetectorOptions {
  std::string score = "likelihood";  // "error_ratio" | "likelihood"
  int smoothing = 1;
  double error_floor = 0.01;
  LikelihoodOptions likelihood;
  double suppress = 0.0;             // fraction of the series' rows silenced after an alarm (0 = off)
  double suppress_level = 0.99;
};

// actual and predicted are per row in normalized units; rows without a prediction hold NaN and score 0.
std::vector<double> anomaly_scores(const std::vector<double>& actual, const std::vector<double>& predicted,
                                   const DetectorOptions& options);

}  // namespace lstmad
