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
  d.telemanom.batch = at_path(v, "detector.telemanom.batch").get<int>();
  d.telemanom.windows = at_path(v, "detector.telemanom.windows").get<int>();
  d.telemanom.smoothing_perc = at_path(v, "detector.telemanom.smoothing_perc").get<double>();
  d.telemanom.buffer = at_path(v, "detector.telemanom.buffer").get<int>();
  d.telemanom.prune = at_path(v, "detector.telemanom.prune").get<double>();
  d.telemanom.l_s = at_path(v, "detector.telemanom.l_s").get<int>();
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

namespace {

// Whether the window starting at row s, with its targets `length` rows in all, reaches across the join of
// two recordings (Series::joined_at): such a window would predict one recording from the other's rows.
bool spans_join(const Series& s, int start, int length) {
  return s.joined_at > 0 && start < s.joined_at && start + length > s.joined_at;
}

// The rows of a model's series asked for: the windows whose first target row is in [from, to).
struct Span {
  size_t model;
  int from, to;
};

// Per model and row, the sum and count of the absolute errors of every prediction made for the row (one
// per horizon step, from the windows ending 1 .. horizon rows before it).
class ErrorSums {
 public:
  ErrorSums(Engine& engine, const ModelShape& shape, int window, const std::vector<ModelJob>& jobs,
            const std::vector<const PreparedSeries*>& data, int threads)
      : engine_(engine), shape_(shape), window_(window), jobs_(jobs), data_(data), threads_(threads) {
    for (const PreparedSeries* p : data) {
      sum_.emplace_back(static_cast<size_t>(p->series.rows()), 0.0);
      count_.emplace_back(static_cast<size_t>(p->series.rows()), 0);
    }
  }

  // Predicts the spans asked, all models in one Engine::predict_batch call, and adds their errors.
  void predict(const std::vector<Span>& spans) {
    const size_t h = static_cast<size_t>(shape_.horizon);
    std::vector<PredictJob> asks;
    std::vector<std::vector<float>> outs;
    std::vector<size_t> model;
    for (const Span& sp : spans) {
      const PreparedSeries& p = *data_[sp.model];
      const int from = std::max(sp.from, window_);
      if (sp.to <= from) continue;
      PredictJob a;
      a.params = &jobs_[sp.model].params;
      a.x = p.x.data();
      a.n = p.series.rows();
      for (int i = from; i < sp.to; ++i)
        if (!spans_join(p.series, i - window_, window_ + shape_.horizon)) a.starts.push_back(i - window_);
      outs.emplace_back(a.starts.size() * h);
      asks.push_back(std::move(a));
      model.push_back(sp.model);
    }
    for (size_t a = 0; a < asks.size(); ++a) asks[a].out = outs[a].data();
    engine_.predict_batch(shape_, window_, asks, threads_);
    for (size_t a = 0; a < asks.size(); ++a) add(model[a], asks[a].starts, outs[a]);
  }

  // Per model, the mean absolute error of each row, NaN where no prediction was made.
  std::vector<std::vector<double>> errors() const {
    std::vector<std::vector<double>> e(sum_.size());
    for (size_t j = 0; j < sum_.size(); ++j) {
      e[j].assign(sum_[j].size(), std::nan(""));
      for (size_t i = 0; i < sum_[j].size(); ++i)
        if (count_[j][i] > 0) e[j][i] = sum_[j][i] / count_[j][i];
    }
    return e;
  }

 private:
  void add(size_t j, const std::vector<int>& starts, const std::vector<float>& out) {
    const size_t h = static_cast<size_t>(shape_.horizon);
    const PreparedSeries& p = *data_[j];
    const size_t n = static_cast<size_t>(p.series.rows());
    for (size_t k = 0; k < starts.size(); ++k)
      for (size_t q = 0; q < h; ++q) {
        const size_t row = static_cast<size_t>(starts[k] + window_) + q;
        if (row >= n) break;
        const double predicted = out[k * h + q];
        if (std::isnan(predicted) || std::isnan(p.target[row])) continue;
        sum_[j][row] += std::fabs(p.target[row] - predicted);
        ++count_[j][row];
      }
  }

  Engine& engine_;
  const ModelShape& shape_;
  const int window_;
  const std::vector<ModelJob>& jobs_;
  const std::vector<const PreparedSeries*>& data_;
  const int threads_;
  std::vector<std::vector<double>> sum_;
  std::vector<std::vector<int>> count_;
};

// The fine-tuning of `job` once the rows before `next` are seen: rt.epochs epochs on the windows whose
// every target lies in the latest rt.rows rows (the training part's length when 0); no training windows
// means no fine-tuning (false).
bool fine_tuning(const ModelJob& job, const PreparedSeries& p, int next, const Retraining& rt, int window,
                 int horizon, ModelJob& t) {
  const int train_end = p.train_end;
  const int span = rt.rows > 0 ? rt.rows : train_end;
  t.params = job.params;
  t.options = job.options;
  t.options.epochs = rt.epochs;
  t.options.patience = 0;
  t.options.max_seconds = 0;  // the limit is the first training's; a fine-tuning runs its few epochs
  t.options.seed = splitmix64(job.options.seed + static_cast<uint64_t>(next));
  t.data = job.data;
  t.data.val.clear();
  t.data.train.clear();
  // Windows whose every target row is already seen: targets in [next - span, next).
  for (int s = std::max(0, next - span - window); s + window + horizon - 1 < next; ++s)
    if (s + window >= next - span && !spans_join(p.series, s, window + horizon)) t.data.train.push_back(s);
  return !t.data.train.empty();
}

}  // namespace

std::vector<std::vector<double>> stream_errors(Engine& engine, const ModelShape& shape, int window,
                                               std::vector<ModelJob>& jobs,
                                               const std::vector<const PreparedSeries*>& data,
                                               const Retraining& rt, int threads) {
  const size_t N = jobs.size();
  ErrorSums sums(engine, shape, window, jobs, data, threads);
  auto rows = [&](size_t j) { return data[j]->series.rows(); };
  // The first row not predicted yet: with retraining, the training part is predicted by the first model.
  std::vector<int> next(N);
  std::vector<Span> spans;
  for (size_t j = 0; j < N; ++j) {
    next[j] = rt.every > 0 ? data[j]->train_end : rows(j);
    if (jobs[j].result.status == TrainStatus::Ok) spans.push_back({j, 0, next[j]});
  }
  sums.predict(spans);
  if (rt.every <= 0) return sums.errors();
  // Then a segment of rt.every rows at a time, each model fine-tuned on the rows seen after each segment.
  for (;;) {
    spans.clear();
    for (size_t j = 0; j < N; ++j)
      if (jobs[j].result.status == TrainStatus::Ok && next[j] < rows(j))
        spans.push_back({j, next[j], std::min(next[j] + rt.every, rows(j))});
    if (spans.empty()) break;
    sums.predict(spans);
    std::vector<ModelJob> tune;
    std::vector<size_t> tuned;
    for (const Span& sp : spans) {
      const size_t j = sp.model;
      next[j] = sp.to;
      ModelJob t;
      if (next[j] >= rows(j) || !fine_tuning(jobs[j], *data[j], next[j], rt, window, shape.horizon, t))
        continue;
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
  return sums.errors();
}

}  // namespace lstmad
