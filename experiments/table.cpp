#include "experiments/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "experiments/config.hpp"
#include "experiments/corpus.hpp"

namespace lstmad {

namespace {

const char* kProfiles[] = {"standard", "reward_low_FP_rate", "reward_low_FN_rate"};

std::string fmt(double v, int digits = 2) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

struct Acc {
  std::vector<double> values[3];
  std::vector<double> seconds;
  std::vector<std::string> runs;
  std::string engine;
};

}  // namespace

std::string nab_table_markdown(const std::vector<std::string>& run_dirs, const std::string& nab_root_in) {
  std::string nab_root = nab_root_in.empty() ? default_nab_root() : nab_root_in;
  json board = json::object();
  if (!nab_root.empty() && files::exists(nab_root + "/results/final_results.json"))
    board = read_json_file(nab_root + "/results/final_results.json");

  std::map<std::string, Acc> ours;
  for (const auto& dir : run_dirs) {
    if (!files::exists(dir + "/nab_scores.json")) throw IoError(dir + ": no nab_scores.json (not a finished NAB run)");
    const std::string scores_file = dir + "/nab_scores.json", cfg_file = dir + "/config.json",
                      summary_file = dir + "/summary.json";
    json scores = read_json_file(scores_file);
    json cfg = read_json_file(cfg_file);
    json summary = files::exists(summary_file) ? read_json_file(summary_file) : json::object();
    if (!scores.is_object())
      throw DataError(scores_file, 0, "expected an object {detector: {profile: score}}");
    for (auto it = scores.begin(); it != scores.end(); ++it) {
      Acc& a = ours[it.key()];
      for (int p = 0; p < 3; ++p)
        if (it.value().contains(kProfiles[p]))
          a.values[p].push_back(json_get<double>(scores, {it.key(), kProfiles[p]}, scores_file));
      if (summary.contains("wall_seconds"))
        a.seconds.push_back(json_get<double>(summary, {"wall_seconds"}, summary_file));
      a.runs.push_back(dir);
      a.engine = json_get<std::string>(cfg, {"engine", "name"}, cfg_file) + " " +
                 json_get<std::string>(cfg, {"engine", "precision"}, cfg_file);
    }
  }
  if (ours.empty()) throw ConfigError("table: no detector scores in the given runs");

  struct Row {
    std::string name, standard, low_fp, low_fn, engine, runtime;
    double sort_key;
  };
  std::vector<Row> rows;
  for (const auto& [name, a] : ours) {
    Row r;
    r.name = "**" + name + "** (lstmad, " + std::to_string(a.runs.size()) + " run" + (a.runs.size() > 1 ? "s" : "") + ")";
    std::string* cells[3] = {&r.standard, &r.low_fp, &r.low_fn};
    for (int p = 0; p < 3; ++p) {
      const auto& v = a.values[p];
      if (v.empty()) {
        *cells[p] = "-";
        continue;
      }
      double mean = 0;
      for (double x : v) mean += x;
      mean /= static_cast<double>(v.size());
      std::string cell = "**" + fmt(mean) + "**";
      if (v.size() > 1) {
        double ss = 0;
        for (double x : v) ss += (x - mean) * (x - mean);
        double sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
        auto [lo, hi] = std::minmax_element(v.begin(), v.end());
        cell += " ± " + fmt(sd) + " (" + fmt(*lo) + ".." + fmt(*hi) + ")";
      }
      *cells[p] = cell;
      if (p == 0) r.sort_key = mean;
    }
    r.engine = a.engine;
    if (!a.seconds.empty()) {
      double s = 0;
      for (double x : a.seconds) s += x;
      r.runtime = fmt(s / static_cast<double>(a.seconds.size()), 0) + " s";
    } else {
      r.runtime = "-";
    }
    rows.push_back(r);
  }
  for (auto it = board.begin(); it != board.end(); ++it) {
    Row r;
    r.name = it.key() + " (NAB scoreboard)";
    std::string* cells[3] = {&r.standard, &r.low_fp, &r.low_fn};
    for (int p = 0; p < 3; ++p)
      *cells[p] = it.value().contains(kProfiles[p]) ? fmt(it.value()[kProfiles[p]].get<double>()) : "-";
    r.sort_key = it.value().contains("standard") ? it.value()["standard"].get<double>() : -1e9;
    r.engine = "-";
    r.runtime = "-";
    rows.push_back(r);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.sort_key > b.sort_key; });

  std::ostringstream os;
  os << "| detector | standard | reward_low_FP_rate | reward_low_FN_rate | engine | runtime |\n"
     << "|---|---:|---:|---:|---|---:|\n";
  for (const auto& r : rows)
    os << "| " << r.name << " | " << r.standard << " | " << r.low_fp << " | " << r.low_fn << " | " << r.engine << " | "
       << r.runtime << " |\n";
  os << "\nNAB v1.1 normalized scores (0 = null detector, 100 = perfect). lstmad rows: the mean over the runs "
        "(± sample standard deviation, min..max), each at NAB's corpus-optimal threshold per profile. Scoreboard "
        "rows: results/final_results.json"
     << (nab_root.empty() ? " (not found)" : " of " + nab_root) << ". Runs:";
  for (const auto& [name, a] : ours)
    for (const auto& d : a.runs) os << " `" << d << "`";
  os << "\n";
  return os.str();
}

}  // namespace lstmad
