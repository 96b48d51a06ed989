// Reader of NAB-layout series files: a header `timestamp,value` (more value columns are read as extra
// dimensions), timestamps `YYYY-MM-DD HH:MM:SS`, CRLF or LF, with or without a final newline, numbers in
// any strtod form (integers, decimals, scientific notation). Rows are kept in file order; duplicate and
// backward timestamps are counted (Series::repeated_timestamps, backward_timestamps; a debug line names the
// file), never sorted away.
//
// An empty field, "nan", "NaN", "null" or "NA" is a missing value (NaN), left for the configured
// missing-value policy (data/missing.hpp). Anything else that is not a number is a DataError naming the
// file and line, as is an empty or missing file, a bad header, a wrong column count or a bad timestamp.
#pragma once
#include <string>

#include "data/series.hpp"

namespace lstmad {

struct CsvReadReport {
  int duplicate_timestamps = 0;
  int backward_timestamps = 0;
  int missing_values = 0;
};

// `name` becomes Series::name (the corpus-relative id).
Series read_series_csv(const std::string& path, const std::string& name, CsvReadReport* report = nullptr);
// Parses CSV text already in memory; `path` is used in error messages.
Series parse_series_csv(const std::string& text, const std::string& path, const std::string& name,
                        CsvReadReport* report = nullptr);

}  // namespace lstmad
