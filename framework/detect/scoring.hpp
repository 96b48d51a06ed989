// From predictions to anomaly scores, causally (a score at row i uses rows <= i only). The stages are
// separate so that detectors can combine them: prediction errors -> smoothing -> a score rule ->
// optional alarm suppression. docs/detectors.md describes each with its parameters.
#pragma once
#include <string>
#include <vector>

namespace lstmad {

// |actual - predicted| per row; NaN where a row has no prediction (NaN predicted value).
std::vector<double> absolute_errors(const std::vector<double>& actual, const std::vector<double>& predicted);

// Trailing moving average over `k` rows (rows with NaN errors are skipped; NaN until a value exists).
std::vector<double> moving_average(const std::vector<double>& x, int k);

// Error over its running maximum: score_i = e_i / max(floor, max_{j<=i} e_j), and 0 when e_i <= floor.
// The floor keeps float noise on a flat series from scoring 1.
std::vector<double> error_ratio_scores(const std::vector<double>& errors, double floor);

struct LikelihoodOptions {
  int long_window = 8640;   // rows in the rolling mean/variance of the (short-averaged) error
  int short_window = 10;    // rows in the recent mean error that is tested against it
  double std_floor = 0.01;  // smallest spread of the error distribution (normalized units)
  bool log_scale = true;    // report log(Q + 1e-10) / log(1e-10) instead of 1 - Q
};
// Anomaly likelihood: the tail probability Q(z) of the recent short-window mean error under a normal
// distribution fitted to the short-window means of the last long_window rows; score 1 - Q (or its log
// form). Rows before enough history (short_window + 2 errors) score 0.
std::vector<double> likelihood_scores(const std::vector<double>& errors, const LikelihoodOptions& options);

// After a score >= level at row i, the scores of rows i+1 .. i+span are set to 0 (span = fraction * n).
std::vector<double> suppress_repeats(const std::vector<double>& scores, double level, double fraction);

}  // namespace lstmad
