#include "detect/detector.hpp"

#include <cmath>

#include "core/error.hpp"

namespace lstmad {

std::vector<double> anomaly_scores(const std::vector<double>& actual, const std::vector<double>& predicted,
                                   const DetectorOptions& o) {
  std::vector<double> errors = moving_average(absolute_errors(actual, predicted), o.smoothing);
  std::vector<double> scores;
  if (o.score == "error_ratio") {
    scores = error_ratio_scores(errors, o.error_floor);
  } else if (o.score == "likelihood") {
    LikelihoodOptions lo = o.likelihood;
    lo.std_floor = o.error_floor;
    scores = likelihood_scores(errors, lo);
  } else {
    throw ConfigError("detector.score: unknown rule \"" + o.score + "\" (expected error_ratio or likelihood)");
  }
  for (auto& s : scores)
    if (!std::isfinite(s)) s = 0.0;
  return suppress_repeats(scores, o.suppress_level, o.suppress);
}

}  // namespace lstmad
