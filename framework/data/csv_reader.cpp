#include "data/csv_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "data/csv_fields.hpp"
#include "data/nab_windows.hpp"
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
  // strtod also reads hexadecimal ("0x1p3"); a NAB value is decimal, as pandas reads it.
  if (f.find_first_of("xX") != std::string_view::npos) return false;
  double v = 0.0;
  if (!parse_whole_number(f, v) || std::isnan(v)) return false;  // "nan(...)" forms: is_missing
  out = v;
  return true;
}

std::string show(std::string_view f) {
  return quote_field(f);
}

}  // namespace

std::optional<double> parse_value_field(std::string_view field) {
  if (is_missing(field)) return std::numeric_limits<double>::quiet_NaN();
  double v;
  if (!parse_double(field, v)) return std::nullopt;
  return v;
}

namespace {

// What each column of a file holds.
enum class Role { Time, Value, Label, Ignored };

// Seconds (unit 1e6) or milliseconds (unit 1e3) since 1970, integer or decimal, as microseconds.
std::optional<int64_t> parse_epoch(std::string_view f, double unit) {
  double v;
  if (parse_double(f, v) && std::isfinite(v) && std::fabs(v * unit) < 9e18)
    return static_cast<int64_t>(std::llround(v * unit));
  return std::nullopt;
}

// A generic file's timestamp: NAB's form, ISO 8601's "T" separator with an optional "Z", or a number of
// seconds since 1970 (integer or decimal).
std::optional<int64_t> parse_any_timestamp(std::string_view f) {
  if (auto us = parse_timestamp_us(f)) return us;
  if (f.size() >= 19 && f[10] == 'T') {
    std::string t(f);
    t[10] = ' ';
    if (t.back() == 'Z') t.pop_back();
    if (auto us = parse_timestamp_us(t)) return us;
  }
  return parse_epoch(f, 1e6);
}

// A generic layout's timestamp in its time_format (CsvColumns::time_format).
std::optional<int64_t> parse_generic_timestamp(std::string_view f, const std::string& format) {
  if (format == "auto") return parse_any_timestamp(f);
  if (format == "epoch_s") return parse_epoch(f, 1e6);
  if (format == "epoch_ms") return parse_epoch(f, 1e3);
  return parse_timestamp_pattern_us(f, format);
}

std::string expected_timestamp(const CsvColumns& layout) {
  if (layout.nab) return "YYYY-MM-DD HH:MM:SS";
  if (layout.time_format == "auto") return "YYYY-MM-DD HH:MM:SS, YYYY-MM-DDTHH:MM:SS or seconds since 1970";
  if (layout.time_format == "epoch_s") return "seconds since 1970";
  if (layout.time_format == "epoch_ms") return "milliseconds since 1970";
  return "the pattern \"" + layout.time_format + "\"";
}

}  // namespace

std::string csv_time_format_error(const std::string& format) {
  if (format == "auto" || format == "epoch_s" || format == "epoch_ms") return {};
  const std::string why = timestamp_pattern_error(format);
  return why.empty() ? why
                     : "\"" + format + "\" is not \"auto\", \"epoch_s\", \"epoch_ms\" or a pattern: " + why;
}

namespace {

// Reads a file's text line by line with the line numbers that errors name, and splits lines into RFC 4180
// fields, trimmed. A line break inside quotes is not supported: rows are read line by line.
class LineReader {
 public:
  LineReader(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  // The next line without its line ending; false at the end of the text.
  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    size_t nl = text_.find('\n', pos_);
    if (nl == std::string::npos) nl = text_.size();
    line = text_.substr(pos_, nl - pos_);
    // Every CR before the LF goes: "\r\r\n" is what a CSV writer's CRLF becomes in a text-mode file on
    // Windows (Python's csv module without newline='').
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = nl + 1;
    ++line_no_;
    // A CR anywhere else ends a line the old Mac OS way, which would read as one long line.
    if (line.find('\r') != std::string_view::npos)
      throw error("line endings must be LF or CRLF, found a carriage return (CR) without a line feed");
    // strtod and the messages would stop at a NUL and take "12\0junk" for 12; a UTF-16 file is all NULs.
    if (line.find('\0') != std::string_view::npos)
      throw error("the line holds a NUL byte (a binary file, or text in UTF-16 rather than UTF-8?)");
    return true;
  }

  // Splits `line` into `rec` (reused from row to row: no allocation per row once it has grown).
  void split(std::string_view line, CsvRecord& rec) const {
    const CsvSplit result = split_csv_line(line, rec);
    if (result == CsvSplit::Ok) {
      for (std::string_view& f : rec.fields) f = trim(f);
      return;
    }
    const std::string column = "column " + std::to_string(rec.fields.size() + 1) + ": ";
    if (result == CsvSplit::TextAfterQuote)
      throw error(column +
                  "text after the closing quote of a quoted field (a quote inside quotes is written \"\")");
    // A quote later in the file would close this field on another line.
    if (text_.find('"', std::min(pos_, text_.size())) != std::string::npos)
      throw error(column + "a quoted field spans lines (line breaks inside quotes are not supported)");
    throw error(column + "unterminated quoted field (no closing quote)");
  }

  // True when nothing but blank space is left after the current line.
  bool only_blank_left() const {
    const std::string_view rest = text_.substr(std::min(pos_, text_.size()));
    return rest.find_first_not_of(" \t\r\n") == std::string_view::npos;
  }

  long line_no() const { return line_no_; }
  // A DataError at the current line.
  DataError error(const std::string& what) const { return DataError(path_, line_no_, what); }

 private:
  std::string_view text_;
  const std::string& path_;
  size_t pos_ = 0;
  long line_no_ = 0;
};

// Which column holds what, from the header and the layout.
struct ColumnRoles {
  std::vector<Role> role;
  int time_col = -1, label_col = -1;
  std::vector<int> value_order;  // the value columns, the one predicted first
};

// A header name that says labels or scores (case and surrounding spaces aside).
bool looks_like_labels(std::string_view name) {
  std::string n;
  for (char ch : name)
    if (!std::isspace(static_cast<unsigned char>(ch)))
      n += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* l :
       {"label", "labels", "is_anomaly", "anomaly", "anomalies", "is_anomalous", "anomaly_label",
        "anomaly_score", "raw_score", "changepoint", "is_changepoint", "attack", "normal/attack"})
    if (n == l) return true;
  return false;
}

ColumnRoles resolve_columns(const std::vector<std::string_view>& header, const CsvColumns& layout,
                            const LineReader& in, const std::string& path) {
  const int columns = static_cast<int>(header.size());
  if (columns == 1)
    for (const char sep : {';', '\t', '|'})
      if (header[0].find(sep) != std::string_view::npos)
        throw in.error("the header is one field holding " + show(std::string(1, sep)) +
                       ": fields are separated by commas only");
  ColumnRoles c;
  c.role.assign(header.size(), layout.values.empty() ? Role::Value : Role::Ignored);
  // A column the layout names must be one column of the header: with two of that name, which one the
  // model reads would be a guess.
  auto find = [&](const std::string& col, const char* what) {
    int found = -1;
    for (int i = 0; i < columns; ++i) {
      if (header[static_cast<size_t>(i)] != col) continue;
      if (found >= 0)
        throw in.error("the header names the " + std::string(what) + " column " + show(col) +
                       " twice (columns " + std::to_string(found + 1) + " and " + std::to_string(i + 1) +
                       ")");
      found = i;
    }
    if (found < 0) throw in.error("no " + std::string(what) + " column " + show(col) + " in the header");
    return found;
  };
  if (layout.nab) {
    if (header[0] != "timestamp")
      throw in.error("header must start with `timestamp`, found " + show(header[0]));
    if (columns < 2) throw in.error("header needs `timestamp` and at least one value column");
    c.time_col = 0;
  } else if (!layout.time.empty()) {
    if (const std::string why = csv_time_format_error(layout.time_format); !why.empty())
      throw DataError(path, 0, "time format " + why);
    c.time_col = find(layout.time, "time");
  }
  if (c.time_col >= 0) c.role[static_cast<size_t>(c.time_col)] = Role::Time;
  const bool has_label = std::find(header.begin(), header.end(), layout.label) != header.end();
  if (!layout.label.empty() && (has_label || !layout.label_optional)) {
    c.label_col = find(layout.label, "label");
    if (c.role[static_cast<size_t>(c.label_col)] == Role::Time)
      throw in.error("the label column is also the time column");
    c.role[static_cast<size_t>(c.label_col)] = Role::Label;
  }
  // Value columns: those listed, in the listed order (the first is the one predicted), else every other.
  if (layout.values.empty()) {
    for (int i = 0; i < columns; ++i) {
      if (c.role[static_cast<size_t>(i)] != Role::Value) continue;
      // Taken by default, a column of labels or scores would give the model the answers (a NAB-layout
      // file from NAB's add_labels_to_data.py has `label`; a Yahoo file `is_anomaly`; a result file
      // `anomaly_score`): refused unless the config names it as a value column.
      if (looks_like_labels(header[static_cast<size_t>(i)]))
        throw in.error(
            "column " + show(header[static_cast<size_t>(i)]) +
            " holds labels or scores by its name, and every column but the time" +
            (layout.label.empty() ? std::string() : " and label") + " column is a model input here" +
            (layout.nab ? std::string(": leave it out of the file, or read the folder with data.format csv, "
                                      "data.csv.value_columns naming the inputs and data.csv.label_column "
                                      "the labels")
                        : std::string(": data.csv.value_columns names the inputs (list it there to keep it "
                                      "one), data.csv.label_column the labels")));
      c.value_order.push_back(i);
    }
  } else {
    for (const auto& v : layout.values) {
      const int i = find(v, "value");
      if (c.role[static_cast<size_t>(i)] != Role::Ignored)
        throw in.error("column " + show(v) + " is listed twice or is the time or label column");
      c.role[static_cast<size_t>(i)] = Role::Value;
      c.value_order.push_back(i);
    }
  }
  if (c.value_order.empty()) throw in.error("no value column besides the time and label columns");
  return c;
}

// Each maximal run of labeled rows becomes a label window of `s`, or with `nab` the window NAB's
// procedure puts around it.
void add_label_windows(const std::vector<int>& labels, bool nab, Series& s) {
  const int n = static_cast<int>(labels.size());
  std::vector<std::pair<int, int>> runs;
  for (int i = 0; i < n; ++i) {
    if (!labels[static_cast<size_t>(i)] || (i > 0 && labels[static_cast<size_t>(i - 1)])) continue;
    int e = i;
    while (e + 1 < n && labels[static_cast<size_t>(e + 1)]) ++e;
    runs.emplace_back(i, e);
  }
  if (nab) runs = nab_windows_from_runs(n, runs);
  for (const auto& [start, end] : runs) {
    LabelWindow w;
    w.start = start;
    w.end = end;
    w.start_text = s.timestamps[static_cast<size_t>(start)];
    w.end_text = s.timestamps[static_cast<size_t>(end)];
    s.windows.push_back(std::move(w));
  }
}

}  // namespace

Series parse_series_csv(std::string_view text, const std::string& path, const std::string& name,
                        CsvReadReport* report, const CsvColumns& layout) {
  Series s;
  s.name = name;
  s.path = path;
  CsvReadReport rep;
  LineReader in(text, path);
  std::string_view line;
  // Header (a UTF-8 byte-order mark is tolerated).
  const std::string expected = layout.nab ? "a header `timestamp,value`" : "a header line of column names";
  if (!in.next(line)) throw DataError(path, 0, "empty file: expected " + expected);
  if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
  if (trim(line).empty()) {
    // Only a file with nothing but blank lines is empty; a blank line above a header is the line to delete.
    if (in.only_blank_left()) throw DataError(path, 0, "empty file: expected " + expected);
    throw in.error("line 1 is blank: the header must be the first line");
  }
  CsvRecord header_record;
  in.split(line, header_record);
  const int columns = static_cast<int>(header_record.fields.size());
  const ColumnRoles cols = resolve_columns(header_record.fields, layout, in, path);
  s.dims = static_cast<int>(cols.value_order.size());

  int64_t prev = std::numeric_limits<int64_t>::min();
  int64_t max_seen = std::numeric_limits<int64_t>::min();
  std::vector<double> row(static_cast<size_t>(columns));
  CsvRecord record;
  const std::vector<std::string_view>& fields = record.fields;
  std::vector<int> labels;
  // Sized once from the line count: grown row by row, a long series' vectors were copied (and their pages
  // faulted in) a dozen times.
  const size_t rows_at_most = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  s.values.reserve(rows_at_most * cols.value_order.size());
  s.lines.reserve(rows_at_most);
  if (cols.time_col >= 0) s.time_us.reserve(rows_at_most);
  if (cols.label_col >= 0) labels.reserve(rows_at_most);
  while (in.next(line)) {
    if (trim(line).empty()) {
      // A blank line is tolerated only at the very end of the file.
      if (in.only_blank_left()) break;
      throw in.error("blank line inside the data");
    }
    in.split(line, record);
    if (static_cast<int>(fields.size()) > columns)
      throw in.error("more than " + std::to_string(columns) + " columns");
    if (static_cast<int>(fields.size()) != columns)
      throw in.error("expected " + std::to_string(columns) + " columns, found " +
                     std::to_string(fields.size()));
    for (int col = 0; col < columns; ++col) {
      const std::string_view field = fields[static_cast<size_t>(col)];
      switch (cols.role[static_cast<size_t>(col)]) {
        case Role::Time: {
          const auto us =
              layout.nab ? parse_timestamp_us(field) : parse_generic_timestamp(field, layout.time_format);
          if (!us)
            throw in.error("bad timestamp " + show(field) + ", expected " + expected_timestamp(layout));
          if (*us == prev)
            ++rep.duplicate_timestamps;
          else if (*us < max_seen)
            ++rep.backward_timestamps;
          prev = *us;
          if (*us > max_seen) max_seen = *us;
          // The texts' buffer is sized from the first one: a time column's texts are mostly of one
          // length, so it is allocated once; where they vary, it grows by doubling. The file's size bounds
          // it, every text being part of a line.
          if (s.timestamps.empty())
            s.timestamps.reserve(rows_at_most, std::min(text.size(), rows_at_most * field.size()));
          s.timestamps.push_back(field);
          s.time_us.push_back(*us);
          break;
        }
        case Role::Label: {
          if (!layout.anomaly_labels.empty()) {
            const auto& a = layout.anomaly_labels;
            labels.push_back(std::find(a.begin(), a.end(), field) != a.end() ? 1 : 0);
            break;
          }
          double v;
          if (!parse_double(field, v) || !std::isfinite(v))
            throw in.error("label " + show(field) +
                           " is not a number (nonzero marks an anomaly; data.csv.anomaly_labels names text "
                           "labels)");
          labels.push_back(v != 0.0 ? 1 : 0);
          break;
        }
        case Role::Value: {
          const std::optional<double> v = parse_value_field(field);
          if (!v)
            throw in.error("value in column " + std::to_string(col + 1) + " is not a number: " + show(field));
          if (std::isinf(*v))
            throw in.error("value in column " + std::to_string(col + 1) + " is infinite: " + show(field));
          if (std::isnan(*v)) ++rep.missing_values;
          row[static_cast<size_t>(col)] = *v;
          break;
        }
        case Role::Ignored:
          break;
      }
    }
    for (int c : cols.value_order) s.values.push_back(row[static_cast<size_t>(c)]);
    s.lines.push_back(static_cast<int>(in.line_no()));
  }
  if (s.values.empty()) throw DataError(path, 0, "no data rows after the header");
  if (cols.time_col < 0) set_stand_in_times(s);  // so that NAB-format result files stay valid
  add_label_windows(labels, layout.label_windows == "nab", s);
  if (rep.duplicate_timestamps || rep.backward_timestamps)
    log::debug(path + ": " + std::to_string(rep.duplicate_timestamps) + " repeated and " +
               std::to_string(rep.backward_timestamps) + " backward timestamps, kept in file order");
  s.repeated_timestamps = rep.duplicate_timestamps;
  s.backward_timestamps = rep.backward_timestamps;
  if (report) *report = rep;
  return s;
}

std::vector<std::string> list_csv_files(const std::string& root,
                                        const std::function<bool(const std::string&)>& run_folder) {
  std::vector<std::string> out;
  int hidden = 0, other_case = 0;
  std::vector<std::string> runs;
  for (auto& rel : files::list_below(root, &hidden, run_folder, &runs)) {
    if (rel.size() <= 4) continue;
    std::string ext = rel.substr(rel.size() - 4);
    if (ext == ".csv") {
      out.push_back(std::move(rel));
      continue;
    }
    for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (ext == ".csv") ++other_case;
  }
  // Series ids are file names, and NAB-format outputs repeat them: ".csv" as NAB writes it, and a file
  // ending ".CSV" or ".Csv" is said rather than silently left out.
  if (other_case > 0)
    log::warn(root + ": " + std::to_string(other_case) +
              " file(s) end in another case of \".csv\" and are not read; rename them to *.csv");
  if (hidden > 0)
    log::info(root + ": " + std::to_string(hidden) +
              " hidden file(s) or folder(s) (a name starting with \".\") are not series and are left out");
  // A run folder below the root (--out inside it, or earlier runs kept beside the data) would otherwise
  // give its results.csv and score files as series, to this run and to every resume of it.
  if (!runs.empty())
    log::info(root + ": " + std::to_string(runs.size()) + " folder(s) holding an lstmad run (" +
              runs.front() + (runs.size() > 1 ? ", ..." : "") + ") are not series and are left out");
  return out;
}

Series read_series_csv(const std::string& path, const std::string& name, CsvReadReport* report,
                       const CsvColumns& layout) {
  std::optional<files::FileView> file;
  try {
    file.emplace(path);
  } catch (const IoError& e) {
    throw DataError(path, 0, std::string("cannot read: ") + e.what());
  }
  return parse_series_csv(file->text(), path, name, report, layout);
}

}  // namespace lstmad
