// The UCR Time Series Anomaly Archive (Wu and Keogh; the SIGKDD 2021 contest set, 250 series) in its
// published layout: one text file per series, its label in the name,
//   NNN_UCR_Anomaly_<name>_<train end>_<anomaly begin>_<anomaly end>.txt
// The file holds the values only, separated by newlines (most files) or by spaces on one line (some).
// The numbers in the name are 1-based rows, MATLAB style: rows 1 .. train_end are the training part (free
// of anomalies), and rows begin .. end (inclusive) are the one anomaly. Loaded, a series has 0-based rows:
// the training part is rows [0, train_end) and the label window is [begin - 1, end - 1].
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "data/series.hpp"

namespace lstmad {

struct UcrFileName {
  std::string number;  // "001"
  std::string name;    // "DISTORTED1sddb40"
  int train_end = 0;   // 1-based last training row
  int begin = 0;       // 1-based first anomalous row
  int end = 0;         // 1-based last anomalous row
};

// The fields of an archive file name (no folder), or nothing when `file` does not follow the pattern:
// digits, "_UCR_Anomaly_", a non-empty name, three positive integers joined by "_", ".txt".
std::optional<UcrFileName> parse_ucr_file_name(const std::string& file);

// The archive's series files under root (at any depth, so that the zip's nested folders work): their paths
// relative to root, sorted by file name. IoError when root is not a folder; files that do not follow the
// pattern are not series and are left out.
std::vector<std::string> list_ucr_files(const std::string& root);

// Parses the values of one file (`path` names it in errors). Values are separated by any mix of spaces,
// tabs, commas and line breaks, each read as a CSV value field is (parse_value_field: "nan", "NA" and the
// like are missing values, left to the missing-value policy; hexadecimal is refused). A comma ends a
// field, so an empty one (",," or a comma opening a line) is a DataError rather than a skipped row; a
// comma ending a line is allowed. One value per line, or every value on one line, as the archive writes
// them: several lines of several values (columns) are a DataError naming the first such line. DataError
// naming the file and line for a token that is not a number or is infinite, and naming the file for a
// file without values. `lines`, when given, receives each value's
// 1-based line.
std::vector<double> parse_ucr_values(const std::string& text, const std::string& path,
                                     std::vector<int>* lines = nullptr);

// Loads root/relpath as a Series named `id`: one column, timestamps one second apart from 1970-01-01 (so
// that NAB-format outputs work), and the anomaly as its one label window. *train_rows receives train_end.
// DataError naming the file when its name does not follow the pattern, or when the numbers in it do not
// fit the data: 1 <= train_end < rows, 1 <= begin <= end <= rows.
Series load_ucr_series(const std::string& root, const std::string& relpath, const std::string& id,
                       int* train_rows);

}  // namespace lstmad
