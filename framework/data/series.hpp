// A labeled time series: rows in file order (never sorted or de-duplicated: NAB scores by row position),
// D values per row (column 0 is the value predicted and scored), and label windows as row ranges.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lstmad {

// An anomaly window: rows [start, end], both inclusive. The text fields keep the label file's strings.
struct LabelWindow {
  int start = 0;
  int end = 0;
  std::string start_text, end_text;
};

struct Series {
  std::string name;                     // corpus-relative id, e.g. "realKnownCause/nyc_taxi.csv"
  std::string path;                     // file it came from
  std::vector<std::string> timestamps;  // as written in the file (NAB outputs repeat them verbatim)
  std::vector<int64_t> time_us;         // parsed timestamps, microseconds since 1970 (0 when absent)
  int dims = 1;                         // D: values per row
  std::vector<double> values;           // rows x dims, row-major; NaN marks a missing value
  std::vector<LabelWindow> windows;     // ground-truth anomaly windows, ordered, non-overlapping

  int rows() const { return dims > 0 ? static_cast<int>(values.size() / static_cast<size_t>(dims)) : 0; }
  double value(int row, int col = 0) const { return values[static_cast<size_t>(row) * dims + col]; }
  // 1 when row lies inside a label window, else 0.
  std::vector<int> point_labels() const;
};

// NAB's probationary length: min(floor(0.15 n), 750) rows, computed as NAB does (IEEE double product).
int probation_length(int rows);

}  // namespace lstmad
