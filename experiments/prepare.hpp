// One series made ready for training and scoring: missing values filled by the configured policy,
// values normalized with statistics of the training rows only, and the float buffers the engines read.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "data/normalize.hpp"
#include "data/series.hpp"
#include "data/windows.hpp"
#include "experiments/config.hpp"
#include "lstm/engine.hpp"

namespace lstmad {

struct PreparedSeries {
  Series series;          // as read (raw values; NAB outputs repeat them)
  int train_end = 0;      // rows [0, train_end) may be trained on
  int score_begin = 0;    // first row counted by the per-series metrics
  int input_dims = 1;     // columns of x: the series' dims, then 2 per calendar feature
  std::vector<std::string> time_features;  // the calendar inputs this series got (data.time_features_gate)
  Normalizer norm;                         // fitted on the training rows (or given: prepare_series_as)
  std::vector<float> x;   // normalized, rows x input_dims
  std::vector<float> y;   // normalized column 0
  std::vector<double> target;  // normalized column 0 in double, for the errors
};

// The heap a prepared series holds (its rows' timestamp texts, values and model inputs), near enough to
// size run.series_memory_mb.
std::size_t prepared_series_bytes(const PreparedSeries& p);

// Applies data.missing, data.train_fraction and data.normalize to a loaded series. train_rows >= 0 fixes
// the training part (NASA: the train file's rows); otherwise data.train_fraction or NAB's probation.
PreparedSeries prepare_series(Series series, const json& config, int train_rows = -1);

// As prepare_series, with the training part, the normalization and the calendar inputs of an earlier
// preparation (a saved model's, for `lstmad detect`) instead of fitting them on this series' rows: the
// values the models see are on the scale they were trained on. data.missing fills the series as in the
// run. A calendar input on a series without timestamps, or a normalization for another number of value
// columns, is a DataError naming the series' file.
PreparedSeries prepare_series_as(Series series, const json& config, int train_end, const Normalizer& norm,
                                 const std::vector<std::string>& time_features);

// Pearson autocorrelation of column 0 over the first train_end rows at a lag of one period of `feature`
// (a day for time_of_day, a week for day_of_week), the lag in rows from the median time step. NaN when
// the rows cover fewer than two periods, a period is under two rows, the timestamps do not advance, or a
// side is constant.
double period_autocorrelation(const Series& series, int train_end, const std::string& feature);

// The calendar inputs (data.time_features) a series gets: all of them, or with data.time_features_gate
// those whose period the first train_end rows follow. Without a gate, a series without timestamps is a
// DataError naming its file.
std::vector<std::string> calendar_inputs(const Series& series, const json& config, int train_end);

// The training and validation windows of one setting (window, horizon, val_fraction, purge, max_windows)
// on a series of `rows` rows whose first `train_end` may be trained on.
WindowSplit window_split(int rows, int train_end, const json& setting);

// Those windows over the prepared series' buffers.
WindowSource make_window_source(const PreparedSeries& p, const json& setting);

}  // namespace lstmad
