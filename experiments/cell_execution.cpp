#include "experiments/cell_execution.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/thread_pool.hpp"
#include "detect/detector.hpp"
#include "experiments/cell_pipeline.hpp"
#include "experiments/evaluation.hpp"
#include "experiments/plan.hpp"
#include "experiments/saved_models.hpp"
#include "experiments/scheduler.hpp"
#include "lstm/init.hpp"
#ifdef LSTMAD_WITH_CUDA
#include "kernels/device_query.hpp"
#endif

namespace lstmad {
namespace fs = std::filesystem;

namespace {

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
  // Fewer devices than asked for still run (on those there are), but not silently: the run's time and
  // the manifest's devices are not what the config led its user to expect.
  if (count > 0 && !out.empty() && static_cast<int>(out.size()) < count)
    log::warn("engine.devices " + std::to_string(count) + ": " + std::to_string(out.size()) +
              " device(s) visible from engine.device " + std::to_string(first) + " on; the run uses " +
              std::to_string(out.size()) + " queue(s)");
#endif
  if (out.empty() && name == "fused") {  // no device: batches of one model, each failing with the reason
    DeviceProps p;
    p.ordinal = first;
    out.push_back(p);
  }
  (void)count;
  return out;
}

// One model to train: member `member` of the cell `pending[cell]`.
struct Runnable {
  size_t cell;
  size_t member;
};

// What training left of one member model.
struct MemberFacts {
  int epochs = 0, best_epoch = -1;
  double train_loss = 0, val_loss = 0;  // of the epoch whose parameters were kept
  json loss_curve;                      // {"train": [...], "val": [...]}, one value per epoch run
  CellStatus status = CellStatus::Ok;
  std::string error;
  std::string fallback;  // "engine (precision)" when engine.fallback trained the model, else empty
};

// A cell whose member models are in flight.
struct PendingCell {
  const Cell* cell;
  std::size_t series = 0;  // in plan.series
  // Reading the series again for its batches (RunSeries::get). The prepared series itself is held by
  // each batch that trains one of the cell's models, for that batch only, and the batch that brings the
  // last model back scores the cell with it: a cell whose models train in several batches (an ensemble
  // over shapes) does not keep its series in memory between them.
  double seconds_reload = 0;
  std::vector<json> members;  // the members' values
  std::vector<std::vector<double>> errors;
  std::vector<MemberFacts> facts;
  int left = 0;
  bool started = false;
  double seconds_train = 0;
  double seconds_forecast =
      0;  // its share of its batches' forecasting (with retraining, the fine-tuning too)
  std::mutex mutex;
};

class CellExecution {
 public:
  CellExecution(const CellRun& run, Progress& progress)
      : run_(run),
        cfg_(*run.cfg),
        plan_(*run.plan),
        progress_(progress),
        save_models_(at_path(cfg_, "run.save_models").get<bool>()) {}

  CellsOutcome run(const std::vector<const Cell*>& todo, Engine* engine, const std::atomic<int>& stop);

 private:
  CellResult base_result(const Cell& c) const;
  void finish(CellResult r);
  // Turns the cells into member models (`runnable_`, `pending_`) and their scheduler work; cells that
  // cannot train fail here.
  std::vector<CellWork> prepare(const std::vector<const Cell*>& todo);
  // Scores a cell whose members are all back: the mean of their errors through the detector, on `data`
  // (null only where a member failed, when nothing is scored).
  void score_cell(PendingCell& pc, const PreparedSeries* data);
  // Trains one ModelBatch on `eng` (or on `fallback`, when given and `eng` refuses the batch), predicts,
  // and scores the cells whose last member it holds.
  void run_batch(Engine& eng, Engine* fallback, const ScheduledBatch& batch);
  // The batch's models, initialised, with the member each one is (`job_cells`) and the prepared series it
  // reads (`job_data`, held for the batch); counts their cells started. A model whose series cannot be read
  // again fails its cell here.
  std::vector<ModelJob> batch_jobs(const ScheduledBatch& batch, std::vector<const Runnable*>& job_cells,
                                   std::vector<std::shared_ptr<const PreparedSeries>>& job_data);
  // `eng`, or `fallback` where `eng` refuses the batch and the fallback takes it (said once per shape);
  // throws UnsupportedError with both reasons where neither can.
  Engine& training_engine(Engine& eng, Engine* fallback, const BatchKey& key, const TrainOptions& options);
  // run.save_models: writes each trained model; per model, why it could not be written (else empty).
  std::vector<std::string> save_batch_models(const std::vector<ModelJob>& jobs,
                                             const std::vector<const Runnable*>& job_cells,
                                             const BatchKey& key) const;
  // One member is back: its facts and prediction errors go to its cell, which is scored (on `data`, the
  // series as this batch holds it) when it was the last.
  void member_done(const Runnable& u, MemberFacts f, std::vector<double>& errors, double train_seconds,
                   double forecast_seconds, const PreparedSeries* data);
  // One queue's batches in order; queue 0 runs on `engine`, the others on engines of their own.
  void run_queue(std::size_t q, Engine* engine, const std::atomic<int>& stop);

  const CellRun& run_;
  const json& cfg_;
  const Plan& plan_;
  Progress& progress_;
  const bool save_models_;
  Schedule schedule_;
  std::vector<Runnable> runnable_;
  // Member models that another cell's member already is (same series, seed and model and train values:
  // settings that differ only in detector.*): trained once, as the leader's runnable, whose facts and
  // errors each follower receives. Leader runnable -> its followers.
  std::map<size_t, std::vector<size_t>> followers_;
  // The followers of runnable `u` (an element of runnable_), none when no other cell shares its model.
  const std::vector<size_t>& followers_of(const Runnable& u) const {
    static const std::vector<size_t> none;
    const auto f = followers_.find(static_cast<size_t>(&u - runnable_.data()));
    return f == followers_.end() ? none : f->second;
  }
  std::size_t shared_ = 0;
  std::vector<std::unique_ptr<PendingCell>> pending_;
  std::vector<CellResult> results_;
  std::mutex results_mutex_;
  std::atomic<bool> interrupted_{false};
  std::mutex fallback_mutex_;
  std::set<std::string> fallback_warned_;  // shapes already reported as run by engine.fallback
};

CellResult CellExecution::base_result(const Cell& c) const {
  CellResult r;
  identify_cell(r, plan_, c);
  return r;
}

void CellExecution::finish(CellResult r) {
  run_.store->write_cell(r);  // after its NAB-format scores: the cell file marks the cell finished
  if (!run_.keep_scores) std::vector<double>().swap(r.scores);
  const std::string& dir = run_.dir;
  std::lock_guard<std::mutex> lock(results_mutex_);
  if (r.status != CellStatus::Ok) {
    log::error("cell " + r.id + " (" + r.detector + ", " + r.series + "): " + to_string(r.status) + ": " +
               r.error);
    files::make_dirs(dir + "/failed");
    files::write_atomic(dir + "/failed/" + r.id + ".log", "cell " + r.id + "\ndetector " + r.detector +
                                                              "\nseries " + r.series + "\nstatus " +
                                                              to_string(r.status) + "\n" + r.error + "\n");
  } else {
    std::error_code ec;  // a retried cell that now succeeds: its old failure is no longer the record
    fs::remove(dir + "/failed/" + r.id + ".log", ec);
  }
  progress_.finished(r.status == CellStatus::Ok);
  results_.push_back(std::move(r));
}

std::vector<CellWork> CellExecution::prepare(const std::vector<const Cell*>& todo) {
  std::map<std::string, size_t> leader_of;  // series, seed and model identity -> the runnable that trains it
  std::map<std::string, size_t> series_index;
  for (size_t i = 0; i < plan_.series.size(); ++i) series_index[plan_.series[i]] = i;
  std::vector<CellWork> work;
  for (const Cell* c : todo) {
    const size_t si = series_index[c->series];
    const RunSeries& series = *run_.series;
    if (!series.ok(si)) {
      CellResult r = base_result(*c);
      r.status = CellStatus::Error;
      r.error = series.error(si);
      r.seconds_prepare = series.seconds(si);
      finish(std::move(r));
      continue;
    }
    const json& v = plan_.settings[static_cast<size_t>(c->setting)].values;
    const SeriesFacts& p = series.facts(si);
    auto pc = std::make_unique<PendingCell>();
    pc->cell = c;
    pc->series = si;
    pc->members = ensemble_members(v);
    const size_t M = pc->members.size();
    // Every member must have training windows (and, when it retrains, windows to fine-tune on) before any
    // is trained.
    std::vector<CellWork> cell_work;
    for (size_t m = 0; m < M; ++m) {
      const WindowSplit ws = window_split(p.rows, p.train_end, pc->members[m]);
      CellWork w;
      w.key = batch_key(pc->members[m], p.input_dims);
      std::string why;
      if (ws.train.empty())
        why = p.path + ": " + std::to_string(p.train_end) + " training rows are too few for window " +
              std::to_string(w.key.window) + " and horizon " + std::to_string(w.key.shape.horizon);
      else  // a property of the member's values, which validate and plan name too
        why = member_problem(pc->members[m]);
      if (!why.empty()) {
        CellResult r = base_result(*c);
        r.status = CellStatus::Error;
        r.rows = p.rows;
        r.train_rows = p.train_end;
        r.error = why;
        finish(std::move(r));
        break;
      }
      w.cell = static_cast<int>(runnable_.size() + m);
      w.rows = p.rows;
      w.train = static_cast<long long>(ws.train.size());
      w.val = static_cast<long long>(ws.val.size());
      w.epochs = at_path(pc->members[m], "train.epochs").get<int>();
      cell_work.push_back(w);
    }
    if (cell_work.size() < M) continue;
    for (size_t m = 0; m < M; ++m) {
      const size_t k = runnable_.size();
      runnable_.push_back({pending_.size(), m});
      // The model's training depends on its series, its seed and its model.* and train.* values, never on
      // the detector: one that another cell's member already is gets that member's results.
      const std::string identity =
          c->series + "|" + std::to_string(c->member_seeds[m]) + "|" + model_identity(pc->members[m]).dump();
      if (const auto [it, fresh] = leader_of.emplace(identity, k); !fresh) {
        followers_[it->second].push_back(k);
        ++shared_;
        continue;
      }
      work.push_back(cell_work[m]);
    }
    pc->left = static_cast<int>(M);
    pc->errors.resize(M);
    pc->facts.resize(M);
    pending_.push_back(std::move(pc));
  }
  return work;
}

void CellExecution::score_cell(PendingCell& pc, const PreparedSeries* data) {
  const Cell& c = *pc.cell;
  const SeriesFacts& facts = run_.series->facts(pc.series);
  const json& v = plan_.settings[static_cast<size_t>(c.setting)].values;
  CellResult r = base_result(c);
  r.rows = facts.rows;
  r.train_rows = facts.train_end;
  r.time_features = facts.time_features;
  r.seconds_prepare = run_.series->seconds(pc.series) + pc.seconds_reload;
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
      const std::string who =
          M > 1 ? "ensemble member " + r.members[m]["values"].dump() + ": " : std::string();
      if (f.status == CellStatus::Error) throw Error(who + f.error);
      r.status = f.status;  // NONFINITE or TIMEOUT
      r.error = who + f.error;
      break;
    }
    if (r.status == CellStatus::Ok) {
      if (data == nullptr) throw Error("no prepared series for this cell's models");  // every member had it
      const PreparedSeries& p = *data;
      const int n = p.series.rows();
      const std::vector<double> errors = mean_of_errors(pc.errors);
      std::vector<double> values(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) values[static_cast<size_t>(i)] = p.series.value(i);
      DetectorOptions series_dopt = detector_options(v);
      series_dopt.train_rows = p.train_end;
      series_dopt.value_scale = p.norm.scale.at(0);
      r.scores = anomaly_scores_from_errors(errors, values, series_dopt);
      r.metrics = series_metrics(p, r.scores, cfg_);
      run_.store->write_nab_scores(r.detector, p.series, r.scores, &errors);
      if (save_models_) {  // before the cell file: a finished cell of such a run has its models
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
        save_cell_models(run_.dir, sc);
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
}

std::vector<ModelJob> CellExecution::batch_jobs(
    const ScheduledBatch& batch, std::vector<const Runnable*>& job_cells,
    std::vector<std::shared_ptr<const PreparedSeries>>& job_data) {
  // The batch's series first, read again where not kept (several at once, each once however many of
  // its cells the batch holds).
  std::vector<std::size_t> wanted;
  for (int k : batch.cells) wanted.push_back(pending_[runnable_[static_cast<size_t>(k)].cell]->series);
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<std::shared_ptr<const PreparedSeries>> got(wanted.size());
  std::vector<std::string> got_error(wanted.size());
  std::vector<double> got_seconds(wanted.size());
  parallel_for(wanted.size(), static_cast<size_t>(run_.threads), [&](size_t w) {
    const auto t0 = Clock::now();
    try {
      got[w] = run_.series->get(wanted[w]);
    } catch (const std::exception& e) {
      got_error[w] = e.what();
    }
    got_seconds[w] = since(t0);
  });

  std::vector<ModelJob> jobs;
  std::vector<std::pair<const Runnable*, std::string>> unread;  // models whose series did not read again
  int newly_started = 0;
  for (int k : batch.cells) {
    const Runnable& u = runnable_[static_cast<size_t>(k)];
    PendingCell& pc = *pending_[u.cell];
    const size_t w =
        static_cast<size_t>(std::lower_bound(wanted.begin(), wanted.end(), pc.series) - wanted.begin());
    // The cells of the followers start with their leader.
    std::vector<size_t> starting{u.cell};
    for (size_t follower : followers_of(u)) starting.push_back(runnable_[follower].cell);
    for (size_t cell : starting) {
      PendingCell& sc = *pending_[cell];
      std::lock_guard<std::mutex> lock(sc.mutex);
      if (!sc.started) ++newly_started;
      sc.started = true;
      sc.seconds_reload += got_seconds[w];
    }
    if (!got[w]) {
      unread.emplace_back(&u, got_error[w]);
      continue;
    }
    const json& v = pc.members[u.member];
    const uint64_t seed = pc.cell->member_seeds[u.member];
    const json& fb = at_path(v, "model.forget_bias");
    std::optional<double> forget_bias;
    if (fb.is_number()) forget_bias = fb.get<double>();
    ModelJob job;
    job.data = make_window_source(*got[w], v);
    job.params = init_params(batch.key.shape, seed, forget_bias);
    job.options = train_options(v, seed);
    jobs.push_back(std::move(job));
    job_cells.push_back(&u);
    job_data.push_back(got[w]);
  }
  if (newly_started > 0) progress_.started(newly_started);
  for (const auto& [u, error] : unread) {  // those models fail their cells; the batch trains the others
    MemberFacts f;
    f.status = CellStatus::Error;
    f.error = error;
    for (size_t follower : followers_of(*u)) {
      std::vector<double> none;
      member_done(runnable_[follower], f, none, 0.0, 0.0, nullptr);
    }
    std::vector<double> none;
    member_done(*u, std::move(f), none, 0.0, 0.0, nullptr);
  }
  return jobs;
}

Engine& CellExecution::training_engine(Engine& eng, Engine* fallback, const BatchKey& key,
                                       const TrainOptions& options) {
  std::string why = eng.unsupported_reason(key.shape, options);
  if (why.empty()) return eng;
  if (fallback != nullptr) {
    const std::string fwhy = fallback->unsupported_reason(key.shape, options);
    if (!fwhy.empty())
      throw UnsupportedError(why + "; engine.fallback " + fallback->name() + " cannot either: " + fwhy);
    const std::string what = key.shape.str() + " T=" + std::to_string(key.window);
    bool first;
    {
      std::lock_guard<std::mutex> lock(fallback_mutex_);
      first = fallback_warned_.insert(what).second;
    }
    if (first)  // once per shape: a device-less fused engine sends every model in a batch of its own
      log::warn("engine " + eng.name() + " cannot run " + what + " (" + why + "); engine.fallback " +
                fallback->name() + " (" + to_string(fallback->precision()) + ") trains and runs its models");
    return *fallback;
  }
  throw UnsupportedError(why);
}

std::vector<std::string> CellExecution::save_batch_models(const std::vector<ModelJob>& jobs,
                                                          const std::vector<const Runnable*>& job_cells,
                                                          const BatchKey& key) const {
  std::vector<std::string> save_error(jobs.size());
  if (!save_models_) return save_error;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (jobs[j].result.status != TrainStatus::Ok) continue;
    try {
      save_member_model(run_.dir, pending_[job_cells[j]->cell]->cell->id, job_cells[j]->member, key.shape,
                        key.window, jobs[j].params);
      // Each cell keeps its own copy: `lstmad detect` reads a cell's models from its own folder.
      for (size_t follower : followers_of(*job_cells[j]))
        save_member_model(run_.dir, pending_[runnable_[follower].cell]->cell->id, runnable_[follower].member,
                          key.shape, key.window, jobs[j].params);
    } catch (const std::exception& e) {
      save_error[j] = std::string("run.save_models: ") + e.what();
    }
  }
  return save_error;
}

namespace {

// What training left of `job`, and its status: `error` (the batch's or the model's own failure to train,
// forecast or be saved) first, then the training result's.
MemberFacts member_facts(const ModelJob& job, const std::string& error) {
  MemberFacts f;
  f.epochs = job.result.epochs_run;
  f.best_epoch = job.result.best_epoch;
  // Both losses describe the parameters that score: the best validation epoch's, or the last epoch's
  // where every epoch's parameters are kept in turn (no validation split).
  const auto kept = [&](const std::vector<double>& curve) {
    if (curve.empty()) return std::nan("");
    const int b = job.result.best_epoch;
    return curve[b >= 0 && b < static_cast<int>(curve.size()) ? static_cast<size_t>(b) : curve.size() - 1];
  };
  f.train_loss = kept(job.result.train_loss);
  f.val_loss = kept(job.result.val_loss);
  f.loss_curve = {{"train", finite_or_null(job.result.train_loss)},
                  {"val", finite_or_null(job.result.val_loss)}};
  if (!error.empty()) {
    f.status = CellStatus::Error;
    f.error = error;
  } else if (job.result.status == TrainStatus::NonFinite) {
    f.status = CellStatus::NonFinite;
    f.error = job.result.message.empty() ? "training produced a non-finite loss" : job.result.message;
  } else if (job.result.status == TrainStatus::Timeout) {
    f.status = CellStatus::Timeout;
    f.error = "run.max_train_seconds: " + job.result.message;
  }
  return f;
}

}  // namespace

void CellExecution::member_done(const Runnable& u, MemberFacts f, std::vector<double>& errors,
                                double train_seconds, double forecast_seconds, const PreparedSeries* data) {
  PendingCell& pc = *pending_[u.cell];
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(pc.mutex);
    const size_t m = u.member;
    if (f.status == CellStatus::Ok) pc.errors[m] = std::move(errors);
    pc.facts[m] = std::move(f);
    pc.seconds_train += train_seconds;
    pc.seconds_forecast += forecast_seconds;
    last = --pc.left == 0;
  }
  if (last) score_cell(pc, data);
}

void CellExecution::run_batch(Engine& eng, Engine* fallback, const ScheduledBatch& batch) {
  std::vector<const Runnable*> job_cells;
  std::vector<std::shared_ptr<const PreparedSeries>> job_data;  // held until the batch's cells are scored
  std::vector<ModelJob> jobs = batch_jobs(batch, job_cells, job_data);
  if (jobs.empty()) return;
  const ModelShape shape = batch.key.shape;
  const auto t_train = Clock::now();
  std::string batch_error;
  Engine* use = &eng;
  try {
    use = &training_engine(eng, fallback, batch.key, jobs.front().options);
    use->train(shape, jobs);
  } catch (const std::exception& e) {
    batch_error = e.what();
  }
  // run.save_models: each model as training left it (stream_errors may fine-tune it further), written
  // before anything scores it. A model that cannot be written fails its cell.
  const std::vector<std::string> save_error = batch_error.empty()
                                                  ? save_batch_models(jobs, job_cells, batch.key)
                                                  : std::vector<std::string>(jobs.size());
  const double train_seconds = since(t_train) / static_cast<double>(jobs.size());
  const auto t_forecast = Clock::now();
  std::vector<std::vector<double>> prediction_errors(jobs.size());
  std::string stream_error;
  if (batch_error.empty()) {
    std::vector<const PreparedSeries*> data;
    for (const auto& d : job_data) data.push_back(d.get());
    try {
      prediction_errors =
          stream_errors(*use, shape, batch.key.window, jobs, data, retraining_of(batch.key), run_.threads);
    } catch (const std::exception& e) {
      stream_error = e.what();
    }
  }
  const double forecast_seconds = since(t_forecast) / static_cast<double>(jobs.size());
  parallel_for(jobs.size(), static_cast<size_t>(run_.threads), [&](size_t j) {
    const std::string& error = !batch_error.empty()    ? batch_error
                               : !stream_error.empty() ? stream_error
                                                       : save_error[j];
    MemberFacts f = member_facts(jobs[j], error);
    if (use != &eng) f.fallback = use->name() + " (" + to_string(use->precision()) + ")";
    // The same model's followers get copies; the time was spent once, on the leader.
    for (size_t follower : followers_of(*job_cells[j])) {
      std::vector<double> copy = prediction_errors[j];
      member_done(runnable_[follower], f, copy, 0.0, 0.0, job_data[j].get());
    }
    member_done(*job_cells[j], std::move(f), prediction_errors[j], train_seconds, forecast_seconds,
                job_data[j].get());
  });
}

void CellExecution::run_queue(std::size_t q, Engine* engine, const std::atomic<int>& stop) {
  std::unique_ptr<Engine> own;
  Engine* eng = engine;
  if (q > 0) {
    EngineOptions eo = engine_options(cfg_, run_.threads);
    eo.device = schedule_.devices[q];
    own = make_engine(eo);
    eng = own.get();
  }
  const std::unique_ptr<Engine> fallback = fallback_engine(
      cfg_, run_.threads,
      q < schedule_.devices.size() ? schedule_.devices[q] : at_path(cfg_, "engine.device").get<int>());
  for (const ScheduledBatch& b : schedule_.queues[q]) {
    if (interrupted_) return;
    if (stop.load() > 0) {
      interrupted_ = true;
      return;
    }
    run_batch(*eng, fallback.get(), b);
  }
}

CellsOutcome CellExecution::run(const std::vector<const Cell*>& todo, Engine* engine,
                                const std::atomic<int>& stop) {
  const std::vector<CellWork> work = prepare(todo);
  SchedulerOptions so;
  so.engine = at_path(cfg_, "engine.name").get<std::string>();
  so.precision = parse_precision(at_path(cfg_, "engine.precision").get<std::string>());
  so.threads = run_.threads;
  so.batch_models = at_path(cfg_, "run.batch_models").get<int>();
  so.devices = scheduler_devices(cfg_);
  schedule_ = schedule_cells(work, so);
  if (schedule_.batches() > 0)
    log::info(std::to_string(work.size()) + " model(s) in " + std::to_string(schedule_.batches()) +
              " ModelBatch(es) on " + std::to_string(schedule_.queues.size()) + " queue(s)" +
              (shared_ > 0 ? "; " + std::to_string(shared_) +
                                 " more cell member(s) share one of these (settings that differ only in "
                                 "detector.*)"
                           : std::string()));
  if (schedule_.queues.size() > 1)
    for (std::size_t q = 0; q < schedule_.queues.size(); ++q) {
      std::size_t models = 0;
      for (const ScheduledBatch& b : schedule_.queues[q]) models += b.cells.size();
      log::info("queue " + std::to_string(q) + " on device " + std::to_string(schedule_.devices[q]) + ": " +
                std::to_string(schedule_.queues[q].size()) + " ModelBatch(es), " + std::to_string(models) +
                " model(s)");
    }

  if (schedule_.queues.size() <= 1) {
    if (!schedule_.queues.empty()) run_queue(0, engine, stop);
  } else {  // one worker per queue
    std::vector<std::thread> workers;
    std::vector<std::string> errors(schedule_.queues.size());
    for (std::size_t q = 0; q < schedule_.queues.size(); ++q)
      workers.emplace_back([&, q] {
        try {
          run_queue(q, engine, stop);
        } catch (const std::exception& e) {
          errors[q] = e.what();
        }
      });
    for (auto& w : workers) w.join();
    for (std::size_t q = 0; q < errors.size(); ++q)
      if (!errors[q].empty())
        throw Error("device " + std::to_string(schedule_.devices[q]) + ": " + errors[q]);
  }
  CellsOutcome out;
  out.results = std::move(results_);
  out.interrupted = interrupted_.load();
  return out;
}

}  // namespace

CellsOutcome run_cells(const CellRun& run, const std::vector<const Cell*>& todo, Engine* engine,
                       Progress& progress, const std::atomic<int>& stop) {
  CellExecution execution(run, progress);
  return execution.run(todo, engine, stop);
}

}  // namespace lstmad
