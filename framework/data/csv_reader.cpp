#include "data/csv_reader.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string_view>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "data/timestamp.hpp"

namespace lstmad {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool is_missing(std::string_view f) {
  return f.empty() || f == "nan" || f == "NaN" || f == "NAN" || f == "null" || f == "NA" || f == "None";
}

// Parses a whole field as a finite or infinite double; false when any character is left over.
bool parse_double(std::string_view f, double& out) {
  if (f.size() > 64) return false;
  // strtod also reads hexadecimal ("0x1p3"); a NAB value is decimal, as pandas reads it.
  if (f.find_first_of("xX") != std::string_view::npos) return false;
  char buf[72];
  f.copy(buf, f.size());
  buf[f.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(buf, &end);
  if (end == buf || *end != '\0') return false;
  if (std::isnan(v)) return false;  // "nan(...)" forms are handled by is_missing
  out = v;
  return true;
}

std::string show(std::string_view f) {
  std::string s(f.substr(0, 40));
  return "\"" + s + (f.size() > 40 ? "...\"" : "\"");
}

}  // namespace

Series parse_series_csv(const std::string& text, const std::string& path, const std::string& name,
                        CsvReadReport* report) {
  Series s;
  s.name = name;
  s.path = path;
  CsvReadReport rep;
  size_t pos = 0;
  long line_no = 0;
  int columns = 0;
  auto next_line = [&](std::string_view& line) -> bool {
    if (pos >= text.size()) return false;
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    line = std::string_view(text).substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl + 1;
    ++line_no;
    return true;
  };

  std::string_view line;
  // Header (a UTF-8 byte-order mark is tolerated).
  if (!next_line(line) || trim(line).empty()) throw DataError(path, 0, "empty file: expected a header `timestamp,value`");
  if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
  {
    std::string_view rest = line;
    int idx = 0;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view field = trim(rest.substr(0, comma));
      if (idx == 0 && field != "timestamp")
        throw DataError(path, line_no, "header must start with `timestamp`, found " + show(field));
      ++idx;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    columns = idx;
    if (columns < 2) throw DataError(path, line_no, "header needs `timestamp` and at least one value column");
  }
  s.dims = columns - 1;

  int64_t prev = std::numeric_limits<int64_t>::min();
  int64_t max_seen = std::numeric_limits<int64_t>::min();
  while (next_line(line)) {
    if (trim(line).empty()) {
      // A blank line is tolerated only at the very end of the file.
      std::string_view rest = std::string_view(text).substr(std::min(pos, text.size()));
      bool only_blank = true;
      for (char c : rest)
        if (c != '\n' && c != '\r' && c != ' ' && c != '\t') only_blank = false;
      if (only_blank) break;
      throw DataError(path, line_no, "blank line inside the data");
    }
    std::string_view rest = line;
    int col = 0;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view field = trim(rest.substr(0, comma));
      if (col >= columns) throw DataError(path, line_no, "more than " + std::to_string(columns) + " columns");
      if (col == 0) {
        auto us = parse_timestamp_us(field);
        if (!us) throw DataError(path, line_no, "bad timestamp " + show(field) + ", expected YYYY-MM-DD HH:MM:SS");
        if (*us == prev) ++rep.duplicate_timestamps;
        else if (*us < max_seen) ++rep.backward_timestamps;
        prev = *us;
        if (*us > max_seen) max_seen = *us;
        s.timestamps.emplace_back(field);
        s.time_us.push_back(*us);
      } else {
        double v;
        if (is_missing(field)) {
          v = std::numeric_limits<double>::quiet_NaN();
          ++rep.missing_values;
        } else if (!parse_double(field, v)) {
          throw DataError(path, line_no, "value in column " + std::to_string(col + 1) + " is not a number: " + show(field));
        } else if (!std::isfinite(v)) {
          throw DataError(path, line_no, "value in column " + std::to_string(col + 1) + " is infinite: " + show(field));
        }
        s.values.push_back(v);
      }
      ++col;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (col != columns)
      throw DataError(path, line_no, "expected " + std::to_string(columns) + " columns, found " + std::to_string(col));
  }
  if (s.timestamps.empty()) throw DataError(path, 0, "no data rows after the header");
  if (rep.duplicate_timestamps || rep.backward_timestamps)
    log::debug(path + ": " + std::to_string(rep.duplicate_timestamps) + " repeated and " +
              std::to_string(rep.backward_timestamps) + " backward timestamps, kept in file order");
  s.repeated_timestamps = rep.duplicate_timestamps;
  s.backward_timestamps = rep.backward_timestamps;
  if (report) *report = rep;
  return s;
}

Series read_series_csv(const std::string& path, const std::string& name, CsvReadReport* report) {
  std::string text;
  try {
    text = files::read(path);
  } catch (const IoError& e) {
    throw DataError(path, 0, std::string("cannot read: ") + e.what());
  }
  return parse_series_csv(text, path, name, report);
}

}  // namespace lstmad
