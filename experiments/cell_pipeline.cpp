// Training options, detector options and the causal forecasting of a cell (see cell_pipeline.hpp).
#include "experiments/cell_pipeline.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/log.hpp"
#include "core/rng.hpp"

namespace lstmad {

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
  o.max_seconds = at_path(v, "run.max_train_seconds").get<double>();
  o.seed = splitmix64(seed ^ 0x5eedULL);  // minibatch order: independent of the initialisation stream
  return o;
}

DetectorOptions detector_options(const json& v) {
  DetectorOptions d;
  d.score = at_path(v, "detector.score").get<std::string>();
  d.smoothing = at_path(v, "detector.smoothing").get<int>();
  d.ewma_span = at_path(v, "detector.ewma_span").get<double>();
  d.ndt.window = at_path(v, "detector.ndt.window").get<int>();
  d.ndt.z_min = at_path(v, "detector.ndt.z_min").get<double>();
  d.ndt.z_max = at_path(v, "detector.ndt.z_max").get<double>();
  d.ndt.z_step = at_path(v, "detector.ndt.z_step").get<double>();
  d.ndt.buffer = at_path(v, "detector.ndt.buffer").get<int>();
  d.ndt.prune = at_path(v, "detector.ndt.prune").get<double>();
  d.ndt.min_history = at_path(v, "detector.ndt.min_history").get<int>();
  d.error_floor = at_path(v, "detector.error_floor").get<double>();
  d.likelihood.long_window = at_path(v, "detector.likelihood.long_window").get<int>();
  d.likelihood.short_window = at_path(v, "detector.likelihood.short_window").get<int>();
  d.likelihood.log_scale = at_path(v, "detector.likelihood.log").get<bool>();
  d.likelihood.reestimate_every = at_path(v, "detector.likelihood.reestimate_every").get<int>();
  d.likelihood.mean_floor = at_path(v, "detector.likelihood.mean_floor").get<double>();
  d.likelihood.filter = at_path(v, "detector.likelihood.filter").get<bool>();
  d.learning = at_path(v, "detector.likelihood.learning").get<double>();
  d.error_cap = at_path(v, "detector.error_cap").get<double>();
  d.spatial_margin = at_path(v, "detector.spatial_margin").get<double>();
  d.suppress = at_path(v, "detector.suppress").get<double>();
  d.suppress_rows = at_path(v, "detector.suppress_rows").get<int>();
  d.suppress_level = at_path(v, "detector.suppress_level").get<double>();
  return d;
}

Retraining retraining_of(const BatchKey& key) {
  Retraining rt;
  rt.every = key.retrain_every;
  rt.rows = key.retrain_rows;
  rt.epochs = key.retrain_epochs;
  return rt;
}

std::vector<std::vector<double>> stream_errors(Engine& engine, const ModelShape& shape, int window,
                                               std::vector<ModelJob>& jobs,
                                               const std::vector<const PreparedSeries*>& data,
                                               const Retraining& rt, int threads) {
  const size_t N = jobs.size();
  const size_t h = static_cast<size_t>(shape.horizon);
  // Per row: the sum and count of the absolute errors of every prediction made for it (one per horizon
  // step, from the windows ending 1 .. horizon rows before it).
  std::vector<std::vector<double>> sum(N);
  std::vector<std::vector<int>> count(N);
  // Predicts, for each (model, [from, to)) asked, the windows whose first target row is in [from, to): all
  // models in one Engine::predict_batch call, then adds their errors to each model's rows.
  struct Span {
    size_t model;
    int from, to;
  };
  auto predict_rows = [&](const std::vector<Span>& spans) {
    std::vector<PredictJob> asks;
    std::vector<std::vector<float>> outs;
    std::vector<size_t> model;
    for (const Span& sp : spans) {
      const PreparedSeries& p = *data[sp.model];
      const int from = std::max(sp.from, window);
      if (sp.to <= from) continue;
      PredictJob a;
      a.params = &jobs[sp.model].params;
      a.x = p.x.data();
      a.n = p.series.rows();
      for (int i = from; i < sp.to; ++i) a.starts.push_back(i - window);
      outs.emplace_back(a.starts.size() * h);
      asks.push_back(std::move(a));
      model.push_back(sp.model);
    }
    for (size_t a = 0; a < asks.size(); ++a) asks[a].out = outs[a].data();
    engine.predict_batch(shape, window, asks, threads);
    for (size_t a = 0; a < asks.size(); ++a) {
      const size_t j = model[a];
      const PreparedSeries& p = *data[j];
      const std::vector<int>& starts = asks[a].starts;
      const std::vector<float>& out = outs[a];
      const size_t n = static_cast<size_t>(p.series.rows());
      for (size_t k = 0; k < starts.size(); ++k)
        for (size_t q = 0; q < h; ++q) {
          const size_t row = static_cast<size_t>(starts[k] + window) + q;
          if (row >= n) break;
          const double predicted = out[k * h + q];
          if (std::isnan(predicted) || std::isnan(p.target[row])) continue;
          sum[j][row] += std::fabs(p.target[row] - predicted);
          ++count[j][row];
        }
    }
  };
  auto errors = [&] {
    std::vector<std::vector<double>> e(N);
    for (size_t j = 0; j < N; ++j) {
      e[j].assign(sum[j].size(), std::nan(""));
      for (size_t i = 0; i < sum[j].size(); ++i)
        if (count[j][i] > 0) e[j][i] = sum[j][i] / count[j][i];
    }
    return e;
  };
  std::vector<int> next(N);
  for (size_t j = 0; j < N; ++j) {
    sum[j].assign(static_cast<size_t>(data[j]->series.rows()), 0.0);
    count[j].assign(static_cast<size_t>(data[j]->series.rows()), 0);
    next[j] = rt.every > 0 ? data[j]->train_end : data[j]->series.rows();
  }
  // The training part (and, without retraining, everything) with the initial model.
  {
    std::vector<Span> spans;
    for (size_t j = 0; j < N; ++j)
      if (jobs[j].result.status == TrainStatus::Ok) spans.push_back({j, 0, next[j]});
    predict_rows(spans);
  }
  if (rt.every <= 0) return errors();
  for (;;) {
    std::vector<size_t> active;
    for (size_t j = 0; j < N; ++j)
      if (jobs[j].result.status == TrainStatus::Ok && next[j] < data[j]->series.rows()) active.push_back(j);
    if (active.empty()) break;
    std::vector<Span> spans;
    for (size_t j : active)
      spans.push_back({j, next[j], std::min(next[j] + rt.every, data[j]->series.rows())});
    predict_rows(spans);
    std::vector<ModelJob> tune;
    std::vector<size_t> tuned;
    for (size_t j : active) {
      next[j] = std::min(next[j] + rt.every, data[j]->series.rows());
      if (next[j] >= data[j]->series.rows()) continue;
      const int span = rt.rows > 0 ? rt.rows : data[j]->train_end;
      ModelJob t;
      t.params = jobs[j].params;
      t.options = jobs[j].options;
      t.options.epochs = rt.epochs;
      t.options.patience = 0;
      t.options.max_seconds = 0;  // the limit is the first training's; a fine-tuning runs its few epochs
      t.options.seed = splitmix64(jobs[j].options.seed + static_cast<uint64_t>(next[j]));
      t.data = jobs[j].data;
      t.data.val.clear();
      t.data.train.clear();
      // Windows whose every target row is already seen: targets in [next - span, next).
      for (int s = std::max(0, next[j] - span - window); s + window + shape.horizon - 1 < next[j]; ++s)
        if (s + window >= next[j] - span) t.data.train.push_back(s);
      if (t.data.train.empty()) continue;
      tune.push_back(std::move(t));
      tuned.push_back(j);
    }
    if (tune.empty()) continue;
    engine.train(shape, tune);
    for (size_t k = 0; k < tune.size(); ++k) {
      if (tune[k].result.status == TrainStatus::Ok) {
        jobs[tuned[k]].params = std::move(tune[k].params);
        continue;
      }
      // A fine-tuning that goes non-finite is dropped: the model keeps its last good parameters, and the
      // log says so (the scores after it come from an older model than the schedule promises).
      log::warn(data[tuned[k]]->series.name + ": the fine-tuning at row " + std::to_string(next[tuned[k]]) +
                " was dropped (" + tune[k].result.message + "); the model keeps its earlier parameters");
    }
  }
  return errors();
}

}  // namespace lstmad
