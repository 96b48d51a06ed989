// libFuzzer target: the stages that turn prediction errors into anomaly scores (detect/scoring.hpp,
// detect/dynamic_threshold.hpp, detect/telemanom_threshold.hpp) on arbitrary errors and options. The bytes
// decode to the options (small windows, so that the windowed rules turn over within a short input) and
// to one error a byte: zero, tiny, ordinary, huge or NaN (a row without a prediction). What must hold:
// - every output has a row per input row, and stays in its documented range: error ratio in [0, 1],
//   squashed error in [0, 1], likelihood in [0, 1] (NaN only where a spread of 0 meets a floor of 0),
//   detections 0 or 1, the moving average never negative and NaN only where documented;
// - the causal stages are causal: run on any prefix of the errors, they give that prefix of their output,
//   to the bit (a score at row i uses rows <= i only);
// - suppression only lowers scores, and leaves every score it keeps as it was.
// telemanom's rule decides a row with the rest of its batch, so it is checked for its range only.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "detect/dynamic_threshold.hpp"
#include "detect/scoring.hpp"
#include "detect/telemanom_threshold.hpp"
#include "tests/fuzz/same_bits.hpp"

namespace {

// f(prefix) must be the prefix of f(all).
template <class F>
void causal(const std::vector<double>& errors, size_t cut, F&& f) {
  const std::vector<double> all = f(errors);
  if (all.size() != errors.size()) __builtin_trap();
  const std::vector<double> part = f(std::vector<double>(errors.begin(), errors.begin() + cut));
  if (part.size() != cut) __builtin_trap();
  for (size_t i = 0; i < cut; ++i)
    if (!lstmad::fuzz::same_bits(part[i], all[i])) __builtin_trap();
}

void in_range(const std::vector<double>& v, double lo, double hi) {
  for (double x : v)
    if (!(x >= lo && x <= hi)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHeader = 8;
  if (size < kHeader) return 0;
  const size_t n = std::min<size_t>(size - kHeader, 1200);
  std::vector<double> errors(n);
  for (size_t i = 0; i < n; ++i) {
    const int b = data[kHeader + i];
    errors[i] = b == 255 ? NAN : b == 254 ? 1e300 : b == 253 ? 1e-300 : b < 8 ? 0.0 : b / 16.0;
  }
  const size_t cut = n == 0 ? 0 : data[0] * n / 255;

  const int k = 1 + data[1] % 16;
  causal(errors, cut, [&](const std::vector<double>& e) { return lstmad::moving_average(e, k); });
  const std::vector<double> avg = lstmad::moving_average(errors, k);
  bool seen = false;  // k = 1: NaN where the error is; k > 1: NaN until the first error. Never below 0.
  for (size_t i = 0; i < n; ++i) {
    seen |= !std::isnan(errors[i]);
    if (std::isnan(avg[i]) != (k == 1 ? std::isnan(errors[i]) : !seen)) __builtin_trap();
    if (avg[i] < 0) __builtin_trap();
  }
  const double span = 1 + data[2] % 32;
  causal(errors, cut, [&](const std::vector<double>& e) { return lstmad::ewma(e, span); });

  const double floor = data[3] / 64.0;
  causal(errors, cut, [&](const std::vector<double>& e) { return lstmad::error_ratio_scores(e, floor); });
  in_range(lstmad::error_ratio_scores(errors, floor), 0, 1);
  const double scale = data[3] / 8.0;
  causal(errors, cut, [&](const std::vector<double>& e) { return lstmad::squashed_error_scores(e, scale); });
  in_range(lstmad::squashed_error_scores(errors, scale), 0, 1);

  lstmad::LikelihoodOptions lo;
  lo.long_window = 2 + data[4] % 200;
  lo.short_window = 1 + data[5] % 12;
  lo.reestimate_every = 1 + data[6] % 40;
  static const double kFloors[] = {0.0, 1e-6, 0.01, 1.0};
  lo.std_floor = kFloors[data[7] & 3];
  lo.filter = (data[7] & 4) != 0;
  lo.log_scale = (data[7] & 8) != 0;
  lo.skip = (data[7] >> 4) % 8;
  lo.start = (data[7] >> 4) / 2;
  causal(errors, cut, [&](const std::vector<double>& e) { return lstmad::likelihood_scores(e, lo); });
  std::vector<double> like = lstmad::likelihood_scores(errors, lo);
  // A spread of 0 with a floor of 0 gives 0/0: NaN, which the detector scores 0 (detector.cpp).
  for (double& x : like)
    if (std::isnan(x) && lo.std_floor == 0) x = 0;
  in_range(like, 0, 1);

  const double level = data[1] / 255.0;
  const long hold = data[2] % 20;
  const std::vector<double> held = lstmad::suppress_repeats(like, level, hold);
  if (held.size() != like.size()) __builtin_trap();
  for (size_t i = 0; i < n; ++i)
    if (held[i] != like[i] && held[i] != 0) __builtin_trap();
  causal(like, cut, [&](const std::vector<double>& s) { return lstmad::suppress_repeats(s, level, hold); });

  lstmad::DynamicThresholdOptions dt;
  dt.window = 2 + data[4] % 120;
  dt.buffer = data[5] % 16;
  dt.min_history = 1 + data[6] % 60;
  dt.z_min = 1.0 + (data[7] % 4) * 0.5;
  dt.z_max = dt.z_min + 4.0;
  causal(avg, cut, [&](const std::vector<double>& e) { return lstmad::dynamic_threshold_detections(e, dt); });
  for (double d : lstmad::dynamic_threshold_detections(avg, dt))
    if (d != 0 && d != 1) __builtin_trap();

  lstmad::TelemanomOptions tm;
  tm.batch = 1 + data[4] % 20;
  tm.windows = 1 + data[5] % 6;
  tm.buffer = 1 + data[6] % 10;
  tm.l_s = data[7] % 30;
  std::vector<double> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = static_cast<double>(data[kHeader + (i * 7) % n]) / 32.0;
  const std::vector<double> flagged = lstmad::telemanom_detections(errors, values, tm);
  if (flagged.size() != n) __builtin_trap();
  for (double d : flagged)
    if (d != 0 && d != 1) __builtin_trap();
  return 0;
}
