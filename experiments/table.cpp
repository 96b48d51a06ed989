#include "experiments/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <tuple>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "eval/nab_scorer.hpp"
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
  std::string not_comparable;  // why the row's runs are no match for the scoreboard ("" when they are)
  json flat_config;            // `config` as path -> value, to name what tells two configs apart
  std::vector<double> values[3];
  std::vector<double> seconds;
  std::vector<std::string> runs;   // a run folder per value (a run's seed grid gives one per seed)
  std::vector<std::string> names;  // the detector's name in that run (a grid's names hold the seed's id)
  std::vector<std::string> seeds;  // the seed (and ensemble members) of each value: repeats are left out
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
  std::vector<std::string> repeated;                         // "`run` (detector, seed)" left out as a repeat
};

// What the scoreboard's scores rest on: NAB's folder, its label file's series and the SHA-256 of its
// files (computed once per file), to tell a run on other files, windows or weights.
struct Board {
  std::string root;
  size_t series = 0;  // the keys of NAB's label file (0 when it is not found)
  std::map<std::string, std::string> hashes;
  std::string hash_of(const std::string& rel) {
    auto it = hashes.find(rel);
    if (it != hashes.end()) return it->second;
    std::string h;
    if (!root.empty() && files::exists(root + "/" + rel)) {
      try {
        h = files::sha256_file(root + "/" + rel);
      } catch (const std::exception&) {
      }
    }
    return hashes[rel] = h;
  }
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

// Why a run on NAB's layout is no match for the scoreboard ("" when it is): part of the corpus, other
// label windows, other input files than the NAB folder's, or other profile weights.
std::string not_comparable_reason(const json& cfg, const std::string& cfg_file, const json& manifest,
                                  const std::string& manifest_file, Board& board) {
  std::vector<std::string> why;
  // Part of the corpus (data.files, data.max_files): its normalized scores are over other windows. The
  // manifest counts the series; a run without one says it by its config.
  if (board.series > 0 && manifest.contains("corpus") && manifest["corpus"].is_object() &&
      manifest["corpus"].contains("series")) {
    const auto series = json_get<size_t>(manifest, {"corpus", "series"}, manifest_file);
    if (series != board.series)
      why.push_back(std::to_string(series) + " of NAB's " + std::to_string(board.series) + " series");
  } else {
    const auto listed = json_get_or<std::vector<std::string>>(cfg, {"data", "files"}, cfg_file, {});
    const auto max_files = json_get_or<long>(cfg, {"data", "max_files"}, cfg_file, 0);
    if (!listed.empty() || max_files > 0)
      why.push_back(!listed.empty() ? "data.files lists " + std::to_string(listed.size()) + " series"
                                    : "data.max_files " + std::to_string(max_files));
  }
  const auto windows_file =
      json_get_or<std::string>(cfg, {"data", "windows_file"}, cfg_file, "labels/combined_windows.json");
  if (windows_file != "labels/combined_windows.json") why.push_back("label windows " + windows_file);
  // Its input files against the NAB folder's (another copy or version of NAB, edited labels).
  if (!board.root.empty() && manifest.contains("input_sha256") && manifest["input_sha256"].is_object()) {
    size_t differ = 0;
    std::string first;
    for (auto it = manifest["input_sha256"].begin(); it != manifest["input_sha256"].end(); ++it) {
      const std::string h = board.hash_of(it.key());
      if (h.empty() || !it.value().is_string() || it.value().get<std::string>() == h) continue;
      if (differ++ == 0) first = it.key();
    }
    if (differ > 0)
      why.push_back(std::to_string(differ) + " input file(s) other than " + board.root + "'s (" + first +
                    (differ > 1 ? ", ..." : "") + ")");
  }
  // Other cost weights: scores on another scale than the scoreboard's.
  if (const auto pf = json_get_or<std::string>(cfg, {"eval", "profiles"}, cfg_file, ""); !pf.empty()) {
    try {
      const std::vector<NabProfile> nab = nab_default_profiles(), used = nab_read_profiles(pf);
      for (const NabProfile& p : nab) {
        const auto u =
            std::find_if(used.begin(), used.end(), [&](const NabProfile& q) { return q.name == p.name; });
        if (u == used.end() || u->tp_weight != p.tp_weight || u->fn_weight != p.fn_weight ||
            u->fp_weight != p.fp_weight || u->tn_weight != p.tn_weight) {
          why.push_back("eval.profiles " + pf + ": other weights than NAB's for " + p.name);
          break;
        }
      }
    } catch (const std::exception& e) {
      why.push_back("eval.profiles " + pf + " cannot be read to compare (" + e.what() + ")");
    }
  }
  std::string out;
  for (const auto& w : why) out += (out.empty() ? "" : "; ") + w;
  return out;
}

// A JSON document's leaves as {"a.b.c": value}.
void flatten(const json& j, const std::string& prefix, json& out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else {
    out[prefix] = j;
  }
}

// Why a run has no nab_scores.json, from its summary.json where it has one.
std::string no_scores_reason(const std::string& dir) {
  const std::string summary_file = dir + "/summary.json";
  if (files::exists(summary_file)) {
    try {
      const json s = read_json_file(summary_file);
      if (s.value("ok", -1) == 0 && s.value("cells", 0) > 0)
        return "no cell finished OK; its results.csv says why each failed";
      if (s.value("missing", 0) > 0) return "an unfinished run or one shard";
      // The run's own reasons (a corpus without label windows, eval.nab false), each said once.
      if (s.contains("nab_unscored") && s["nab_unscored"].is_object() && !s["nab_unscored"].empty()) {
        std::vector<std::string> reasons;
        for (const auto& [detector, why] : s["nab_unscored"].items())
          if (why.is_string() &&
              std::find(reasons.begin(), reasons.end(), why.get<std::string>()) == reasons.end())
            reasons.push_back(why.get<std::string>());
        std::string out;
        for (const auto& r : reasons) out += (out.empty() ? "" : "; ") + r;
        if (!out.empty()) return out;
      }
    } catch (const std::exception&) {
    }
  }
  return "an unfinished run or shard, a corpus without label windows, or eval.nab false";
}

// The NAB scores of the given runs, one accumulator per row (row_name), config and comparability.
RunScores collect_runs(const std::vector<std::string>& run_dirs, Board& board) {
  // One row per setting and config: runs differ only in their `run` section (seed, name, threads) to be
  // averaged, so a detector name that comes with two configs makes two rows, not one mean of both.
  RunScores out;
  std::vector<Acc>& ours = out.ours;
  auto acc_for = [&](const std::string& detector, const json& flat, const std::string& config,
                     const std::string& why) -> Acc& {
    for (auto& a : ours)
      if (a.detector == detector && a.config == config && a.not_comparable == why) return a;
    ours.push_back(Acc{});
    ours.back().detector = detector;
    ours.back().config = config;
    ours.back().not_comparable = why;
    ours.back().flat_config = flat;
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
    // off, every cell failed) is named and left out, as a setting without a score is; the others are tabled.
    if (!files::exists(dir + "/nab_scores.json")) {
      const std::string why = no_scores_reason(dir);
      log::warn(dir + ": no nab_scores.json (" + why + "); left out");
      out.unscored.push_back("`" + dir + "` (no nab_scores.json: " + why + ")");
      ++without_scores;
      continue;
    }
    const std::string scores_file = dir + "/nab_scores.json", cfg_file = dir + "/config.json",
                      summary_file = dir + "/summary.json", manifest_file = dir + "/manifest.json";
    if (!files::exists(cfg_file)) throw IoError(dir + ": not a run folder (no config.json)");
    json scores = read_json_file(scores_file);
    const json cfg = read_config_file(cfg_file);  // strict: a hand-edited copy with a repeated key is refused
    const json summary = files::exists(summary_file) ? read_json_file(summary_file) : json::object();
    json manifest = json::object();
    if (files::exists(manifest_file)) {
      // The manifest only refines the row (its inputs, an ensemble's members): a damaged one is said, and
      // the run tabled by its config.
      try {
        manifest = read_json_file(manifest_file);
        if (!manifest.is_object()) throw DataError(manifest_file, 0, "expected an object");
      } catch (const Error& e) {
        log::warn(std::string(e.what()) + "; the run is tabled by its config alone");
        manifest = json::object();
      }
    }
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
    const std::string format =
        cfg.contains("data") ? json_get_or<std::string>(cfg, {"data", "format"}, cfg_file, "nab") : "nab";
    std::string why_not;
    if (format != "nab")
      why_not = "data.format \"" + format + "\"";
    else
      why_not = not_comparable_reason(cfg, cfg_file, manifest, manifest_file, board);
    // The config a row's runs share. The corpus is its input files where the manifest hashes them (so two
    // spellings of one NAB folder are one config, two versions of it two); an ensemble rescored from
    // several runs (`rescore --member`) is told apart from its source's single models.
    json fingerprint = cfg;
    if (fingerprint.is_object()) {
      fingerprint.erase("run");
      if (manifest.contains("input_sha256") && fingerprint.contains("data") &&
          fingerprint["data"].is_object()) {
        fingerprint["data"].erase("root");
        fingerprint["inputs"] = manifest["input_sha256"];
      }
    }
    // An ensemble rescored from several runs: their configs (each without its run section, sorted: the
    // source is one member among them) are part of the row's config, and their seeds of its seeds.
    std::vector<std::string> members;
    if (manifest.contains("ensemble_members"))
      members = json_get<std::vector<std::string>>(manifest, {"ensemble_members"}, manifest_file);
    std::string ensemble_tag;
    std::vector<std::string> member_seeds;
    if (!members.empty()) {
      std::vector<std::string> member_configs;
      for (const auto& m : members) {
        try {
          json mc = read_config_file(m + "/config.json");
          member_seeds.push_back(mc.contains("run") && mc["run"].contains("seed") ? mc["run"]["seed"].dump()
                                                                                  : m);
          mc.erase("run");
          member_configs.push_back(mc.dump());
        } catch (const Error&) {  // a member folder gone since: its path stands for it
          member_seeds.push_back(std::filesystem::weakly_canonical(m).string());
          member_configs.push_back(std::filesystem::weakly_canonical(m).string());
        }
      }
      std::sort(member_configs.begin(), member_configs.end());
      fingerprint["ensemble_members"] = member_configs;
      ensemble_tag = " [ensemble of " + std::to_string(members.size() + 1) + " runs' models]";
    }
    json flat = json::object();
    flatten(fingerprint, "", flat);
    // The run's time, shared evenly among the settings it trained: a grid's settings train together, and
    // a row of one setting should not carry the whole grid's time.
    const double setting_count =
        static_cast<double>(settings.empty() ? std::max<size_t>(1, scores.size()) : settings.size());
    // The seeds of a setting's models (every ensemble member's, which may set its own run.seed), with the
    // members' runs' seeds: two runs with the same ones computed the same thing.
    const auto seeds_of = [&](std::vector<std::string> seeds) {
      seeds.insert(seeds.end(), member_seeds.begin(), member_seeds.end());
      std::sort(seeds.begin(), seeds.end());
      std::string text;
      for (const auto& x : seeds) text += (text.empty() ? "" : "+") + x;
      return text;
    };
    std::vector<std::tuple<std::string, std::string, std::string>> detectors;  // name in the run, row, seeds
    const std::string run_seed = cfg.contains("run") && cfg["run"].contains("seed")
                                     ? seeds_of({cfg["run"]["seed"].dump()})
                                     : std::string("?");
    for (const Setting& s : settings) {
      std::vector<std::string> seeds;
      for (const json& m : ensemble_members(s.values)) seeds.push_back(at_path(m, "run.seed").dump());
      if (s.values.contains("ensemble") && s.values.at("ensemble").contains("seeds"))
        seeds.push_back("x" + s.values.at("ensemble").at("seeds").dump());  // replicas of each
      detectors.emplace_back(s.detector, row_name(s) + ensemble_tag, seeds_of(seeds));
    }
    // A score under a name the config does not make (a hand-made or older run) is still its own row.
    for (auto it = scores.begin(); it != scores.end(); ++it)
      if (std::none_of(detectors.begin(), detectors.end(),
                       [&](const auto& d) { return std::get<0>(d) == it.key(); }))
        detectors.emplace_back(it.key(), it.key() + ensemble_tag, run_seed);
    bool contributed = false;  // a row holds a score of this run
    for (const auto& [name, row, seed] : detectors) {
      if (!scores.contains(name)) {
        log::warn(dir + ": no NAB score for " + name +
                  " (a cell failed or is missing; its table.md says which); left out");
        out.unscored.push_back("`" + dir + "` (" + name + ")");
        continue;
      }
      Acc& a = acc_for(row, flat, fingerprint.dump(), why_not);
      // The same seed twice in a row (a copied folder, a run again with other threads, merged shards
      // beside the unsharded run) is one experiment twice: counted, it would shrink the spread.
      const std::string& seed_key = seed;
      if (const auto same = std::find(a.seeds.begin(), a.seeds.end(), seed_key);
          seed != "?" && same != a.seeds.end()) {
        const std::string earlier = a.runs[static_cast<size_t>(same - a.seeds.begin())];
        log::warn(dir + ": " + name + " has seed " + seed + " as " + earlier +
                  " has, in the same row: one experiment twice; left out");
        out.repeated.push_back("`" + dir + "` (" + name + ", seed " + seed + ", as `" + earlier + "`)");
        continue;
      }
      for (int p = 0; p < 3; ++p)
        if (scores[name].contains(kProfiles[p]))
          a.values[p].push_back(json_get<double>(scores, {name, kProfiles[p]}, scores_file));
      if (summary.contains("wall_seconds"))
        a.seconds.push_back(json_get<double>(summary, {"wall_seconds"}, summary_file) / setting_count);
      a.runs.push_back(dir);
      a.names.push_back(name);
      a.seeds.push_back(seed_key);
      contributed = true;
      a.engine = json_get<std::string>(cfg, {"engine", "name"}, cfg_file) + " " +
                 json_get<std::string>(cfg, {"engine", "precision"}, cfg_file);
    }
    if (contributed && !why_not.empty()) {
      log::warn(dir + ": not comparable with the scoreboard rows (" + why_not + ")");
      out.not_nab.emplace_back(dir, why_not);
    }
  }
  if (!run_dirs.empty() && without_scores == run_dirs.size())
    throw IoError("none of the " + std::to_string(run_dirs.size()) +
                  " run(s) has a nab_scores.json (unfinished runs or shards, runs whose every cell failed, "
                  "corpora without label windows, or eval.nab false): there is nothing to table");
  return out;
}

std::string mean_cell(const std::vector<double>& v, double* mean_out) {
  if (v.empty()) return "-";
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  std::string cell = "**" + fmt(mean) + "**";
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - mean) * (x - mean);
    const double sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
    auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    cell += " ± " + fmt(sd) + " (" + fmt(*lo) + ".." + fmt(*hi) + ")";
  }
  if (mean_out) *mean_out = mean;
  return cell;
}

// An accumulator's row: mean ± sample sd, min..max over its runs; `tag` tells apart the configs of one
// detector name.
Row our_row(const Acc& a, const std::string& tag) {
  Row r;
  r.name = "**" + a.detector + "**" + tag + " (lstmad, " + std::to_string(a.runs.size()) + " run" +
           (a.runs.size() > 1 ? "s" : "") + (a.not_comparable.empty() ? "" : "; " + a.not_comparable) + ")";
  r.standard = mean_cell(a.values[0], &r.sort_key);
  r.low_fp = mean_cell(a.values[1], nullptr);
  r.low_fn = mean_cell(a.values[2], nullptr);
  r.engine = a.engine;
  if (!a.seconds.empty()) {
    double s = 0;
    for (double x : a.seconds) s += x;
    r.runtime = fmt(s / static_cast<double>(a.seconds.size()), 0) + " s";
  } else {
    r.runtime = "-";
  }
  return r;
}

// The ranked table's rows, best standard score first: our comparable rows and the scoreboard's.
std::vector<Row> ranked_rows(const std::vector<Row>& ours, const json& board) {
  std::vector<Row> rows = ours;
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

void print_rows(std::ostringstream& os, const std::vector<Row>& rows) {
  os << "| detector | standard | reward_low_FP_rate | reward_low_FN_rate | engine | runtime |\n"
     << "|---|---:|---:|---:|---|---:|\n";
  for (const auto& r : rows)
    os << "| " << r.name << " | " << r.standard << " | " << r.low_fp << " | " << r.low_fn << " | " << r.engine
       << " | " << r.runtime << " |\n";
}

// What sets config k of a detector name apart from the first config of that name (config 1): the keys
// whose values differ, the input files counted rather than listed ("" for config 1 itself).
std::string config_difference(const std::vector<Acc>& ours, size_t k) {
  size_t first = k;
  for (size_t j = 0; j < k; ++j)
    if (ours[j].detector == ours[k].detector) {
      first = j;
      break;
    }
  if (first == k) return "";
  const json& mine = ours[k].flat_config;
  const json& base = ours[first].flat_config;
  std::vector<std::string> keys;
  size_t inputs = 0;
  const auto differs = [&](const std::string& key) {
    if (key.rfind("inputs.", 0) == 0) {
      ++inputs;
      return;
    }
    keys.push_back(key);
  };
  // Input files are compared where both runs' manifests hash them (a run of an older version has none).
  const auto has_inputs = [](const json& flat) {
    for (auto it = flat.begin(); it != flat.end(); ++it)
      if (it.key().rfind("inputs.", 0) == 0) return true;
    return false;
  };
  const bool inputs_known = has_inputs(mine) && has_inputs(base);
  const auto compare = [&](const std::string& key) { return inputs_known || key.rfind("inputs.", 0) != 0; };
  for (auto it = mine.begin(); it != mine.end(); ++it)
    if (const auto o = base.find(it.key()); compare(it.key()) && (o == base.end() || *o != it.value()))
      differs(it.key());
  for (auto it = base.begin(); it != base.end(); ++it)
    if (compare(it.key()) && !mine.contains(it.key())) differs(it.key());
  std::string out;
  for (size_t i = 0; i < keys.size() && i < 4; ++i) {
    std::string v = mine.contains(keys[i]) ? mine[keys[i]].dump() : "(none)";
    if (v.size() > 100) v = "..." + v.substr(v.size() - 97);
    out += (i ? ", " : "") + keys[i] + "=" + v;
  }
  if (keys.size() > 4) out += ", and " + std::to_string(keys.size() - 4) + " more key(s)";
  if (inputs > 0) out += (out.empty() ? "" : ", ") + std::to_string(inputs) + " input file(s) other";
  return "against config 1: " + (out.empty() ? std::string("the same") : out);
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
  Board ref;
  ref.root = nab_root;
  if (!nab_root.empty() && files::exists(nab_root + "/labels/combined_windows.json")) {
    const json labels = read_json_file(nab_root + "/labels/combined_windows.json");
    if (labels.is_object()) ref.series = labels.size();
  }

  const RunScores runs = collect_runs(run_dirs, ref);
  const std::vector<Acc>& ours = runs.ours;
  if (ours.empty())
    throw IoError("table: no detector scores in the given runs (each run's table.md says why)");

  // Each accumulator's tag after the detector's name: " [config k]" where the name comes with several.
  std::map<std::string, int> configs_of, nth;
  for (const auto& a : ours) configs_of[a.detector]++;
  std::vector<std::string> tags;
  for (const auto& a : ours)
    tags.push_back(configs_of[a.detector] > 1 ? " [config " + std::to_string(++nth[a.detector]) + "]" : "");
  // Rows on other files, windows or weights than the scoreboard's are not ranked among its rows: a second
  // table, each row saying why.
  std::vector<Row> comparable, other;
  for (size_t k = 0; k < ours.size(); ++k)
    (ours[k].not_comparable.empty() ? comparable : other).push_back(our_row(ours[k], tags[k]));

  std::ostringstream os;
  print_rows(os, ranked_rows(comparable, board));
  os << "\nNAB v1.1 normalized scores (0 = null detector, 100 = perfect). lstmad rows: the mean over the "
        "runs (± sample standard deviation, min..max), each at NAB's corpus-optimal threshold per profile "
        "(an exhaustive sweep); runtime: each run's wall time shared evenly among the settings it ran. "
        "Scoreboard rows: results/final_results.json"
     << (nab_root.empty() ? " (no NAB folder found)"
         : board.empty()  ? " (not in " + nab_root + ")"
                          : " of " + nab_root + ", NAB's published scores at its config/thresholds.json")
     << ". Runs:";
  for (size_t k = 0; k < ours.size(); ++k) {
    os << " " << ours[k].detector << tags[k];
    if (!tags[k].empty()) {
      const std::string diff = config_difference(ours, k);
      if (!diff.empty()) os << " (" << diff << ")";
    }
    os << ":";
    for (size_t r = 0; r < ours[k].runs.size(); ++r) {
      os << " `" << ours[k].runs[r] << "`";
      if (ours[k].names[r] != ours[k].detector) os << " (" << ours[k].names[r] << ")";
    }
    os << ";";
  }
  os << "\n";
  if (!runs.unscored.empty()) {
    os << "\nNot scored (left out):";
    for (size_t k = 0; k < runs.unscored.size(); ++k) os << (k ? ", " : " ") << runs.unscored[k];
    os << "\n";
  }
  if (!runs.repeated.empty()) {
    os << "\nLeft out as repeats (a seed already in the row: one experiment twice):";
    for (size_t k = 0; k < runs.repeated.size(); ++k) os << (k ? ", " : " ") << runs.repeated[k];
    os << "\n";
  }
  if (!other.empty()) {
    std::stable_sort(other.begin(), other.end(),
                     [](const Row& a, const Row& b) { return a.sort_key > b.sort_key; });
    os << "\nNot comparable with the scoreboard rows, so not ranked among them:";
    for (size_t k = 0; k < runs.not_nab.size(); ++k)
      os << (k ? ";" : "") << " `" << runs.not_nab[k].first << "` (" << runs.not_nab[k].second << ")";
    os << "\n\n";
    print_rows(os, other);
  }
  return os.str();
}

}  // namespace lstmad
