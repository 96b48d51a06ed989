#include "experiments/prepare.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "core/log.hpp"
#include "data/missing.hpp"
#include "data/normalize.hpp"
#include "data/timestamp.hpp"
#include "data/windows.hpp"

namespace lstmad {

// Phase in [0, 1) of row i's timestamp within the day or the week (weeks start on Monday, 00:00 UTC).
static double calendar_phase(const Series& s, int i, const std::string& feature) {
  constexpr int64_t kDay = 86400LL * 1000000LL;
  const int64_t t = s.time_us[static_cast<size_t>(i)];
  auto mod = [](int64_t a, int64_t m) { return ((a % m) + m) % m; };
  if (feature == "time_of_day") return static_cast<double>(mod(t, kDay)) / static_cast<double>(kDay);
  // 1970-01-01 was a Thursday: shifting by 3 days puts Monday at phase 0.
  return static_cast<double>(mod(t + 3 * kDay, 7 * kDay)) / static_cast<double>(7 * kDay);
}

double period_autocorrelation(const Series& s, int train_end, const std::string& feature) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (train_end < 3 || s.time_us.size() < static_cast<size_t>(train_end)) return nan;
  std::vector<int64_t> steps;
  for (int i = 1; i < train_end; ++i)
    steps.push_back(s.time_us[static_cast<size_t>(i)] - s.time_us[static_cast<size_t>(i - 1)]);
  std::nth_element(steps.begin(), steps.begin() + static_cast<long>(steps.size() / 2), steps.end());
  const int64_t step = steps[steps.size() / 2];
  if (step <= 0) return nan;
  const double period = (feature == "time_of_day" ? 1.0 : 7.0) * 86400e6;
  const long lag = std::lround(period / static_cast<double>(step));
  // A period of under two rows (time of day on daily rows, day of week on weekly ones) puts every row at
  // nearly the same phase, so the input would be constant, and the autocorrelation at one row measures
  // smoothness, not the calendar: no evidence, as with fewer than two periods.
  if (lag < 2 || train_end < 2 * lag) return nan;
  const size_t m = static_cast<size_t>(train_end - lag);
  double ma = 0, mb = 0;
  for (size_t i = 0; i < m; ++i) {
    ma += s.value(static_cast<int>(i), 0);
    mb += s.value(static_cast<int>(i + static_cast<size_t>(lag)), 0);
  }
  ma /= static_cast<double>(m);
  mb /= static_cast<double>(m);
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < m; ++i) {
    const double a = s.value(static_cast<int>(i), 0) - ma,
                 b = s.value(static_cast<int>(i + static_cast<size_t>(lag)), 0) - mb;
    sab += a * b;
    saa += a * a;
    sbb += b * b;
  }
  if (!(saa > 0) || !(sbb > 0)) return nan;  // a constant stretch repeats nothing
  return sab / std::sqrt(saa * sbb);
}

std::vector<std::string> calendar_inputs(const Series& series, const json& cfg, int train_end) {
  const int n = series.rows();
  const auto requested = at_path(cfg, "data.time_features").get<std::vector<std::string>>();
  // With a gate, a calendar input is given only to a series whose training rows follow that calendar:
  // where they do not, the input is one more thing for a few hundred windows to fit, and costs more
  // than it brings (docs/results/README.md). A series without timestamps then simply gets none.
  const double gate = at_path(cfg, "data.time_features_gate").get<double>();
  const bool timed =
      series.time_us.size() == static_cast<size_t>(n) && !series.timestamps.empty() && !series.stand_in_times;
  if (!requested.empty() && !timed && gate <= 0)
    throw DataError(
        series.path, 0,
        "data.time_features needs a timestamp on every row; this series has none" +
            std::string(series.stand_in_times ? " (its source holds no times: with data.format csv, "
                                                "data.csv.time_column names the column that does)"
                                              : ""));
  // A time past the year 3000 is a misreading, not a calendar, and its phases would be noise: most often
  // epoch milliseconds read as seconds (time_format auto reads a number as seconds since 1970).
  constexpr int64_t kYear3000Us = 32503680000LL * 1000000;
  if (!requested.empty() && timed)
    for (int i = 0; i < n; ++i)
      if (series.time_us[static_cast<size_t>(i)] >= kYear3000Us)
        throw DataError(series.path, series.line_of(i),
                        "data.time_features: the timestamp " +
                            std::string(series.timestamps[static_cast<size_t>(i)]) + " reads as " +
                            format_timestamp_us(series.time_us[static_cast<size_t>(i)]) +
                            ", past the year 3000; for milliseconds since 1970 set data.csv.time_format "
                            "to epoch_ms");
  std::vector<std::string> features;
  for (const auto& f : requested) {
    if (gate <= 0) {
      features.push_back(f);
      continue;
    }
    const double r = timed ? period_autocorrelation(series, train_end, f) : std::nan("");
    const bool take = r >= gate;  // NaN (too few rows, constant) never passes
    log::debug(series.path + ": " + f + " input " + (take ? "added" : "left out") +
               " (autocorrelation of the training rows at one period " +
               (std::isnan(r) ? std::string("unknown") : std::to_string(r)) + ", gate " +
               std::to_string(gate) + ")");
    if (take) features.push_back(f);
  }
  return features;
}

namespace {

// The engines' buffers of a series whose missing values are filled: values normalized by `norm`, then
// sin/cos of each calendar input's phase.
PreparedSeries build_prepared(Series series, int train_end, const Normalizer& norm,
                              const std::vector<std::string>& features) {
  PreparedSeries p;
  const int n = series.rows();
  p.train_end = train_end;
  p.score_begin = train_end;
  p.norm = norm;
  // Normalized row by row into the buffers: a normalized copy of the whole Series would copy every
  // timestamp string too (2 million allocations at 2e6 rows) for values read once.
  LSTMAD_CHECK(static_cast<size_t>(series.dims) == norm.offset.size(),
               "normalizer fitted on " + std::to_string(norm.offset.size()) + " columns applied to " +
                   std::to_string(series.dims));
  p.time_features = features;
  p.input_dims = series.dims + 2 * static_cast<int>(features.size());
  p.x.resize(static_cast<size_t>(n) * static_cast<size_t>(p.input_dims));
  p.y.resize(static_cast<size_t>(n));
  p.target.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    float* row = p.x.data() + static_cast<size_t>(i) * static_cast<size_t>(p.input_dims);
    for (int c = 0; c < series.dims; ++c) row[c] = static_cast<float>(norm.forward(series.value(i, c), c));
    int c = series.dims;
    for (const auto& f : features) {
      const double phase = calendar_phase(series, i, f);
      row[c++] = static_cast<float>(std::sin(2 * M_PI * phase));
      row[c++] = static_cast<float>(std::cos(2 * M_PI * phase));
    }
    const double z0 = norm.forward(series.value(i, 0), 0);
    p.target[static_cast<size_t>(i)] = z0;
    p.y[static_cast<size_t>(i)] = static_cast<float>(z0);
  }
  p.series = std::move(series);
  return p;
}

int fill_as_configured(Series& series, const json& cfg, int train_end) {
  const int filled =
      fill_missing(series, parse_missing_policy(at_path(cfg, "data.missing").get<std::string>()), train_end);
  if (filled > 0) log::warn(series.path + ": filled " + std::to_string(filled) + " missing values");
  return filled;
}

}  // namespace

PreparedSeries prepare_series(Series series, const json& cfg, int train_rows) {
  const int n = series.rows();
  const double tf = at_path(cfg, "data.train_fraction").get<double>();
  const int train_end = train_rows >= 0 ? train_rows
                        : tf > 0        ? static_cast<int>(std::floor(tf * n))
                                        : probation_length(n);
  // The training rows are filled from themselves alone (missing.hpp), before the normalizer is fitted.
  fill_as_configured(series, cfg, train_end);
  const Normalizer norm =
      fit_normalizer(series, parse_norm_kind(at_path(cfg, "data.normalize").get<std::string>()), train_end);
  // A flat training part (a stuck sensor, a column that only changes later) teaches the model nothing but
  // that level: every later change then scores as an error. Said, since the scores alone do not show why.
  for (size_t c = 0; c < norm.constant.size(); ++c)
    if (norm.constant[c])
      log::warn(series.source() + ": value column " + std::to_string(c + 1) + " is constant in the " +
                std::to_string(train_end) +
                " training rows; the model learns that level only, and every change " +
                "after them scores as a prediction error");
  const std::vector<std::string> features = calendar_inputs(series, cfg, train_end);
  return build_prepared(std::move(series), train_end, norm, features);
}

PreparedSeries prepare_series_as(Series series, const json& cfg, int train_end, const Normalizer& norm,
                                 const std::vector<std::string>& features) {
  const std::string where = series.path.empty() ? series.name : series.path;
  if (norm.offset.size() != static_cast<size_t>(series.dims) || norm.scale.size() != norm.offset.size())
    throw DataError(where, 0,
                    "has " + std::to_string(series.dims) + " value column(s); the models were trained on " +
                        std::to_string(norm.offset.size()));
  const bool timed =
      series.time_us.size() == static_cast<size_t>(series.rows()) && !series.timestamps.empty();
  if (!features.empty() && !timed)
    throw DataError(where, 0,
                    "the models read calendar inputs (" + features.front() +
                        "), which need a timestamp on every row; this series has none");
  fill_as_configured(series, cfg, std::min(train_end, series.rows()));
  return build_prepared(std::move(series), train_end, norm, features);
}

WindowSplit window_split(int rows, int train_end, const json& v) {
  WindowOptions o;
  o.window = at_path(v, "model.window").get<int>();
  o.horizon = at_path(v, "model.horizon").get<int>();
  o.train_end = train_end;
  o.val_fraction = at_path(v, "train.val_fraction").get<double>();
  o.purge = at_path(v, "train.purge").get<bool>();
  WindowSplit split = training_windows(rows, o);
  const int cap = at_path(v, "train.max_windows").get<int>();
  if (cap > 0 && static_cast<int>(split.train.size()) > cap)
    split.train.erase(split.train.begin(), split.train.end() - cap);  // keep the latest windows
  return split;
}

WindowSource make_window_source(const PreparedSeries& p, const json& v) {
  WindowSplit split = window_split(p.series.rows(), p.train_end, v);
  WindowSource src;
  src.x = p.x.data();
  src.y = p.y.data();
  src.n = p.series.rows();
  src.train = std::move(split.train);
  src.val = std::move(split.val);
  return src;
}

namespace {

template <class T>
std::size_t vector_bytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

}  // namespace

std::size_t prepared_series_bytes(const PreparedSeries& p) {
  const Series& s = p.series;
  return sizeof(PreparedSeries) + s.timestamps.heap_bytes() + vector_bytes(s.time_us) + vector_bytes(s.values) +
         vector_bytes(s.lines) + vector_bytes(p.x) + vector_bytes(p.y) + vector_bytes(p.target);
}

}  // namespace lstmad
