#include "detect/scoring.hpp"

#include <algorithm>
#include <cmath>
#include <deque>

#include "core/nan.hpp"

namespace lstmad {

std::vector<double> absolute_errors(const std::vector<double>& actual, const std::vector<double>& predicted) {
  std::vector<double> e(actual.size(), kNaN);
  for (size_t i = 0; i < actual.size() && i < predicted.size(); ++i)
    if (!std::isnan(predicted[i]) && !std::isnan(actual[i])) e[i] = std::fabs(actual[i] - predicted[i]);
  return e;
}

// The window's sum without subtraction (two stacks): the older values ("front") each with the sum of
// itself and the newer front values, the newer ones ("back") as one running sum; when the front runs out,
// the back's values move into it, newest first. A running sum that subtracted each value leaving the
// window kept the rounding of every value it had held: after a large error left, the small errors that
// followed could sum to less than they are, even below 0. Here every sum adds values of the window only.
std::vector<double> moving_average(const std::vector<double>& x, int k) {
  std::vector<double> out(x.size(), kNaN);
  const size_t width = static_cast<size_t>(std::max(k, 1));
  std::vector<double> back, front_sums;  // front_sums.back(): the oldest value plus every newer front value
  double back_sum = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      // Skipped: a row without a value of its own keeps the window's average (k > 1), or none (k = 1).
      if (width == 1 || (back.empty() && front_sums.empty())) continue;
    } else {
      back.push_back(x[i]);
      back_sum += x[i];
      if (front_sums.size() + back.size() > width) {
        if (front_sums.empty()) {
          double newer = 0.0;
          for (size_t j = back.size(); j-- > 0;) front_sums.push_back(newer += back[j]);
          back.clear();
          back_sum = 0.0;
        }
        front_sums.pop_back();
      }
    }
    const double sum = front_sums.empty() ? back_sum : front_sums.back() + back_sum;
    out[i] = sum / static_cast<double>(front_sums.size() + back.size());
  }
  return out;
}

std::vector<double> error_ratio_scores(const std::vector<double>& errors, double floor) {
  std::vector<double> s(errors.size(), 0.0);
  double running = floor;
  for (size_t i = 0; i < errors.size(); ++i) {
    double e = errors[i];
    if (std::isnan(e)) continue;
    running = std::max(running, e);
    s[i] = e <= floor ? 0.0 : e / running;
  }
  return s;
}

std::vector<double> squashed_error_scores(const std::vector<double>& errors, double scale) {
  const double c = std::max(scale, 1e-12);
  std::vector<double> s(errors.size(), 0.0);
  for (size_t i = 0; i < errors.size(); ++i)
    if (!std::isnan(errors[i])) s[i] = errors[i] / (errors[i] + c);
  return s;
}

std::vector<double> likelihood_scores(const std::vector<double>& errors, const LikelihoodOptions& o) {
  const size_t n = errors.size();
  std::vector<double> scores(n, 0.0);
  const std::vector<double> recent = moving_average(errors, o.short_window);
  std::deque<double> history;  // short-window means of the latest rows at or after `skip`
  bool fitted = false;
  long fitted_at = 0;
  double mean = 0.0, sd = 1.0;
  bool prev_red = false;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(errors[i])) continue;
    const long row = static_cast<long>(i);
    if (row >= o.skip) {
      history.push_back(recent[i]);
      if (static_cast<int>(history.size()) > o.long_window) history.pop_front();
    }
    if (row < o.start) continue;
    if ((!fitted || row - fitted_at >= o.reestimate_every) && history.size() >= 2) {
      // Recomputed from the window, in a fixed order: exact and independent of the series' history length.
      double s1 = 0.0;
      for (double m : history) s1 += m;
      const double cnt = static_cast<double>(history.size());
      double mu = s1 / cnt, s2 = 0.0;
      for (double m : history) s2 += (m - mu) * (m - mu);
      mean = std::max(mu, o.mean_floor);
      sd = std::max(std::sqrt(s2 / cnt), o.std_floor);
      fitted = true;
      fitted_at = row;
    }
    if (!fitted) continue;
    const double z = (recent[i] - mean) / sd;
    double q = 0.5 * std::erfc(z / std::sqrt(2.0));  // tail probability, exact for large z (no 1 - x loss)
    const bool red = q <= kLikelihoodRed;
    if (o.filter && red && prev_red) q = kLikelihoodYellow;
    prev_red = red;
    // Written so that a NaN q (a spread of 0 with a floor of 0) stays NaN, which the detector scores 0,
    // instead of std::min(1.0, NaN) making it the top score.
    const double s = o.log_scale ? std::log(q + 1e-10) / std::log(1e-10) : 1.0 - q;
    scores[i] = s > 1.0 ? 1.0 : (s < 0.0 ? 0.0 : s);
  }
  return scores;
}

std::vector<double> suppress_repeats(const std::vector<double>& scores, double level, long span) {
  std::vector<double> out = scores;
  if (span <= 0) return out;
  long quiet_until = -1;
  for (long i = 0; i < static_cast<long>(out.size()); ++i) {
    if (i <= quiet_until) {
      out[static_cast<size_t>(i)] = 0.0;
      continue;
    }
    if (out[static_cast<size_t>(i)] >= level) quiet_until = i + span;
  }
  return out;
}

}  // namespace lstmad
