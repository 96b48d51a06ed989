// Nonparametric dynamic thresholding with pruning (Hundman et al., KDD 2018), run causally: the
// decision for row i uses the smoothed errors of rows i-window+1 .. i only.
//
// At row i, over the window's errors e (mean mu, standard deviation sigma), each candidate threshold
// eps = mu + z sigma (z from z_min to z_max by z_step) is rated
//     (delta_mu / mu + delta_sigma / sigma) / (n_above + n_sequences^2)
// where delta_mu and delta_sigma are how much the mean and deviation fall when the points above eps are
// removed, n_above counts those points and n_sequences their maximal runs; the best-rated eps wins.
// Pruning: the runs' peak errors, sorted in decreasing order and followed by the highest nominal error
// (below eps and more than `buffer` positions from every run, as telemanom leaves out each anomaly's
// neighbourhood), are compared step by step; runs after the last step that falls by more than `prune` (a
// fraction) are nominal. Row i is anomalous when it lies in a surviving run or within `buffer` rows after one
// (the paper widens runs both ways; only the forward half is causal).
#pragma once
#include <vector>

namespace lstmad {

struct DynamicThresholdOptions {
  int window = 2000;     // history rows the threshold is chosen from
  double z_min = 2.5, z_max = 10.0, z_step = 0.5;
  int buffer = 100;      // rows after an anomalous run that stay anomalous
  double prune = 0.13;   // minimum fractional decrease between consecutive run peaks
  int min_history = 100; // rows of errors needed before any decision
};

// 1 for anomalous rows, else 0; NaN errors (no prediction) are skipped and score 0.
std::vector<double> dynamic_threshold_detections(const std::vector<double>& smoothed_errors,
                                                 const DynamicThresholdOptions& options);

// Exponentially weighted moving average with span s (alpha = 2 / (s + 1)), skipping NaN.
std::vector<double> ewma(const std::vector<double>& x, double span);

}  // namespace lstmad
