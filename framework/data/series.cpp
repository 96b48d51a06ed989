#include "data/series.hpp"

#include <algorithm>
#include <cmath>

namespace lstmad {

std::vector<int> Series::point_labels() const {
  std::vector<int> labels(static_cast<size_t>(rows()), 0);
  for (const auto& w : windows)
    for (int i = std::max(0, w.start); i <= w.end && i < rows(); ++i) labels[static_cast<size_t>(i)] = 1;
  return labels;
}

int probation_length(int rows) {
  double p = std::min(std::floor(0.15 * static_cast<double>(rows)), 0.15 * 5000.0);
  return static_cast<int>(p);
}

}  // namespace lstmad
