#include "experiments/runner.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <optional>
#include <set>

#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "core/thread_pool.hpp"
#include "experiments/cell_execution.hpp"
#include "experiments/corpus.hpp"
#include "experiments/evaluation.hpp"
#include "experiments/merge.hpp"
#include "experiments/plan.hpp"
#include "experiments/progress.hpp"
#include "experiments/results.hpp"
#include "experiments/resume.hpp"
#include "experiments/run_folder.hpp"
#include "experiments/saved_models.hpp"
#include "experiments/scheduler.hpp"
#include "train/checkpoint.hpp"
#ifdef LSTMAD_WITH_CUDA
#include "core/gpu/device.hpp"
#endif
#include "lstm/engine.hpp"

namespace lstmad {
namespace fs = std::filesystem;

EngineOptions engine_options(const json& cfg, int threads) {
  EngineOptions eo;
  eo.name = at_path(cfg, "engine.name").get<std::string>();
  eo.precision = parse_precision(at_path(cfg, "engine.precision").get<std::string>());
  eo.threads = threads;
  eo.device = at_path(cfg, "engine.device").get<int>();
  eo.algo = at_path(cfg, "engine.algo").get<std::string>();
  eo.streams = at_path(cfg, "engine.streams").get<int>();
  return eo;
}

// engine.fallback's engine on `device`, at engine.precision where it takes it, else fp32; null when none is
// configured.
std::unique_ptr<Engine> fallback_engine(const json& cfg, int threads, int device) {
  const std::string name = at_path(cfg, "engine.fallback").get<std::string>();
  if (name.empty()) return nullptr;
  EngineOptions eo = engine_options(cfg, threads);
  eo.name = name;
  eo.device = device;
  try {
    return make_engine(eo);
  } catch (const UnsupportedError& e) {
    log::warn("engine.fallback " + name + " does not take precision " + to_string(eo.precision) + " (" + e.what() +
              "); it runs fp32");
    eo.precision = Precision::FP32;
    return make_engine(eo);
  }
}

namespace {

std::atomic<int> g_stop{0};

// A GPU engine with no device would fail every cell, one by one, into a folder of errors: refused before
// the folder is kept. engine.fallback stands in for the shapes the engine refuses, not for a missing
// device: only where it is the cpu engine and the engine refuses every model of the config (the limits
// that need no data, as validate checks them) does the run go ahead without a device.
void require_a_device(const json& cfg) {
  const std::string name = at_path(cfg, "engine.name").get<std::string>();
  if (name == "cpu") return;
#ifdef LSTMAD_WITH_CUDA
  const std::string fallback = at_path(cfg, "engine.fallback").get<std::string>();
  if (fallback == "cpu") {
    const std::unique_ptr<Engine> eng = make_engine(engine_options(cfg, 1));
    bool engine_has_work = false;
    for (const Setting& s : make_plan(cfg, {}).settings)
      for (const json& m : ensemble_members(s.values))
        engine_has_work = engine_has_work || engine_refusal(*eng, batch_key(m, 1)).empty();
    if (!engine_has_work) return;
  }
  // Device ordinals are 0..n-1, so the queues' devices (engine.device and those after it) exist exactly
  // when engine.device does.
  try {
    gpu::require_gpu_device(name.c_str(), at_path(cfg, "engine.device").get<int>());
  } catch (const NoDeviceError& e) {
    if (fallback.empty()) throw;
    throw NoDeviceError(std::string(e.what()) + "; engine.fallback " + fallback +
                        " takes the shapes engine " + name + " refuses, not a missing device");
  }
#endif
}

extern "C" void on_stop_signal(int sig) {
  // First signal: finish the cells in flight. Second: give up at once with the default action.
  if (g_stop.fetch_add(1) >= 1) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

// On resume: the stored cells of series whose input files changed since the manifest `m` recorded them
// move to superseded/<time>/cells (kept, no longer results) and so run again on the files as they are
// now; the cells of series no longer in the corpus (their files removed) move there too, so that no table,
// report or NAB-format folder of the run shows them. Each moved cell takes its NAB-format file and saved
// models along. Returned: the manifest recording the current inputs and this resume, so that a later
// resume compares against what the results now rest on. The caller writes it once the resume is known
// to run (its engine made, its device found): a resume refused for want of either adds no leg, whose
// build a later resume would take for the one that computed the cells. The moves above are safe to
// repeat: a refused resume's next attempt finds those cells gone and moves nothing twice.
json reconcile_resumed_inputs(const std::string& dir, json m, const Corpus& corpus, const Plan& plan,
                              const ResultsStore& store, int threads, bool manifest_missing) {
  const json current = input_hashes(corpus);
  const InputChanges changes =
      compare_input_hashes(m.contains("input_sha256") ? m["input_sha256"] : json::object(), current);
  std::error_code cells_ec;  // any cell file: the cells are read once, below, where inputs changed
  const bool has_cells = !fs::is_empty(dir + "/cells", cells_ec) && !cells_ec;
  if (!m.contains("input_sha256") && has_cells)
    log::warn(dir + ": no record of the inputs its cells were computed from (manifest.json " +
              (manifest_missing ? "is missing" : "has no input_sha256") +
              "): they cannot be checked, so they run again");
  // Without a record and without cells (a run killed before its manifest), no file changed under
  // anything: not said to be "added".
  const bool comparable = m.contains("input_sha256") || has_cells;
  if (!changes.empty() && comparable) {
    const std::set<std::string> stale = series_with_changed_inputs(corpus, changes);
    std::set<std::string> planned;
    for (const auto& c : plan.cells) planned.insert(c.id);
    // A folder of its own per resume: two resumes within one second must not overwrite each other's.
    std::string stamp = dir + "/superseded/" + utc_stamp("%Y%m%d-%H%M%S");
    if (fs::exists(stamp)) {
      int k = 2;
      while (fs::exists(stamp + "-" + std::to_string(k))) ++k;
      stamp += "-" + std::to_string(k);
    }
    const std::string aside = stamp + "/cells";
    const std::set<std::string> in_corpus(corpus.series.begin(), corpus.series.end());
    int moved = 0, gone = 0,
        unmade = 0;  // stale; of a series removed; of a setting config.json no longer makes
    std::set<std::string> gone_series;
    for (const auto& r : store.read_cells()) {
      const bool removed = !planned.count(r.id);
      if (!removed && !stale.count(r.series)) continue;
      files::make_dirs(aside);
      fs::rename(dir + "/cells/" + r.id + ".json", aside + "/" + r.id + ".json");
      std::error_code ec;  // its saved models were fitted on the old inputs: aside with it
      if (fs::exists(saved_models_dir(dir, r.id), ec)) {
        const std::string models_aside = stamp + "/models";
        files::make_dirs(models_aside);
        fs::rename(saved_models_dir(dir, r.id), models_aside + "/" + r.id, ec);
      }
      // Its scores too, under the same relative path: a rerun that fails must not leave the old ones.
      if (const std::string from = r.detector.empty() ? "" : store.nab_scores_path(r.detector, r.series);
          !from.empty() && fs::exists(from, ec)) {
        const std::string to = stamp + "/" + fs::relative(from, dir, ec).string();
        files::make_dirs(fs::path(to).parent_path().string());
        fs::rename(from, to, ec);
      }
      if (!removed) {
        ++moved;
      } else if (!in_corpus.count(r.series)) {
        ++gone;
        gone_series.insert(r.series);
      } else {
        ++unmade;
      }
    }
    log::warn("the inputs changed since this run started: " + changes.summary() +
              (moved > 0 ? "; the " + std::to_string(moved) + " finished cell(s) of the " +
                               std::to_string(stale.size()) + " series they feed run again"
                         : std::string()) +
              (gone > 0 ? "; the " + std::to_string(gone) + " cell(s) of the " +
                              std::to_string(gone_series.size()) +
                              " series no longer in the corpus are left out of the results"
                        : std::string()) +
              (unmade > 0 ? "; " + std::to_string(unmade) +
                                " cell(s) of settings that config.json no longer makes are left out too"
                          : std::string()) +
              (moved + gone + unmade > 0 ? " (their old files are in " + stamp + ")" : std::string()));
  }
  m["input_sha256"] = current;
  m["cells"] = plan.cells.size();
  m["settings"] = plan.settings.size();
  // The corpus as it is now; its format and root as the first leg recorded them (an edited entry that is
  // no object is written anew).
  if (!m["corpus"].is_object()) m["corpus"] = json{{"format", corpus.format}, {"root", corpus.root}};
  m["corpus"]["series"] = corpus.series.size();
  m["corpus"]["windows"] = corpus.total_windows;
  m["resumes"].push_back(json{{"utc", utc_stamp("%Y-%m-%dT%H:%M:%SZ")},
                              {"lstmad_version", LSTMAD_VERSION},
                              {"git_hash", build_git_hash()},
                              {"host", host_name()},
                              {"threads", threads},
                              {"inputs", comparable ? changes.to_json() : InputChanges{}.to_json()}});
  return m;
}

// A fresh run whose setup fails (no corpus, no engine) takes away what it wrote: a folder holding only a
// config would block --out and hold nothing to resume. A folder it created goes whole; in one that was
// there (--out), only its own files. Disarmed once the cells can start.
struct SetupGuard {
  std::string dir;
  bool armed = false, created = false;
  ~SetupGuard() {
    if (!armed) return;
    std::error_code ec;
    if (created) {
      fs::remove_all(dir, ec);
      return;
    }
    for (const char* f : {"config.json", "manifest.json", "log.txt", "corpus"})
      fs::remove_all(fs::path(dir) / f, ec);
  }
};

// A fresh run's folder, with its config.json: --out, or runs/<time>-<name>. Two runs started in the same
// second (or at once from a job array) each get a folder of their own, "-2", "-3", ... after the first;
// creating the folder is the claim. `setup` is armed to take it away again.
std::string create_run_folder(const json& cfg, const RunOptions& ro, SetupGuard& setup,
                              std::optional<RunFolderLock>& lock) {
  std::string dir = ro.out_dir;
  if (dir.empty()) {
    std::string base = at_path(cfg, "run.out").get<std::string>() + "/" + utc_stamp("%Y%m%d-%H%M%S") + "-" +
                       at_path(cfg, "run.name").get<std::string>();
    if (ro.shard_count > 1)
      base += "-shard" + std::to_string(ro.shard_index) + "of" + std::to_string(ro.shard_count);
    files::make_dirs(fs::path(base).parent_path().string());
    for (int k = 1;; ++k) {
      dir = k == 1 ? base : base + "-" + std::to_string(k);
      std::error_code ec;
      if (fs::create_directory(dir, ec)) break;
      if (ec || k >= 1000)
        throw IoError(dir + ": cannot create the run folder" + (ec ? ": " + ec.message() : std::string()));
    }
    setup.created = true;
    lock.emplace(dir);
  } else {
    // Claimed before anything is checked, so that of two runs given one --out at once, the second finds
    // the first's claim or its config.json.
    setup.created = !files::exists(dir);
    files::make_dirs(dir);
    lock.emplace(dir);
    if (files::exists(dir + "/config.json"))
      throw IoError(dir + ": already holds a run; resume it with --resume " + dir +
                    " or choose another --out");
    // Cell results without the config they came from (a copied or half-deleted run): a new run would
    // take them as its own finished cells, whatever data and settings made them.
    std::error_code ec;
    if (fs::is_directory(dir + "/cells", ec) && !fs::is_empty(dir + "/cells", ec))
      throw IoError(dir +
                    ": holds cells/ of another run but no config.json; choose another --out, or remove " +
                    dir + "/cells to start afresh there");
    remove_unfinished_writes(dir);  // a run killed as it wrote its config
  }
  setup.dir = dir;
  setup.armed = true;
  files::write_atomic(dir + "/config.json", json_text(cfg));
  return dir;
}

// The cells a resume adds are computed by this binary; those already finished, by the one that ran the
// run's last leg. Where the two builds differ, a fix between them makes the results a mix (one series'
// cells from the old code, the next from the new): said, not refused, since a resume after an upgrade
// that touched nothing the run computes is common, and which changes matter only the user knows.
void warn_of_other_build(const std::string& dir, const json& manifest) {
  const LegBuild then = last_leg_build(manifest);
  const LegBuild now{LSTMAD_VERSION, build_git_hash()};
  if (then.hash.empty() || now.hash == "unknown" || then.hash == now.hash) return;
  log::warn(dir + ": its finished cells were computed by " + then.text() + ", this is " + now.text() +
            ": the cells this resume runs come from another build, and the results mix the two (run "
            "afresh for one build's results)");
}

// A resumed run's config (its config.json), and its manifest as it was recorded (empty when it has none),
// whose shard the resume keeps. Temporary files of writes that a killed run left unfinished were never
// renamed, so never results: they are removed (remove_unfinished_writes), once the folder is known to be
// a run to resume.
void open_resumed_folder(const std::string& dir, json& cfg, json& manifest, RunOptions& ro,
                         std::optional<RunFolderLock>& lock) {
  if (!files::exists(dir + "/config.json")) throw IoError(dir + ": not a run folder (no config.json)");
  lock.emplace(dir);  // before the temporary files go: another process's may be in flight
  refuse_unfinished_merge(dir);
  // A resume may change the memory its series are held in (an attempt that ran out of memory is resumed
  // with less), nothing that changes a result: its cells must be those the first leg would have computed.
  json raw = read_run_config(dir + "/config.json");
  std::string source = dir + "/config.json";  // named in errors, with the --set that made them
  for (const std::string& o : ro.overrides) {
    if (o.substr(0, o.find('=')) != "run.series_memory_mb")
      throw ConfigError("--set " + o +
                        ": a resume keeps the run's config (its cells must be those the run "
                        "would have computed); only run.series_memory_mb may be set");
    apply_override(raw, o);
    source += " --set " + o;
  }
  cfg = resolve_config(raw, source);
  if (const std::string mpath = dir + "/manifest.json"; files::exists(mpath)) {
    manifest = read_json_file(mpath);
    // This resume adds itself to the manifest: a file that is no object, or whose record of earlier
    // resumes is no list, was edited or damaged, and is named rather than overwritten.
    if (!manifest.is_object())
      throw DataError(mpath, 0, "expected an object (the run's manifest), got " + json_excerpt(manifest));
    if (manifest.contains("resumes") && !manifest["resumes"].is_array())
      throw DataError(mpath, 0, "resumes: expected a list, got " + json_excerpt(manifest["resumes"]));
    // A rescore has no models of its own to train: resuming it as a run would train new ones for the
    // cells it had not scored, beside cells scored from its source's (and members') errors.
    if (manifest.contains("rescored_from"))
      throw IoError(dir + ": a rescore of " + manifest["rescored_from"].dump() +
                    ", not a run; run the same lstmad rescore (source, --set, --member, --out " + dir +
                    ") again to finish it");
    warn_of_other_build(dir, manifest);
    if (manifest.contains("shard")) {
      ro.shard_index = json_get<int>(manifest, {"shard", "index"}, mpath);
      ro.shard_count = json_get<int>(manifest, {"shard", "count"}, mpath);
    }
  }
  remove_unfinished_writes(dir);  // once the folder is known to be a run this command resumes
}

// What is wrong with the files a finished OK cell `r` wrote besides its result (empty when nothing):
// its NAB-format scores, one line per row after the header and whole (a write cut short ends early or
// mid-line), and with `save_models` its model.json and checkpoints, read back with their checksums.
// The files are read in full, once per finished cell a resume finds.
std::string damaged_outputs(const ResultsStore& store, const CellResult& r, bool save_models) {
  const std::string path = store.nab_scores_path(r.detector, r.series);
  if (!files::exists(path)) return path + ": missing";
  try {
    const std::string text = files::read(path);
    const auto lines = static_cast<long>(std::count(text.begin(), text.end(), '\n'));
    if (text.empty() || text.back() != '\n' || lines != static_cast<long>(r.rows) + 1)
      return path + ": damaged (" + std::to_string(lines) + " complete lines, " + std::to_string(r.rows + 1) +
             " expected)";
  } catch (const std::exception& e) {
    return e.what();
  }
  if (!save_models) return {};
  try {
    const SavedCell sc = load_saved_cell(store.dir(), r.id);
    for (size_t m = 0; m < sc.member_seeds.size(); ++m) load_member_checkpoint(store.dir(), sc, m);
  } catch (const std::exception& e) {
    return std::string("saved models: ") + e.what();
  }
  return {};
}

// The cells this invocation runs: its shard (`in_shard` of them), minus what a previous attempt finished
// (with ro.retry_failed, minus only the cells that ended OK).
std::vector<const Cell*> cells_to_run(const Plan& plan, const ResultsStore& store, const RunOptions& ro,
                                      bool save_models, int& in_shard) {
  std::set<std::string> finished_ids;
  for (const auto& r : store.read_cells()) {
    // An OK cell's scores are its NAB-format file, and with run.save_models its models: where one is gone
    // or damaged (deleted by hand, a copy that left it behind, a torn write), the cell runs again rather
    // than failing its detector's NAB score, or a later `lstmad detect`, at every resume.
    if (r.status == CellStatus::Ok && !r.detector.empty()) {
      if (const std::string why = damaged_outputs(store, r, save_models); !why.empty()) {
        log::warn(why + "; cell " + r.id + " runs again");
        continue;
      }
    }
    if (r.status == CellStatus::Ok || !ro.retry_failed) finished_ids.insert(r.id);
  }
  std::vector<const Cell*> todo;
  in_shard = 0;
  for (const auto& c : plan.cells) {
    if (c.index % ro.shard_count != ro.shard_index) continue;
    ++in_shard;
    if (!finished_ids.count(c.id)) todo.push_back(&c);
  }
  return todo;
}

}  // namespace

void install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

void request_stop() { g_stop.fetch_add(1); }

void parse_shard(const std::string& text, int& index, int& count) {
  auto slash = text.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    size_t a = 0, b = 0;
    index = std::stoi(text.substr(0, slash), &a);
    count = std::stoi(text.substr(slash + 1), &b);
    if (a != slash || b != text.size() - slash - 1) throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    throw ConfigError("--shard " + text + ": expected i/n, e.g. --shard 0/4");
  }
  if (count < 1 || index < 0 || index >= count)
    throw ConfigError("--shard " + text + ": expected 0 <= i < n");
}

namespace {

// The run in its opened folder (new or resumed): the corpus, the plan, the cells, the tables.
RunOutcome run_in_folder(const std::string& dir, const json& cfg, json manifest, const RunOptions& ro,
                         SetupGuard& setup, double earlier_seconds, Clock::time_point t_run) {
  int threads = ro.threads >= 0 ? ro.threads : at_path(cfg, "run.threads").get<int>();
  if (threads <= 0) threads = static_cast<int>(ThreadPool::hardware_threads());

  eval_profiles(cfg);  // a profiles file that cannot be read fails now, not after the last cell
  Corpus corpus = resolve_corpus(cfg, dir);
  Plan plan = make_plan(cfg, corpus.series);
  if (ro.resume_dir.empty())
    for (const std::string& w : inactive_key_warnings(plan)) log::warn(w);
  if (ro.resume_dir.empty())
    files::write_atomic(dir + "/manifest.json", json_text(manifest_json(cfg, ro, corpus, plan, threads)));
  ResultsStore store(dir);
  if (!ro.resume_dir.empty()) {
    // A folder without a manifest (its first attempt killed after config.json) gets this leg's, with the
    // shard this invocation runs (from Slurm's variables), so that a later resume runs the same shard;
    // its cells, whose inputs nothing records, still run again.
    const bool missing = manifest.empty();
    if (missing) {
      manifest = manifest_json(cfg, ro, corpus, plan, threads);
      manifest.erase("input_sha256");
      manifest["overrides"] = json();  // the first leg's are not known; this leg's go under `resumes`
    }
    manifest = reconcile_resumed_inputs(dir, std::move(manifest), corpus, plan, store, threads, missing);
    if (!ro.overrides.empty()) manifest["resumes"].back()["overrides"] = ro.overrides;
  }

  int in_shard = 0;
  const std::vector<const Cell*> todo =
      cells_to_run(plan, store, ro, at_path(cfg, "run.save_models").get<bool>(), in_shard);
  log::info(std::to_string(plan.cells.size()) + " cells (" + std::to_string(plan.settings.size()) + " setting(s) x " +
            std::to_string(plan.series.size()) + " series)" +
            (ro.shard_count > 1 ? ", shard " + std::to_string(ro.shard_index) + "/" + std::to_string(ro.shard_count) +
                                      " has " + std::to_string(in_shard)
                                : std::string()) +
            (in_shard - static_cast<int>(todo.size()) > 0
                 ? ", " + std::to_string(in_shard - static_cast<int>(todo.size())) + " already finished"
                 : std::string()) +
            "; engine " + at_path(cfg, "engine.name").get<std::string>() + ", " + std::to_string(threads) +
            " thread(s)");

  const auto t_load = Clock::now();
  // Only series with a cell to run take room: a resume's finished ones, and those of other shards, are
  // loaded for their facts alone (rows, label windows for the closing NAB sweep).
  const RunSeries series(plan, corpus, cfg, threads, series_memory_budget(cfg), series_in_use(plan, todo));
  log::info(std::to_string(series.loaded()) + " of " + std::to_string(series.size()) +
            " series loaded and prepared (" + std::to_string(series.rows()) + " rows) in " +
            seconds_text(since(t_load)) +
            (!series.all_kept()
                 ? "; " + std::to_string(series.kept()) + " of the " + std::to_string(series.in_use()) +
                       " with cells to run kept in memory (run.series_memory_mb), the others read again "
                       "when their models train"
                 : std::string()));

  std::unique_ptr<Engine> engine;
  if (!todo.empty()) {
    try {
      engine = make_engine(engine_options(cfg, threads));
    } catch (const ConfigError& e) {
      throw ConfigError(std::string("engine.name: ") + e.what());
    }
    require_a_device(cfg);
  }
  if (!ro.resume_dir.empty()) files::write_atomic(dir + "/manifest.json", json_text(manifest));
  setup.armed = false;  // from here on the folder holds results, or the reason there are none

  Progress progress(static_cast<int>(todo.size()), ro.progress);
  CellRun run{dir, &cfg, &plan, &series, &store, threads};
  run.keep_scores = series.all_kept();
  CellsOutcome done = run_cells(run, todo, engine.get(), progress, g_stop);
  progress.done();
  if (series.reloads() > 0)
    log::info("series read again " + std::to_string(series.reloads()) +
              " time(s) for their ModelBatches (run.series_memory_mb)");

  std::string partial;
  if (done.interrupted)
    partial = "the run was interrupted; resume it with --resume " + dir;
  else if (ro.shard_count > 1) partial = "shard " + std::to_string(ro.shard_index) + "/" + std::to_string(ro.shard_count) + "; merge the shards for NAB scores";
  RunOutcome outcome = finalize(dir, cfg, plan, series, std::move(done.results), store,
                                earlier_seconds + since(t_run), partial);
  outcome.interrupted = done.interrupted;
  // A signal after the last cells had started stops nothing (they and the tables finish): the run is
  // complete and exits 0, which is said, so that the signal is not taken as ignored.
  if (!done.interrupted && g_stop > 0)
    log::warn(
        "interrupt received after the last cells had started; they and the tables finished, the run "
        "is complete");
  outcome.skipped = in_shard - static_cast<int>(todo.size());
  if (ro.shard_count > 1) outcome.missing = 0;  // other shards' cells are not missing from this one
  log::info(std::string(done.interrupted ? "interrupted" : "finished") + " after " +
            std::to_string(since(t_run)) + " s: " + std::to_string(outcome.ok) + " OK, " +
            std::to_string(outcome.failed) + " failed; results in " + dir);
  return outcome;
}

}  // namespace

RunOutcome run_experiment(const json& cfg_in, const RunOptions& ro_in) {
  const auto t_run = Clock::now();
  g_stop = 0;
  RunOptions ro = ro_in;
  json cfg = cfg_in;
  json manifest = json::object();  // a resumed run's, as it was recorded
  std::optional<RunFolderLock> lock;  // released after the guard below has cleaned up
  SetupGuard setup;
  std::string dir;
  double earlier_seconds = 0.0;  // a resumed run's time so far, as its last finished leg recorded it
  if (!ro.resume_dir.empty()) {
    dir = ro.resume_dir;
    open_resumed_folder(dir, cfg, manifest, ro, lock);
    try {
      earlier_seconds = recorded_wall_seconds(dir);
    } catch (const Error& e) {
      log::warn(std::string("the earlier legs' time is not counted: ") + e.what());
    }
  } else {
    // The run's paths are made absolute before its config.json is written: a relative data.root or
    // eval.profiles would name another folder when the run is resumed from another working folder.
    make_paths_absolute(cfg);
    dir = create_run_folder(cfg, ro, setup, lock);
  }
  log::set_file(dir + "/log.txt");
  struct LogFileGuard {
    ~LogFileGuard() { log::set_file(""); }
  } log_guard;
  log::info((ro.resume_dir.empty() ? "run folder " : "resuming ") + dir);
  // What ends the run early is in its log too, beside the cells that finished before it.
  try {
    return run_in_folder(dir, cfg, std::move(manifest), ro, setup, earlier_seconds, t_run);
  } catch (const std::exception& e) {
    log::error(std::string("the run stopped: ") + e.what());
    throw;
  }
}

}  // namespace lstmad
