#include "detect/scoring.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

namespace lstmad {

static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> absolute_errors(const std::vector<double>& actual, const std::vector<double>& predicted) {
  std::vector<double> e(actual.size(), kNaN);
  for (size_t i = 0; i < actual.size() && i < predicted.size(); ++i)
    if (!std::isnan(predicted[i]) && !std::isnan(actual[i])) e[i] = std::fabs(actual[i] - predicted[i]);
  return e;
}

std::vector<double> moving_average(const std::vector<double>& x, int k) {
  std::vector<double> out(x.size(), kNaN);
  if (k <= 1) return x;
  std::deque<double> win;
  double sum = 0.0;  // recomputed per step from the deque would be O(k); a running sum is exact enough here
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isnan(x[i])) {
      win.push_back(x[i]);
      sum += x[i];
      if (static_cast<int>(win.size()) > k) {
        sum -= win.front();
        win.pop_front();
      }
    }
    if (!win.empty()) out[i] = sum / static_cast<double>(win.size());
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

std::vector<double> likelihood_scores(const std::vector<double>& errors, const LikelihoodOptions& o) {
  const size_t n = errors.size();
  std::vector<double> scores(n, 0.0);
  std::vector<double> recent = moving_average(errors, o.short_window);
  // Rolling mean and variance of `recent` over the last long_window rows (Welford-free: sums of the
  // window, in long double to keep the running subtraction exact enough over long series).
  std::deque<double> win;
  long double s1 = 0.0L, s2 = 0.0L;
  int seen = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(errors[i])) continue;
    ++seen;
    double m = recent[i];
    win.push_back(m);
    s1 += m;
    s2 += static_cast<long double>(m) * m;
    if (static_cast<int>(win.size()) > o.long_window) {
      double old = win.front();
      win.pop_front();
      s1 -= old;
      s2 -= static_cast<long double>(old) * old;
    }
    if (seen < o.short_window + 2 || win.size() < 2) continue;
    double cnt = static_cast<double>(win.size());
    double mean = static_cast<double>(s1 / cnt);
    double var = static_cast<double>((s2 - s1 * s1 / cnt) / (cnt - 1));
    double sd = std::max(std::sqrt(std::max(var, 0.0)), o.std_floor);
    double z = (m - mean) / sd;
    double q = 0.5 * std::erfc(z / std::sqrt(2.0));  // tail probability, exact for large z (no 1 - x loss)
    if (o.log_scale) scores[i] = std::min(1.0, std::log(q + 1e-10) / std::log(1e-10));
    else scores[i] = 1.0 - q;
    if (scores[i] < 0) scores[i] = 0;
  }
  return scores;
}

std::vector<double> suppress_repeats(const std::vector<double>& scores, double level, double fraction) {
  std::vector<double> out = scores;
  if (fraction <= 0) return out;
  const long span = static_cast<long>(std::floor(fraction * static_cast<double>(scores.size())));
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
