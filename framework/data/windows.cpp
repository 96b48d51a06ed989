// Window starts and the engine's float view of a series (see windows.hpp).
#include "data/windows.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace lstmad {
namespace {

void check_options(const WindowOptions& o) {
  if (o.window < 1) throw ConfigError("window length must be >= 1, got " + std::to_string(o.window));
  if (o.horizon < 1) throw ConfigError("horizon must be >= 1, got " + std::to_string(o.horizon));
  if (o.stride < 1) throw ConfigError("window stride must be >= 1, got " + std::to_string(o.stride));
  if (!(o.val_fraction >= 0.0 && o.val_fraction < 1.0))
    throw ConfigError("validation fraction must be in [0, 1), got " + std::to_string(o.val_fraction));
}

int resolve_train_end(int rows, const WindowOptions& o) {
  return o.train_end < 0 ? probation_length(rows) : o.train_end;
}

}  // namespace

WindowSplit training_windows(int rows, const WindowOptions& o) {
  check_options(o);
  const int P = std::min(resolve_train_end(rows, o), rows);
  WindowSplit split;
  std::vector<int> all;
  // The last target of start s is row s + T + horizon - 1, which must stay below P.
  for (int s = 0; s + o.window + o.horizon <= P; s += o.stride) all.push_back(s);
  const int count = static_cast<int>(all.size());
  int n_val = static_cast<int>(std::lround(o.val_fraction * count));
  if (o.val_fraction > 0.0 && count >= 2) n_val = std::max(n_val, 1);
  n_val = std::min(n_val, std::max(count - 1, 0));
  split.train.assign(all.begin(), all.end() - n_val);
  split.val.assign(all.end() - n_val, all.end());
  if (o.purge && !split.val.empty()) {
    // Training start s has targets s+T .. s+T+h-1; the first validation start v0 has v0+T onwards. They
    // share a row when s + h - 1 >= v0.
    const int last_clean = split.val.front() - o.horizon;
    auto keep_end = std::upper_bound(split.train.begin(), split.train.end(), last_clean);
    if (keep_end == split.train.begin() && !split.train.empty()) ++keep_end;
    split.train.erase(keep_end, split.train.end());
  }
  return split;
}

std::vector<int> prediction_starts(int rows, int window) {
  if (window < 1) throw ConfigError("window length must be >= 1, got " + std::to_string(window));
  std::vector<int> out;
  for (int i = window; i < rows; ++i) out.push_back(i - window);
  return out;
}

WindowSource SeriesWindows::source() const {
  WindowSource src;
  src.x = x.data();
  src.y = y.data();
  src.n = n;
  src.train = train;
  src.val = val;
  return src;
}

SeriesWindows make_series_windows(const Series& s, const WindowOptions& o) {
  check_options(o);
  const std::string& where = s.source();
  SeriesWindows w;
  w.n = s.rows();
  w.dims = s.dims;
  w.window = o.window;
  w.horizon = o.horizon;
  w.train_end = resolve_train_end(w.n, o);
  if (w.train_end < 1 || w.train_end > w.n)
    throw DataError(
        where, 0,
        "training part of " + std::to_string(w.train_end) + " rows is outside 1.." + std::to_string(w.n));
  w.x.resize(s.values.size());
  w.y.resize(static_cast<size_t>(w.n));
  for (int r = 0; r < w.n; ++r) {
    for (int c = 0; c < w.dims; ++c) {
      const double v = s.value(r, c);
      if (!std::isfinite(v))
        throw DataError(where, s.line_of(r),
                        "value column " + std::to_string(c + 1) + " is not finite (row " + std::to_string(r) +
                            "); fill missing values before building windows");
      w.x[static_cast<size_t>(r) * w.dims + c] = static_cast<float>(v);
    }
    w.y[static_cast<size_t>(r)] = static_cast<float>(s.value(r, 0));
  }
  WindowSplit split = training_windows(w.n, o);
  if (split.train.empty())
    throw DataError(where, 0,
                    "the training part has " + std::to_string(w.train_end) +
                        " rows, too few for one window of " + std::to_string(o.window) + " inputs and " +
                        std::to_string(o.horizon) + " target(s); needs at least " +
                        std::to_string(o.window + o.horizon));
  w.train = std::move(split.train);
  w.val = std::move(split.val);
  w.predict = prediction_starts(w.n, o.window);
  return w;
}

}  // namespace lstmad
