// NASA SMAP/MSL loader: the shared RFC 4180 splitter (data/csv_fields.hpp) for labeled_anomalies.csv
// (its sequence and class fields are quoted and contain commas), nlohmann::json for the sequence lists,
// read_npy for the arrays. The CSV lists a channel's sequences unsorted and may list a channel twice, so
// windows are collected over all its rows, sorted and merged where they overlap.
#include "data/nasa.hpp"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "data/csv_fields.hpp"
#include "data/npy.hpp"

namespace lstmad {
namespace fs = std::filesystem;
namespace {

struct Record {
  std::vector<std::string> fields;
  long line = 0;
};

// Splits CSV text into records (data/csv_fields.hpp): quoted fields may hold commas, line breaks and
// doubled quotes; blank lines are skipped; LF and CRLF both end a record.
std::vector<Record> split_csv(const std::string& text, const std::string& path) {
  std::vector<Record> records;
  const std::string_view all(text);
  size_t pos = all.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;  // UTF-8 byte-order mark
  long line = 1;
  CsvRecord rec;
  while (pos < all.size()) {
    const size_t start = pos;
    const CsvSplit split = split_csv_record(all, pos, rec);
    const long breaks = static_cast<long>(std::count(all.begin() + static_cast<std::ptrdiff_t>(start),
                                                     all.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
    if (split == CsvSplit::OpenQuote) throw DataError(path, line, "unterminated quoted field");
    if (split == CsvSplit::TextAfterQuote) throw DataError(path, line + breaks, "text after a closing quote");
    const long first = line;
    line += breaks + (all[pos - 1] == '\r' ? 1 : 0);  // a bare CR ends a line too
    if (rec.fields.size() == 1 && rec.fields[0].empty()) continue;
    records.push_back(Record{std::vector<std::string>(rec.fields.begin(), rec.fields.end()), first});
  }
  return records;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::vector<std::pair<int, int>> parse_sequences(const std::string& text, const std::string& path, long line,
                                                 const std::string& chan) {
  const std::string where = "channel " + chan + ": anomaly_sequences ";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path, line, where + "is not a list of [start, end] pairs: " + text);
  }
  if (!j.is_array()) throw DataError(path, line, where + "is not a list: " + text);
  std::vector<std::pair<int, int>> out;
  for (const auto& pair : j) {
    const bool ok =
        pair.is_array() && pair.size() == 2 && pair[0].is_number_integer() && pair[1].is_number_integer();
    if (!ok) throw DataError(path, line, where + "holds " + pair.dump() + ", expected [start, end] integers");
    const long long s = pair[0].get<long long>(), e = pair[1].get<long long>();
    if (s < 0 || e < s || e > std::numeric_limits<int>::max())
      throw DataError(
          path, line,
          where + "holds [" + std::to_string(s) + ", " + std::to_string(e) + "], expected 0 <= start <= end");
    out.emplace_back(static_cast<int>(s), static_cast<int>(e));
  }
  return out;
}

void check_spacecraft(const std::string& spacecraft) {
  if (!spacecraft.empty() && spacecraft != "SMAP" && spacecraft != "MSL")
    throw Error("NASA data: spacecraft must be \"SMAP\" or \"MSL\" (or empty for both), got \"" + spacecraft +
                "\"");
}

std::vector<std::string> list_channels(const std::string& root, const std::string& spacecraft,
                                       const std::vector<NasaLabelRow>* labels) {
  const fs::path test_dir = fs::path(root) / "test";
  std::error_code ec;
  if (!fs::is_directory(test_dir, ec)) throw IoError("NASA data: no folder " + test_dir.string());
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(test_dir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".npy") continue;
    const std::string chan = entry.path().stem().string();
    if (!spacecraft.empty()) {
      const bool match = std::any_of(labels->begin(), labels->end(), [&](const NasaLabelRow& r) {
        return r.chan_id == chan && r.spacecraft == spacecraft;
      });
      if (!match) continue;
    }
    out.push_back(chan);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A Series from an array, with stand-in times (set_stand_in_times).
Series to_series(const NpyArray& a, const std::string& name, const std::string& path) {
  if (a.cols() == 0) throw DataError(path, 0, "the array has no columns");
  Series s;
  s.name = name;
  s.path = path;
  s.dims = static_cast<int>(a.cols());
  s.values = a.data;
  set_stand_in_times(s);
  return s;
}

}  // namespace

std::vector<NasaLabelRow> parse_nasa_labels(const std::string& text, const std::string& csv_path) {
  const std::vector<Record> records = split_csv(text, csv_path);
  if (records.empty())
    throw DataError(csv_path, 0, "empty file (expected a header chan_id,spacecraft,anomaly_sequences,...)");
  std::map<std::string, size_t> col;
  for (size_t c = 0; c < records[0].fields.size(); ++c) col[trim(records[0].fields[c])] = c;
  for (const char* required : {"chan_id", "spacecraft", "anomaly_sequences"})
    if (!col.count(required))
      throw DataError(csv_path, records[0].line,
                      std::string("the header has no column \"") + required + "\"");
  const size_t width = records[0].fields.size();
  auto field = [&](const Record& r, const char* name) -> std::string {
    auto it = col.find(name);
    return it == col.end() ? std::string() : trim(r.fields[it->second]);
  };
  std::vector<NasaLabelRow> rows;
  for (size_t k = 1; k < records.size(); ++k) {
    const Record& r = records[k];
    if (r.fields.size() != width)
      throw DataError(csv_path, r.line,
                      std::to_string(r.fields.size()) + " fields, the header has " + std::to_string(width) +
                          " (quote fields that contain commas)");
    NasaLabelRow row;
    row.file = csv_path;
    row.line = r.line;
    row.chan_id = field(r, "chan_id");
    row.spacecraft = field(r, "spacecraft");
    if (row.chan_id.empty()) throw DataError(csv_path, r.line, "empty chan_id");
    row.sequences = parse_sequences(field(r, "anomaly_sequences"), csv_path, r.line, row.chan_id);
    row.anomaly_class = field(r, "class");
    const std::string nv = field(r, "num_values");
    if (!nv.empty()) {
      size_t used = 0;
      try {
        row.num_values = std::stol(nv, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != nv.size() || row.num_values < 0)
        throw DataError(csv_path, r.line,
                        "channel " + row.chan_id + ": num_values \"" + nv + "\" is not a count");
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<NasaLabelRow> read_nasa_labels(const std::string& csv_path) {
  return parse_nasa_labels(files::read(csv_path), csv_path);
}

std::vector<std::string> list_nasa_channels(const std::string& root, const std::string& spacecraft) {
  check_spacecraft(spacecraft);
  if (spacecraft.empty()) return list_channels(root, spacecraft, nullptr);
  const std::vector<NasaLabelRow> labels =
      read_nasa_labels((fs::path(root) / "labeled_anomalies.csv").string());
  return list_channels(root, spacecraft, &labels);
}

std::vector<std::pair<int, int>> nasa_events(const std::vector<NasaLabelRow>& labels,
                                             const std::string& chan_id) {
  std::vector<std::pair<int, int>> seqs, events;
  for (const NasaLabelRow& r : labels)
    if (r.chan_id == chan_id) seqs.insert(seqs.end(), r.sequences.begin(), r.sequences.end());
  std::sort(seqs.begin(), seqs.end());
  for (const auto& [s, e] : seqs) {
    if (!events.empty() && s <= events.back().second)
      events.back().second = std::max(events.back().second, e);
    else
      events.emplace_back(s, e);
  }
  return events;
}

NasaChannel load_nasa_channel(const std::string& root, const std::string& chan_id,
                              const std::vector<NasaLabelRow>& labels) {
  NasaChannel ch;
  ch.chan_id = chan_id;
  std::vector<const NasaLabelRow*> mine;
  for (const NasaLabelRow& r : labels) {
    if (r.chan_id != chan_id) continue;
    if (!mine.empty() && r.spacecraft != ch.spacecraft)
      throw DataError(r.file, r.line,
                      "channel " + chan_id + ": spacecraft \"" + r.spacecraft + "\" differs from \"" +
                          ch.spacecraft + "\" on line " + std::to_string(mine.front()->line));
    ch.spacecraft = r.spacecraft;
    mine.push_back(&r);
  }
  const std::string name =
      (ch.spacecraft.empty() ? std::string("unlabeled") : ch.spacecraft) + "/" + chan_id + ".csv";
  const std::string train_path = (fs::path(root) / "train" / (chan_id + ".npy")).string();
  const std::string test_path = (fs::path(root) / "test" / (chan_id + ".npy")).string();
  ch.train = to_series(read_npy(train_path), name, train_path);
  ch.test = to_series(read_npy(test_path), name, test_path);
  if (ch.train.dims != ch.test.dims)
    throw DataError(test_path, 0,
                    std::to_string(ch.test.dims) + " columns, but " + train_path + " has " +
                        std::to_string(ch.train.dims));

  const int n = ch.test.rows();
  for (const NasaLabelRow* r : mine) {
    if (r->num_values >= 0 && r->num_values != n)
      log::warn(r->file + ":" + std::to_string(r->line) + ": channel " + chan_id + ": num_values " +
                std::to_string(r->num_values) + " but " + test_path + " has " + std::to_string(n) + " rows");
    for (const auto& [s, e] : r->sequences)
      if (e >= n)
        throw DataError(r->file, r->line,
                        "channel " + chan_id + ": anomaly sequence [" + std::to_string(s) + ", " +
                            std::to_string(e) + "] lies outside the test data (" + std::to_string(n) +
                            " rows in " + test_path + ")");
  }
  for (const auto& [s, e] : nasa_events(labels, chan_id)) {
    LabelWindow w;
    w.start = s;
    w.end = e;
    w.start_text = ch.test.timestamps[static_cast<size_t>(s)];
    w.end_text = ch.test.timestamps[static_cast<size_t>(e)];
    ch.test.windows.push_back(std::move(w));
  }
  return ch;
}

std::vector<NasaChannel> load_nasa(const std::string& root, const std::string& spacecraft) {
  check_spacecraft(spacecraft);
  const std::vector<NasaLabelRow> labels =
      read_nasa_labels((fs::path(root) / "labeled_anomalies.csv").string());
  const std::vector<std::string> channels = list_channels(root, spacecraft, &labels);
  std::vector<std::string> without_data;
  for (const NasaLabelRow& r : labels)
    if ((spacecraft.empty() || r.spacecraft == spacecraft) &&
        !fs::exists(fs::path(root) / "test" / (r.chan_id + ".npy")))
      without_data.push_back(r.chan_id);
  if (!without_data.empty())
    log::warn("NASA data: " + std::to_string(without_data.size()) +
              " labeled channel(s) have no test file under " + root +
              "/test (first: " + without_data.front() + "); they are skipped");
  std::vector<NasaChannel> out;
  out.reserve(channels.size());
  for (const std::string& chan : channels) out.push_back(load_nasa_channel(root, chan, labels));
  return out;
}

}  // namespace lstmad
