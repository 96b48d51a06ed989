// From predictions to anomaly scores, causally (a score at row i uses rows <= i only). The stages are
// separate so that detectors can combine them: prediction errors -> smoothing -> a score rule ->
// optional alarm suppression. docs/detectors.md describes each with its parameters.
#pragma once
#include <string>
#include <vector>

namespace lstmad {

// |actual - predicted| per row; NaN where a row has no prediction (NaN predicted value).
std::vector<double> absolute_errors(const std::vector<double>& actual, const std::vector<double>& predicted);

// Trailing moving average over the last `k` values (k < 1: 1), NaN rows skipped: not among the values,
// they take the average of the values before them (NaN before the first value), and with k = 1 stay NaN.
std::vector<double> moving_average(const std::vector<double>& x, int k);

// Error over its running maximum: score_i = e_i / max(floor, max_{j<=i} e_j), and 0 when e_i <= floor.
// The floor keeps float noise on a flat series from scoring 1.
std::vector<double> error_ratio_scores(const std::vector<double>& errors, double floor);

// The error itself, mapped into [0, 1] by the increasing map e / (e + scale): every threshold-free
// metric (ROC, PR, VUS, the UCR score) sees the error's ranking. Near 1 the doubles lie 1.1e-16 apart, so
// two errors e < e' keep their order while (e' - e) scale / (e + scale)^2 is above that: always at
// ordinary sizes (scale 0.01, e = 100: e' - e > 1e-10), not for errors of 1e16 scales and more, which
// all score 1. scale is at least 1e-12; a NaN error (no prediction) scores 0.
std::vector<double> squashed_error_scores(const std::vector<double>& errors, double scale);

struct LikelihoodOptions {
  int long_window = 8640;     // latest short-window means in the estimate of the error distribution
  int short_window = 10;      // rows in the recent mean error that is tested against it
  int reestimate_every = 100; // rows between estimates; the distribution is frozen in between
  double std_floor = 0.01;    // smallest spread of the distribution (normalized units)
  double mean_floor = 0.0;    // smallest mean of the distribution
  bool filter = true;         // in a run of very unlikely rows only the first keeps its top score
  bool log_scale = true;      // report log(Q + 1e-10) / log(1e-10) instead of 1 - Q
  int skip = 0;               // rows whose errors never enter the distribution (early in-sample errors)
  int start = 0;              // rows before this score 0 (e.g. the training part)
};
// Tail probabilities at or below kLikelihoodRed are "red"; a red row right after a red row is lowered to
// kLikelihoodYellow when LikelihoodOptions::filter is on.
inline constexpr double kLikelihoodRed = 1e-5;
inline constexpr double kLikelihoodYellow = 1e-3;
// Anomaly likelihood: the tail probability Q(z) of the recent short-window mean error m_i under a normal
// distribution (mean, spread) fitted to the short-window means of the last long_window rows at or after
// `skip`. The fit is redone every reestimate_every rows (it includes the row at which it is made) and is
// frozen in between, so a burst of errors is judged against the distribution from before it. Score
// 1 - Q, or its log form. Rows before `start`, before the first fit (2 means), or without an error score 0.
std::vector<double> likelihood_scores(const std::vector<double>& errors, const LikelihoodOptions& options);

// After a score >= level at row i, the scores of rows i+1 .. i+span are set to 0 (span <= 0: none).
std::vector<double> suppress_repeats(const std::vector<double>& scores, double level, long span);

}  // namespace lstmad
