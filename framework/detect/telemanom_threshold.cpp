#include "detect/telemanom_threshold.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include "core/nan.hpp"

namespace lstmad {

namespace {

// NumPy's mean and (population) standard deviation; NaN for no values, as NumPy gives.
double mean_of(const double* x, size_t n) {
  if (n == 0) return kNaN;
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += x[i];
  return s / static_cast<double>(n);
}

double sd_of(const double* x, size_t n, double mean) {
  if (n == 0) return kNaN;
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return std::sqrt(s / static_cast<double>(n));
}

// NumPy's percentile (linear interpolation between closest ranks) of `v`, finite values only, which it
// reorders. The two ranks are found by selection, not a sort: the same values (the windows of a long
// series are thousands of rows, two percentiles each, and sorting them was a seventh of a rescore).
double percentile_of_finite(std::vector<double>& v, double q) {
  if (v.empty()) return kNaN;
  const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  const auto at_lo = v.begin() + static_cast<std::ptrdiff_t>(lo);
  std::nth_element(v.begin(), at_lo, v.end());
  const double a = *at_lo;
  const double b = hi == lo ? a : *std::min_element(at_lo + 1, v.end());
  return a + (b - a) * (pos - static_cast<double>(lo));
}

// Points flagged (positions within buffer - 1 of an error above eps) and their runs longer than one
// point, counted without listing them: the flagged intervals arrive in order and merge where they touch.
struct Flagged {
  size_t points = 0, runs = 0;
};

Flagged flagged_by(const double* e, size_t n, double eps, int buffer) {
  Flagged f;
  if (buffer < 1) return f;  // telemanom's range(0, error_buffer) is then empty: nothing is flagged
  const size_t reach = static_cast<size_t>(buffer - 1);
  bool open = false;
  size_t gs = 0, ge = 0;
  const auto close = [&] {
    f.points += ge - gs + 1;
    if (ge > gs) ++f.runs;
  };
  for (size_t i = 0; i < n; ++i) {
    if (!(e[i] > eps)) continue;
    const size_t lo = i > reach ? i - reach : 0, hi = std::min(n - 1, i + reach);
    if (open && lo <= ge + 1) {
      ge = std::max(ge, hi);
      continue;
    }
    if (open) close();
    gs = lo;
    ge = hi;
    open = true;
  }
  if (open) close();
  return f;
}

// The z of the window's best-rated threshold eps = mean + z sd (telemanom's find_epsilon): 12 where no
// candidate flags points, makes at most five runs, flags under half the window and rates at least 0.
double best_z(const double* e, size_t n, int buffer) {
  const double mean = mean_of(e, n), sd = sd_of(e, n, mean);
  double best = 12.0, max_s = 0.0;
  std::vector<double> below;
  below.reserve(n);
  for (int k = 0;; ++k) {
    const double z = 2.5 + 0.5 * k;  // numpy.arange(2.5, 12, 0.5)
    if (z >= 12.0) break;
    const double eps = mean + sd * z;
    below.clear();
    for (size_t i = 0; i < n; ++i)
      if (e[i] < eps) below.push_back(e[i]);
    const Flagged f = flagged_by(e, n, eps, buffer);
    if (f.points == 0) continue;
    const double bmean = mean_of(below.data(), below.size());
    const double bsd = sd_of(below.data(), below.size(), bmean);
    const double s = ((mean - bmean) / mean + (sd - bsd) / sd) /
                     (static_cast<double>(f.runs * f.runs) + static_cast<double>(f.points));
    if (s >= max_s && f.runs <= 5 && static_cast<double>(f.points) < static_cast<double>(n) * 0.5) {
      best = z;
      max_s = s;
    }
  }
  return best;
}

struct FlaggedRun {
  size_t begin, end;  // inclusive
};

std::vector<FlaggedRun> runs_of(const std::vector<char>& mask) {
  std::vector<FlaggedRun> runs;
  for (size_t k = 0; k < mask.size();) {
    if (!mask[k]) {
      ++k;
      continue;
    }
    FlaggedRun r{k, k};
    while (k < mask.size() && mask[k]) r.end = k++;
    if (r.end > r.begin) runs.push_back(r);  // a single point is no sequence
  }
  return runs;
}

// What one window flags in one direction (telemanom's compare_to_epsilon, then prune_anoms): positions
// of the window (0 .. n) that are anomalous.
struct WindowScan {
  const double* e;  // the window's smoothed errors, or their reflection about the mean
  size_t n;
  double eps;          // the threshold for e
  double sd;           // the sd of the window's smoothed errors (not reflected)
  double inter_range;  // the values' 95th minus 5th percentile
  double chan_sd;      // the values' sd
  int window;          // which window: the first one flags all of itself, the others their newest batch
  size_t offset;       // the window's first position in the whole
  size_t ignore;       // the first window's leading positions that are never flagged
  const std::vector<char>* flagged_before;  // positions of the whole flagged by earlier windows
};

std::vector<char> scan_window(const WindowScan& w, const TelemanomOptions& o) {
  std::vector<char> mask(w.n, 0);
  const double emax = *std::max_element(w.e, w.e + w.n);
  // Errors small against the values' scale: nothing in this window.
  if (!(w.sd > 0.05 * w.chan_sd || emax > 0.05 * w.inter_range) || !(emax > 0.05)) return mask;
  const long n = static_cast<long>(w.n), newest = n - o.batch;
  const long reach = std::min<long>(o.buffer, n);  // farther than the window flags nothing
  const auto allowed = [&](long x) {
    if (w.window == 0) return x >= static_cast<long>(w.ignore) && x >= 0;
    return x >= newest && x >= 0;
  };
  for (long x = 0; x < n; ++x) {
    if (!(w.e[x] > w.eps) || !(w.e[x] > 0.05 * w.inter_range)) continue;
    for (long b = 0; b < reach; ++b) {
      if (x + b < n && allowed(x + b)) mask[static_cast<size_t>(x + b)] = 1;
      if (allowed(x - b)) mask[static_cast<size_t>(x - b)] = 1;
    }
  }
  // The highest error neither flagged here nor by an earlier window: what the last run must stand above.
  double non_anom_max = 0;
  for (size_t x = 0; x < w.n; ++x)
    if (w.e[x] > non_anom_max && !(*w.flagged_before)[w.offset + x] && !mask[x]) non_anom_max = w.e[x];
  std::vector<FlaggedRun> runs = runs_of(mask);
  if (runs.empty()) return mask;  // single points only: kept as they are, unpruned
  // Pruning: run peaks (each over its run but its last point, as telemanom slices) in decreasing order,
  // then the highest unflagged error; runs before the last fall of at least `prune` stay.
  std::vector<double> peak;
  for (const FlaggedRun& r : runs) peak.push_back(*std::max_element(w.e + r.begin, w.e + r.end));
  std::vector<double> ranked = peak;
  std::sort(ranked.begin(), ranked.end(), std::greater<double>());
  if (non_anom_max > 0) ranked.push_back(non_anom_max);
  std::vector<size_t> drop;
  for (size_t i = 0; i + 1 < ranked.size(); ++i) {
    if ((ranked[i] - ranked[i + 1]) / ranked[i] < o.prune)
      // The first run with this peak, as list.index finds it (equal peaks name the same run).
      drop.push_back(static_cast<size_t>(std::find(peak.begin(), peak.end(), ranked[i]) - peak.begin()));
    else
      drop.clear();
  }
  std::sort(drop.begin(), drop.end(), std::greater<size_t>());
  for (size_t d : drop)
    if (d < runs.size()) runs.erase(runs.begin() + static_cast<std::ptrdiff_t>(d));
  std::vector<char> kept(w.n, 0);
  for (const FlaggedRun& r : runs)
    for (size_t x = r.begin; x <= r.end; ++x) kept[x] = mask[x];
  return kept;
}

}  // namespace

std::vector<double> telemanom_detections(const std::vector<double>& errors, const std::vector<double>& values,
                                         const TelemanomOptions& o) {
  std::vector<double> out(errors.size(), 0.0);
  std::vector<size_t> rows;  // the scored rows, in order
  std::vector<double> e, y;
  for (size_t i = 0; i < errors.size(); ++i)
    if (!std::isnan(errors[i])) {
      rows.push_back(i);
      e.push_back(errors[i]);
      y.push_back(i < values.size() ? values[i] : kNaN);
    }
  const size_t m = e.size();
  if (m == 0 || o.batch < 1 || o.windows < 1) return out;

  // Smoothing: pandas' ewm(span).mean() with adjust=True, the weights (1 - alpha)^k normalized by their sum.
  // int() of the product, as telemanom takes it (in double: the options' ranges would overflow an int).
  const double span = std::max(1.0, std::floor(static_cast<double>(o.batch) * o.windows * o.smoothing_perc));
  const double keep = 1.0 - 2.0 / (span + 1.0);
  double num = 0, den = 0;
  for (size_t i = 0; i < m; ++i) {
    num = e[i] + keep * num;
    den = 1.0 + keep * den;
    e[i] = num / den;
  }
  // The first l_s smoothed errors, before the model and smoothing have their history, as the mean of the
  // first 2 l_s.
  if (o.l_s > 0) {
    const size_t head = std::min(m, static_cast<size_t>(o.l_s));
    const double lead = mean_of(e.data(), std::min(m, 2 * static_cast<size_t>(o.l_s)));
    std::fill(e.begin(), e.begin() + static_cast<std::ptrdiff_t>(head), lead);
  }

  const size_t ls = static_cast<size_t>(std::max(o.l_s, 0));
  const size_t ignore = m < 1800 ? 0 : m < 2500 ? ls : 2 * ls;
  const size_t B = static_cast<size_t>(o.batch), span_rows = B * static_cast<size_t>(o.windows);
  // Windows of `windows` batches, one batch apart; the last reaches the end. Fewer rows than one window
  // make one window of them all (telemanom shrinks its window until the count is no longer negative).
  long last =
      static_cast<long>((static_cast<double>(m) - static_cast<double>(span_rows)) / static_cast<double>(B));
  if (last < 0) last = 0;
  std::vector<char> flagged(m, 0);
  std::vector<double> inv;
  for (long w = 0; w <= last; ++w) {
    const size_t from = static_cast<size_t>(w) * B;
    const size_t to = w == last ? m : std::min(m, span_rows + from);
    if (to <= from) continue;
    const size_t n = to - from;
    const double* we = e.data() + from;
    const std::vector<double> wy(y.begin() + static_cast<std::ptrdiff_t>(from),
                                 y.begin() + static_cast<std::ptrdiff_t>(to));
    std::vector<double> finite_y;
    for (double v : wy)
      if (std::isfinite(v)) finite_y.push_back(v);
    const double chan_sd = sd_of(finite_y.data(), finite_y.size(), mean_of(finite_y.data(), finite_y.size()));
    std::vector<double> ranked = finite_y;  // reordered by the selections
    const double inter_range = percentile_of_finite(ranked, 95) - percentile_of_finite(ranked, 5);
    const double mean = mean_of(we, n), sd = sd_of(we, n, mean);
    inv.resize(n);
    for (size_t k = 0; k < n; ++k) inv[k] = mean + (mean - we[k]);  // errors far below normal, reflected
    WindowScan up{we,
                  n,
                  mean + best_z(we, n, o.buffer) * sd,
                  sd,
                  inter_range,
                  chan_sd,
                  static_cast<int>(w),
                  from,
                  ignore,
                  &flagged};
    WindowScan down = up;
    down.e = inv.data();
    down.eps = mean + best_z(inv.data(), n, o.buffer) * sd;
    const std::vector<char> a = scan_window(up, o), b = scan_window(down, o);
    for (size_t k = 0; k < n; ++k)
      if (a[k] || b[k]) flagged[from + k] = 1;
  }
  for (const FlaggedRun& r : runs_of(flagged))
    for (size_t k = r.begin; k <= r.end; ++k) out[rows[k]] = 1.0;
  return out;
}

}  // namespace lstmad
