// Reader of NAB-layout series files: a header `timestamp,value` (more value columns are read as extra
// dimensions), timestamps `YYYY-MM-DD HH:MM:SS`, CRLF or LF (a bare CR is a DataError), with or without a
// final newline, numbers in any strtod form (integers, decimals, scientific notation). Fields may be quoted
// as RFC 4180 writes them (data/csv_fields.hpp), within one line: a quoted field holding a line break is a
// DataError naming the line. Rows are kept in file order; duplicate and backward timestamps are counted
// (Series::repeated_timestamps, backward_timestamps; a debug line names the file), never sorted away.
//
// An empty field, "nan", "NaN", "null" or "NA" is a missing value (NaN), left for the configured
// missing-value policy (data/missing.hpp). Anything else that is not a number is a DataError naming the
// file and line, as is an empty or missing file, a bad header, a wrong column count or a bad timestamp.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/series.hpp"

namespace lstmad {

struct CsvReadReport {
  int duplicate_timestamps = 0;
  int backward_timestamps = 0;
  int missing_values = 0;
};

// Which columns hold what. The default is NAB's layout: the header starts with `timestamp` (format
// YYYY-MM-DD HH:MM:SS), every other column is a value. A generic layout (nab = false) names its columns:
// the time column anywhere in the header (NAB's form, ISO 8601's YYYY-MM-DDTHH:MM:SS[Z], or seconds since
// 1970; "" = none, rows one second apart from 1970-01-01), a label column whose nonzero rows are anomalous
// (each maximal run of them becomes a label window; "" = none), and the value columns (in this order, the
// first being the one predicted; empty = every other column in file order; unlisted columns are skipped).
struct CsvColumns {
  bool nab = true;
  std::string time = "timestamp";
  // How a generic layout's time column reads: "auto" (the three forms above), "epoch_s" or "epoch_ms"
  // (numbers of seconds or milliseconds since 1970), or a pattern of parse_timestamp_pattern_us such as
  // "%Y%m%d" or "%d/%m/%Y %H:%M" (data/timestamp.hpp).
  std::string time_format = "auto";
  std::string label;
  // Whether a file may lack the label column (new rows to score, whose labels are not known yet): such a
  // file reads with no label windows. Where the column is there it is read as ever.
  bool label_optional = false;
  // The label values that mark an anomalous row, as text (SWaT's "Attack", WADI's "-1"): any other value
  // is a normal row. Empty: the label is a number, nonzero on anomalous rows.
  std::vector<std::string> anomaly_labels;
  // How the label column's maximal runs of labeled rows become label windows: "rows" (each run is one
  // window) or "nab" (NAB's windows around them, data/nab_windows.hpp: nab_windows_from_runs).
  std::string label_windows = "rows";
  std::vector<std::string> values;
};

// Empty when `format` is a CsvColumns::time_format the reader takes; otherwise what is wrong with it.
std::string csv_time_format_error(const std::string& format);

// One value field as every reader here takes it (CSV columns, UCR archive tokens): NaN for a missing value
// (empty, nan, NaN, NAN, null, NA, None), else a decimal number in any strtod form (hexadecimal is refused);
// nullopt when it is neither. Infinite values parse; the readers refuse them with the line.
std::optional<double> parse_value_field(std::string_view field);

// The .csv files below root at any depth, relative to it, sorted (a folder of series in the generic layout).
// IoError when root is not a folder. A folder for which `run_folder` is true holds a run's outputs, not
// series (results.csv, NAB-format score files): it is left out with all it holds, and said so.
std::vector<std::string> list_csv_files(const std::string& root,
                                        const std::function<bool(const std::string&)>& run_folder = {});

// `name` becomes Series::name (the corpus-relative id).
Series read_series_csv(const std::string& path, const std::string& name, CsvReadReport* report = nullptr,
                       const CsvColumns& layout = {});
// Parses CSV text already in memory; `path` is used in error messages. A header that lacks a named
// column, a label that is not a number, or a column named twice is a DataError naming the file and line.
Series parse_series_csv(std::string_view text, const std::string& path, const std::string& name,
                        CsvReadReport* report = nullptr, const CsvColumns& layout = {});

}  // namespace lstmad
