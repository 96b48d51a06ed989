#include "data/series.hpp"

#include <algorithm>
#include <cmath>

#include "data/timestamp.hpp"

namespace lstmad {

std::vector<int> Series::point_labels() const {
  std::vector<int> labels(static_cast<size_t>(rows()), 0);
  for (const auto& w : windows)
    for (int i = std::max(0, w.start); i <= w.end && i < rows(); ++i) labels[static_cast<size_t>(i)] = 1;
  return labels;
}

void TimestampOrderTally::add(const Series& s) {
  if (s.repeated_timestamps == 0 && s.backward_timestamps == 0) return;
  ++series;
  repeated += s.repeated_timestamps;
  backward += s.backward_timestamps;
}

std::string TimestampOrderTally::summary(std::size_t series_loaded) const {
  if (series == 0) return {};
  return std::to_string(series) + " of " + std::to_string(series_loaded) + " series have repeated (" +
         std::to_string(repeated) + ") or backward (" + std::to_string(backward) +
         ") timestamps, kept in file order; -v names them";
}

void set_stand_in_times(Series& s) {
  const int n = s.rows();
  s.timestamps.clear();
  s.time_us.clear();
  // Row i is second i: at most 2038-01-19 for any int row count, so every text has the whole-second length.
  s.timestamps.reserve(static_cast<size_t>(n), static_cast<size_t>(n) * kWholeSecondTimestampChars);
  s.time_us.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    s.time_us.push_back(static_cast<int64_t>(i) * 1000000);
    s.timestamps.push_back(format_timestamp_us(s.time_us.back()));
  }
  s.stand_in_times = true;
}

int probation_length(int rows) {
  double p = std::min(std::floor(0.15 * static_cast<double>(rows)), 0.15 * 5000.0);
  return static_cast<int>(p);
}

}  // namespace lstmad
