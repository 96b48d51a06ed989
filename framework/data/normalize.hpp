// Normalization of a series' values, fitted on the training rows only (the first `fit_rows` rows, in the
// pipeline the NAB probationary period) and applied to every row, so that no statistic of the scored part
// leaks into training. Per value column: z = (x - offset) / scale, x = z * scale + offset.
//   minmax  offset = min, scale = max - min: training rows map to [0, 1]; later rows may leave it
//   zscore  offset = mean, scale = population standard deviation (divide by the row count)
//   none    offset = 0, scale = 1 (data already scaled, e.g. NASA telemetry in [-1, 1])
// A constant training part (scale <= 1e-12 * max(1, |offset|)) would divide by (nearly) zero; the
// fallback is scale = 1, i.e. values are only shifted so that the training level is 0, and the column is
// marked `constant` so the caller can warn.
#pragma once
#include <string>
#include <vector>

#include "data/series.hpp"

namespace lstmad {

enum class NormKind { MinMax, ZScore, None };

// "minmax" | "zscore" | "none"; anything else is a ConfigError listing the valid names.
NormKind parse_norm_kind(const std::string& name);
std::string to_string(NormKind kind);
std::vector<std::string> norm_kind_names();

struct Normalizer {
  NormKind kind = NormKind::ZScore;
  int fit_rows = 0;            // rows the statistics came from: [0, fit_rows)
  std::vector<double> offset;  // per value column
  std::vector<double> scale;   // per value column, never 0
  std::vector<bool> constant;  // per value column: the training part was constant (scale fell back to 1)

  double forward(double x, int col = 0) const {
    return (x - offset[static_cast<size_t>(col)]) / scale[static_cast<size_t>(col)];
  }
  double inverse(double z, int col = 0) const {
    return z * scale[static_cast<size_t>(col)] + offset[static_cast<size_t>(col)];
  }
  // In place, every row and column of `series` (which must have as many columns as the fit).
  void apply(Series& series) const;
  void invert(Series& series) const;
  // Inverse of one column's values, e.g. predictions back to data units. (A difference of normalized
  // values, such as a prediction error, converts by `scale` alone.)
  std::vector<double> inverse_column(const std::vector<double>& z, int col = 0) const;
};

// Fits on rows [0, fit_rows) of `series`, skipping NaN. DataError (naming the series) when fit_rows is not
// in [1, rows] or a column has no finite training value.
Normalizer fit_normalizer(const Series& series, NormKind kind, int fit_rows);

}  // namespace lstmad
