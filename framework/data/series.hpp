// A labeled time series: rows in file order (never sorted or de-duplicated: NAB scores by row position),
// D values per row (column 0 is the value predicted and scored), and label windows as row ranges.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/timestamp_texts.hpp"

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
  TimestampTexts timestamps;            // as written in the file (NAB outputs repeat them verbatim)
  std::vector<int64_t> time_us;         // parsed timestamps, microseconds since 1970 (0 when absent)
  int dims = 1;                         // D: values per row
  std::vector<double> values;           // rows x dims, row-major; NaN marks a missing value
  std::vector<LabelWindow> windows;     // ground-truth anomaly windows, ordered, non-overlapping
  int repeated_timestamps = 0;          // rows whose timestamp equals the previous row's (kept in file order)
  int backward_timestamps = 0;  // rows whose timestamp is before the previous row's (kept in file order)
  std::vector<int> lines;       // 1-based line of each row in a text file (CSV, UCR); empty otherwise
  // The source holds no times (a CSV without a time column, NASA's arrays, UCR's text files):
  // timestamps and time_us are stand-ins, one second a row from 1970-01-01, that keep NAB-format result
  // files valid and must not feed calendar inputs.
  bool stand_in_times = false;
  // A second recording appended from this row on (NASA: a channel's test file after its train file);
  // 0: one recording. No window reaches across it: the rows from it up to it + the window length are
  // only context for the ones after, as the first rows of any series are, and no training or fine-tuning
  // window spans it.
  int joined_at = 0;

  // What error messages name: the file it came from, or its name where it has no file (a generated series).
  const std::string& source() const { return path.empty() ? name : path; }
  // The file line of `row` for error messages, or 0 where rows are not lines of a text file (.npy).
  int line_of(int row) const {
    return row >= 0 && static_cast<size_t>(row) < lines.size() ? lines[static_cast<size_t>(row)] : 0;
  }

  int rows() const { return dims > 0 ? static_cast<int>(values.size() / static_cast<size_t>(dims)) : 0; }
  double value(int row, int col = 0) const { return values[static_cast<size_t>(row) * dims + col]; }
  // 1 when row lies inside a label window, else 0.
  std::vector<int> point_labels() const;
};

// Repeated and backward timestamps over a corpus, reported once per run rather than once per file (the
// NAB corpus alone has eight such files, and a run loads them all).
struct TimestampOrderTally {
  int series = 0;  // series with at least one
  long repeated = 0, backward = 0;
  void add(const Series& s);
  // Empty when no series had any; otherwise one sentence for a warning.
  std::string summary(std::size_t series_loaded) const;
};

// Gives `s` (its values set) the stand-in times above, replacing any it had.
void set_stand_in_times(Series& s);

// NAB's probationary length: min(floor(0.15 n), 750) rows, computed as NAB does (IEEE double product).
int probation_length(int rows);

}  // namespace lstmad
