// `lstmad detect` (see detect.hpp).
#include "experiments/detect.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "core/thread_pool.hpp"
#include "data/csv_reader.hpp"
#include "detect/detector.hpp"
#include "experiments/cell_pipeline.hpp"
#include "experiments/corpus.hpp"
#include "experiments/plan.hpp"
#include "experiments/prepare.hpp"
#include "experiments/results.hpp"
#include "experiments/runner.hpp"
#include "experiments/saved_models.hpp"
#include "experiments/scheduler.hpp"
#include "lstm/engine.hpp"
#include "train/checkpoint.hpp"

namespace lstmad {
namespace fs = std::filesystem;
namespace {

// Every cell of the run whose models were saved and scored (model.json written), in id order. A damaged
// index is named in a warning, left out, and its error kept in `damaged` under the cell's id.
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
    } catch (const std::exception& e) {
      log::warn(std::string("skipped: ") + e.what());
      damaged[id] = std::current_exception();
    }
  }
  return out;
}

std::string listing(const std::set<std::string>& names) {
  std::string s;
  size_t k = 0;
  for (const auto& n : names) {
    if (k == 12) return s + " (and " + std::to_string(names.size() - k) + " more)";
    s += (k++ ? ", " : "") + n;
  }
  return s;
}

const SavedCell& choose_cell(const std::vector<SavedCell>& saved, const DetectOptions& o,
                             const std::string& run_dir) {
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
  if (!found)
    throw ConfigError("--series " + o.series + ": detector " + det + " has no saved models for it; it has " +
                      listing(series));
  return *found;
}

// The threshold that makes alarms: --threshold, else the run's corpus-optimal NAB threshold of the
// profile for this detector (nab_thresholds.json), else none.
void choose_threshold(Detection& d, const DetectOptions& o) {
  if (!std::isnan(o.threshold)) {
    d.threshold = o.threshold;
    d.threshold_from = "--threshold";
    return;
  }
  const std::string path = o.run_dir + "/nab_thresholds.json";
  if (!files::exists(path)) {
    log::warn(o.run_dir +
              " has no nab_thresholds.json (eval.nab off, or an unlabeled corpus): no alarms; give "
              "--threshold for them");
    return;
  }
  const json j = read_json_file(path);
  if (!j.is_object()) throw DataError(path, 0, "expected an object of detectors, got " + json_excerpt(j));
  if (!j.contains(d.detector) || !j[d.detector].is_object()) {
    log::warn(path + " holds no threshold of detector " + d.detector +
              ": no alarms; give --threshold for them");
    return;
  }
  const json& per = j[d.detector];
  if (!per.contains(o.profile)) {
    std::set<std::string> profiles;
    for (auto it = per.begin(); it != per.end(); ++it) profiles.insert(it.key());
    throw ConfigError("--profile " + o.profile + ": " + path + " has thresholds of " + listing(profiles));
  }
  const json& t = per[o.profile];
  if (!t.is_object() || !t.contains("threshold") || !t["threshold"].is_number())
    throw DataError(path, 0, d.detector + "." + o.profile + " has no numeric threshold");
  d.threshold = t["threshold"].get<double>();
  d.threshold_from = "the run's NAB " + o.profile + " threshold";
}

// The series to score: the run corpus' own (no --file), or --file in the corpus' layout.
Series series_to_score(const json& cfg, const DetectOptions& o, const SavedCell& sc) {
  if (o.file.empty()) return resolve_corpus(cfg, o.run_dir, /*read_only=*/true).load(sc.series);
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
      Checkpoint ck = load_checkpoint(ck_path, key.shape);
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
      throw NoDeviceError(std::string(err.what()) + " (--engine cpu runs the models on the CPU)");
    } catch (const DeviceError& err) {
      throw DeviceError(std::string(err.what()) + " (--engine cpu runs the models on the CPU)");
    }
    for (size_t k = 0; k < ms.size(); ++k) errors[ms[k]] = std::move(e[k]);
  }
  return errors;
}

}  // namespace

Detection detect(const DetectOptions& o) {
  const std::string cfg_path = o.run_dir + "/config.json";
  if (!files::exists(cfg_path)) throw IoError(o.run_dir + ": not a run folder (no config.json)");
  const json cfg = resolve_config(read_run_config(cfg_path), cfg_path);
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
  if (saved.empty() && !damaged.empty()) std::rethrow_exception(damaged.begin()->second);
  if (saved.empty())
    throw IoError(o.run_dir +
                  ": the run saved no models; run the experiment with run.save_models true "
                  "(--set run.save_models=true)");
  const SavedCell& sc = choose_cell(saved, o, o.run_dir);
  const std::string index_path = saved_models_dir(o.run_dir, sc.cell) + "/model.json";

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
                        "; the models' training part is " + std::to_string(sc.train_end) +
                        " rows and scores start after it: give the rows after it too");
  PreparedSeries p = prepare_series_as(std::move(series), cfg, sc.train_end, sc.norm, sc.time_features);

  Detection d;
  d.detector = sc.detector;
  d.series = sc.series;
  d.cell = sc.cell;
  d.train_rows = p.train_end;
  d.same_training_rows = training_rows_sha256(p.series, sc.train_end) == sc.train_sha256;
  if (!d.same_training_rows)
    log::warn(where + ": its first " + std::to_string(sc.train_end) +
              " rows are not those the models learned (" + sc.series +
              "); they are scored as a new series, on that series' normalization");

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
  choose_threshold(d, o);
  if (!std::isnan(d.threshold))
    d.alarms = static_cast<int>(
        std::count_if(d.scores.begin(), d.scores.end(), [&](double s) { return s >= d.threshold; }));
  d.data = std::move(p.series);
  return d;
}

void detection_csv(const Detection& d, const std::function<void(std::string&)>& sink) {
  const bool alarms = !std::isnan(d.threshold);
  std::string out = alarms ? "timestamp,value,anomaly_score,raw_score,alarm\n"
                           : "timestamp,value,anomaly_score,raw_score\n";
  auto put = [&out](double v) { append_shortest(out, v); };
  const bool timed = d.data.timestamps.size() == static_cast<size_t>(d.data.rows());
  for (int i = 0; i < d.data.rows(); ++i) {
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
    if (alarms) out += d.scores[k] >= d.threshold ? ",1" : ",0";
    out += '\n';
    if (out.size() >= (size_t{1} << 20)) {
      sink(out);
      out.clear();
    }
  }
  sink(out);
}

}  // namespace lstmad
