#include "experiments/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "experiments/config.hpp"
#include "experiments/corpus.hpp"
#include "experiments/plan.hpp"

namespace lstmad {

namespace {

const char* kProfiles[] = {"standard", "reward_low_FP_rate", "reward_low_FN_rate"};

std::string fmt(double v, int digits = 2) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

struct Acc {
  std::string detector;  // the row's name: detector.name, and a grid's values after it (row_name)
  std::string config;    // the run's config without its `run` section: the runs a row averages share it
  std::vector<double> values[3];
  std::vector<double> seconds;
  std::vector<std::string> runs;   // a run folder per value (a run's seed grid gives one per seed)
  std::vector<std::string> names;  // the detector's name in that run (a grid's names hold the seed's id)
  std::string engine;
};

struct Row {
  std::string name, standard, low_fp, low_fn, engine, runtime;
  double sort_key = -1e9;
};

struct RunScores {
  std::vector<Acc> ours;
  std::vector<std::string> unscored;                         // "`run` (detector)" without a NAB score
  std::vector<std::pair<std::string, std::string>> not_nab;  // run folder, why it is not comparable
};

// A setting's row: detector.name, then the values of the grid's axes but the run's (a seed grid's
// settings are one row's runs). A grid's detector names, `<name>-<setting id>`, hash the seed too, so
// they cannot tell the runs of one setting under other seeds; its values can.
std::string row_name(const Setting& s) {
  std::string name = at_path(s.values, "detector.name").get<std::string>(), values;
  for (auto it = s.axes.begin(); it != s.axes.end(); ++it) {
    if (it.key().rfind("run.", 0) == 0) continue;
    values += (values.empty() ? "" : ", ") + it.key() + "=" + it.value().dump();
  }
  return values.empty() ? name : name + " [" + values + "]";
}

// The NAB scores of the given runs, one accumulator per row (row_name) and config. `board_series`: the
// number of series the scoreboard's scores are over (0 when unknown), to tell a run on part of NAB's
// corpus.
RunScores collect_runs(const std::vector<std::string>& run_dirs, size_t board_series) {
  // One row per setting and config: runs differ only in their `run` section (seed, name, threads) to be
  // averaged, so a detector name that comes with two configs makes two rows, not one mean of both.
  RunScores out;
  std::vector<Acc>& ours = out.ours;
  auto acc_for = [&](const std::string& detector, const std::string& config) -> Acc& {
    for (auto& a : ours)
      if (a.detector == detector && a.config == config) return a;
    ours.push_back(Acc{});
    ours.back().detector = detector;
    ours.back().config = config;
    return ours.back();
  };
  // A run given twice (under any spelling of its path) would count twice in its row's mean and spread.
  std::map<std::string, std::string> given;
  for (const auto& dir : run_dirs) {
    auto [it, fresh] = given.emplace(std::filesystem::weakly_canonical(dir).string(), dir);
    if (!fresh) throw ConfigError(dir + ": the same run as " + it->second + "; give each run once");
  }
  size_t without_scores = 0;
  for (const auto& dir : run_dirs) {
    // A run without NAB scores (an unfinished run or one shard, a corpus without label windows, eval.nab
    // off) is named and left out, as a setting without a score is; the others are tabled.
    if (!files::exists(dir + "/nab_scores.json")) {
      log::warn(dir +
                ": no nab_scores.json (an unfinished run or shard, a corpus without label windows, or "
                "eval.nab false); left out");
      out.unscored.push_back("`" + dir + "` (no nab_scores.json)");
      ++without_scores;
      continue;
    }
    const std::string scores_file = dir + "/nab_scores.json", cfg_file = dir + "/config.json",
                      summary_file = dir + "/summary.json";
    json scores = read_json_file(scores_file);
    const json cfg = read_config_file(cfg_file);  // strict: a hand-edited copy with a repeated key is refused
    json summary = files::exists(summary_file) ? read_json_file(summary_file) : json::object();
    if (!scores.is_object())
      throw DataError(scores_file, 0, "expected an object {detector: {profile: score}}");
    // The detectors the run's config makes, in its order, with their rows. A run holds a score for
    // each that it could score; one without (a failed or missing cell) is named below, not dropped.
    std::vector<Setting> settings;
    try {
      settings = make_plan(resolve_config(cfg, cfg_file), {}).settings;
    } catch (const ConfigError& e) {  // e.g. a run of a version whose keys this one no longer knows
      log::warn(std::string(e.what()) + "; its rows are the detector names of its nab_scores.json");
    }
    json fingerprint = cfg;
    if (fingerprint.is_object()) fingerprint.erase("run");
    const std::string format =
        cfg.contains("data") ? json_get_or<std::string>(cfg, {"data", "format"}, cfg_file, "nab") : "nab";
    if (format != "nab") {
      log::warn(dir + ": its corpus is data.format \"" + format +
                "\", not NAB's: its scores are no match for the scoreboard rows");
      out.not_nab.emplace_back(dir, "data.format \"" + format + "\"");
    } else if (const std::string manifest_file = dir + "/manifest.json";
               board_series > 0 && files::exists(manifest_file)) {
      // NAB's layout on part of the corpus (data.files, data.max_files): its normalized scores are over
      // other windows than the scoreboard's, so they are no match for its rows either.
      const json manifest = read_json_file(manifest_file);
      if (manifest.contains("corpus") && manifest["corpus"].contains("series")) {
        const auto series = json_get<size_t>(manifest, {"corpus", "series"}, manifest_file);
        if (series != board_series) {
          const std::string part =
              std::to_string(series) + " of NAB's " + std::to_string(board_series) + " series";
          log::warn(dir + ": its corpus is " + part + ": its scores are no match for the scoreboard rows");
          out.not_nab.emplace_back(dir, part);
        }
      }
    }
    std::vector<std::pair<std::string, std::string>> detectors;  // name in the run, row
    for (const Setting& s : settings) detectors.emplace_back(s.detector, row_name(s));
    // A score under a name the config does not make (a hand-made or older run) is still its own row.
    for (auto it = scores.begin(); it != scores.end(); ++it)
      if (std::none_of(detectors.begin(), detectors.end(),
                       [&](const auto& d) { return d.first == it.key(); }))
        detectors.emplace_back(it.key(), it.key());
    for (const auto& [name, row] : detectors) {
      if (!scores.contains(name)) {
        log::warn(dir + ": no NAB score for " + name +
                  " (a cell failed or is missing; its table.md says which); left out");
        out.unscored.push_back("`" + dir + "` (" + name + ")");
        continue;
      }
      Acc& a = acc_for(row, fingerprint.dump());
      for (int p = 0; p < 3; ++p)
        if (scores[name].contains(kProfiles[p]))
          a.values[p].push_back(json_get<double>(scores, {name, kProfiles[p]}, scores_file));
      if (summary.contains("wall_seconds"))
        a.seconds.push_back(json_get<double>(summary, {"wall_seconds"}, summary_file));
      a.runs.push_back(dir);
      a.names.push_back(name);
      a.engine = json_get<std::string>(cfg, {"engine", "name"}, cfg_file) + " " +
                 json_get<std::string>(cfg, {"engine", "precision"}, cfg_file);
    }
  }
  if (!run_dirs.empty() && without_scores == run_dirs.size())
    throw IoError("none of the " + std::to_string(run_dirs.size()) +
                  " run(s) has a nab_scores.json (unfinished runs or shards, corpora without label windows, "
                  "or eval.nab false): there is nothing to table");
  return out;
}

// The table's rows, best standard score first: each accumulator's (mean ± sample sd, min..max over its
// runs; `tags` tell apart the configs of one detector name) and the scoreboard's.
std::vector<Row> table_rows(const std::vector<Acc>& ours, const std::vector<std::string>& tags,
                            const json& board) {
  std::vector<Row> rows;
  for (size_t k = 0; k < ours.size(); ++k) {
    const Acc& a = ours[k];
    Row r;
    r.name = "**" + a.detector + "**" + tags[k] + " (lstmad, " + std::to_string(a.runs.size()) + " run" +
             (a.runs.size() > 1 ? "s" : "") + ")";
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
  return rows;
}

}  // namespace

std::string nab_table_markdown(const std::vector<std::string>& run_dirs, const std::string& nab_root_in) {
  std::string nab_root = nab_root_in.empty() ? default_nab_root() : nab_root_in;
  json board = json::object();
  // A folder given by hand that holds no scoreboard is a mistake to say, not a table without its rows.
  if (!nab_root_in.empty() && !files::exists(nab_root_in + "/results/final_results.json"))
    throw ConfigError("--nab " + nab_root_in +
                      ": no results/final_results.json there (NAB's scoreboard); give NAB's folder");
  const std::string board_file = nab_root + "/results/final_results.json";
  if (!nab_root.empty() && files::exists(board_file))
    board = read_json_file(board_file);
  else
    log::warn("table: " +
              (nab_root.empty() ? std::string("no NAB folder found (NAB_ROOT, ../shared/nab)")
                                : board_file + " does not exist") +
              ", so the table has no scoreboard rows; --nab names NAB's folder");
  // The series the scoreboard's scores are over: the keys of NAB's label file (0 when it is not found).
  size_t board_series = 0;
  if (!nab_root.empty() && files::exists(nab_root + "/labels/combined_windows.json")) {
    const json labels = read_json_file(nab_root + "/labels/combined_windows.json");
    if (labels.is_object()) board_series = labels.size();
  }

  const RunScores runs = collect_runs(run_dirs, board_series);
  const std::vector<Acc>& ours = runs.ours;
  const std::vector<std::string>& unscored = runs.unscored;
  const auto& not_nab = runs.not_nab;
  if (ours.empty()) throw ConfigError("table: no detector scores in the given runs");

  // Each accumulator's tag after the detector's name: " [config k]" where the name comes with several.
  std::map<std::string, int> configs_of, nth;
  for (const auto& a : ours) configs_of[a.detector]++;
  std::vector<std::string> tags;
  for (const auto& a : ours)
    tags.push_back(configs_of[a.detector] > 1 ? " [config " + std::to_string(++nth[a.detector]) + "]" : "");
  const std::vector<Row> rows = table_rows(ours, tags, board);

  std::ostringstream os;
  os << "| detector | standard | reward_low_FP_rate | reward_low_FN_rate | engine | runtime |\n"
     << "|---|---:|---:|---:|---|---:|\n";
  for (const auto& r : rows)
    os << "| " << r.name << " | " << r.standard << " | " << r.low_fp << " | " << r.low_fn << " | " << r.engine << " | "
       << r.runtime << " |\n";
  os << "\nNAB v1.1 normalized scores (0 = null detector, 100 = perfect). lstmad rows: the mean over the "
        "runs (± sample standard deviation, min..max), each at NAB's corpus-optimal threshold per profile. "
        "Scoreboard rows: results/final_results.json"
     << (nab_root.empty() ? " (no NAB folder found)"
         : board.empty()  ? " (not in " + nab_root + ")"
                          : " of " + nab_root)
     << ". Runs:";
  for (size_t k = 0; k < ours.size(); ++k) {
    os << " " << ours[k].detector << tags[k] << ":";
    for (size_t r = 0; r < ours[k].runs.size(); ++r) {
      os << " `" << ours[k].runs[r] << "`";
      if (ours[k].names[r] != ours[k].detector) os << " (" << ours[k].names[r] << ")";
    }
    os << ";";
  }
  os << "\n";
  if (!unscored.empty()) {
    os << "\nNot scored (left out):";
    for (size_t k = 0; k < unscored.size(); ++k) os << (k ? ", " : " ") << unscored[k];
    os << "\n";
  }
  if (!not_nab.empty()) {
    os << "\nNot on NAB's corpus, so not comparable with the scoreboard rows:";
    for (size_t k = 0; k < not_nab.size(); ++k)
      os << (k ? ";" : "") << " `" << not_nab[k].first << "` (" << not_nab[k].second << ")";
    os << "\n";
  }
  return os.str();
}

}  // namespace lstmad
