// `lstmad detect` (see detect.hpp).
#include "experiments/detect.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string_view>

#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "core/thread_pool.hpp"
#include "data/csv_reader.hpp"
#include "detect/detector.hpp"
#include "experiments/cell_pipeline.hpp"
#include "experiments/corpus.hpp"
#include "experiments/evaluation.hpp"
#include "experiments/plan.hpp"
#include "experiments/prepare.hpp"
#include "experiments/results.hpp"
#include "experiments/run_folder.hpp"
#include "experiments/runner.hpp"
#include "experiments/saved_models.hpp"
#include "experiments/scheduler.hpp"
#include "lstm/engine.hpp"
#include "train/checkpoint.hpp"

namespace lstmad {
namespace fs = std::filesystem;
namespace {

// Every cell of the run whose models were saved and scored (model.json written), in id order. A damaged
// index is left out and its error kept in `damaged` under the cell's id (warn_skipped says it, unless
// it is the error the caller throws).
std::vector<SavedCell> saved_cells(const std::string& run_dir,
                                   std::map<std::string, std::exception_ptr>& damaged) {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(run_dir) / "models", ec))
    if (e.is_directory()) ids.push_back(e.path().filename().string());
  std::sort(ids.begin(), ids.end());
  std::vector<SavedCell> out;
  for (const auto& id : ids) {
    if (!files::exists(saved_models_dir(run_dir, id) + "/model.json")) continue;  // never scored
    try {
      out.push_back(load_saved_cell(run_dir, id));
    } catch (const std::exception&) {
      damaged[id] = std::current_exception();
    }
  }
  return out;
}

void warn_skipped(const std::map<std::string, std::exception_ptr>& damaged) {
  for (const auto& [id, error] : damaged) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      log::warn(std::string("skipped: ") + e.what());
    }
  }
}

std::string listing(const std::set<std::string>& names) {
  std::string s;
  size_t k = 0;
  for (const auto& n : names) {
    if (k == 12) return s + " (and " + std::to_string(names.size() - k) + " more: detect --list names all)";
    s += (k++ ? ", " : "") + n;
  }
  return s;
}

// How a cell's lost models come back: a resume trains the cell again; a rescore, whose models are copies
// of its source's, has none of its own to train (a resume refuses it).
std::string how_models_come_back(const std::string& run_dir) {
  try {
    const std::string mpath = run_dir + "/manifest.json";
    if (files::exists(mpath))
      if (const json m = read_json_file(mpath); m.is_object() && m.contains("rescored_from"))
        return "this folder is a rescore of " + json_excerpt(m["rescored_from"]) +
               ", whose models it copies: score with that run's, or resume that run and rescore again";
  } catch (const Error&) {  // a damaged manifest: the run's own advice
  }
  return "lstmad run --resume " + run_dir + " trains the cell again";
}

// Why series `series` has no saved models of detector `det` (any, when empty) in the run, where the run
// tells: its cell ended in an error, did not finish, or is another shard's. Empty where none of these
// holds (a series the corpus does not have).
std::string why_no_models(const json& cfg, const std::string& run_dir, const std::string& series,
                          const std::string& det) {
  const Plan want = make_plan(cfg, {series});
  for (const auto& c : want.cells) {
    if (!det.empty() && want.settings[static_cast<size_t>(c.setting)].detector != det) continue;
    const std::string cell_file = run_dir + "/cells/" + c.id + ".json";
    std::error_code ec;
    const bool models_dir = fs::is_directory(saved_models_dir(run_dir, c.id), ec);
    if (files::exists(cell_file)) {
      const CellResult r = CellResult::from_json(read_json_file(cell_file), cell_file);
      if (r.status != CellStatus::Ok)
        return "its cell " + c.id + " ended " + to_string(r.status) +
               (r.error.empty() ? "" : ": " + r.error) + " (results.csv); there are no models to score with";
      if (!models_dir && at_path(cfg, "run.save_models").get<bool>())
        return "its cell " + c.id + " finished, but its models folder " + saved_models_dir(run_dir, c.id) +
               " is gone: " + how_models_come_back(run_dir);
    }
    if (models_dir)
      return saved_models_dir(run_dir, c.id) +
             " holds checkpoints but no model.json: the cell did not finish (lstmad run --resume " + run_dir +
             " finishes it)";
  }
  const std::string mpath = run_dir + "/manifest.json";
  if (!files::exists(mpath)) return {};
  const json m = read_json_file(mpath);
  if (!m.is_object() || !m.contains("shard") || !m["shard"].is_object() || m["shard"].value("count", 1) <= 1)
    return {};
  const int index = m["shard"].value("index", 0), count = m["shard"].value("count", 1);
  const std::string shard = "shard " + std::to_string(index) + "/" + std::to_string(count);
  // Which shard runs the series' cell: every count-th cell of the run's plan over its corpus, as the run
  // picks them. A series the corpus does not have is no shard's (the caller lists the valid ones).
  try {
    const Corpus corpus = resolve_corpus(cfg, run_dir, /*read_only=*/true);
    if (std::find(corpus.series.begin(), corpus.series.end(), series) == corpus.series.end()) return {};
    const Plan full = make_plan(cfg, corpus.series);
    for (const auto& c : full.cells) {
      if (c.series != series ||
          (!det.empty() && full.settings[static_cast<size_t>(c.setting)].detector != det))
        continue;
      if (c.index % count == index)
        return "its cell is this folder's (" + shard + ") and has not run: lstmad run --resume " + run_dir +
               " runs it";
      return "its cell is shard " + std::to_string(c.index % count) + "/" + std::to_string(count) +
             "'s, and this folder is " + shard +
             ": score from that shard's folder, or from the shards merged (lstmad merge)";
    }
  } catch (const Error&) {  // the corpus is not where the config says: say what the folder is
  }
  return "this folder is " + shard +
         " of its run, and the series' cell is not among its finished ones: score from the other shards' "
         "folders, or from the shards merged (lstmad merge)";
}

// A rescore with --member: its errors are the mean over several runs' models, which no single run's config
// replays, so it copies none. Empty for any other folder.
std::string ensemble_of_members(const std::string& run_dir) {
  const std::string mpath = run_dir + "/manifest.json";
  if (!files::exists(mpath)) return {};
  const json m = read_json_file(mpath);
  if (!m.is_object() || !m.contains("ensemble_members")) return {};
  return "an ensemble of several runs' models (rescore --member " + json_excerpt(m["ensemble_members"]) +
         "), which detect cannot replay: train the ensemble in one run (an \"ensemble\" section in the "
         "config, with run.save_models true), or run detect on each member run";
}

// Why a run folder holds no saved models at all: an ensemble of other runs' models, a config without
// run.save_models, or cells that ended without models (each status counted).
std::string why_none_saved(const json& cfg, const std::string& run_dir) {
  if (std::string why = ensemble_of_members(run_dir); !why.empty()) return why;
  if (!at_path(cfg, "run.save_models").get<bool>())
    return "the run saved no models; run the experiment with run.save_models true "
           "(--set run.save_models=true)";
  std::map<std::string, int> ended;
  int ok = 0, failed = 0;
  for (const CellResult& r : ResultsStore(run_dir).read_cells()) {
    ++ended[r.status == CellStatus::Ok ? "finished without them (their models folders are gone)"
                                       : "ended " + to_string(r.status)];
    ++(r.status == CellStatus::Ok ? ok : failed);
  }
  if (ended.empty())
    return "run.save_models is on, but no cell has finished: lstmad run --resume " + run_dir + " runs them";
  std::string s = "run.save_models is on, but no cell left models: of its cells, ";
  size_t k = 0;
  for (const auto& [what, n] : ended) s += (k++ ? ", " : "") + std::to_string(n) + " " + what;
  if (failed > 0) s += " (results.csv's error column says why they failed)";
  if (ok > 0) s += "; for those finished, " + how_models_come_back(run_dir);
  return s;
}

const SavedCell& choose_cell(const std::vector<SavedCell>& saved, const DetectOptions& o,
                             const std::string& run_dir, const json& cfg) {
  std::set<std::string> detectors;
  for (const auto& c : saved) detectors.insert(c.detector);
  std::string det = o.detector;
  if (det.empty()) {
    if (detectors.size() != 1)
      throw ConfigError("--detector: " + run_dir + " saved the models of " +
                        std::to_string(detectors.size()) + " detectors; name one of " + listing(detectors));
    det = *detectors.begin();
  } else if (!detectors.count(det)) {
    throw ConfigError("--detector " + det + ": " + run_dir + " saved no models of it; it has " +
                      listing(detectors));
  }
  std::set<std::string> series;
  const SavedCell* found = nullptr;
  for (const auto& c : saved) {
    if (c.detector != det) continue;
    series.insert(c.series);
    if (c.series == o.series) found = &c;
  }
  if (o.series.empty()) {
    if (series.size() != 1)
      throw ConfigError("--series: detector " + det + " has saved models for " +
                        std::to_string(series.size()) + " series; name one of " + listing(series));
    for (const auto& c : saved)
      if (c.detector == det) return c;
  }
  if (!found) {
    if (const std::string why = why_no_models(cfg, run_dir, o.series, det); !why.empty())
      throw IoError(run_dir + ": --series " + o.series + ": " + why);
    throw ConfigError("--series " + o.series + ": detector " + det + " has no saved models for it; it has " +
                      listing(series));
  }
  return *found;
}

// The threshold that makes alarms: --threshold, else the run's corpus-optimal NAB threshold of the
// profile for this detector (nab_thresholds.json), else none.
void choose_threshold(Detection& d, const DetectOptions& o, const json& cfg) {
  if (!std::isnan(o.threshold)) {
    d.threshold = o.threshold;
    d.threshold_from = "--threshold";
    d.threshold_given = true;
    return;
  }
  // No threshold: the alarm column stays, empty, and the reason the run gives (summary.json's
  // nab_unscored: a shard, a failed cell, a damaged file) is said.
  auto none = [&](const std::string& what) {
    std::string why = "eval.nab off, or an unlabeled corpus";
    const std::string summary = o.run_dir + "/summary.json";
    try {
      if (files::exists(summary)) {
        const json sj = read_json_file(summary);
        if (sj.is_object() && sj.contains("nab_unscored") && sj["nab_unscored"].is_object() &&
            sj["nab_unscored"].contains(d.detector) && sj["nab_unscored"][d.detector].is_string())
          why = "the run did not NAB-score detector " + d.detector + ": " +
                sj["nab_unscored"][d.detector].get<std::string>();
      }
    } catch (const Error&) {  // the reason is a courtesy: a damaged summary.json keeps the general one
    }
    log::warn(what + " (" + why + "): the alarm column is empty; give --threshold for alarms");
  };
  // Without thresholds a --profile given still names one of the run's profiles: a typo is said, not
  // hidden behind the empty column (unless the run's eval.profiles file is gone: no list to check).
  if (!o.profile.empty()) {
    std::set<std::string> known;
    try {
      for (const NabProfile& p : eval_profiles(cfg)) known.insert(p.name);
    } catch (const ConfigError&) {  // the file is gone: nothing to check against
    }
    if (!known.empty() && !known.count(o.profile))
      throw ConfigError("--profile " + o.profile + ": the run's profiles are " + listing(known));
  }
  const std::string profile = o.profile.empty() ? "standard" : o.profile;
  const std::string path = o.run_dir + "/nab_thresholds.json";
  if (!files::exists(path)) return none(o.run_dir + " has no nab_thresholds.json");
  const json j = read_json_file(path);
  if (!j.is_object()) throw DataError(path, 0, "expected an object of detectors, got " + json_excerpt(j));
  if (!j.contains(d.detector) || !j[d.detector].is_object())
    return none(path + " holds no threshold of detector " + d.detector);
  const json& per = j[d.detector];
  if (!per.contains(profile)) {
    std::set<std::string> profiles;
    for (auto it = per.begin(); it != per.end(); ++it) profiles.insert(it.key());
    throw ConfigError("--profile" + (o.profile.empty() ? std::string() : " " + o.profile) + ": " + path +
                      " has thresholds of " + listing(profiles) +
                      (o.profile.empty() ? " (no standard profile: name one)" : ""));
  }
  const json& t = per[profile];
  if (!t.is_object() || !t.contains("threshold") || !t["threshold"].is_number())
    throw DataError(path, 0, d.detector + "." + profile + " has no numeric threshold");
  d.threshold = t["threshold"].get<double>();
  d.threshold_from = "the run's NAB " + profile + " threshold";
}

// The series to score: the run corpus' own (no --file), or --file in the corpus' layout.
Series series_to_score(const json& cfg, const DetectOptions& o, const SavedCell& sc) {
  if (o.file.empty()) {
    try {
      return resolve_corpus(cfg, o.run_dir, /*read_only=*/true).load(sc.series);
    } catch (const ConfigError& e) {  // a run moved away from its corpus, or the corpus moved
      if (!o.data_root.empty()) throw;
      const std::string format = at_path(cfg, "data.format").get<std::string>();
      throw ConfigError(std::string(e.what()) + " (the run's corpus: give --data-root DIR where it is now" +
                        (format == "nasa" || format == "ucr" ? ")" : ", or --file with the series' CSV)"));
    }
  }
  // NASA channels (train .npy, then test .npy) and UCR files (the training part in the file's name) have
  // no CSV form whose rows line up with the models' training part.
  const std::string format = at_path(cfg, "data.format").get<std::string>();
  if (format == "nasa" || format == "ucr")
    throw ConfigError("--file: the run read a " + format +
                      " corpus, whose series --file cannot stand for; detect scores the corpus' own files "
                      "(update them under data.root, or leave --file out)");
  CsvColumns layout = format == "csv" ? csv_columns_of(cfg) : CsvColumns{};
  layout.label_optional = true;  // new rows to score come without labels; detect reads none of them
  return read_series_csv(o.file, sc.series, nullptr, layout);
}

// The engines that run the models: the run's (or --engine's), and the run's engine.fallback for the
// shapes the first refuses (none with --engine).
struct DetectEngines {
  std::unique_ptr<Engine> main, fallback;
};
DetectEngines detect_engines(const json& cfg, const DetectOptions& o, int threads) {
  EngineOptions eo = engine_options(cfg, threads);
  if (!o.engine.empty()) eo.name = o.engine;
  DetectEngines e;
  try {
    e.main = make_engine(eo);
  } catch (const UnsupportedError& err) {
    if (o.engine.empty()) throw;
    // --engine cpu for a tf32 or bf16 run: the models' own numbers, in fp32.
    log::warn(std::string(err.what()) + "; engine " + eo.name + " runs them in fp32");
    eo.precision = Precision::FP32;
    e.main = make_engine(eo);
  }
  if (o.engine.empty()) e.fallback = fallback_engine(cfg, threads, eo.device);
  return e;
}

// A device error's message with the way around it, unless it names it already.
std::string with_cpu_hint(const std::string& what) {
  return what.find("--engine cpu") != std::string::npos ? what
                                                        : what + " (--engine cpu runs the models on the CPU)";
}

// Each member model's prediction errors on `p`, the members grouped as the run's scheduler groups them
// (shape, window, minibatch size, fine-tuning schedule): each group forecasts and fine-tunes as one
// ModelBatch. `used` collects the engines that ran them.
std::vector<std::vector<double>> member_errors(const DetectOptions& o, const SavedCell& sc,
                                               const json& values, const PreparedSeries& p,
                                               const DetectEngines& engines, int threads,
                                               std::set<std::string>& used) {
  const std::vector<json> members = ensemble_members(values);
  std::map<BatchKey, std::vector<size_t>> groups;
  for (size_t m = 0; m < members.size(); ++m) groups[batch_key(members[m], p.input_dims)].push_back(m);
  std::vector<std::vector<double>> errors(members.size());
  for (const auto& [key, ms] : groups) {
    std::vector<ModelJob> jobs(ms.size());
    for (size_t k = 0; k < ms.size(); ++k) {
      const size_t m = ms[k];
      const std::string ck_path = member_checkpoint_path(o.run_dir, sc.cell, m);
      Checkpoint ck = load_member_checkpoint(o.run_dir, sc, m, &key.shape);
      if (ck.window != key.window)
        throw DataError(
            ck_path, 0,
            "window " + std::to_string(ck.window) + ", the config's " + std::to_string(key.window));
      jobs[k].params = std::move(ck.params);
      jobs[k].options = train_options(members[m], sc.member_seeds[m]);
      jobs[k].data = make_window_source(p, members[m]);
    }
    Engine* use = engines.main.get();
    std::string why = use->unsupported_reason(key.shape, jobs[0].options);
    if (!why.empty() && engines.fallback &&
        engines.fallback->unsupported_reason(key.shape, jobs[0].options).empty()) {
      use = engines.fallback.get();
      why.clear();
    }
    if (!why.empty())
      throw UnsupportedError("engine " + use->name() + ": " + why + " (--engine cpu runs every shape)");
    used.insert(use->name() + " (" + to_string(use->precision()) + ")");
    const std::vector<const PreparedSeries*> data(ms.size(), &p);
    std::vector<std::vector<double>> e;
    try {
      e = stream_errors(*use, key.shape, key.window, jobs, data, retraining_of(key), threads);
    } catch (const NoDeviceError& err) {  // a GPU engine's run, scored on a machine without its device
      throw NoDeviceError(with_cpu_hint(err.what()));
    } catch (const DeviceError& err) {
      throw DeviceError(with_cpu_hint(err.what()));
    }
    for (size_t k = 0; k < ms.size(); ++k) errors[ms[k]] = std::move(e[k]);
  }
  return errors;
}

}  // namespace

Detection detect(const DetectOptions& o) {
  const std::string cfg_path = o.run_dir + "/config.json";
  if (!files::exists(cfg_path)) throw IoError(o.run_dir + ": not a run folder (no config.json)");
  json user = read_run_config(cfg_path);
  // What may differ where and when detect runs: where the corpus is, how gaps in new rows are filled.
  // Neither enters a cell's identity, so the saved models stay the cell's.
  if (!o.data_root.empty()) user["data"]["root"] = fs::absolute(o.data_root).lexically_normal().string();
  if (!o.missing.empty()) {
    try {
      apply_override(user, "data.missing=" + o.missing);
      resolve_config(user, "--missing");
    } catch (const ConfigError& e) {
      throw ConfigError(std::string("--missing ") + o.missing + ": " + e.what());
    }
  }
  const json cfg = resolve_config(user, cfg_path);
  std::map<std::string, std::exception_ptr> damaged;
  const std::vector<SavedCell> saved = saved_cells(o.run_dir, damaged);
  // The cell asked for (its id follows from the config and the series) with a damaged index: that file's
  // error (exit 3), not "no saved models" for the series.
  if (!o.series.empty() && !damaged.empty()) {
    const Plan want = make_plan(cfg, {o.series});
    for (const auto& c : want.cells) {
      if (!o.detector.empty() && want.settings[static_cast<size_t>(c.setting)].detector != o.detector)
        continue;
      if (auto it = damaged.find(c.id); it != damaged.end()) std::rethrow_exception(it->second);
    }
  }
  if (saved.empty() && !damaged.empty()) {
    const auto first = damaged.begin()->second;
    damaged.erase(damaged.begin());
    warn_skipped(damaged);
    std::rethrow_exception(first);
  }
  warn_skipped(damaged);
  if (saved.empty()) {
    std::string why = ensemble_of_members(o.run_dir);
    if (why.empty() && !o.series.empty())
      if (const std::string w = why_no_models(cfg, o.run_dir, o.series, o.detector); !w.empty())
        why = "--series " + o.series + ": " + w;
    throw IoError(o.run_dir + ": " + (why.empty() ? why_none_saved(cfg, o.run_dir) : why));
  }
  const SavedCell& sc = choose_cell(saved, o, o.run_dir, cfg);
  const std::string index_path = saved_models_dir(o.run_dir, sc.cell) + "/model.json";
  if (sc.checkpoint_sha256.empty())
    log::warn(index_path +
              ": written by an earlier lstmad (format 1, without the checkpoints' SHA-256): "
              "its checkpoints are not checked against it");
  {
    // The same models in another build can forecast a rounding apart (a kernel's order of sums): the
    // scores then agree with the run's files within rounding, not bit for bit, and alarms at the
    // threshold's edge can differ. The build that saved them (format 2), else the run's last leg.
    std::string then = sc.build;
    if (then.empty() && files::exists(o.run_dir + "/manifest.json")) {
      const LegBuild leg = last_leg_build(read_json_file(o.run_dir + "/manifest.json"));
      if (!leg.hash.empty()) then = leg.text();
    }
    const std::string now = LegBuild{LSTMAD_VERSION, build_git_hash()}.text();
    // A const char* against a literal compares addresses: compare the text.
    if (!then.empty() && then != now && std::string_view(build_git_hash()) != "unknown")
      log::warn("the models were saved by " + then + ", this is " + now +
                ": the scores agree with the run's within rounding, not bit for bit");
  }

  // The setting and the cell as the run's config defines them: the saved models must be that cell's.
  const Plan plan = make_plan(cfg, {sc.series});
  const Cell* cell = nullptr;
  for (const auto& c : plan.cells)
    if (plan.settings[static_cast<size_t>(c.setting)].detector == sc.detector) cell = &c;
  if (cell == nullptr || cell->id != sc.cell || cell->member_seeds != sc.member_seeds)
    throw DataError(index_path, 0, "does not match the run's config.json (another cell id or seeds)");
  const json& values = plan.settings[static_cast<size_t>(cell->setting)].values;

  Series series = series_to_score(cfg, o, sc);
  const std::string where = series.path.empty() ? series.name : series.path;
  if (series.rows() <= sc.train_end)
    throw DataError(where, 0,
                    "has " + std::to_string(series.rows()) + (series.rows() == 1 ? " row" : " rows") +
                        "; its first " + std::to_string(sc.train_end) +
                        " rows stand for the models' training part and scores start after it: give the "
                        "series the models learned (" +
                        sc.series + ") with the new rows appended, not the new rows alone");
  // Which rows had a value missing: prepare fills them in place.
  std::vector<char> filled(static_cast<size_t>(series.rows()), 0);
  for (int i = 0; i < series.rows(); ++i)
    for (int j = 0; j < series.dims; ++j)
      if (std::isnan(series.value(i, j))) filled[static_cast<size_t>(i)] = 1;
  PreparedSeries p = prepare_series_as(std::move(series), cfg, sc.train_end, sc.norm, sc.time_features);

  Detection d;
  d.filled = std::move(filled);
  d.detector = sc.detector;
  // What the options ask is checked before the models replay the series (a minute on a long one).
  choose_threshold(d, o, cfg);
  const long long rows = p.series.rows();
  if (o.from_row >= rows || o.from_row < -rows)
    throw ConfigError("--from-row " + std::to_string(o.from_row) + ": " + where + " has " +
                      std::to_string(rows) + " rows (0 .. " + std::to_string(rows - 1) + ", or -1 .. -" +
                      std::to_string(rows) + " from the end)");
  d.first_row = static_cast<int>(o.from_row < 0 ? rows + o.from_row : o.from_row);
  d.filled_rows = static_cast<int>(std::count(d.filled.begin() + d.first_row, d.filled.end(), 1));
  d.series = sc.series;
  d.cell = sc.cell;
  d.train_rows = p.train_end;
  d.same_training_rows = training_rows_sha256(p.series, sc.train_end) == sc.train_sha256;
  if (!d.same_training_rows)
    log::warn(where + ": its first " + std::to_string(sc.train_end) +
              " rows are not those the models learned (" + sc.series +
              "); they are scored as a new series, on that series' normalization (for new rows of " +
              sc.series + ", give them appended to it)");
  if (!o.file.empty() && at_path(values, "detector.score").get<std::string>() == "telemanom")
    log::warn(
        "detector.score telemanom decides each batch of rows from the whole batch: rows appended can "
        "change the scores of the rows before them");

  const int threads = o.threads > 0 ? o.threads : static_cast<int>(ThreadPool::hardware_threads());
  std::set<std::string> used;
  d.errors = mean_of_errors(member_errors(o, sc, values, p, detect_engines(cfg, o, threads), threads, used));
  d.engine = listing(used);
  std::vector<double> raw(static_cast<size_t>(p.series.rows()));
  for (int i = 0; i < p.series.rows(); ++i) raw[static_cast<size_t>(i)] = p.series.value(i);
  DetectorOptions dopt = detector_options(values);
  dopt.train_rows = p.train_end;
  dopt.value_scale = p.norm.scale.at(0);
  dopt.series_rows = sc.rows;  // the run's span after an alarm, however many rows the file adds
  d.scores = anomaly_scores_from_errors(d.errors, raw, dopt);
  if (!std::isnan(d.threshold))
    for (int i = std::max(d.first_row, d.train_rows); i < p.series.rows(); ++i)
      d.alarms += d.scores[static_cast<size_t>(i)] >= d.threshold ? 1 : 0;
  d.data = std::move(p.series);
  return d;
}

std::vector<std::pair<std::string, std::string>> saved_model_list(const std::string& run_dir) {
  if (!files::exists(run_dir + "/config.json"))
    throw IoError(run_dir + ": not a run folder (no config.json)");
  std::map<std::string, std::exception_ptr> damaged;
  std::vector<std::pair<std::string, std::string>> out;
  for (const SavedCell& c : saved_cells(run_dir, damaged)) out.emplace_back(c.detector, c.series);
  warn_skipped(damaged);
  if (out.empty()) {  // as detect says it: an empty list would read as a run that holds nothing to list
    if (!damaged.empty())
      throw IoError(run_dir + ": every saved-model index is damaged (the warnings name them)");
    const std::string cfg_path = run_dir + "/config.json";
    throw IoError(run_dir + ": " +
                  why_none_saved(resolve_config(read_run_config(cfg_path), cfg_path), run_dir));
  }
  std::sort(out.begin(), out.end());
  return out;
}

void detection_csv(const Detection& d, const std::function<void(std::string&)>& sink) {
  const bool alarms = !std::isnan(d.threshold);
  std::string out = "timestamp,value,anomaly_score,raw_score,alarm,filled\n";
  auto put = [&out](double v) { append_shortest(out, v); };
  const bool timed = d.data.timestamps.size() == static_cast<size_t>(d.data.rows());
  for (int i = d.first_row; i < d.data.rows(); ++i) {
    const size_t k = static_cast<size_t>(i);
    if (timed)
      out += d.data.timestamps[k];
    else
      out += std::to_string(i);
    out += ',';
    put(d.data.value(i));
    out += ',';
    put(d.scores[k]);
    out += ',';
    put(d.errors[k]);
    // The training part's scores are the run's too, but NAB ignores those rows and so does an alarm.
    out += !alarms ? "," : i >= d.train_rows && d.scores[k] >= d.threshold ? ",1" : ",0";
    out += k < d.filled.size() && d.filled[k] ? ",1\n" : ",0\n";
    if (out.size() >= (size_t{1} << 20)) {
      sink(out);
      out.clear();
    }
  }
  sink(out);
}

}  // namespace lstmad
