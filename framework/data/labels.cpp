#include "data/labels.hpp"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "data/csv_reader.hpp"
#include "data/timestamp.hpp"

namespace lstmad {
namespace fs = std::filesystem;

std::map<std::string, WindowTexts> read_label_windows(const std::string& path,
                                                      std::map<std::string, std::string>* malformed) {
  // Strict: a series named twice would otherwise keep only its last list of windows.
  const nlohmann::json j = read_json_file(path);
  if (!j.is_object()) throw DataError(path, 0, "expected a JSON object {relpath: [[start, end], ...]}");
  std::map<std::string, WindowTexts> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string problem;
    WindowTexts ws;
    if (!it.value().is_array())
      problem = "\"" + it.key() + "\": expected a list of windows, got " + it.value().dump();
    for (std::size_t k = 0; problem.empty() && k < it.value().size(); ++k) {
      const auto& w = it.value()[k];
      if (!w.is_array() || w.size() != 2 || !w[0].is_string() || !w[1].is_string())
        problem = "\"" + it.key() + "\": window " + std::to_string(k) +
                  " must be [start, end] timestamp strings, got " + w.dump();
      else
        ws.emplace_back(w[0].get<std::string>(), w[1].get<std::string>());
    }
    if (problem.empty())
      out[it.key()] = std::move(ws);
    else if (malformed)
      (*malformed)[it.key()] = problem;
    else
      throw DataError(path, 0, problem);
  }
  return out;
}

std::string label_windows_json(const std::map<std::string, WindowTexts>& windows) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [key, ws] : windows) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const auto& [a, b] : ws) arr.push_back({a, b});
    j[key] = arr;
  }
  return json_text(j, 4);
}

void attach_windows(Series& series, const WindowTexts& windows) {
  // Index of each timestamp's first row, and whether it repeats.
  std::unordered_map<int64_t, int> first;
  std::unordered_map<int64_t, int> count;
  first.reserve(series.time_us.size());
  for (size_t i = 0; i < series.time_us.size(); ++i) {
    first.emplace(series.time_us[i], static_cast<int>(i));
    ++count[series.time_us[i]];
  }
  auto row_of = [&](const std::string& text) {
    auto us = parse_timestamp_us(text);
    if (!us) throw DataError(series.path, 0, "label window edge \"" + text + "\" is not a timestamp");
    auto it = first.find(*us);
    if (it == first.end()) throw DataError(series.path, 0, "label window edge \"" + text + "\" is not a timestamp of the file");
    if (count[*us] > 1)
      throw DataError(series.path, 0, "label window edge \"" + text + "\" appears " + std::to_string(count[*us]) + " times in the file");
    return it->second;
  };
  series.windows.clear();
  for (const auto& [a, b] : windows) {
    LabelWindow w;
    w.start = row_of(a);
    w.end = row_of(b);
    w.start_text = a;
    w.end_text = b;
    if (w.end < w.start)
      throw DataError(series.path, 0, "label window [" + a + ", " + b + "] ends before it starts");
    if (!series.windows.empty() && w.start <= series.windows.back().end)
      throw DataError(series.path, 0, "label window [" + a + ", " + b + "] overlaps or precedes the previous one");
    series.windows.push_back(w);
  }
}

std::vector<std::string> list_corpus_files(const std::string& root) {
  fs::path data = fs::path(root) / "data";
  std::error_code ec;
  if (!fs::is_directory(data, ec)) throw IoError(data.string() + ": not a folder (expected <root>/data/<category>/<name>.csv)");
  std::vector<std::string> out;
  // The error_code forms throughout: one broken entry (a dangling or looping link, a file that vanishes)
  // must not end the listing; it is simply not a series file.
  const auto hidden = [](const fs::path& p) { return files::hidden_name(p.filename().string()); };
  for (const auto& cat : fs::directory_iterator(data, ec)) {
    if (!cat.is_directory(ec) || hidden(cat.path())) continue;
    for (const auto& f : fs::directory_iterator(cat.path(), ec)) {
      if (f.path().extension() == ".csv" && !hidden(f.path()) && (f.is_regular_file(ec) || f.is_symlink(ec)))
        out.push_back(cat.path().filename().string() + "/" + f.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Series load_corpus_series(const std::string& root, const std::string& relpath,
                          const std::map<std::string, WindowTexts>& labels) {
  Series s = read_series_csv((fs::path(root) / "data" / relpath).string(), relpath);
  auto it = labels.find(relpath);
  if (it != labels.end()) attach_windows(s, it->second);
  return s;
}

}  // namespace lstmad
