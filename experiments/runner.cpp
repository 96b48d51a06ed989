#include "experiments/runner.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "core/rng.hpp"
#include "core/thread_pool.hpp"
#include "data/windows.hpp"
#include "detect/detector.hpp"
#include "experiments/cell_pipeline.hpp"
#include "experiments/corpus.hpp"
#include "experiments/evaluation.hpp"
#include "experiments/plan.hpp"
#include "experiments/prepare.hpp"
#include "experiments/progress.hpp"
#include "experiments/report.hpp"
#include "experiments/results.hpp"
#include "experiments/resume.hpp"
#include "experiments/saved_models.hpp"
#include "experiments/scheduler.hpp"
#include "lstm/engine.hpp"
#include "lstm/init.hpp"
#ifdef LSTMAD_WITH_CUDA
#include "kernels/device_query.hpp"
#endif

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

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::atomic<int> g_stop{0};

extern "C" void on_stop_signal(int sig) {
  // First signal: finish the cells in flight. Second: give up at once with the default action.
  if (g_stop.fetch_add(1) >= 1) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

std::string utc_stamp(const char* fmt) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

json manifest_json(const json& cfg, const RunOptions& ro, const Corpus& corpus, const Plan& plan, int threads) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  json devices = json::array();
#ifdef LSTMAD_WITH_CUDA
  auto rt = kernels::query_devices();
  for (const auto& d : rt.devices)
    devices.push_back({{"ordinal", d.ordinal}, {"name", d.name}, {"sm", d.cc_major * 10 + d.cc_minor},
                       {"sms", d.sm_count}, {"memory_mib", d.global_mem_bytes >> 20}});
#endif
  const json inputs = input_hashes(corpus);
  return json{{"lstmad_version", LSTMAD_VERSION}, {"git_hash", LSTMAD_GIT_HASH}, {"build_type", LSTMAD_BUILD_TYPE},
              {"host", host}, {"started_utc", utc_stamp("%Y-%m-%dT%H:%M:%SZ")},
              {"config_file", ro.config_path}, {"overrides", ro.overrides},
              {"engine", cfg.at("engine")}, {"threads", threads}, {"hardware_threads", ThreadPool::hardware_threads()},
              {"devices", devices}, {"seed", at_path(cfg, "run.seed")},
              {"shard", {{"index", ro.shard_index}, {"count", ro.shard_count}}},
              {"corpus", {{"format", corpus.format}, {"root", corpus.root}, {"series", corpus.series.size()},
                          {"windows", corpus.total_windows}}},
              {"cells", plan.cells.size()}, {"settings", plan.settings.size()}, {"input_sha256", inputs}};
}

// On resume: the stored cells of series whose input files changed since the manifest `m` recorded them
// move to superseded/<time>/cells (kept, no longer results) and so run again on the files as they are
// now; the manifest then records the current inputs and this resume, so that a later resume compares
// against what the results now rest on.
void reconcile_resumed_inputs(const std::string& dir, json m, const Corpus& corpus, const Plan& plan,
                              const ResultsStore& store) {
  const json current = input_hashes(corpus);
  const InputChanges changes =
      compare_input_hashes(m.contains("input_sha256") ? m["input_sha256"] : json::object(), current);
  if (!changes.empty()) {
    const std::set<std::string> stale = series_with_changed_inputs(corpus, changes);
    const std::string aside = dir + "/superseded/" + utc_stamp("%Y%m%d-%H%M%S") + "/cells";
    int moved = 0;
    for (const auto& r : store.read_cells()) {
      if (!stale.count(r.series)) continue;
      files::make_dirs(aside);
      fs::rename(dir + "/cells/" + r.id + ".json", aside + "/" + r.id + ".json");
      std::error_code ec;  // its saved models were fitted on the old inputs: aside with it
      if (fs::exists(saved_models_dir(dir, r.id), ec)) {
        const std::string models_aside = fs::path(aside).parent_path().string() + "/models";
        files::make_dirs(models_aside);
        fs::rename(saved_models_dir(dir, r.id), models_aside + "/" + r.id, ec);
      }
      ++moved;
    }
    log::warn("the inputs changed since this run started: " + changes.summary() +
              (moved > 0 ? "; the " + std::to_string(moved) + " finished cell(s) of the " +
                               std::to_string(stale.size()) +
                               " series they feed run again (their old cell files are in " + aside + ")"
                         : std::string()));
  }
  m["input_sha256"] = current;
  m["cells"] = plan.cells.size();
  m["settings"] = plan.settings.size();
  m["corpus"]["series"] = corpus.series.size();
  m["corpus"]["windows"] = corpus.total_windows;
  m["resumes"].push_back(json{{"utc", utc_stamp("%Y-%m-%dT%H:%M:%SZ")},
                              {"lstmad_version", LSTMAD_VERSION},
                              {"git_hash", LSTMAD_GIT_HASH},
                              {"inputs", changes.to_json()}});
  files::write_atomic(dir + "/manifest.json", m.dump(2) + "\n");
}

struct Loaded {
  std::optional<PreparedSeries> data;
  std::string error;
  double seconds = 0;
};

// Loads and prepares every series once; a series that fails fails its own cells only.
std::vector<Loaded> load_all(const Plan& plan, const Corpus& corpus, const json& cfg, int threads) {
  std::vector<Loaded> loaded(plan.series.size());
  parallel_for(plan.series.size(), static_cast<size_t>(threads), [&](size_t i) {
    auto t0 = Clock::now();
    try {
      int train_rows = -1;
      Series s = corpus.load(plan.series[i], &train_rows);
      loaded[i].data = prepare_series(std::move(s), cfg, train_rows);
    } catch (const std::exception& e) {
      loaded[i].error = e.what();
    }
    loaded[i].seconds = since(t0);
  });
  TimestampOrderTally tally;
  for (const Loaded& l : loaded)
    if (l.data) tally.add(l.data->series);
  if (const std::string s = tally.summary(loaded.size()); !s.empty()) log::warn(s);
  return loaded;
}

std::map<std::string, std::vector<LabelWindow>> windows_of(const Plan& plan, const std::vector<Loaded>& loaded) {
  std::map<std::string, std::vector<LabelWindow>> w;
  for (size_t i = 0; i < plan.series.size(); ++i)
    if (loaded[i].data) w[plan.series[i]] = loaded[i].data->series.windows;
  return w;
}

// results.csv, the corpus evaluation and the table, from every cell result on disk plus those in memory.
RunOutcome finalize(const std::string& dir, const json& cfg, const Plan& plan,
                    const std::vector<Loaded>& loaded, std::vector<CellResult> in_memory, const ResultsStore& store,
                    double seconds, const std::string& partial_reason) {
  RunOutcome outcome;
  outcome.run_dir = dir;
  std::map<std::string, CellResult> by_id;
  for (auto& r : store.read_cells()) by_id[r.id] = std::move(r);
  for (auto& r : in_memory) by_id[r.id] = std::move(r);  // keeps the scores already in memory
  // Only the plan's cells, each placed by the plan: a resumed run's series may sort differently (one added
  // since), and a cell file whose id the plan does not hold (its series removed) is not a result of it.
  std::vector<CellResult> all;
  for (const auto& c : plan.cells) {
    auto it = by_id.find(c.id);
    if (it == by_id.end()) continue;
    CellResult& r = it->second;
    r.index = c.index;
    r.setting = c.setting;
    r.series = c.series;
    r.detector = plan.settings[static_cast<size_t>(c.setting)].detector;
    all.push_back(std::move(r));
    by_id.erase(it);
  }
  if (!by_id.empty())
    log::warn(
        std::to_string(by_id.size()) + " cell file(s) in " + dir +
        "/cells belong to no cell of this run's plan (a series no longer in the corpus) and are left out");
  store.write_results_csv(plan, all);
  for (const auto& r : all) (r.status == CellStatus::Ok ? outcome.ok : outcome.failed)++;
  outcome.cells = static_cast<int>(plan.cells.size());
  outcome.missing = outcome.cells - static_cast<int>(all.size());
  CorpusEvaluation ev;
  if (!partial_reason.empty()) {
    for (const auto& s : plan.settings) ev.skipped[s.detector] = partial_reason;
  } else {
    ev = evaluate_corpus(plan, all, windows_of(plan, loaded), cfg, store);
  }
  outcome.nab_scores = ev.nab_scores;
  outcome.unscored = ev.failed;
  outcome.table = summary_table(plan, all, ev, cfg, seconds);
  files::write_atomic(dir + "/table.md", outcome.table);
  files::write_atomic(dir + "/summary.json",
                      json{{"wall_seconds", seconds}, {"cells", outcome.cells}, {"ok", outcome.ok},
                           {"failed", outcome.failed}, {"missing", outcome.missing}, {"nab_scores", outcome.nab_scores}}
                              .dump(2) + "\n");
  try {
    write_report(dir);
  } catch (const std::exception& e) {
    log::warn(std::string("report not written: ") + e.what());
  }
  return outcome;
}

// The devices a GPU engine's queues run on: engine.device and the visible devices after it, engine.devices
// of them (0: all). Empty for the CPU engine, and where no device is visible (the engine then reports why
// on its first batch).
std::vector<DeviceProps> scheduler_devices(const json& cfg) {
  std::vector<DeviceProps> out;
  const std::string name = at_path(cfg, "engine.name").get<std::string>();
  if (name == "cpu") return out;
  const int first = at_path(cfg, "engine.device").get<int>();
  const int count = at_path(cfg, "engine.devices").get<int>();
#ifdef LSTMAD_WITH_CUDA
  const kernels::RuntimeInfo rt = kernels::query_devices();
  for (const auto& d : rt.devices) {
    if (d.ordinal < first) continue;
    if (count > 0 && static_cast<int>(out.size()) >= count) break;
    DeviceProps p;
    p.ordinal = d.ordinal;
    p.memory_bytes = d.global_mem_bytes;
    p.sm_count = d.sm_count;
    p.smem_per_block_optin = d.shared_mem_per_block_optin;
    p.smem_per_sm = d.shared_mem_per_sm;
    p.max_threads_per_block = d.max_threads_per_block;
    out.push_back(p);
  }
#endif
  if (out.empty() && name == "fused") {  // no device: batches of one model, each failing with the reason
    DeviceProps p;
    p.ordinal = first;
    out.push_back(p);
  }
  (void)count;
  return out;
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

RunOutcome run_experiment(const json& cfg_in, const RunOptions& ro_in) {
  const auto t_run = Clock::now();
  g_stop = 0;
  RunOptions ro = ro_in;
  json cfg = cfg_in;
  std::string dir;
  json manifest = json::object();  // a resumed run's, as it was recorded
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
  } setup;
  if (!ro.resume_dir.empty()) {
    dir = ro.resume_dir;
    if (!files::exists(dir + "/config.json")) throw IoError(dir + ": not a run folder (no config.json)");
    cfg = resolve_config(read_config_file(dir + "/config.json"), dir + "/config.json");
    // Temporary files of writes that a killed run left unfinished: never renamed, so never results.
    std::error_code ec;
    std::vector<fs::path> stale;
    for (const auto& f : fs::recursive_directory_iterator(dir, ec))
      if (f.is_regular_file() && f.path().filename().string().find(".tmp.") != std::string::npos) stale.push_back(f.path());
    for (const auto& f : stale) fs::remove(f, ec);
    if (!stale.empty()) log::info("removed " + std::to_string(stale.size()) + " unfinished temporary files");
    if (const std::string mpath = dir + "/manifest.json"; files::exists(mpath)) {
      manifest = read_json_file(mpath);
      if (manifest.contains("shard")) {
        ro.shard_index = json_get<int>(manifest, {"shard", "index"}, mpath);
        ro.shard_count = json_get<int>(manifest, {"shard", "count"}, mpath);
      }
    }
  } else {
    dir = ro.out_dir;
    if (dir.empty()) {
      // runs/<time>-<name>: two runs started in the same second (or at once from a job array) each get a
      // folder of their own, "-2", "-3", ... after the first; creating the folder is the claim.
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
    } else {
      if (files::exists(dir + "/config.json"))
        throw IoError(dir + ": already holds a run; resume it with --resume " + dir +
                      " or choose another --out");
      setup.created = !files::exists(dir);
      files::make_dirs(dir);
    }
    setup.dir = dir;
    setup.armed = true;
    files::write_atomic(dir + "/config.json", cfg.dump(2) + "\n");
  }
  log::set_file(dir + "/log.txt");
  struct LogFileGuard {
    ~LogFileGuard() { log::set_file(""); }
  } log_guard;
  log::info((ro.resume_dir.empty() ? "run folder " : "resuming ") + dir);

  int threads = ro.threads > 0 ? ro.threads : at_path(cfg, "run.threads").get<int>();
  if (threads <= 0) threads = static_cast<int>(ThreadPool::hardware_threads());

  Corpus corpus = resolve_corpus(cfg, dir);
  Plan plan = make_plan(cfg, corpus.series);
  if (ro.resume_dir.empty())
    files::write_atomic(dir + "/manifest.json", manifest_json(cfg, ro, corpus, plan, threads).dump(2) + "\n");
  ResultsStore store(dir);
  if (!ro.resume_dir.empty()) reconcile_resumed_inputs(dir, std::move(manifest), corpus, plan, store);

  // The cells this invocation runs: its shard, minus what a previous attempt finished.
  std::set<std::string> finished_ids;
  for (const auto& r : store.read_cells())
    if (r.status == CellStatus::Ok || !ro.retry_failed) finished_ids.insert(r.id);
  std::vector<const Cell*> todo;
  int in_shard = 0;
  for (const auto& c : plan.cells) {
    if (c.index % ro.shard_count != ro.shard_index) continue;
    ++in_shard;
    if (!finished_ids.count(c.id)) todo.push_back(&c);
  }
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

  std::vector<Loaded> loaded = load_all(plan, corpus, cfg, threads);
  std::map<std::string, size_t> series_index;
  for (size_t i = 0; i < plan.series.size(); ++i) series_index[plan.series[i]] = i;

  std::unique_ptr<Engine> engine;
  if (!todo.empty()) {
    try {
      engine = make_engine(engine_options(cfg, threads));
    } catch (const ConfigError& e) {
      throw ConfigError(std::string("engine.name: ") + e.what());
    }
  }
  setup.armed = false;  // from here on the folder holds results, or the reason there are none

  Progress progress(static_cast<int>(todo.size()), ro.progress);
  std::vector<CellResult> results;
  std::mutex results_mutex;
  auto finish = [&](CellResult r) {
    store.write_cell(r);  // after its NAB-format scores: the cell file marks the cell finished
    std::lock_guard<std::mutex> lock(results_mutex);
    if (r.status != CellStatus::Ok) {
      log::error("cell " + r.id + " (" + r.detector + ", " + r.series + "): " + to_string(r.status) + ": " + r.error);
      files::make_dirs(dir + "/failed");
      files::write_atomic(dir + "/failed/" + r.id + ".log",
                          "cell " + r.id + "\ndetector " + r.detector + "\nseries " + r.series + "\nstatus " +
                              to_string(r.status) + "\n" + r.error + "\n");
    } else {
      std::error_code ec;  // a retried cell that now succeeds: its old failure is no longer the record
      fs::remove(dir + "/failed/" + r.id + ".log", ec);
    }
    progress.finished(r.status == CellStatus::Ok);
    results.push_back(std::move(r));
  };
  auto base_result = [&](const Cell& c) {
    CellResult r;
    r.id = c.id;
    r.index = c.index;
    r.setting = c.setting;
    r.detector = plan.settings[static_cast<size_t>(c.setting)].detector;
    r.series = c.series;
    r.seed = c.seed;
    return r;
  };

  // ModelBatches (experiments/scheduler.hpp): models that share a shape, window, minibatch size and
  // retraining schedule, whatever their setting; one queue per device for the GPU engines. A cell has one
  // model per ensemble member (one without an ensemble); it is scored when the last of them is back.
  struct Runnable {  // one model to train: member `member` of the cell `pending[cell]`
    size_t cell;
    size_t member;
  };
  struct MemberFacts {
    int epochs = 0, best_epoch = -1;
    double train_loss = 0, val_loss = 0;  // of the epoch whose parameters were kept
    json loss_curve;                      // {"train": [...], "val": [...]}, one value per epoch run
    CellStatus status = CellStatus::Ok;
    std::string error;
    std::string fallback;  // "engine (precision)" when engine.fallback trained the model, else empty
  };
  struct PendingCell {  // a cell whose member models are in flight
    const Cell* cell;
    const PreparedSeries* data;
    const Loaded* loaded;
    std::vector<json> members;  // the members' values
    std::vector<std::vector<double>> errors;
    std::vector<MemberFacts> facts;
    int left = 0;
    bool started = false;
    double seconds_train = 0;
    double seconds_forecast = 0;  // its share of its batches' forecasting (with retraining, the fine-tuning too)
    std::mutex mutex;
  };
  std::vector<Runnable> runnable;
  std::vector<std::unique_ptr<PendingCell>> pending;
  std::vector<CellWork> work;
  for (const Cell* c : todo) {
    const Loaded& L = loaded[series_index[c->series]];
    if (!L.data) {
      CellResult r = base_result(*c);
      r.status = CellStatus::Error;
      r.error = L.error;
      r.seconds_prepare = L.seconds;
      finish(std::move(r));
      continue;
    }
    const json& v = plan.settings[static_cast<size_t>(c->setting)].values;
    const PreparedSeries& p = *L.data;
    auto pc = std::make_unique<PendingCell>();
    pc->cell = c;
    pc->data = &p;
    pc->loaded = &L;
    pc->members = ensemble_members(v);
    const size_t M = pc->members.size();
    // Every member must have training windows (and, when it retrains, windows to fine-tune on) before any
    // is trained.
    std::vector<CellWork> cell_work;
    for (size_t m = 0; m < M; ++m) {
      const WindowSource ws = make_window_source(p, pc->members[m]);
      CellWork w;
      w.key = batch_key(pc->members[m], p.input_dims);
      std::string why;
      if (ws.train.empty())
        why = p.series.path + ": " + std::to_string(p.train_end) + " training rows are too few for window " +
              std::to_string(w.key.window) + " and horizon " + std::to_string(w.key.shape.horizon);
      else  // a property of the member's values, which validate and plan name too
        why = member_problem(pc->members[m]);
      if (!why.empty()) {
        CellResult r = base_result(*c);
        r.status = CellStatus::Error;
        r.rows = p.series.rows();
        r.train_rows = p.train_end;
        r.error = why;
        finish(std::move(r));
        break;
      }
      w.cell = static_cast<int>(runnable.size() + m);
      w.rows = p.series.rows();
      w.train = static_cast<long long>(ws.train.size());
      w.val = static_cast<long long>(ws.val.size());
      w.epochs = at_path(pc->members[m], "train.epochs").get<int>();
      cell_work.push_back(w);
    }
    if (cell_work.size() < M) continue;
    for (size_t m = 0; m < M; ++m) runnable.push_back({pending.size(), m});
    work.insert(work.end(), cell_work.begin(), cell_work.end());
    pc->left = static_cast<int>(M);
    pc->errors.resize(M);
    pc->facts.resize(M);
    pending.push_back(std::move(pc));
  }
  SchedulerOptions so;
  so.engine = at_path(cfg, "engine.name").get<std::string>();
  so.threads = threads;
  so.batch_models = at_path(cfg, "run.batch_models").get<int>();
  so.devices = scheduler_devices(cfg);
  const Schedule schedule = schedule_cells(work, so);
  if (schedule.batches() > 0)
    log::info(std::to_string(work.size()) + " models in " + std::to_string(schedule.batches()) +
              " ModelBatch(es) on " + std::to_string(schedule.queues.size()) + " queue(s)");
  if (schedule.queues.size() > 1)
    for (std::size_t q = 0; q < schedule.queues.size(); ++q) {
      std::size_t models = 0;
      for (const ScheduledBatch& b : schedule.queues[q]) models += b.cells.size();
      log::info("queue " + std::to_string(q) + " on device " + std::to_string(schedule.devices[q]) + ": " +
                std::to_string(schedule.queues[q].size()) + " ModelBatch(es), " + std::to_string(models) +
                " models");
    }

  const bool save_models = at_path(cfg, "run.save_models").get<bool>();
  // Scores a cell whose members are all back: the mean of their errors through the detector.
  auto score_cell = [&](PendingCell& pc) {
    const Cell& c = *pc.cell;
    const PreparedSeries& p = *pc.data;
    const json& v = plan.settings[static_cast<size_t>(c.setting)].values;
    CellResult r = base_result(c);
    r.rows = p.series.rows();
    r.train_rows = p.train_end;
    r.time_features = p.time_features;
    r.seconds_prepare = pc.loaded->seconds;
    r.seconds_train = pc.seconds_train;
    auto t0 = Clock::now();
    const size_t M = pc.members.size();
    r.train_loss = r.val_loss = 0;  // the members' mean, summed below
    try {
      // Training facts: a single model's as they are; an ensemble's summed (epochs) or averaged (losses),
      // with each member's in `members`.
      for (size_t m = 0; m < M; ++m) {
        const MemberFacts& f = pc.facts[m];
        if (!f.fallback.empty()) r.engine_fallback = f.fallback;
        r.epochs += f.epochs;
        r.train_loss += f.train_loss / static_cast<double>(M);
        r.val_loss += f.val_loss / static_cast<double>(M);
        if (M > 1) {
          json values = json::object();
          for (auto it = v.at("ensemble").begin(); it != v.at("ensemble").end(); ++it) {
            const std::string key = it.key() == "seeds" ? "run.seed" : it.key();  // a replica: its run seed
            values[key] = at_path(pc.members[m], key);
          }
          json entry = model_facts(c.member_seeds[m], f.status, f.epochs, f.best_epoch, f.train_loss,
                                   f.val_loss, f.loss_curve);
          entry["values"] = values;
          r.members.push_back(std::move(entry));
        }
      }
      r.best_epoch = M == 1 ? pc.facts[0].best_epoch : -1;
      if (M == 1) r.loss_curve = pc.facts[0].loss_curve;
      for (size_t m = 0; m < M; ++m) {
        const MemberFacts& f = pc.facts[m];
        if (f.status == CellStatus::Ok) continue;
        const std::string who = M > 1 ? "ensemble member " + r.members[m]["values"].dump() + ": " : std::string();
        if (f.status == CellStatus::Error) throw Error(who + f.error);
        r.status = f.status;  // NONFINITE or TIMEOUT
        r.error = who + f.error;
        break;
      }
      if (r.status == CellStatus::Ok) {
        const int n = p.series.rows();
        const std::vector<double> errors = mean_of_errors(pc.errors);
        std::vector<double> values(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) values[static_cast<size_t>(i)] = p.series.value(i);
        DetectorOptions series_dopt = detector_options(v);
        series_dopt.train_rows = p.train_end;
        r.scores = anomaly_scores_from_errors(errors, values, series_dopt);
        r.metrics = series_metrics(p, r.scores, cfg);
        store.write_nab_scores(r.detector, p.series, r.scores, &errors);
        if (save_models) {  // before the cell file: a finished cell of such a run has its models
          SavedCell sc;
          sc.cell = c.id;
          sc.detector = r.detector;
          sc.series = c.series;
          sc.rows = n;
          sc.train_end = p.train_end;
          sc.norm = p.norm;
          sc.time_features = p.time_features;
          sc.train_sha256 = training_rows_sha256(p.series, p.train_end);
          sc.member_seeds = c.member_seeds;
          save_cell_models(dir, sc);
        }
      }
    } catch (const std::exception& e) {
      r.status = CellStatus::Error;
      r.error = e.what();
    }
    r.seconds_predict = pc.seconds_forecast + since(t0);
    r.seconds_total = r.seconds_prepare + r.seconds_train + r.seconds_predict;
    pc.errors.clear();
    finish(std::move(r));
  };

  std::atomic<bool> interrupted{false};
  std::mutex fallback_mutex;
  std::set<std::string> fallback_warned;  // shapes already reported as run by engine.fallback
  // Trains one ModelBatch on `eng` (or on `fallback`, when given and `eng` refuses the batch), predicts,
  // and scores the cells whose last member it holds.
  auto run_batch = [&](Engine& eng, Engine* fallback, const ScheduledBatch& batch) {
    const ModelShape shape = batch.key.shape;
    const int window = batch.key.window;
    const Retraining retraining = retraining_of(batch.key);
    std::vector<ModelJob> jobs;
    std::vector<const Runnable*> job_cells;
    int newly_started = 0;
    for (int k : batch.cells) {
      const Runnable& u = runnable[static_cast<size_t>(k)];
      PendingCell& pc = *pending[u.cell];
      const json& v = pc.members[u.member];
      const uint64_t seed = pc.cell->member_seeds[u.member];
      const json& fb = at_path(v, "model.forget_bias");
      std::optional<double> forget_bias;
      if (fb.is_number()) forget_bias = fb.get<double>();
      ModelJob job;
      job.data = make_window_source(*pc.data, v);
      job.params = init_params(shape, seed, forget_bias);
      job.options = train_options(v, seed);
      jobs.push_back(std::move(job));
      job_cells.push_back(&u);
      std::lock_guard<std::mutex> lock(pc.mutex);
      if (!pc.started) ++newly_started;
      pc.started = true;
    }
    if (jobs.empty()) return;
    progress.started(newly_started);
    auto t_train = Clock::now();
    std::string batch_error;
    Engine* use = &eng;
    try {
      std::string why = eng.unsupported_reason(shape, jobs.front().options);
      if (!why.empty() && fallback != nullptr) {
        const std::string fwhy = fallback->unsupported_reason(shape, jobs.front().options);
        if (fwhy.empty()) {
          const std::string what = shape.str() + " T=" + std::to_string(window);
          bool first;
          {
            std::lock_guard<std::mutex> lock(fallback_mutex);
            first = fallback_warned.insert(what).second;
          }
          if (first)  // once per shape: a device-less fused engine sends every model in a batch of its own
            log::warn("engine " + eng.name() + " cannot run " + what + " (" + why + "); engine.fallback " +
                      fallback->name() + " (" + to_string(fallback->precision()) + ") trains and runs its models");
          use = fallback;
          why.clear();
        } else {
          why += "; engine.fallback " + fallback->name() + " cannot either: " + fwhy;
        }
      }
      if (!why.empty()) throw UnsupportedError(why);
      use->train(shape, jobs);
    } catch (const std::exception& e) {
      batch_error = e.what();
    }
    // run.save_models: each model as training left it (stream_errors may fine-tune it further), written
    // before anything scores it. A model that cannot be written fails its cell.
    std::vector<std::string> save_error(jobs.size());
    if (save_models && batch_error.empty())
      for (size_t j = 0; j < jobs.size(); ++j) {
        if (jobs[j].result.status != TrainStatus::Ok) continue;
        try {
          save_member_model(dir, pending[job_cells[j]->cell]->cell->id, job_cells[j]->member, shape, window,
                            jobs[j].params);
        } catch (const std::exception& e) {
          save_error[j] = std::string("run.save_models: ") + e.what();
        }
      }
    const double train_seconds = since(t_train) / static_cast<double>(jobs.size());
    const auto t_forecast = Clock::now();
    std::vector<std::vector<double>> prediction_errors;
    std::string stream_error;
    if (batch_error.empty()) {
      std::vector<const PreparedSeries*> data;
      for (const Runnable* u : job_cells) data.push_back(pending[u->cell]->data);
      try {
        prediction_errors = stream_errors(*use, shape, window, jobs, data, retraining, threads);
      } catch (const std::exception& e) {
        stream_error = e.what();
      }
    }
    const double forecast_seconds = since(t_forecast) / static_cast<double>(jobs.size());

    parallel_for(jobs.size(), static_cast<size_t>(threads), [&](size_t j) {
      const Runnable& u = *job_cells[j];
      const ModelJob& job = jobs[j];
      MemberFacts f;
      f.epochs = job.result.epochs_run;
      f.best_epoch = job.result.best_epoch;
      // Both losses describe the parameters that score: the best validation epoch's, or the last epoch's
      // where every epoch's parameters are kept in turn (no validation split).
      const auto kept = [&](const std::vector<double>& curve) {
        if (curve.empty()) return std::nan("");
        const int b = job.result.best_epoch;
        return curve[b >= 0 && b < static_cast<int>(curve.size()) ? static_cast<size_t>(b)
                                                                  : curve.size() - 1];
      };
      f.train_loss = kept(job.result.train_loss);
      f.val_loss = kept(job.result.val_loss);
      f.loss_curve = {{"train", finite_or_null(job.result.train_loss)},
                      {"val", finite_or_null(job.result.val_loss)}};
      if (use != &eng) f.fallback = use->name() + " (" + to_string(use->precision()) + ")";
      if (!batch_error.empty() || !stream_error.empty() || !save_error[j].empty()) {
        f.status = CellStatus::Error;
        f.error = !batch_error.empty() ? batch_error : !stream_error.empty() ? stream_error : save_error[j];
      } else if (job.result.status == TrainStatus::NonFinite) {
        f.status = CellStatus::NonFinite;
        f.error = job.result.message.empty() ? "training produced a non-finite loss" : job.result.message;
      } else if (job.result.status == TrainStatus::Timeout) {
        f.status = CellStatus::Timeout;
        f.error = "run.max_train_seconds: " + job.result.message;
      }
      PendingCell& pc = *pending[u.cell];
      bool last = false;
      {
        std::lock_guard<std::mutex> lock(pc.mutex);
        const size_t m = u.member;
        pc.facts[m] = f;
        if (f.status == CellStatus::Ok) pc.errors[m] = std::move(prediction_errors[j]);
        pc.seconds_train += train_seconds;
        pc.seconds_forecast += forecast_seconds;
        last = --pc.left == 0;
      }
      if (last) score_cell(pc);
    });
  };
  // One worker per queue; the first queue's engine is `engine` (made above on engine.device).
  auto run_queue = [&](std::size_t q) {
    std::unique_ptr<Engine> own;
    Engine* eng = engine.get();
    if (q > 0) {
      EngineOptions eo = engine_options(cfg, threads);
      eo.device = schedule.devices[q];
      own = make_engine(eo);
      eng = own.get();
    }
    const std::unique_ptr<Engine> fallback =
        fallback_engine(cfg, threads, q < schedule.devices.size() ? schedule.devices[q] : at_path(cfg, "engine.device").get<int>());
    for (const ScheduledBatch& b : schedule.queues[q]) {
      if (interrupted) return;
      if (g_stop.load() > 0) {
        interrupted = true;
        return;
      }
      run_batch(*eng, fallback.get(), b);
    }
  };
  if (schedule.queues.size() <= 1) {
    if (!schedule.queues.empty()) run_queue(0);
  } else {
    std::vector<std::thread> workers;
    std::vector<std::string> errors(schedule.queues.size());
    for (std::size_t q = 0; q < schedule.queues.size(); ++q)
      workers.emplace_back([&, q] {
        try {
          run_queue(q);
        } catch (const std::exception& e) {
          errors[q] = e.what();
        }
      });
    for (auto& w : workers) w.join();
    for (std::size_t q = 0; q < errors.size(); ++q)
      if (!errors[q].empty())
        throw Error("device " + std::to_string(schedule.devices[q]) + ": " + errors[q]);
  }
  progress.done();

  std::string partial;
  if (interrupted) partial = "the run was interrupted; resume it with --resume " + dir;
  else if (ro.shard_count > 1) partial = "shard " + std::to_string(ro.shard_index) + "/" + std::to_string(ro.shard_count) + "; merge the shards for NAB scores";
  RunOutcome outcome = finalize(dir, cfg, plan, loaded, std::move(results), store, since(t_run), partial);
  outcome.interrupted = interrupted.load();
  outcome.skipped = in_shard - static_cast<int>(todo.size());
  if (ro.shard_count > 1) outcome.missing = 0;  // other shards' cells are not missing from this one
  log::info(std::string(interrupted ? "interrupted" : "finished") + " after " + std::to_string(since(t_run)) + " s: " +
            std::to_string(outcome.ok) + " OK, " + std::to_string(outcome.failed) + " failed; results in " + dir);
  return outcome;
}

namespace {

// The wall time a finished run recorded in its summary.json (0 when it has none).
double recorded_wall_seconds(const std::string& dir) {
  const std::string summary = dir + "/summary.json";
  if (!files::exists(summary)) return 0.0;
  const json sm = read_json_file(summary);
  return sm.contains("wall_seconds") ? json_get<double>(sm, {"wall_seconds"}, summary) : 0.0;
}

// An ensemble member of a rescore: a finished run's one cell per series (one model, or an ensemble's
// mean error), read back from its folder.
struct Member {
  std::string dir;
  ResultsStore store;
  std::map<std::string, CellResult> by_series;
};

Member load_member(const std::string& dir) {
  if (!files::exists(dir + "/config.json")) throw IoError(dir + ": not a run folder (no config.json)");
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
int model_count(const CellResult& r) { return r.members.empty() ? 1 : static_cast<int>(r.members.size()); }

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
// `models_out` receives each member's model_entries.
void add_member_errors(std::vector<double>& errors, int source_models, const std::vector<Member>& members,
                       const std::string& series, const std::vector<double>& values, int train_rows,
                       const std::string& source_file, json& models_out) {
  if (members.empty()) return;
  std::vector<std::vector<double>> models{std::move(errors)};
  std::vector<int> weights{source_models};
  for (const Member& m : members) {
    auto it = m.by_series.find(series);
    if (it == m.by_series.end()) throw Error("ensemble member " + m.dir + " has no finished cell for " + series);
    const CellResult& r = it->second;
    if (r.status != CellStatus::Ok) throw Error("ensemble member " + m.dir + ": its cell of " + series + " ended " +
                                                to_string(r.status) + ": " + r.error);
    const std::string file = m.store.nab_scores_path(r.detector, series);
    models.push_back(m.store.read_nab_column(r.detector, series, "raw_score"));
    weights.push_back(model_count(r));
    if (models.back().size() != models.front().size())
      throw Error(file + ": " + std::to_string(models.back().size()) + " rows, the source has " +
                  std::to_string(models.front().size()));
    const std::vector<double> member_values = m.store.read_nab_column(r.detector, series, "value");
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
  }
  errors = mean_of_errors(models, weights);
}

}  // namespace

RunOutcome rescore_run(const std::string& src_dir, const std::vector<std::string>& overrides, const std::string& out_dir,
                       int threads, const std::vector<std::string>& member_dirs) {
  const auto t0 = Clock::now();
  if (!files::exists(src_dir + "/config.json")) throw IoError(src_dir + ": not a run folder (no config.json)");
  json src_cfg = resolve_config(read_config_file(src_dir + "/config.json"), src_dir + "/config.json");
  json user = src_cfg;
  for (const auto& o : overrides) {
    std::string path = o.substr(0, o.find('='));
    if (path.rfind("detector.", 0) != 0 && path.rfind("eval.", 0) != 0)
      throw ConfigError("--set " + o + ": rescoring changes only detector.* and eval.* keys (the models are reused)");
    apply_override(user, o);
  }
  json cfg = resolve_config(user, "rescore of " + src_dir);
  if (threads <= 0) threads = static_cast<int>(ThreadPool::hardware_threads());
  if (files::exists(out_dir + "/config.json")) throw IoError(out_dir + ": already holds a run");
  // What can refuse the command (the corpus, a member that is no run or a grid, a damaged summary.json)
  // comes before the output folder is made: a refused rescore leaves no folder that would then block the
  // corrected command as "already holds a run".
  Corpus corpus = resolve_corpus(src_cfg, src_dir);
  Plan src_plan = make_plan(src_cfg, corpus.series);
  Plan plan = make_plan(cfg, corpus.series);
  std::vector<Member> members;
  double source_seconds = recorded_wall_seconds(src_dir);
  // A run's models count once: the source again, or a member given twice (under any spelling of its
  // path), would weigh its models double in the mean and its run time twice in the cost.
  std::map<std::string, std::string> given{{fs::weakly_canonical(src_dir).string(), "the source"}};
  for (const auto& d : member_dirs) {
    auto [it, fresh] = given.emplace(fs::weakly_canonical(d).string(), "--member " + d);
    if (!fresh)
      throw ConfigError("--member " + d + ": the same run as " + it->second +
                        "; an ensemble counts each run's models once");
  }
  for (const auto& d : member_dirs) {
    members.push_back(load_member(d));
    source_seconds += recorded_wall_seconds(d);
  }
  files::make_dirs(out_dir);
  files::write_atomic(out_dir + "/config.json", cfg.dump(2) + "\n");
  log::set_file(out_dir + "/log.txt");
  struct LogFileGuard {
    ~LogFileGuard() { log::set_file(""); }
  } log_guard;

  RunOptions ro;
  ro.config_path = src_dir + "/config.json";
  ro.overrides = overrides;
  json manifest = manifest_json(cfg, ro, corpus, plan, threads);
  manifest["rescored_from"] = src_dir;
  if (!members.empty()) manifest["ensemble_members"] = member_dirs;
  files::write_atomic(out_dir + "/manifest.json", manifest.dump(2) + "\n");

  // A trained model is identified by everything but the detector: map each new cell to its source cell.
  auto model_key = [](const json& values, const std::string& series) {
    return model_identity(values).dump() + "|" + series;
  };
  // Source cells by cell id (it hashes the setting and the series), not by the index stored in the cell
  // file: that is the cell's position in the plan of the corpus it ran on, and a resume after a series was
  // added or removed keeps the other cells' files as they were, with their old positions.
  ResultsStore src_store(src_dir);
  std::map<std::string, CellResult> by_id;
  for (auto& r : src_store.read_cells()) by_id[r.id] = std::move(r);
  std::map<std::string, const CellResult*> source;
  for (const auto& c : src_plan.cells) {
    auto it = by_id.find(c.id);
    if (it != by_id.end())
      source[model_key(src_plan.settings[static_cast<size_t>(c.setting)].values, c.series)] = &it->second;
  }

  ResultsStore store(out_dir);
  std::vector<Loaded> loaded = load_all(plan, corpus, cfg, threads);
  std::map<std::string, size_t> series_index;
  for (size_t i = 0; i < plan.series.size(); ++i) series_index[plan.series[i]] = i;
  std::vector<CellResult> results(plan.cells.size());
  parallel_for(plan.cells.size(), static_cast<size_t>(threads), [&](size_t k) {
    const Cell& c = plan.cells[k];
    const Setting& s = plan.settings[static_cast<size_t>(c.setting)];
    CellResult r;
    auto it = source.find(model_key(s.values, c.series));
    const CellResult* src = it == source.end() ? nullptr : it->second;
    if (src) r = *src;  // training facts carry over
    r.id = c.id;
    r.index = c.index;
    r.setting = c.setting;
    r.detector = s.detector;
    r.series = c.series;
    r.seed = c.seed;
    r.metrics.clear();
    const Loaded& L = loaded[series_index[c.series]];
    try {
      if (!src) throw Error("no finished source cell for this model in " + src_dir);
      if (src->status != CellStatus::Ok) throw Error("the source cell ended " + to_string(src->status) + ": " + src->error);
      if (!L.data) throw Error(L.error);
      const std::string& src_det = src->detector;
      std::vector<double> errors = src_store.read_nab_column(src_det, c.series, "raw_score");
      std::vector<double> values = src_store.read_nab_column(src_det, c.series, "value");
      if (static_cast<int>(errors.size()) != L.data->series.rows())
        throw Error(src_store.nab_scores_path(src_det, c.series) + ": " + std::to_string(errors.size()) +
                    " rows, the series has " + std::to_string(L.data->series.rows()));
      // With members, the cell lists every model it averages (the source's, then each member's).
      json models = model_entries(*src, src_dir);
      add_member_errors(errors, model_count(*src), members, c.series, values, L.data->train_end,
                        src_store.nab_scores_path(src_det, c.series), models);
      if (!members.empty()) r.members = std::move(models);
      auto t = Clock::now();
      DetectorOptions dopt = detector_options(s.values);
      dopt.train_rows = L.data->train_end;
      r.train_rows = L.data->train_end;
      r.scores = anomaly_scores_from_errors(errors, values, dopt);
      r.metrics = series_metrics(*L.data, r.scores, cfg);
      store.write_nab_scores(r.detector, L.data->series, r.scores, &errors);
      // The source's saved models (run.save_models) are this cell's too, unless members join them: then
      // the cell averages models that no config of this run describes, and `detect` could not replay it.
      if (members.empty() && files::exists(saved_models_dir(src_dir, src->id) + "/model.json"))
        copy_saved_models(src_dir, src->id, out_dir, c.id, r.detector);
      r.status = CellStatus::Ok;
      r.error.clear();
      r.seconds_predict = since(t);
    } catch (const std::exception& e) {
      r.status = CellStatus::Error;
      r.error = e.what();
    }
    store.write_cell(r);
    results[k] = std::move(r);
  });
  // The cost of these scores includes the models': the source's and the members' run times.
  return finalize(out_dir, cfg, plan, loaded, std::move(results), store, since(t0) + source_seconds, "");
}

namespace {

// The first path of `c` (changed, then added, then removed).
std::string first_input(const InputChanges& c) {
  return !c.changed.empty() ? c.changed.front() : !c.added.empty() ? c.added.front() : c.removed.front();
}

// Shards' results rest on the input files each recorded in its manifest. Shards that ran on other bytes (a
// file changed between them), or on bytes the files no longer hold (`current`: the corpus as it is now;
// null for a synthetic corpus, which the shared config generates), merge into a run that equals no
// unsharded run: refused, naming the file. A resume of each shard reruns its series whose files changed.
void check_shard_inputs(const std::vector<std::string>& shard_dirs, const Corpus* current) {
  const std::string fix =
      "; resume the shards (lstmad run --resume SHARD) to rerun the series whose files changed, "
      "then merge them";
  std::string first_path;
  json first;
  for (const auto& d : shard_dirs) {
    const std::string mpath = d + "/manifest.json";
    if (!files::exists(mpath)) {
      log::warn(mpath + ": missing; the input files this shard ran on are not checked");
      continue;
    }
    const json m = read_json_file(mpath);
    if (!m.contains("input_sha256")) continue;
    if (first_path.empty()) {
      first_path = mpath;
      first = m.at("input_sha256");
      continue;
    }
    const InputChanges c = compare_input_hashes(first, m.at("input_sha256"));
    if (!c.empty())
      throw ConfigError(mpath + ": input " + first_input(c) + " differs from " + first_path + " (" +
                        c.summary() + "): the shards ran on other files" + fix);
  }
  if (first_path.empty() || !current) return;
  const InputChanges now = compare_input_hashes(first, input_hashes(*current));
  if (!now.empty())
    throw ConfigError(first_path + ": input " + first_input(now) + " has changed since the shards ran (" +
                      now.summary() + ")" + fix);
}

}  // namespace

RunOutcome merge_runs(const std::vector<std::string>& shard_dirs, const std::string& out_dir) {
  const auto t0 = Clock::now();
  if (shard_dirs.empty()) throw ConfigError("merge: give at least one run folder");
  json cfg;
  for (const auto& d : shard_dirs) {
    if (!files::exists(d + "/config.json")) throw IoError(d + ": not a run folder (no config.json)");
    json c = read_json_file(d + "/config.json");
    if (cfg.is_null()) cfg = c;
    else if (c != cfg) throw ConfigError(d + "/config.json: differs from " + shard_dirs[0] + "/config.json; only shards of one run merge");
  }
  if (files::exists(out_dir + "/config.json")) throw IoError(out_dir + ": already holds a run");
  json resolved = resolve_config(cfg, shard_dirs[0] + "/config.json");
  // A corpus on disk is resolved before anything is written, to check the shards' inputs against it; a
  // synthetic one is generated into the merged folder below.
  std::optional<Corpus> current;
  if (at_path(resolved, "data.format").get<std::string>() != "synthetic")
    current = resolve_corpus(resolved, "");
  check_shard_inputs(shard_dirs, current ? &*current : nullptr);
  // A cell is one shard's: the same cell in two folders (a shard given twice, or two attempts at one shard)
  // would keep whichever copy came last, e.g. an attempt that failed over one that finished, with its
  // failure log. Refused, naming both, before anything is written.
  std::map<std::string, std::string> cell_owner;
  for (const auto& d : shard_dirs) {
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(fs::path(d) / "cells", ec)) {
      if (f.path().extension() != ".json") continue;
      const std::string name = f.path().filename().string();
      auto [it, fresh] = cell_owner.emplace(name, d);
      if (!fresh)
        throw ConfigError(d + "/cells/" + name + ": the same cell is in " + it->second +
                          "; give each shard's folder once (one attempt per shard)");
    }
  }
  files::make_dirs(out_dir);
  files::write_atomic(out_dir + "/config.json", cfg.dump(2) + "\n");
  // Every shard's finished cells and their NAB-format files (identical across shards for a synthetic corpus).
  for (const auto& d : shard_dirs) {
    for (const char* sub : {"cells", "nab", "failed", "corpus", "models"}) {
      fs::path src = fs::path(d) / sub;
      if (!fs::exists(src)) continue;
      for (const auto& f : fs::recursive_directory_iterator(src)) {
        if (!f.is_regular_file()) continue;
        // A killed shard's unfinished writes were never renamed into results: leave them behind.
        if (f.path().filename().string().find(".tmp.") != std::string::npos) continue;
        fs::path dst = fs::path(out_dir) / fs::relative(f.path(), d);
        files::make_dirs(dst.parent_path().string());
        files::write_atomic(dst.string(), files::read(f.path().string()));
      }
    }
  }
  Corpus corpus = current ? std::move(*current) : resolve_corpus(resolved, out_dir);
  Plan plan = make_plan(resolved, corpus.series);
  RunOptions ro;
  ro.config_path = shard_dirs[0] + "/config.json";
  json manifest = manifest_json(resolved, ro, corpus, plan, 0);
  manifest["merged_from"] = shard_dirs;
  files::write_atomic(out_dir + "/manifest.json", manifest.dump(2) + "\n");
  ResultsStore store(out_dir);
  std::vector<Loaded> loaded = load_all(plan, corpus, resolved, static_cast<int>(ThreadPool::hardware_threads()));
  // The merged run's time is what its cells cost: every shard's recorded run time, plus the merge's own
  // (as a rescore counts its source's), not the few seconds of the merge alone, which `lstmad table` would
  // show as the run time of the whole experiment.
  double shard_seconds = 0;
  for (const auto& d : shard_dirs) shard_seconds += recorded_wall_seconds(d);
  RunOutcome outcome = finalize(out_dir, resolved, plan, loaded, {}, store, since(t0) + shard_seconds, "");
  return outcome;
}

}  // namespace lstmad
