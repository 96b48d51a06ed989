// telemanom's thresholding as its published code runs it (Hundman et al., KDD 2018; the repository's
// function-based errors.py, whose output the paper's SMAP/MSL numbers are), for results comparable with
// those: the errors are smoothed (pandas' ewm, adjust=True, span = batch x windows x smoothing_perc), and
// processed in windows of `windows` batches that advance one batch of `batch` rows at a time. In each
// window the threshold eps = mean + z sd is swept (z = 2.5, 3, ..., 11.5; 12 where none qualifies) and the
// one rated best by (drop of mean / mean + drop of sd / sd) / (runs^2 + flagged points), counting points
// within buffer - 1 of an error above eps, is kept where it makes at most five runs and flags fewer than
// half the window; the same for the errors reflected about their mean (errors far below normal). A window
// whose errors are small against its values (sd of errors <= 5% of the values' sd and largest error <= 5%
// of their 5-95 percentile range, or largest error <= 0.05) flags nothing; an error flags its buffer
// neighbours in the window's newest batch (the whole first window but its first rows); runs are pruned
// by the relative fall between consecutive peaks (`prune`), the last against the highest error not
// flagged. Runs of a single point are dropped at the end. Not causal: a row is decided with the rest of
// its batch; binary scores.
#pragma once
#include <vector>

namespace lstmad {

struct TelemanomOptions {
  int batch = 70;                // rows each window advances by (telemanom's batch_size)
  int windows = 30;              // batches in a window (window_size): 2,100 rows
  double smoothing_perc = 0.05;  // EWMA span = int(batch x windows x smoothing_perc) = 105
  int buffer = 100;              // error_buffer
  double prune = 0.13;           // p: minimum relative fall between consecutive run peaks
  int l_s = 250;  // the model's input length: the first l_s smoothed errors are replaced by the
                  // mean of the first 2 l_s, and the first window ignores its first 2 l_s rows
                  // (l_s below 2,500 scored rows, none below 1,800)
};

// 1 for rows in an anomalous sequence, else 0. `errors`: absolute prediction errors per row, NaN where a
// row is not scored (left out: the rule runs on the other rows, in order); `values`: the predicted
// values per row in the errors' units (for the scale check; NaN values are left out of its statistics).
std::vector<double> telemanom_detections(const std::vector<double>& errors, const std::vector<double>& values,
                                         const TelemanomOptions& options);

}  // namespace lstmad
