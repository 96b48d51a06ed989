#include "data/ucr.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "data/csv_fields.hpp"
#include "data/csv_reader.hpp"

namespace lstmad {
namespace fs = std::filesystem;

namespace {

const std::string kMarker = "_UCR_Anomaly_";

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A positive int from digits, or 0 when it does not fit.
int positive_int(const std::string& digits) {
  if (digits.size() > 9) return 0;
  return std::atoi(digits.c_str());
}

}  // namespace

std::optional<UcrFileName> parse_ucr_file_name(const std::string& file) {
  const std::string ext = ".txt";
  if (file.size() <= ext.size() || file.compare(file.size() - ext.size(), ext.size(), ext) != 0) return {};
  const std::string stem = file.substr(0, file.size() - ext.size());
  const size_t marker = stem.find(kMarker);
  if (marker == std::string::npos) return {};
  UcrFileName f;
  f.number = stem.substr(0, marker);
  if (!all_digits(f.number)) return {};
  std::string rest = stem.substr(marker + kMarker.size());
  // The three numbers are the last three fields; the name (which may itself hold "_") is what precedes them.
  int numbers[3] = {0, 0, 0};
  for (int k = 2; k >= 0; --k) {
    const size_t cut = rest.rfind('_');
    if (cut == std::string::npos) return {};
    const std::string field = rest.substr(cut + 1);
    if (!all_digits(field)) return {};
    numbers[k] = positive_int(field);
    if (numbers[k] <= 0) return {};
    rest.resize(cut);
  }
  if (rest.empty()) return {};
  f.name = rest;
  f.train_end = numbers[0];
  f.begin = numbers[1];
  f.end = numbers[2];
  return f;
}

namespace {
std::string lowercase_extension(const std::string& name) {
  std::string ext = fs::path(name).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}
}  // namespace

std::vector<std::string> list_ucr_files(const std::string& root) {
  std::vector<std::pair<std::string, std::string>> found;  // file name, relative path
  std::vector<std::string> near_misses;
  for (auto& rel : files::list_below(root)) {
    std::string name = fs::path(rel).filename().string();
    if (parse_ucr_file_name(name))
      found.emplace_back(std::move(name), std::move(rel));
    else if (name.find(kMarker) != std::string::npos && lowercase_extension(name) == ".txt")
      near_misses.push_back(rel);  // ".TXT" among them: the name must end in ".txt"
  }
  // A file named like an archive series whose numbers do not read (0, too large, a field missing) would
  // otherwise vanish from the corpus without a word.
  if (!near_misses.empty())
    log::warn(root + ": " + std::to_string(near_misses.size()) +
              " file(s) named like UCR archive series are left out, " +
              "their name not NNN_UCR_Anomaly_<name>_<train end>_<begin>_<end>.txt with numbers from 1 to "
              "999999999: " +
              near_misses.front() + (near_misses.size() > 1 ? ", ..." : ""));
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

std::vector<double> parse_ucr_values(const std::string& text, const std::string& path,
                                     std::vector<int>* lines) {
  std::vector<double> values;
  std::vector<int> value_lines;  // the line of each value
  long line = 1;
  size_t i =
      text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // a UTF-8 byte-order mark, as CSV files may have
  const size_t n = text.size();
  auto separator = [](char c) { return c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n'; };
  // A comma ends a field, so a comma with no value since the line's start or the previous comma would be
  // an empty field. Skipping it would shift every later row against the anomaly rows the name gives.
  bool field_open = false;  // a comma may follow: a value came since the line's start or the last comma
  while (i < n) {
    if (separator(text[i])) {
      if (text[i] == ',') {
        if (!field_open)
          throw DataError(path, line,
                          "empty field before a comma: write a missing value as nan, so that the rows "
                          "after it keep their positions");
        field_open = false;
      }
      if (text[i] == '\n') {
        ++line;
        field_open = false;
      }
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && !separator(text[j])) ++j;
    const std::string_view token(text.data() + i, j - i);
    const std::optional<double> v = parse_value_field(token);
    if (!v) throw DataError(path, line, "not a number: " + quote_field(token));
    if (std::isinf(*v)) throw DataError(path, line, "value is infinite: " + quote_field(token));
    values.push_back(*v);
    value_lines.push_back(static_cast<int>(line));
    field_open = true;
    i = j;
  }
  if (values.empty()) throw DataError(path, 0, "no values");
  // The archive writes one value per line, or every value on one line. Several lines of several values
  // are columns (an index, a label beside the value): read as one series they would put every row, and
  // the name's training part and anomaly, out of place.
  std::vector<int> per_line;  // values on each line holding any, with that line
  std::vector<int> line_of;
  for (const int l : value_lines) {
    if (line_of.empty() || line_of.back() != l) {
      line_of.push_back(l);
      per_line.push_back(0);
    }
    ++per_line.back();
  }
  if (per_line.size() > 1)
    for (size_t k = 0; k < per_line.size(); ++k)
      if (per_line[k] > 1)
        throw DataError(path, line_of[k],
                        std::to_string(per_line[k]) +
                            " values on this line and values on other lines: the archive has one value per "
                            "line, or every value on one line; several columns (an index, a label) would put "
                            "the rows out of place");
  if (lines) *lines = std::move(value_lines);
  return values;
}

Series load_ucr_series(const std::string& root, const std::string& relpath, const std::string& id,
                       int* train_rows) {
  const std::string path = (fs::path(root) / relpath).string();
  const std::string file = fs::path(relpath).filename().string();
  const std::optional<UcrFileName> f = parse_ucr_file_name(file);
  if (!f)
    throw DataError(path, 0,
                    "not a UCR archive file name (NNN_UCR_Anomaly_<name>_<train end>_<begin>_<end>.txt)");
  Series s;
  s.name = id;
  s.path = path;
  s.dims = 1;
  s.values = parse_ucr_values(files::read(path), path, &s.lines);
  const int n = s.rows();
  if (f->train_end >= n)
    throw DataError(path, 0,
                    "the name's training part ends at row " + std::to_string(f->train_end) + " of " +
                        std::to_string(n) + " rows: nothing is left to score");
  if (f->begin > f->end || f->end > n)
    throw DataError(path, 0,
                    "the name's anomaly, rows " + std::to_string(f->begin) + " .. " + std::to_string(f->end) +
                        ", does not lie in the file's " + std::to_string(n) + " rows");
  // The archive's anomaly lies after its training part (rows 1 .. train end are normal by its rules): one
  // inside would be trained on and never scored, and its series' ucr_score would be undefined.
  if (f->begin <= f->train_end)
    throw DataError(path, 0,
                    "the name's anomaly starts at row " + std::to_string(f->begin) +
                        ", inside its training part (rows 1 .. " + std::to_string(f->train_end) + ")");
  set_stand_in_times(s);
  LabelWindow w;
  w.start = f->begin - 1;
  w.end = f->end - 1;
  w.start_text = s.timestamps[static_cast<size_t>(w.start)];
  w.end_text = s.timestamps[static_cast<size_t>(w.end)];
  s.windows.push_back(w);
  if (train_rows) *train_rows = f->train_end;
  return s;
}

}  // namespace lstmad
