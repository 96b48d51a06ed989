// Sliding windows over a normalized series, in the engine's convention (lstm/engine.hpp): the window
// starting at row s reads rows [s, s+T) and its targets are rows s+T .. s+T+horizon-1 of column 0.
//
// Training windows use only the training part [0, P): every target row is < P, so s + T + horizon <= P.
// Starts are 0, stride, 2*stride, ...; the last val_fraction of them (chronologically) are the validation
// windows, the rest the training windows (at least one training window always remains). With purge, the
// training windows whose targets overlap the validation targets are left out (horizon > 1 only).
//
// Prediction: every row i >= T is predicted by the window [i-T, i), i.e. start i-T, for i = T .. n-1; rows
// before T get no prediction. With horizon > 1 the starts are the same and output j of the window starting
// at s predicts row s+T+j (outputs past the last row are ignored): row i is the first-step prediction of
// start i-T, and its j-step-ahead prediction comes from start i-T-j.
#pragma once
#include <vector>

#include "data/series.hpp"
#include "lstm/engine.hpp"

namespace lstmad {

struct WindowOptions {
  int window = 50;            // T, >= 1
  int horizon = 1;            // >= 1
  int train_end = -1;         // P: training rows [0, P); -1 = probation_length(rows)
  double val_fraction = 0.2;  // in [0, 1)
  int stride = 1;             // >= 1, between consecutive training/validation starts
  // Drop the training windows whose targets reach the first validation window's targets (with horizon h,
  // the starts s > v0 - h), so that no validation target is also a training target and early stopping
  // judges rows the gradient never saw. The earliest training window is kept when nothing else remains.
  bool purge = false;
};

struct WindowSplit {
  std::vector<int> train;  // ascending
  std::vector<int> val;    // ascending, all after the training starts
};

// Training and validation starts for a series of `rows` rows (empty when P < T + horizon).
// ConfigError when window, horizon or stride < 1 or val_fraction is outside [0, 1).
WindowSplit training_windows(int rows, const WindowOptions& options);
// Starts 0 .. rows-T-1: start k predicts row k+T (empty when rows <= T).
std::vector<int> prediction_starts(int rows, int window);

// A series' data in the engine's float layout, with its windows. source() points into x and y, so it is
// valid while this object lives (a move keeps the vectors' buffers and so the pointers).
struct SeriesWindows {
  int n = 0;       // rows
  int dims = 1;    // D
  int window = 0;  // T
  int horizon = 1;
  int train_end = 0;     // P
  std::vector<float> x;  // n x D, row-major: every value column
  std::vector<float> y;  // n: column 0, the value predicted and scored
  std::vector<int> train, val, predict;

  WindowSource source() const;
  // The row predicted by output j of prediction window k.
  int predicted_row(int k, int j = 0) const { return predict[static_cast<size_t>(k)] + window + j; }
};

// Builds the windows of a normalized, gap-free series. DataError naming the series when a value is not
// finite (missing values must be filled first), when P is outside [1, rows], or when the training part is
// too short for one window of T inputs and `horizon` targets.
SeriesWindows make_series_windows(const Series& normalized, const WindowOptions& options);

}  // namespace lstmad
