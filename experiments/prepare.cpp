#include "experiments/prepare.hpp"

#include <algorithm>
#include <cmath>

#include "core/log.hpp"
#include "data/missing.hpp"
#include "data/normalize.hpp"
#include "data/windows.hpp"

namespace lstmad {

PreparedSeries prepare_series(Series series, const json& cfg, int train_rows) {
  PreparedSeries p;
  int filled = fill_missing(series, parse_missing_policy(at_path(cfg, "data.missing").get<std::string>()));
  if (filled > 0) log::warn(series.path + ": filled " + std::to_string(filled) + " missing values");
  const int n = series.rows();
  const double tf = at_path(cfg, "data.train_fraction").get<double>();
  p.train_end = train_rows >= 0 ? train_rows : tf > 0 ? static_cast<int>(std::floor(tf * n)) : probation_length(n);
  p.score_begin = p.train_end;
  Normalizer norm =
      fit_normalizer(series, parse_norm_kind(at_path(cfg, "data.normalize").get<std::string>()), p.train_end);
  Series z = series;
  norm.apply(z);
  for (size_t c = 0; c < norm.constant.size(); ++c)
    if (norm.constant[c])
      log::debug(series.path + ": column " + std::to_string(c + 1) + " is constant in the training rows");
  p.x.assign(z.values.begin(), z.values.end());
  p.y.resize(static_cast<size_t>(n));
  p.target.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    p.target[static_cast<size_t>(i)] = z.value(i, 0);
    p.y[static_cast<size_t>(i)] = static_cast<float>(z.value(i, 0));
  }
  p.series = std::move(series);
  return p;
}

WindowSource make_window_source(const PreparedSeries& p, const json& v) {
  WindowOptions o;
  o.window = at_path(v, "model.window").get<int>();
  o.horizon = at_path(v, "model.horizon").get<int>();
  o.train_end = p.train_end;
  o.val_fraction = at_path(v, "train.val_fraction").get<double>();
  WindowSplit split = training_windows(p.series.rows(), o);
  const int cap = at_path(v, "train.max_windows").get<int>();
  if (cap > 0 && static_cast<int>(split.train.size()) > cap)
    split.train.erase(split.train.begin(), split.train.end() - cap);  // keep the latest windows
  WindowSource src;
  src.x = p.x.data();
  src.y = p.y.data();
  src.n = p.series.rows();
  src.train = std::move(split.train);
  src.val = std::move(split.val);
  return src;
}

}  // namespace lstmad
