// One series made ready for training and scoring: missing values filled by the configured policy,
// values normalized with statistics of the training rows only, and the float buffers the engines read.
#pragma once
#include <string>
#include <vector>

#include "data/series.hpp"
#include "experiments/config.hpp"
#include "lstm/engine.hpp"

namespace lstmad {

struct PreparedSeries {
  Series series;          // as read (raw values; NAB outputs repeat them)
  int train_end = 0;      // rows [0, train_end) may be trained on
  int score_begin = 0;    // first row counted by the per-series metrics
  int input_dims = 1;     // columns of x: the series' dims, then 2 per calendar feature
  std::vector<float> x;   // normalized, rows x input_dims
  std::vector<float> y;   // normalized column 0
  std::vector<double> target;  // normalized column 0 in double, for the errors
};

// Applies data.missing, data.train_fraction and data.normalize to a loaded series. train_rows >= 0 fixes
// the training part (NASA: the train file's rows); otherwise data.train_fraction or NAB's probation.
PreparedSeries prepare_series(Series series, const json& config, int train_rows = -1);

// Training and validation windows of one setting (window, horizon, val_fraction, max_windows).
WindowSource make_window_source(const PreparedSeries& p, const json& setting);

}  // namespace lstmad
