// Reading NAB's folders for the scorer and scoring a whole results folder, one detector at a time, so that
// one detector's bad files never stop the others.
#include "eval/nab_corpus.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "data/csv_fields.hpp"
#include "data/labels.hpp"
#include "data/timestamp.hpp"

namespace lstmad {
namespace fs = std::filesystem;

namespace {

std::string default_windows(const std::string& root) {
  return (fs::path(root) / "labels" / "combined_windows.json").string();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string row_at(long row, long line) {
  return "row " + std::to_string(row) + " (line " + std::to_string(line) + ")";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

NabCorpus nab_load_corpus(const std::string& nab_root, const std::string& windows_path) {
  NabCorpus c;
  c.root = nab_root;
  c.windows_path = windows_path.empty() ? default_windows(nab_root) : windows_path;
  const auto labels = read_label_windows(c.windows_path);
  if (labels.empty()) throw DataError(c.windows_path, 0, "names no data files");
  for (const auto& [relpath, texts] : labels) {
    const fs::path data = fs::path(nab_root) / "data" / relpath;
    if (!fs::is_regular_file(data))
      throw DataError(c.windows_path, 0, "\"" + relpath + "\" has no data file " + data.string());
    Series s = load_corpus_series(nab_root, relpath, labels);
    NabFileInput f;
    f.relpath = relpath;
    f.rows = s.rows();
    f.windows = std::move(s.windows);
    f.time_us = std::move(s.time_us);
    c.files.push_back(std::move(f));
  }
  // std::map keys are already sorted; the corpus order is the scores files' row order.
  const long usable = c.window_count();
  long all = 0;
  for (const auto& f : c.files) all += static_cast<long>(f.windows.size());
  if (usable != all)
    log::warn(
        c.windows_path + ": " + std::to_string(all - usable) +
        " window(s) lie entirely in probationary rows; they count neither as misses nor in normalization");
  return c;
}

std::vector<NabProfile> nab_load_profiles(const std::string& nab_root, const std::string& profiles_path) {
  if (!profiles_path.empty()) return nab_read_profiles(profiles_path);
  const std::string p = (fs::path(nab_root) / "config" / "profiles.json").string();
  if (!nab_root.empty() && fs::is_regular_file(p)) return nab_read_profiles(p);
  return nab_default_profiles();
}

std::string nab_result_path(const std::string& results_dir, const std::string& detector,
                            const std::string& relpath) {
  const fs::path rel(relpath);
  return (fs::path(results_dir) / detector / rel.parent_path() / (detector + "_" + rel.filename().string()))
      .string();
}

std::vector<double> nab_read_result_scores(const std::string& path, int expected_rows,
                                           const std::vector<int64_t>* expected_time_us) {
  return nab_parse_result_scores(files::read(path), path, expected_rows, expected_time_us);
}

std::vector<double> nab_parse_result_scores(const std::string& text_in, const std::string& path,
                                            int expected_rows, const std::vector<int64_t>* expected_time_us) {
  // Fields are split as RFC 4180 says (as pandas, NAB's reader, does): a quoted score or timestamp is read
  // as its value.
  const std::string_view text(text_in);
  size_t pos = 0;
  long line_no = 1;  // the line the record starts on
  CsvRecord rec;
  std::string_view raw;  // the record's text, line break included
  // Splits the record at pos into rec and returns the line after it; a broken quote names its line.
  const auto next_record = [&](long at) {
    const size_t start = pos;
    const CsvSplit split = split_csv_record(text, pos, rec);
    at += static_cast<long>(std::count(text.begin() + static_cast<std::ptrdiff_t>(start),
                                       text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
    if (split != CsvSplit::Ok) throw DataError(path, at, "an unclosed quote, or text after a closing quote");
    raw = text.substr(start, pos - start);
    return at;
  };
  // Blanks and a line break only (a quoted "" is an empty field, not a blank line).
  const auto blank = [&] { return raw.find_first_not_of(" \t\r\n") == std::string_view::npos; };
  const long after_header = next_record(line_no);
  if (blank()) throw DataError(path, 1, "empty file (expected a header with an anomaly_score column)");
  const std::string_view header = raw.substr(0, raw.find_last_not_of("\r\n") + 1);  // for messages
  // Columns by name: the column order differs between detectors. A name twice would leave it open which
  // column is meant.
  std::vector<std::string> names;
  for (const auto f : rec.fields) names.emplace_back(trim(f));
  int column = -1, time_column = -1;
  for (size_t c = 0; c < names.size(); ++c) {
    for (size_t k = 0; k < c; ++k)
      if (names[k] == names[c] && !names[c].empty())
        throw DataError(path, 1, "column \"" + names[c] + "\" appears twice in the header");
    if (names[c] == "anomaly_score") column = static_cast<int>(c);
    if (names[c] == "timestamp") time_column = static_cast<int>(c);
  }
  if (column < 0)
    throw DataError(path, 1, "no anomaly_score column in the header \"" + std::string(header) + "\"");
  const int ncols = static_cast<int>(names.size());
  std::vector<double> scores;
  scores.reserve(static_cast<size_t>(std::max(0, expected_rows)));
  std::vector<std::string_view> fields;
  for (long next = after_header; pos < text.size();) {
    line_no = next;
    next = next_record(line_no);
    if (blank()) continue;  // a blank line is not a row (as pandas reads them)
    const long row = static_cast<long>(scores.size());
    fields.clear();
    for (const auto f : rec.fields) fields.push_back(trim(f));
    if (static_cast<int>(fields.size()) != ncols)
      throw DataError(path, line_no,
                      row_at(row, line_no) + ": " + std::to_string(fields.size()) +
                          " field(s) under a header of " + std::to_string(ncols));
    // The sweep matches rows to label windows by position; NAB matches them by timestamp. The two agree
    // only where the result file's timestamps are the data file's.
    if (time_column >= 0 && expected_time_us && row < static_cast<long>(expected_time_us->size())) {
      const std::string_view t = fields[static_cast<size_t>(time_column)];
      const auto us = parse_timestamp_us(t);
      if (!us || *us != (*expected_time_us)[static_cast<size_t>(row)])
        throw DataError(
            path, line_no,
            row_at(row, line_no) + ": timestamp " + quote_field(t) + " is not the data file's at this row");
    }
    const std::string_view field = fields[static_cast<size_t>(column)];
    if (field.empty()) throw DataError(path, line_no, row_at(row, line_no) + ": anomaly_score is empty");
    double v = 0.0;
    const char* first = field.data();
    if (*first == '+') ++first;  // from_chars takes no '+'; then no second sign either ("+-1")
    const bool two_signs =
        first != field.data() && first < field.data() + field.size() && (*first == '-' || *first == '+');
    auto [end, ec] = std::from_chars(first, field.data() + field.size(), v);
    bool whole = !two_signs && ec == std::errc() && end == field.data() + field.size();
    // A number below the smallest double (1e-400) reads as 0, as pandas (NAB's reader) reads it; one above
    // the largest is infinite, refused below.
    if (!two_signs && ec == std::errc::result_out_of_range && end == field.data() + field.size()) {
      const std::string number(first, field.data() + field.size());
      char* number_end = nullptr;
      v = std::strtod(number.c_str(), &number_end);
      whole = number_end == number.c_str() + number.size();
    }
    if (!whole)
      throw DataError(path, line_no,
                      row_at(row, line_no) + ": anomaly_score " + quote_field(field) + " is not a number");
    if (std::isnan(v)) throw DataError(path, line_no, row_at(row, line_no) + ": anomaly_score is NaN");
    if (std::isinf(v)) throw DataError(path, line_no, row_at(row, line_no) + ": anomaly_score is infinite");
    scores.push_back(v);
  }
  if (static_cast<long>(scores.size()) != expected_rows) {
    const long first_bad = std::min<long>(static_cast<long>(scores.size()), expected_rows);
    throw DataError(path, 0,
                    "has " + std::to_string(scores.size()) + " rows but its data file has " +
                        std::to_string(expected_rows) + " (first unmatched: row " +
                        std::to_string(first_bad) + ")");
  }
  return scores;
}

std::vector<NabFileInput> nab_load_detector(const NabCorpus& corpus, const std::string& results_dir,
                                            const std::string& detector) {
  // The corpus' files without their row times (8 bytes a row, the corpus keeps them): those are only
  // compared with the result file's timestamps.
  std::vector<NabFileInput> out;
  out.reserve(corpus.files.size());
  for (const NabFileInput& c : corpus.files) {
    NabFileInput f;
    f.relpath = c.relpath;
    f.rows = c.rows;
    f.windows = c.windows;
    const std::string path = nab_result_path(results_dir, detector, f.relpath);
    if (!fs::is_regular_file(path))
      throw DataError(path, 0, "no such result file (needed for " + f.relpath + ")");
    f.scores = nab_read_result_scores(path, f.rows, c.time_us.empty() ? nullptr : &c.time_us);
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<std::string> nab_list_detectors(const std::string& results_dir) {
  std::error_code ec;
  if (!fs::is_directory(results_dir, ec))
    throw IoError(results_dir + ": not a folder (expected <detector>/<category>/<detector>_<name>.csv)");
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(results_dir))
    if (e.is_directory() && !files::hidden_name(e.path().filename().string()))
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  if (out.empty()) throw IoError(results_dir + ": no detector folders (expected <detector>/<category>/...)");
  return out;
}

NabThresholds nab_parse_thresholds(const std::string& json_text, const std::string& source) {
  const nlohmann::json j = parse_json_text(json_text, source);
  if (!j.is_object()) throw DataError(source, 0, "expected {detector: {profile: {\"threshold\": t}}}");
  NabThresholds out;
  for (auto d = j.begin(); d != j.end(); ++d) {
    if (!d.value().is_object())
      throw DataError(source, 0, "\"" + d.key() + "\": expected {profile: {\"threshold\": t}}");
    for (auto p = d.value().begin(); p != d.value().end(); ++p) {
      const auto& v = p.value();
      if (!v.is_object() || !v.contains("threshold") || !v["threshold"].is_number())
        throw DataError(source, 0,
                        "\"" + d.key() + "\".\"" + p.key() + "\": expected {\"threshold\": number}");
      out[d.key()][p.key()] = v["threshold"].get<double>();
    }
  }
  return out;
}

NabThresholds nab_read_thresholds(const std::string& path) {
  return nab_parse_thresholds(files::read(path), path);
}

std::vector<NabDetectorReport> nab_score_results(const NabBatchOptions& o, const NabCorpus& corpus,
                                                 const std::vector<NabProfile>& profiles, bool optimize) {
  NabThresholds thresholds;
  if (!optimize) thresholds = nab_read_thresholds(o.thresholds_path);
  // An lstmad run folder holds its NAB-format results in nab/: given whole, its cells/ and models/ would
  // be taken for detectors.
  std::error_code ec;
  if (fs::is_directory(o.results_dir + "/nab", ec) && fs::is_directory(o.results_dir + "/cells", ec))
    throw ConfigError("--results " + o.results_dir +
                      ": an lstmad run folder; its NAB-format results are in " + o.results_dir + "/nab");
  const std::vector<std::string> all = nab_list_detectors(o.results_dir);
  for (const auto& det : o.detectors)
    if (std::find(all.begin(), all.end(), det) == all.end()) {
      std::string listed;
      for (const auto& d : all) listed += (listed.empty() ? "" : ", ") + d;
      throw ConfigError("--detector " + det + ": no folder " + det + " in " + o.results_dir +
                        " (it has: " + listed + ")");
    }
  const std::vector<std::string> detectors = o.detectors.empty() ? all : o.detectors;
  std::vector<NabDetectorReport> reports;
  for (const auto& det : detectors) {
    NabDetectorReport r;
    r.detector = det;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      const std::vector<NabFileInput> files = nab_load_detector(corpus, o.results_dir, det);
      if (optimize) {
        r.optimum = nab_optimize(files, profiles);
        std::map<std::string, double> best;
        for (const auto& res : r.optimum) best[res.profile] = res.threshold;
        r.scores = nab_score_at(files, profiles, best);
      } else {
        auto it = thresholds.find(det);
        if (it == thresholds.end())
          throw ConfigError(o.thresholds_path + ": no thresholds for detector \"" + det + "\"");
        for (const auto& p : profiles)
          if (!it->second.count(p.name))
            throw ConfigError(o.thresholds_path + ": no threshold for detector \"" + det + "\", profile \"" +
                              p.name + "\"");
        r.scores = nab_score_at(files, profiles, it->second);
      }
      if (!o.write_scores_dir.empty()) {
        // NAB's own normalizer reads the detector from the file name up to its first '_'.
        if (det.find('_') != std::string::npos)
          log::warn(det + ": a detector name with '_': NAB's normalizer would read its " + det +
                    "_<profile>_scores.csv "
                    "as detector \"" +
                    det.substr(0, det.find('_')) + "\"");
        const std::string dir = (fs::path(o.write_scores_dir) / det).string();
        files::make_dirs(dir);
        for (const auto& s : r.scores)
          files::write_atomic((fs::path(dir) / (det + "_" + s.profile + "_scores.csv")).string(),
                              nab_scores_csv(det, s));
      }
      std::string line = det + ":";
      for (const auto& s : r.scores) line += " " + s.profile + " " + nab_format_number(s.normalized);
      log::info(line + " (" + std::to_string(static_cast<int>(seconds_since(t0) * 1000)) + " ms)");
    } catch (const Error& e) {
      // DataError, IoError, ConfigError: this detector only.
      r.error = e.what();
      r.scores.clear();
      r.optimum.clear();
      log::error(det + ": not scored: " + r.error);
    }
    reports.push_back(std::move(r));
  }
  return reports;
}

namespace {
std::vector<NabDetectorReport> run_batch(const NabBatchOptions& o, bool optimize) {
  const NabCorpus corpus = nab_load_corpus(o.nab_root, o.windows_path);
  // NAB's normalized score divides by the number of windows (times the TP and FN weights): without one,
  // every score is 0/0, and NAB itself stops with a division by zero.
  if (corpus.window_count() == 0)
    throw DataError(corpus.windows_path, 0,
                    "holds no label window, so normalized scores are undefined (0/0); give a windows file "
                    "with at least one window");
  const auto profiles = nab_load_profiles(o.nab_root, o.profiles_path);
  log::info("NAB corpus: " + std::to_string(corpus.files.size()) + " files, " +
            std::to_string(corpus.window_count()) + " scorable window(s) (" + corpus.windows_path +
            "); profiles:" + [&] {
              std::string s;
              for (const auto& p : profiles) s += " " + p.name;
              return s;
            }());
  return nab_score_results(o, corpus, profiles, optimize);
}
}  // namespace

std::vector<NabDetectorReport> nab_score_results(const NabBatchOptions& o) {
  return run_batch(o, false);
}
std::vector<NabDetectorReport> nab_optimize_results(const NabBatchOptions& o) {
  return run_batch(o, true);
}

std::string nab_results_json(const std::vector<NabDetectorReport>& reports) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& r : reports) {
    if (!r.ok()) continue;
    for (const auto& s : r.scores) j[r.detector][s.profile] = s.normalized;
  }
  return json_text(j, 4);
}

std::string nab_thresholds_json(const std::vector<NabDetectorReport>& reports) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& r : reports) {
    if (!r.ok()) continue;
    for (const auto& t : r.optimum)
      j[r.detector][t.profile] = {
          {"threshold", t.threshold}, {"score", t.raw_score}, {"normalized", t.normalized}};
  }
  return json_text(j, 4);
}

}  // namespace lstmad
