#include "experiments/rescore.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "core/thread_pool.hpp"
#include "detect/detector.hpp"
#include "experiments/cell_pipeline.hpp"
#include "experiments/config.hpp"
#include "experiments/evaluation.hpp"
#include "experiments/merge.hpp"
#include "experiments/resume.hpp"
#include "experiments/run_folder.hpp"
#include "experiments/saved_models.hpp"

namespace lstmad {
namespace fs = std::filesystem;

namespace {

// An ensemble member of a rescore: a finished run's one cell per series (one model, or an ensemble's
// mean error), read back from its folder.
struct Member {
  std::string dir;
  ResultsStore store;
  std::map<std::string, CellResult> by_series;
};

Member load_member(const std::string& dir) {
  if (!files::exists(dir + "/config.json")) throw IoError(dir + ": not a run folder (no config.json)");
  refuse_unfinished_merge(dir, ", then rescore");
  Member m{dir, ResultsStore(dir), {}};
  for (auto& r : m.store.read_cells()) {
    const std::string series = r.series;
    if (!m.by_series.emplace(series, std::move(r)).second)
      throw ConfigError(dir + ": holds more than one cell of " + series +
                        " (a grid); an ensemble member must be a run of one setting, one cell per series");
  }
  return m;
}

// How many models a cell's errors average: an ensemble cell's members, else one.
int model_count(const CellResult& r) {
  return r.members.empty() ? 1 : static_cast<int>(r.members.size());
}

// The models whose errors the cell of run `dir` averages, as an ensemble cell lists them (each with the run
// it comes from): its members, else its one model. A rescore with members records them all, so that its
// output, rescored again or given as a member, counts as all its models.
json model_entries(const CellResult& r, const std::string& dir) {
  json out = json::array();
  if (!r.members.empty()) {
    for (json m : r.members) {
      if (!m.contains("run")) m["run"] = dir;
      out.push_back(std::move(m));
    }
    return out;
  }
  json entry = model_facts(r.seed, r.status, r.epochs, r.best_epoch, r.train_loss, r.val_loss, r.loss_curve);
  entry["run"] = dir;
  out.push_back(std::move(entry));
  return out;
}

// Row-wise mean over the models of `errors` (the source cell's `source_models` models) and of each
// member's cell of `series` (NaN where any has none): an ensemble run counts as its models, so that
// adding a one-model run to an eight-model run gives the nine-model ensemble. A member's models must have
// seen the source's series: the same values row by row (`values`, from `source_file`; ids and lengths
// alone do not tell another corpus, e.g. another synthetic seed, apart) and the same `train_rows` (an
// ensemble's models share one training part; more rows would put in-sample errors into the scored rows).
// `models_out` receives each member's model_entries, `seconds_train` the members' training seconds.
void add_member_errors(std::vector<double>& errors, int source_models, const std::vector<Member>& members,
                       const std::string& series, const std::vector<double>& values, int train_rows,
                       const std::string& source_file, json& models_out, double& seconds_train) {
  if (members.empty()) return;
  std::vector<std::vector<double>> models{std::move(errors)};
  std::vector<int> weights{source_models};
  for (const Member& m : members) {
    auto it = m.by_series.find(series);
    if (it == m.by_series.end())
      throw Error("ensemble member " + m.dir + " has no finished cell for " + series);
    const CellResult& r = it->second;
    if (r.status != CellStatus::Ok)
      throw Error("ensemble member " + m.dir + ": its cell of " + series + " ended " + to_string(r.status) +
                  ": " + r.error);
    const std::string file = m.store.nab_scores_path(r.detector, series);
    auto columns = m.store.read_nab_columns(r.detector, series, {"raw_score", "value"});
    models.push_back(std::move(columns[0]));
    weights.push_back(model_count(r));
    if (models.back().size() != models.front().size())
      throw Error(file + ": " + std::to_string(models.back().size()) + " rows, the source has " +
                  std::to_string(models.front().size()));
    const std::vector<double> member_values = std::move(columns[1]);
    for (size_t i = 0; i < values.size() && i < member_values.size(); ++i) {
      const double a = member_values[i], b = values[i];
      if (a == b || (std::isnan(a) && std::isnan(b))) continue;
      auto text = [](double v) {  // every digit: values that differ in the last ones must read differently
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", v);
        return std::string(buf);
      };
      throw Error(file + ": data row " + std::to_string(i) + " has value " + text(a) + ", " + source_file +
                  " has " + text(b) + ": the member ran on other data");
    }
    if (r.train_rows >= 0 && r.train_rows != train_rows)
      throw Error(file + ": its model trained on " + std::to_string(r.train_rows) +
                  " training rows, the source's on " + std::to_string(train_rows) +
                  ": an ensemble's models share one training part");
    for (json& e : model_entries(r, m.dir)) models_out.push_back(std::move(e));
    seconds_train += r.seconds_train;
  }
  errors = mean_of_errors(models, weights);
}

// The training facts of a cell that averages the models `entries` (model_entries of the source and the
// members), as a run's ensemble cell states them: the epochs summed (the training it cost), the losses
// averaged over the models (NaN where one has none), no best epoch and no loss curve of its own (each
// model's is in `members`).
void set_ensemble_facts(CellResult& r, const json& entries) {
  r.epochs = 0;
  r.train_loss = r.val_loss = 0;
  const double n = static_cast<double>(entries.size());
  for (const json& e : entries) {
    r.epochs += e.value("epochs", 0);
    for (auto [key, sum] : {std::pair{"train_loss", &r.train_loss}, std::pair{"val_loss", &r.val_loss}}) {
      const json& v = e.contains(key) ? e[key] : json();
      *sum += (v.is_number() ? v.get<double>() : std::nan("")) / n;
    }
  }
  r.best_epoch = -1;
  r.loss_curve = json();
}

// The rescore's config: the source's with the --set overrides, which may touch only detector.* and eval.*
// (and run.series_memory_mb, the memory the rescore may hold its series in, which changes no result).
json rescore_config(const json& src_cfg, const std::vector<std::string>& overrides,
                    const std::string& src_dir) {
  json user = src_cfg;
  for (const auto& o : overrides) {
    std::string path = o.substr(0, o.find('='));
    // A grid axis is given as `detector.x=[...]` or `grid.detector.x=[...]`, as for a run.
    if (path.rfind("grid.", 0) == 0) path.erase(0, 5);
    if (path.rfind("detector.", 0) != 0 && path.rfind("eval.", 0) != 0 && path != "run.series_memory_mb")
      throw ConfigError("--set " + o +
                        ": rescoring changes only detector.* and eval.* keys, and grid axes over them (the "
                        "models are reused), and run.series_memory_mb");
    apply_override(user, o);
  }
  // As a run's: a relative eval.profiles names the file from this working folder, in its config.json too.
  json cfg = resolve_config(user, "rescore of " + src_dir);
  make_paths_absolute(cfg);
  return cfg;
}

// The --member runs, read back. A run's models count once: the source again, or a member given twice
// (under any spelling of its path), would weigh its models double in the mean and its run time twice in
// the cost.
std::vector<Member> load_members(const std::string& src_dir, const std::vector<std::string>& member_dirs) {
  std::map<std::string, std::string> given{{fs::weakly_canonical(src_dir).string(), "the source"}};
  for (const auto& d : member_dirs) {
    auto [it, fresh] = given.emplace(fs::weakly_canonical(d).string(), "--member " + d);
    if (!fresh)
      throw ConfigError("--member " + d + ": the same run as " + it->second +
                        "; an ensemble counts each run's models once");
  }
  std::vector<Member> members;
  for (const auto& d : member_dirs) members.push_back(load_member(d));
  return members;
}

// A trained model is identified by everything but the detector: the key that maps a new cell to its source.
std::string model_key(const json& values, const std::string& series) {
  return model_identity(values).dump() + "|" + series;
}

// The source run's finished cells, by the model they trained. Found by cell id (it hashes the setting and
// the series), not by the index stored in the cell file: that is the cell's position in the plan of the
// corpus it ran on, and a resume after a series was added or removed keeps the other cells' files as they
// were, with their old positions.
struct SourceCells {
  explicit SourceCells(const std::string& run_dir, const Plan& src_plan) : dir(run_dir), store(run_dir) {
    for (auto& r : store.read_cells()) by_id[r.id] = std::move(r);
    for (const auto& c : src_plan.cells) {
      auto it = by_id.find(c.id);
      if (it != by_id.end())
        by_model[model_key(src_plan.settings[static_cast<size_t>(c.setting)].values, c.series)] = &it->second;
    }
  }
  const CellResult* find(const json& values, const std::string& series) const {
    auto it = by_model.find(model_key(values, series));
    return it == by_model.end() ? nullptr : it->second;
  }
  std::string dir;
  ResultsStore store;
  std::map<std::string, CellResult> by_id;
  std::map<std::string, const CellResult*> by_model;
};

// What every cell of one rescore shares.
struct Rescore {
  Rescore(const json& config, const Plan& p, const SourceCells& src, const std::vector<Member>& ms,
          const RunSeries& l, const std::string& out, ResultsStore& st)
      : cfg(config), plan(p), source(src), members(ms), series(l), out_dir(out), store(st) {
    for (size_t i = 0; i < plan.series.size(); ++i) series_index[plan.series[i]] = i;
    for (const Setting& s : plan.settings) problems.push_back(setting_problem(s.values));
  }

  const json& cfg;
  const Plan& plan;
  const SourceCells& source;
  const std::vector<Member>& members;
  const RunSeries& series;
  std::map<std::string, size_t> series_index;
  std::vector<std::string> problems;  // per setting: setting_problem, found once
  const std::string& out_dir;
  ResultsStore& store;

  // Cell c scored from its source cell's errors (and the members'), its NAB-format scores written.
  // Training facts carry over; a cell that cannot be scored ends with the reason.
  CellResult cell(const Cell& c) const {
    const Setting& s = plan.settings[static_cast<size_t>(c.setting)];
    const CellResult* src = source.find(s.values, c.series);
    CellResult r;
    if (src) r = *src;
    identify_cell(r, plan, c);
    r.metrics.clear();
    try {
      if (!src) throw Error("no finished source cell for this model in " + source.dir);
      if (src->status != CellStatus::Ok)
        throw Error("the source cell ended " + to_string(src->status) + ": " + src->error);
      const size_t i = series_index.at(c.series);
      if (!series.ok(i)) throw Error(series.error(i));
      if (const std::string& why = problems[static_cast<size_t>(c.setting)]; !why.empty()) throw Error(why);
      score(r, *src, s, *series.get(i));
    } catch (const std::exception& e) {
      r.status = CellStatus::Error;
      r.error = e.what();
    }
    return r;
  }

 private:
  void score(CellResult& r, const CellResult& src, const Setting& s, const PreparedSeries& data) const {
    const std::string& src_det = src.detector;
    const std::string file = source.store.nab_scores_path(src_det, r.series);
    auto columns = source.store.read_nab_columns(src_det, r.series, {"raw_score", "value"});
    std::vector<double> errors = std::move(columns[0]), values = std::move(columns[1]);
    if (static_cast<int>(errors.size()) != data.series.rows())
      throw Error(file + ": " + std::to_string(errors.size()) + " rows, the series has " +
                  std::to_string(data.series.rows()));
    // With members, the cell lists every model it averages (the source's, then each member's).
    json models = model_entries(src, source.dir);
    add_member_errors(errors, model_count(src), members, r.series, values, data.train_end, file, models,
                      r.seconds_train);
    if (!members.empty()) {
      set_ensemble_facts(r, models);
      r.members = std::move(models);
    }
    auto t = Clock::now();
    DetectorOptions dopt = detector_options(s.values);
    dopt.train_rows = data.train_end;
    dopt.value_scale = data.norm.scale.at(0);
    r.train_rows = data.train_end;
    r.scores = anomaly_scores_from_errors(errors, values, dopt);
    r.metrics = series_metrics(data, r.scores, cfg);
    store.write_nab_scores(r.detector, data.series, r.scores, &errors);
    // The source's saved models (run.save_models) are this cell's too, unless members join them: then
    // the cell averages models that no config of this run describes, and `detect` could not replay it.
    if (members.empty() && files::exists(saved_models_dir(source.dir, src.id) + "/model.json"))
      copy_saved_models(source.dir, src.id, out_dir, r.id, r.detector);
    r.status = CellStatus::Ok;
    r.error.clear();
    r.seconds_predict = since(t);
    // As a run's cell states it: preparing the series and training (the source's, and with members
    // theirs too) plus this scoring.
    r.seconds_total = r.seconds_prepare + r.seconds_train + r.seconds_predict;
  }
};

// Whether two paths name the same folder, however spelled.
bool same_folder(const std::string& a, const std::string& b) {
  std::error_code ea, eb;
  return fs::weakly_canonical(a, ea) == fs::weakly_canonical(b, eb) && !ea && !eb;
}

// A rescore killed before it ended is finished by the same command: `out_dir` must hold this rescore's
// config and a manifest naming the same source, members and input files. Anything else is another run,
// which the command does not touch. Returns the manifest, with this invocation recorded in it.
json reopen_rescore(const std::string& out_dir, const json& cfg, const std::string& src_dir,
                    const std::vector<std::string>& member_dirs, const Corpus& corpus, int threads) {
  const std::string mpath = out_dir + "/manifest.json";
  const auto refuse = [&](const std::string& why) {
    throw IoError(out_dir + ": already holds a run (" + why + "); give the rescore another --out");
  };
  if (!files::exists(mpath)) refuse("no manifest.json");
  json m = read_json_file(mpath);
  if (!m.contains("rescored_from") || !m["rescored_from"].is_string()) refuse("not a rescore");
  if (!same_folder(m["rescored_from"].get<std::string>(), src_dir))
    refuse("a rescore of " + m["rescored_from"].get<std::string>());
  std::vector<std::string> recorded_members;
  if (m.contains("ensemble_members"))
    recorded_members = json_get<std::vector<std::string>>(m, {"ensemble_members"}, mpath);
  bool same_members = recorded_members.size() == member_dirs.size();
  for (std::size_t k = 0; same_members && k < member_dirs.size(); ++k)
    same_members = same_folder(recorded_members[k], member_dirs[k]);
  if (!same_members) refuse("a rescore with other --member runs");
  if (without_memory_keys(read_run_config(out_dir + "/config.json")) != without_memory_keys(cfg))
    refuse("a rescore with other settings");
  if (!m.contains("input_sha256") || m["input_sha256"] != input_hashes(corpus))
    refuse("its input files changed since it started");
  m["resumes"].push_back(json{{"utc", utc_stamp("%Y-%m-%dT%H:%M:%SZ")},
                              {"lstmad_version", LSTMAD_VERSION},
                              {"git_hash", build_git_hash()},
                              {"host", host_name()},
                              {"threads", threads}});
  return m;
}

}  // namespace

RunOutcome rescore_run(const std::string& src_dir, const std::vector<std::string>& overrides,
                       const std::string& out_dir, int threads, const std::vector<std::string>& member_dirs) {
  const auto t0 = Clock::now();
  if (!files::exists(src_dir + "/config.json"))
    throw IoError(src_dir + ": not a run folder (no config.json)");
  refuse_unfinished_merge(src_dir, ", then rescore");
  json src_cfg = resolve_config(read_run_config(src_dir + "/config.json"), src_dir + "/config.json");
  json cfg = rescore_config(src_cfg, overrides, src_dir);
  if (threads <= 0) threads = static_cast<int>(ThreadPool::hardware_threads());
  // What can refuse the command (the corpus, a member that is no run or a grid, a damaged summary.json)
  // comes before the output folder is made: a refused rescore leaves no folder that would then block the
  // corrected command as "already holds a run".
  eval_profiles(cfg);
  Corpus corpus = resolve_corpus(src_cfg, src_dir, /*read_only=*/true);
  Plan src_plan = make_plan(src_cfg, corpus.series);
  Plan plan = make_plan(cfg, corpus.series);
  const std::vector<Member> members = load_members(src_dir, member_dirs);
  // Rescoring a run whose cells have not all finished would give every missing cell an ERROR that no
  // model made, and NAB scores to none of its detectors.
  const SourceCells source(src_dir, src_plan);
  std::size_t missing = 0;
  for (const auto& c : src_plan.cells) missing += source.by_id.count(c.id) == 0;
  if (missing > 0)
    throw IoError(
        src_dir + ": " + std::to_string(missing) + " of " + std::to_string(src_plan.cells.size()) +
        " cells have no result (an unfinished run, one shard of a run, or a damaged cell file named above): "
        "finish it with lstmad run "
        "--resume " +
        src_dir + " (or merge its shards), then rescore");
  // A member holds a cell of every series, or it is an unfinished run, one shard of one, or a run on other
  // series: each series without would fail with no error of that member to average. Refused, as the source.
  for (const Member& m : members) {
    std::vector<std::string> absent;
    for (const auto& id : plan.series)
      if (!m.by_series.count(id)) absent.push_back(id);
    if (!absent.empty())
      throw IoError(
          "--member " + m.dir + ": no cell of " + std::to_string(absent.size()) + " of the " +
          std::to_string(plan.series.size()) + " series (" + absent.front() +
          (absent.size() > 1 ? ", ..." : "") +
          "): an unfinished run, one shard of a run, or a run on other series; finish it with lstmad "
          "run --resume (or merge its shards), or give a member of the same series");
  }
  double source_seconds = recorded_wall_seconds(src_dir);
  for (const auto& d : member_dirs) source_seconds += recorded_wall_seconds(d);
  // The manifest goes first: a folder with a config.json always says what it is a rescore of, so that
  // the same command can finish it after a crash, and `run --resume` can refuse it.
  files::make_dirs(out_dir);
  const RunFolderLock lock(out_dir);
  const bool reopened = files::exists(out_dir + "/config.json");
  json manifest;
  if (reopened) {
    manifest = reopen_rescore(out_dir, cfg, src_dir, member_dirs, corpus, threads);
    remove_unfinished_writes(out_dir);  // the killed rescore's, now that the folder is known to be it
  } else {
    // Cell results without their config (a copied or half-deleted run) would be taken for this rescore's.
    std::error_code ec;
    if (fs::is_directory(out_dir + "/cells", ec) && !fs::is_empty(out_dir + "/cells", ec))
      throw IoError(out_dir +
                    ": holds cells/ of another run but no config.json; give the rescore another --out");
    // A rescore killed as it wrote its manifest or config (the two files before its config exists).
    remove_unfinished_writes(out_dir);
    RunOptions ro;
    ro.config_path = src_dir + "/config.json";
    ro.overrides = overrides;
    manifest = manifest_json(cfg, ro, corpus, plan, threads);
    manifest["rescored_from"] = src_dir;
    if (!members.empty()) manifest["ensemble_members"] = member_dirs;
  }
  files::write_atomic(out_dir + "/manifest.json", json_text(manifest));
  if (!reopened) files::write_atomic(out_dir + "/config.json", json_text(cfg));
  log::set_file(out_dir + "/log.txt");
  struct LogFileGuard {
    ~LogFileGuard() { log::set_file(""); }
  } log_guard;

  ResultsStore store(out_dir);
  std::set<std::string> finished;  // by an earlier, killed invocation of this rescore
  if (reopened)
    for (const auto& r : store.read_cells()) finished.insert(r.id);
  std::vector<const Cell*> todo;
  for (const auto& c : plan.cells)
    if (!finished.count(c.id)) todo.push_back(&c);
  if (reopened)
    log::info("finishing the rescore in " + out_dir + ": " + std::to_string(plan.cells.size() - todo.size()) +
              " of " + std::to_string(plan.cells.size()) + " cells already scored");
  // A series' cells one after another (the plan lists them setting by setting): a series that is not kept
  // in memory is read again once for the cells in flight on it, not once per setting.
  std::stable_sort(todo.begin(), todo.end(),
                   [](const Cell* a, const Cell* b) { return a->series < b->series; });
  // A reopened rescore's finished series take no room (RunSeries' in_use).
  const RunSeries series(plan, corpus, cfg, threads, series_memory_budget(cfg), series_in_use(plan, todo));
  const Rescore rescore(cfg, plan, source, members, series, out_dir, store);
  std::vector<CellResult> results(todo.size());
  // A series not kept is pinned from its first cell's start to its last cell's end: read again once.
  std::map<std::string, int> cells_left;
  for (const Cell* c : todo) ++cells_left[c->series];
  std::map<std::string, std::shared_ptr<const PreparedSeries>> pinned;
  std::mutex pin_mutex;
  parallel_for(todo.size(), static_cast<size_t>(threads), [&](size_t k) {
    const Cell& c = *todo[k];
    const size_t i = rescore.series_index.at(c.series);
    std::shared_ptr<const PreparedSeries> pin;
    if (series.ok(i)) try {
        pin = series.get(i);
      } catch (const std::exception&) {  // the cell reads it again and fails with the reason
      }
    if (pin) {
      std::lock_guard<std::mutex> pinning(pin_mutex);
      pinned.emplace(c.series, std::move(pin));
    }
    results[k] = rescore.cell(c);
    store.write_cell(results[k]);
    // As a run's cells (CellRun::keep_scores): a corpus beyond run.series_memory_mb reads them back.
    if (!series.all_kept()) std::vector<double>().swap(results[k].scores);
    std::lock_guard<std::mutex> done(pin_mutex);
    if (--cells_left[c.series] == 0) pinned.erase(c.series);
  });
  // The cost of these scores includes the models': the source's and the members' run times.
  return finalize(out_dir, cfg, plan, series, std::move(results), store, since(t0) + source_seconds, "");
}

}  // namespace lstmad
