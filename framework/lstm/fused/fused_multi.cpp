// The host side of the multi-model training path (fused_multi.hpp): the epochs of N models in lockstep,
// each model's shuffles, early stopping, non-finite checks and result; MultiModelBlock
// (multi_model_block.hpp) holds the buffers and launches the steps.
#include "lstm/fused/fused_multi.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "lstm/fused/multi_model_block.hpp"
#include "train/options.hpp"

namespace lstmad {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Per-model host state of the training loop (training_loop.cpp's Slot::train, per model).
struct ModelState {
  int ntrain() const { return static_cast<int>(job->data.train.size()); }
  int nval() const { return static_cast<int>(job->data.val.size()); }

  ModelJob* job = nullptr;
  Rng rng{0};
  std::vector<int> order;
  EarlyStopping stopping;
  bool done = false;
  TrainResult res;
};

// One train() of a MultiModelBlock: the state of its models and of the epoch in progress.
class MultiTraining {
 public:
  MultiTraining(MultiModelBlock& block, const std::vector<ModelJob*>& jobs)
      : block_(block),
        jobs_(jobs),
        B_(block.batch()),
        horizon_(block.shape().horizon),
        max_train_(block.max_train()),
        st_(jobs.size()),
        h_(jobs.size(), jobs.size() * std::max<std::size_t>(max_train_, 1)),
        flag_(jobs.size()) {
    for (std::size_t m = 0; m < jobs.size(); ++m) {
      ModelJob& j = *jobs[m];
      st_[m].job = &j;
      st_[m].rng.reseed(j.options.seed);
      st_[m].order = j.data.train;
    }
  }

  TimeLoopTuning run() {
    const auto t0 = Clock::now();
    block_.load(jobs_);
    block_.begin_autotune();  // the first training steps time the time loops' choices
    int max_epochs = 0;
    for (const ModelState& s : st_) max_epochs = std::max(max_epochs, s.job->options.epochs);
    for (int e = 0; e < max_epochs; ++e) {
      // The models train in lockstep, so each one's time limit is checked against the batch's time.
      int steps = 0, vsteps = 0;
      if (!plan_epoch(e, seconds_since(t0), steps, vsteps)) break;
      // The models run in lockstep: each running model's epoch takes the batch's epoch time.
      const auto te = Clock::now();
      block_.run_epoch(h_, steps, vsteps);
      const bool any_improved = judge_epoch(e);
      const double epoch_seconds = seconds_since(te);
      for (std::size_t m = 0; m < st_.size(); ++m)
        if (h_.running[m]) st_[m].res.epoch_seconds.push_back(epoch_seconds);
      if (any_improved) block_.keep_best(flag_);
    }
    finish(t0);
    return block_.autotune_result();
  }

 private:
  // Which models run epoch e (not done, not past their epochs or time limit), their shuffled window
  // orders, and the steps the batch takes (its longest model's). False when no model runs.
  bool plan_epoch(int e, double seconds, int& steps, int& vsteps) {
    bool any = false;
    for (std::size_t m = 0; m < st_.size(); ++m) {
      ModelState& s = st_[m];
      if (!s.done && e < s.job->options.epochs && past_time_limit(s.job->options, seconds, e, s.res))
        s.done = true;
      const bool run = !s.done && e < s.job->options.epochs;
      h_.running[m] = run ? 1 : 0;
      h_.vrunning[m] = run && s.nval() > 0 ? 1 : 0;
      if (!run) continue;
      any = true;
      s.rng.shuffle(s.order.begin(), s.order.end());
      std::copy(s.order.begin(), s.order.end(), h_.order.begin() + static_cast<long long>(m * max_train_));
      steps = std::max(steps, (s.ntrain() + B_ - 1) / B_);
      if (h_.vrunning[m]) vsteps = std::max(vsteps, (s.nval() + B_ - 1) / B_);
    }
    return any;
  }

  // Each running model's losses of epoch e, the non-finite checks and EarlyStopping; flag_ marks the
  // models whose parameters became their best. Returns whether any did.
  bool judge_epoch(int e) {
    bool any_improved = false;
    for (std::size_t m = 0; m < st_.size(); ++m) {
      flag_[m] = 0;
      if (!h_.running[m]) continue;
      ModelState& s = st_[m];
      TrainResult& res = s.res;
      const double train_loss = h_.sums[m] / (static_cast<double>(s.ntrain()) * horizon_);
      res.train_loss.push_back(train_loss);
      res.epochs_run = e + 1;
      if (!std::isfinite(train_loss) || !std::isfinite(h_.norms[m])) {
        res.status = TrainStatus::NonFinite;
        res.message =
            std::string(!std::isfinite(train_loss) ? "non-finite training loss" : "non-finite gradient") +
            " at epoch " + std::to_string(e);
        s.done = true;
        continue;
      }
      if (s.nval() == 0) continue;
      const double val_loss = h_.vsums[m] / (static_cast<double>(s.nval()) * horizon_);
      const auto verdict = s.stopping.after_epoch(s.job->options, e, val_loss, res);
      if (verdict == EarlyStopping::Verdict::Improved) {
        flag_[m] = 1;
        any_improved = true;
      }
      if (verdict == EarlyStopping::Verdict::Stop) s.done = true;
    }
    return any_improved;
  }

  // After the last epoch: each model's best parameters (or its last, without a best epoch; or its initial
  // ones after a non-finite stop with none) into its job, with its TrainResult.
  void finish(Clock::time_point t0) {
    const std::size_t N = st_.size(), P = block_.param_count();
    bool any_best = false;
    for (std::size_t m = 0; m < N; ++m) {
      flag_[m] = st_[m].stopping.have_best() ? 1 : 0;
      any_best |= st_[m].stopping.have_best();
    }
    if (any_best) block_.restore_best(flag_);
    std::vector<float> params;
    block_.download_params(params);
    const double seconds = seconds_since(t0);
    for (std::size_t m = 0; m < N; ++m) {
      ModelState& s = st_[m];
      TrainResult& res = s.res;
      const bool keep = s.stopping.have_best() || res.status == TrainStatus::Ok;
      if (!s.stopping.have_best() && res.status == TrainStatus::Ok) res.best_epoch = -1;
      if (keep)  // non-finite with no best epoch: the job keeps its initial parameters
        std::copy(params.begin() + static_cast<long long>(m * P),
                  params.begin() + static_cast<long long>((m + 1) * P), s.job->params.begin());
      if (res.status == TrainStatus::Ok && res.message.empty())
        res.message = "ran " + std::to_string(res.epochs_run) + " epochs";
      res.seconds = seconds;
      s.job->result = std::move(res);
    }
  }

  MultiModelBlock& block_;
  const std::vector<ModelJob*>& jobs_;
  int B_, horizon_;
  std::size_t max_train_;
  std::vector<ModelState> st_;
  EpochHost h_;
  std::vector<unsigned char> flag_;  // per model: its parameters are to be kept as its best (or restored)
};

}  // namespace

FusedMultiBatch::FusedMultiBatch(const ModelShape& shape, int window, int B,
                                 const kernels::FusedLimits& limits, std::vector<ModelJob*> jobs,
                                 cudaStream_t stream, bool graphs, Precision precision)
    : jobs_(std::move(jobs)) {
  if (jobs_.empty()) throw Error("fused multi-model batch: no models");
  block_ =
      std::make_unique<MultiModelBlock>(shape, window, B, limits, static_cast<int>(jobs_.size()),
                                        MultiModelBlock::Extent::training(jobs_), stream, graphs, precision);
}

FusedMultiBatch::~FusedMultiBatch() = default;

void FusedMultiBatch::train() {
  tuning_ = MultiTraining(*block_, jobs_).run();
}
const TimeLoopTuning& FusedMultiBatch::autotune() {
  block_->begin_autotune();
  block_->load_for_steps(jobs_);
  for (int s = 0; s < block_->autotune_steps(); ++s) block_->bench_step();
  tuning_ = block_->autotune_result();
  return tuning_;
}
void FusedMultiBatch::load_for_steps() {
  block_->load_for_steps(jobs_);
}
void FusedMultiBatch::step() {
  block_->bench_step();
}
std::string FusedMultiBatch::time_loops() const {
  return block_->time_loops();
}

std::vector<std::pair<std::string, double>> FusedMultiBatch::step_phases() {
  return block_->bench_step_phases();
}

void train_fused_multi(const ModelShape& shape, int window, int B, const kernels::FusedLimits& limits,
                       const std::vector<ModelJob*>& jobs, cudaStream_t stream, bool graphs,
                       Precision precision) {
  if (jobs.empty()) return;
  FusedMultiBatch batch(shape, window, B, limits, jobs, stream, graphs, precision);
  batch.train();
}

TimeLoopTuning predict_fused_multi(const ModelShape& shape, int window, int B,
                                   const kernels::FusedLimits& limits,
                                   const std::vector<const PredictJob*>& jobs, cudaStream_t stream,
                                   bool graphs, Precision precision) {
  if (jobs.empty()) return {};
  MultiModelBlock block(shape, window, B, limits, static_cast<int>(jobs.size()),
                        MultiModelBlock::Extent::prediction(jobs), stream, graphs, precision);
  block.predict(jobs);
  return block.autotune_result();
}

}  // namespace lstmad
