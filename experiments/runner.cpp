#include "experiments/runner.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/rng.hpp"
#include "core/thread_pool.hpp"
#include "data/windows.hpp"
#include "detect/detector.hpp"
#include "experiments/corpus.hpp"
#include "experiments/evaluation.hpp"
#include "experiments/plan.hpp"
#include "experiments/prepare.hpp"
#include "experiments/results.hpp"
#include "lstm/engine.hpp"
#include "lstm/init.hpp"
#ifdef LSTMAD_WITH_CUDA
#include "kernels/device_query.hpp"
#endif

namespace lstmad {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string utc_stamp(const char* fmt) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

TrainOptions train_options(const json& v, uint64_t seed) {
  TrainOptions o;
  o.window = at_path(v, "model.window").get<int>();
  o.batch = at_path(v, "train.batch").get<int>();
  o.epochs = at_path(v, "train.epochs").get<int>();
  o.adam.lr = at_path(v, "train.lr").get<double>();
  o.adam.weight_decay = at_path(v, "train.weight_decay").get<double>();
  o.clip_norm = at_path(v, "train.clip_norm").get<double>();
  o.patience = at_path(v, "train.patience").get<int>();
  o.min_delta = at_path(v, "train.min_delta").get<double>();
  o.seed = splitmix64(seed ^ 0x5eedULL);  // minibatch order: independent of the initialisation stream
  return o;
}

DetectorOptions detector_options(const json& v) {
  DetectorOptions d;
  d.score = at_path(v, "detector.score").get<std::string>();
  d.smoothing = at_path(v, "detector.smoothing").get<int>();
  d.error_floor = at_path(v, "detector.error_floor").get<double>();
  d.likelihood.long_window = at_path(v, "detector.likelihood.long_window").get<int>();
  d.likelihood.short_window = at_path(v, "detector.likelihood.short_window").get<int>();
  d.likelihood.log_scale = at_path(v, "detector.likelihood.log").get<bool>();
  d.suppress = at_path(v, "detector.suppress").get<double>();
  d.suppress_level = at_path(v, "detector.suppress_level").get<double>();
  return d;
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
  json inputs = json::object();
  for (const auto& f : corpus.input_files()) {
    std::string rel = fs::path(f).lexically_relative(corpus.root).string();
    try {
      inputs[rel] = files::sha256_file(f);
    } catch (const std::exception& e) {
      inputs[rel] = std::string("unreadable: ") + e.what();
    }
  }
  return json{{"lstmad_version", LSTMAD_VERSION}, {"git_hash", LSTMAD_GIT_HASH}, {"build_type", LSTMAD_BUILD_TYPE},
              {"host", host}, {"started_utc", utc_stamp("%Y-%m-%dT%H:%M:%SZ")},
              {"config_file", ro.config_path}, {"overrides", ro.overrides},
              {"engine", cfg.at("engine")}, {"threads", threads}, {"hardware_threads", ThreadPool::hardware_threads()},
              {"devices", devices}, {"seed", at_path(cfg, "run.seed")},
              {"corpus", {{"format", corpus.format}, {"root", corpus.root}, {"series", corpus.series.size()},
                          {"windows", corpus.total_windows}}},
              {"cells", plan.cells.size()}, {"settings", plan.settings.size()}, {"input_sha256", inputs}};
}

}  // namespace

RunOutcome run_experiment(const json& cfg, const RunOptions& ro) {
  const auto t_run = Clock::now();
  RunOutcome outcome;
  // The run folder.
  std::string dir = ro.out_dir;
  if (dir.empty())
    dir = at_path(cfg, "run.out").get<std::string>() + "/" + utc_stamp("%Y%m%d-%H%M%S") + "-" +
          at_path(cfg, "run.name").get<std::string>();
  if (files::exists(dir + "/config.json"))
    throw IoError(dir + ": already holds a run; choose another --out");
  files::make_dirs(dir);
  outcome.run_dir = dir;
  files::write_atomic(dir + "/config.json", cfg.dump(2) + "\n");
  log::set_file(dir + "/log.txt");
  log::info("run folder " + dir);

  int threads = ro.threads > 0 ? ro.threads : at_path(cfg, "run.threads").get<int>();
  if (threads <= 0) threads = static_cast<int>(ThreadPool::hardware_threads());

  Corpus corpus = resolve_corpus(cfg, dir);
  Plan plan = make_plan(cfg, corpus.series);
  files::write_atomic(dir + "/manifest.json", manifest_json(cfg, ro, corpus, plan, threads).dump(2) + "\n");
  log::info(std::to_string(plan.cells.size()) + " cells: " + std::to_string(plan.settings.size()) + " setting(s) x " +
            std::to_string(plan.series.size()) + " series, engine " + at_path(cfg, "engine.name").get<std::string>() +
            ", " + std::to_string(threads) + " thread(s)");
  ResultsStore store(dir);

  // Load and prepare every series once; a series that fails fails its own cells only.
  struct Loaded {
    std::optional<PreparedSeries> data;
    std::string error;
    double seconds = 0;
  };
  std::vector<Loaded> loaded(plan.series.size());
  parallel_for(plan.series.size(), static_cast<size_t>(threads), [&](size_t i) {
    auto t0 = Clock::now();
    try {
      loaded[i].data = prepare_series(corpus.load(plan.series[i]), cfg);
    } catch (const std::exception& e) {
      loaded[i].error = e.what();
      log::error(plan.series[i] + ": " + e.what());
    }
    loaded[i].seconds = since(t0);
  });
  std::map<std::string, size_t> series_index;
  for (size_t i = 0; i < plan.series.size(); ++i) series_index[plan.series[i]] = i;

  EngineOptions eo;
  eo.name = at_path(cfg, "engine.name").get<std::string>();
  eo.precision = parse_precision(at_path(cfg, "engine.precision").get<std::string>());
  eo.threads = threads;
  eo.device = at_path(cfg, "engine.device").get<int>();
  eo.algo = at_path(cfg, "engine.algo").get<std::string>();
  eo.streams = at_path(cfg, "engine.streams").get<int>();
  std::unique_ptr<Engine> engine = make_engine(eo);

  std::vector<CellResult> results(plan.cells.size());
  std::vector<bool> done(plan.cells.size(), false);
  std::mutex results_mutex;
  auto finish = [&](CellResult r) {
    store.write_cell(r);
    std::lock_guard<std::mutex> lock(results_mutex);
    if (r.status != CellStatus::Ok)
      log::error("cell " + r.id + " (" + r.detector + ", " + r.series + "): " + to_string(r.status) + ": " + r.error);
    size_t idx = static_cast<size_t>(r.index);
    done[idx] = true;
    results[idx] = std::move(r);
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

  // ModelBatches: cells of one setting and one input width share a model shape and window.
  std::map<std::pair<int, int>, std::vector<const Cell*>> groups;
  for (const auto& c : plan.cells) {
    const Loaded& L = loaded[series_index[c.series]];
    if (!L.data) {
      CellResult r = base_result(c);
      r.status = CellStatus::Error;
      r.error = L.error;
      r.seconds_prepare = L.seconds;
      finish(std::move(r));
      continue;
    }
    groups[{c.setting, L.data->series.dims}].push_back(&c);
  }
  int batch_models = at_path(cfg, "run.batch_models").get<int>();
  const size_t chunk = batch_models > 0 ? static_cast<size_t>(batch_models) : static_cast<size_t>(2 * threads);

  size_t finished = 0;
  for (auto& [key, cells] : groups) {
    const Setting& setting = plan.settings[static_cast<size_t>(key.first)];
    const json& v = setting.values;
    const ModelShape shape = setting_shape(v, key.second);
    const int window = at_path(v, "model.window").get<int>();
    const json& fb = at_path(v, "model.forget_bias");
    std::optional<double> forget_bias;
    if (fb.is_number()) forget_bias = fb.get<double>();
    const DetectorOptions dopt = detector_options(v);

    for (size_t begin = 0; begin < cells.size(); begin += chunk) {
      const size_t end = std::min(cells.size(), begin + chunk);
      std::vector<ModelJob> jobs;
      std::vector<const Cell*> job_cells;
      for (size_t k = begin; k < end; ++k) {
        const Cell& c = *cells[k];
        const PreparedSeries& p = *loaded[series_index[c.series]].data;
        ModelJob job;
        job.data = make_window_source(p, v);
        if (job.data.train.empty()) {
          CellResult r = base_result(c);
          r.status = CellStatus::Error;
          r.rows = p.series.rows();
          r.error = p.series.path + ": " + std::to_string(p.train_end) + " training rows are too few for window " +
                    std::to_string(window) + " and horizon " + std::to_string(shape.horizon);
          finish(std::move(r));
          continue;
        }
        job.params = init_params(shape, c.seed, forget_bias);
        job.options = train_options(v, c.seed);
        jobs.push_back(std::move(job));
        job_cells.push_back(&c);
      }
      if (jobs.empty()) continue;
      auto t_train = Clock::now();
      std::string batch_error;
      try {
        std::string why = engine->unsupported_reason(shape, jobs.front().options);
        if (!why.empty()) throw UnsupportedError(why);
        engine->train(shape, jobs);
      } catch (const std::exception& e) {
        batch_error = e.what();
      }
      const double train_seconds = since(t_train) / static_cast<double>(jobs.size());

      parallel_for(jobs.size(), static_cast<size_t>(threads), [&](size_t j) {
        const Cell& c = *job_cells[j];
        const Loaded& L = loaded[series_index[c.series]];
        const PreparedSeries& p = *L.data;
        ModelJob& job = jobs[j];
        CellResult r = base_result(c);
        r.rows = p.series.rows();
        r.seconds_prepare = L.seconds;
        r.seconds_train = train_seconds;
        auto t0 = Clock::now();
        try {
          if (!batch_error.empty()) throw Error(batch_error);
          r.epochs = job.result.epochs_run;
          r.best_epoch = job.result.best_epoch;
          r.train_loss = job.result.train_loss.empty() ? std::nan("") : job.result.train_loss.back();
          r.val_loss = job.result.val_loss.empty()
                           ? std::nan("")
                           : job.result.val_loss[static_cast<size_t>(
                                 job.result.best_epoch >= 0 ? job.result.best_epoch
                                                            : static_cast<int>(job.result.val_loss.size()) - 1)];
          if (job.result.status == TrainStatus::NonFinite) {
            r.status = CellStatus::NonFinite;
            r.error = job.result.message.empty() ? "training produced a non-finite loss" : job.result.message;
          } else {
            // Predict every row that has a full window before it.
            const int n = p.series.rows();
            std::vector<int> starts = prediction_starts(n, window);
            std::vector<float> out(starts.size() * static_cast<size_t>(shape.horizon));
            engine->predict(shape, window, job.params, p.x.data(), n, starts, out.data());
            std::vector<double> predicted(static_cast<size_t>(n), std::nan(""));
            for (size_t k = 0; k < starts.size(); ++k)
              predicted[static_cast<size_t>(starts[k] + window)] = out[k * static_cast<size_t>(shape.horizon)];
            r.scores = anomaly_scores(p.target, predicted, dopt);
            r.metrics = series_metrics(p, r.scores, cfg);
            store.write_nab_scores(r.detector, p.series, r.scores);
          }
        } catch (const std::exception& e) {
          r.status = CellStatus::Error;
          r.error = e.what();
        }
        r.seconds_predict = since(t0);
        r.seconds_total = r.seconds_prepare + r.seconds_train + r.seconds_predict;
        finish(std::move(r));
      });
      finished += jobs.size();
      log::info(std::to_string(finished) + "/" + std::to_string(plan.cells.size()) + " cells trained");
    }
  }

  std::vector<CellResult> all;
  for (size_t i = 0; i < results.size(); ++i)
    if (done[i]) all.push_back(results[i]);
  store.write_results_csv(plan, all);
  for (const auto& r : all) (r.status == CellStatus::Ok ? outcome.ok : outcome.failed)++;
  outcome.cells = static_cast<int>(plan.cells.size());

  std::map<std::string, std::vector<LabelWindow>> windows;
  for (size_t i = 0; i < plan.series.size(); ++i)
    if (loaded[i].data) windows[plan.series[i]] = loaded[i].data->series.windows;
  CorpusEvaluation ev = evaluate_corpus(plan, corpus, all, windows, cfg, store);
  outcome.nab_scores = ev.nab_scores;
  outcome.table = summary_table(plan, all, ev, cfg, since(t_run));
  files::write_atomic(dir + "/table.md", outcome.table);
  log::info("finished in " + std::to_string(since(t_run)) + " s: " + std::to_string(outcome.ok) + " OK, " +
            std::to_string(outcome.failed) + " failed; results in " + dir);
  log::set_file("");
  return outcome;
}

}  // namespace lstmad
