// The GPU engines' training loop (training_loop.hpp).
#include "lstm/gpu/training_loop.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/gpu/check.hpp"
#include "core/gpu/device.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/gpu/graph.hpp"
#include "core/gpu/resources.hpp"
#include "core/log.hpp"
#include "core/rng.hpp"
#include "kernels/adam.hpp"
#include "kernels/gather_windows.hpp"
#include "kernels/reduce.hpp"

namespace lstmad::gpu {

kernels::AdamHyper adam_hyper(const TrainOptions& o) {
  kernels::AdamHyper h;
  h.lr = static_cast<float>(o.adam.lr);
  h.beta1 = static_cast<float>(o.adam.beta1);
  h.beta2 = static_cast<float>(o.adam.beta2);
  h.eps = static_cast<float>(o.adam.eps);
  h.weight_decay = static_cast<float>(o.adam.weight_decay);
  h.clip_norm = static_cast<float>(o.clip_norm);
  return h;
}

bool graphs_enabled(const char* env) {
  const char* v = std::getenv(env);
  return v == nullptr || std::string(v) != "0";
}

namespace {

// Everything one worker needs to train models of one shape, reused from model to model.
class Slot {
 public:
  Slot(const GpuTrainingNames& names, std::unique_ptr<GpuLstmBlock> block, cudaStream_t stream,
       const ModelShape& shape, int window, const SlotSizes& sz)
      : names_(names),
        stream_(stream),
        shape_(shape),
        T_(window),
        sz_(sz),
        lstm_(std::move(block)),
        use_graphs_(graphs_enabled(names.graphs_env)) {
    const std::size_t P = lstm_->theta_size();
    const std::size_t BH = static_cast<std::size_t>(sz.max_batch) * shape.horizon;
    xs_.resize(static_cast<std::size_t>(sz.max_n) * shape.input);
    ys_.resize(static_cast<std::size_t>(sz.max_n));
    xb_.resize(static_cast<std::size_t>(sz.max_batch) * window * shape.input);
    yb_.resize(BH);
    yhat_.resize(BH);
    dyhat_.resize(BH);
    resid_.resize(BH);
    m_.resize(P);
    v_.resize(P);
    best_.resize(P);
    order_.resize(static_cast<std::size_t>(sz.max_train));
    val_.resize(static_cast<std::size_t>(sz.max_val));
    cursor_.resize(1);
    scalars_.resize(5);
    hyper_.resize(1);
    state_.resize(1);
    cub_bytes_ = std::max(kernels::sum_squares_temp_bytes(P), kernels::sum_squares_temp_bytes(BH));
    cub_temp_.resize(std::max<std::size_t>(cub_bytes_, 1));
  }

  void train(ModelJob& job) {
    const auto t0 = std::chrono::steady_clock::now();
    const TrainOptions& o = job.options;
    const WindowSource& d = job.data;
    const int hz = shape_.horizon;
    TrainResult res;
    check_param_count(shape_, job.params.size(), std::string(names_.engine) + " engine: job");
    check_window_starts(d.train, d.n, T_, hz, "training");
    check_window_starts(d.val, d.n, T_, hz, "validation");
    if (d.train.empty()) {
      res.message = "no training windows";
      job.result = res;
      return;
    }
    const int B = std::min(o.batch, static_cast<int>(d.train.size()));
    const int ntrain = static_cast<int>(d.train.size()), nval = static_cast<int>(d.val.size());

    // Upload the model's state and data once.
    lstm_->upload_params(job.params.data());
    xs_.upload(d.x, static_cast<std::size_t>(d.n) * shape_.input, stream_);
    ys_.upload(d.y, static_cast<std::size_t>(d.n), stream_);
    if (nval > 0) val_.upload(d.val.data(), d.val.size(), stream_);
    const kernels::AdamHyper hyper = adam_hyper(o);
    hyper_.upload(&hyper, 1, stream_);
    m_.zero_async(stream_);
    v_.zero_async(stream_);
    state_.zero_async(stream_);

    // The first job of each minibatch size times the block's kernel choices on its first steps (the
    // choice then holds for the slot's later jobs).
    if (tuned_batches_.insert(B).second) lstm_->begin_autotune(B);

    Rng rng(o.seed);
    std::vector<int> order = d.train;
    EarlyStopping stopping;
    for (int e = 0; e < o.epochs; ++e) {
      if (past_time_limit(o, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), e,
                          res))
        break;
      const EpochClock clock(res);
      rng.shuffle(order.begin(), order.end());
      order_.upload(order.data(), order.size(), stream_);
      CUDA_CHECK(cudaMemsetAsync(cursor_.data(), 0, sizeof(int), stream_));
      CUDA_CHECK(cudaMemsetAsync(scalars_.data() + 2, 0, sizeof(double), stream_));
      CUDA_CHECK(cudaMemsetAsync(scalars_.data() + 4, 0, sizeof(double), stream_));
      for (int s = 0; s + B <= ntrain; s += B) step(B);
      if (ntrain % B != 0) step(ntrain % B, /*allow_graph=*/false);
      double sums[5];
      scalars_.download(sums, 5, stream_);
      const double train_loss = sums[2] / (static_cast<double>(ntrain) * hz);
      res.train_loss.push_back(train_loss);
      res.epochs_run = e + 1;
      if (!std::isfinite(train_loss)) {
        res.status = TrainStatus::NonFinite;
        res.message = "non-finite training loss at epoch " + std::to_string(e);
        break;
      }
      if (!std::isfinite(sums[4])) {  // a finite loss with a non-finite gradient (the CPU trainer's check)
        res.status = TrainStatus::NonFinite;
        res.message = "non-finite gradient at epoch " + std::to_string(e);
        break;
      }
      if (nval == 0) continue;
      const auto verdict = stopping.after_epoch(o, e, evaluate(nval), res);
      if (verdict == EarlyStopping::Verdict::Improved)
        CUDA_CHECK(
            cudaMemcpyAsync(best_.data(), lstm_->theta(), best_.bytes(), cudaMemcpyDeviceToDevice, stream_));
      if (verdict == EarlyStopping::Verdict::Stop) break;
    }
    if (stopping.have_best()) {
      CUDA_CHECK(
          cudaMemcpyAsync(lstm_->theta(), best_.data(), best_.bytes(), cudaMemcpyDeviceToDevice, stream_));
      lstm_->download_params(job.params.data());
    } else if (res.status == TrainStatus::Ok) {
      res.best_epoch = -1;
      lstm_->download_params(job.params.data());
    }  // non-finite with no best epoch: job.params keeps the initial parameters
    if (res.status == TrainStatus::Ok && res.message.empty())
      res.message = "ran " + std::to_string(res.epochs_run) + " epochs";
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    job.result = std::move(res);
  }

 private:
  // Everything one minibatch step launches, in order (see the file comment).
  void enqueue_step(int B) {
    const int hz = shape_.horizon;
    double* step_sq = scalars_.data();
    double* norm_sq = scalars_.data() + 1;
    double* epoch_sum = scalars_.data() + 2;
    double* epoch_norm_sq = scalars_.data() + 4;
    kernels::launch_gather_windows(xs_.data(), ys_.data(), shape_.input, order_.data(), cursor_.data(), B, T_,
                                   hz, xb_.data(), yb_.data(), stream_);
    KERNEL_CHECK("gather_windows");
    kernels::launch_advance_cursor(cursor_.data(), B, stream_);
    KERNEL_CHECK("advance_cursor");
    lstm_->forward(lstm_->theta(), xb_.data(), B, true);
    lstm_->head(lstm_->theta(), B, yhat_.data(), yb_.data(), dyhat_.data(), resid_.data());
    CUDA_CHECK(kernels::launch_sum_squares(resid_.data(), static_cast<std::size_t>(B) * hz, step_sq,
                                           cub_temp_.data(), cub_bytes_, stream_));
    KERNEL_CHECK("sum_squares(loss)");
    kernels::launch_accumulate(epoch_sum, step_sq, stream_);
    KERNEL_CHECK("accumulate");
    lstm_->backward(lstm_->theta(), xb_.data(), B, dyhat_.data(), lstm_->dtheta(), nullptr);
    const std::size_t P = lstm_->theta_size();
    CUDA_CHECK(
        kernels::launch_sum_squares(lstm_->dtheta(), P, norm_sq, cub_temp_.data(), cub_bytes_, stream_));
    KERNEL_CHECK("sum_squares(grad)");
    kernels::launch_accumulate(epoch_norm_sq, norm_sq, stream_);
    KERNEL_CHECK("accumulate(grad)");
    kernels::launch_adam_prepare(hyper_.data(), norm_sq, state_.data(), stream_);
    KERNEL_CHECK("adam_prepare");
    kernels::launch_adam_update(lstm_->theta(), lstm_->dtheta(), m_.data(), v_.data(), P, hyper_.data(),
                                state_.data(), stream_);
    KERNEL_CHECK("adam_update");
  }

  void step(int B, bool allow_graph = true) {
    if (!allow_graph || !use_graphs_ || lstm_->autotuning()) {
      enqueue_step(B);
      return;
    }
    if (graph_generation_ != lstm_->generation()) {  // buffers moved: every captured graph is stale
      graphs_.clear();
      graph_generation_ = lstm_->generation();
    }
    auto it = graphs_.find(B);
    if (it != graphs_.end()) {
      it->second.launch(stream_);
      return;
    }
    if (!warmed_[B]) {  // first step of this batch size: eager, so one-time setup happens outside capture
      lstm_->prepare(B);
      enqueue_step(B);
      CUDA_CHECK(cudaStreamSynchronize(stream_));
      warmed_[B] = true;
      return;
    }
    try {
      gpu::GraphExec captured = gpu::capture_graph(stream_, [&] { enqueue_step(B); });
      captured.launch(stream_);
      graphs_[B] = std::move(captured);
    } catch (const DeviceError& e) {
      cudaGetLastError();  // capture errors are not sticky; clear them before going on eagerly
      log::warn(std::string(names_.engine) +
                " engine: CUDA graph capture failed, running steps eagerly: " + e.what());
      use_graphs_ = false;
      // Nothing of the failed capture ran: the cursor and the optimizer state are where they were.
      enqueue_step(B);
    }
  }

  // Validation MSE over the first nval windows of val_ with the current parameters.
  double evaluate(int nval) {
    const int hz = shape_.horizon;
    double* step_sq = scalars_.data();
    double* val_sum = scalars_.data() + 3;
    CUDA_CHECK(cudaMemsetAsync(val_sum, 0, sizeof(double), stream_));
    for (int k = 0; k < nval; k += sz_.max_batch) {
      const int b = std::min(sz_.max_batch, nval - k);
      kernels::launch_gather_windows(xs_.data(), ys_.data(), shape_.input, val_.data() + k, nullptr, b, T_,
                                     hz, xb_.data(), yb_.data(), stream_);
      KERNEL_CHECK("gather_windows(val)");
      lstm_->forward(lstm_->theta(), xb_.data(), b, false);
      lstm_->head(lstm_->theta(), b, yhat_.data(), yb_.data(), nullptr, resid_.data());
      CUDA_CHECK(kernels::launch_sum_squares(resid_.data(), static_cast<std::size_t>(b) * hz, step_sq,
                                             cub_temp_.data(), cub_bytes_, stream_));
      KERNEL_CHECK("sum_squares(val)");
      kernels::launch_accumulate(val_sum, step_sq, stream_);
      KERNEL_CHECK("accumulate(val)");
    }
    double sums[4];
    scalars_.download(sums, 4, stream_);
    return sums[3] / (static_cast<double>(nval) * hz);
  }

  GpuTrainingNames names_;
  cudaStream_t stream_;
  ModelShape shape_;
  int T_;
  SlotSizes sz_;
  std::unique_ptr<GpuLstmBlock> lstm_;
  bool use_graphs_;
  DeviceBuffer<float> xs_, ys_, xb_, yb_, yhat_, dyhat_, resid_, m_, v_, best_;
  DeviceBuffer<int> order_, val_, cursor_;
  // [step sum of squares, ||g||^2, epoch loss sum, validation sum, epoch sum of ||g||^2 (finiteness)]
  DeviceBuffer<double> scalars_;
  DeviceBuffer<kernels::AdamHyper> hyper_;
  DeviceBuffer<kernels::AdamStepState> state_;
  DeviceBuffer<unsigned char> cub_temp_;
  std::size_t cub_bytes_ = 0;
  std::map<int, gpu::GraphExec> graphs_;
  unsigned graph_generation_ = 0;
  std::map<int, bool> warmed_;
  std::set<int> tuned_batches_;  // minibatch sizes whose first job began the block's autotuning
};

}  // namespace

SlotSizes gpu_slot_sizes(const char* engine, int window, const std::vector<ModelJob>& jobs) {
  SlotSizes sz;
  for (const auto& j : jobs) {
    if (j.options.window != window)
      throw Error(std::string(engine) + " engine: every job of a ModelBatch must share the window length (" +
                  std::to_string(window) + " vs " + std::to_string(j.options.window) + ")");
    if (j.options.batch < 1) throw Error(std::string(engine) + " engine: batch must be at least 1");
    sz.max_batch = std::max(
        sz.max_batch, std::min(j.options.batch, std::max<int>(1, static_cast<int>(j.data.train.size()))));
    sz.max_n = std::max(sz.max_n, j.data.n);
    sz.max_train = std::max(sz.max_train, static_cast<int>(j.data.train.size()));
    sz.max_val = std::max(sz.max_val, static_cast<int>(j.data.val.size()));
  }
  return sz;
}

void train_on_streams(const GpuTrainingNames& names, int device, int streams, const ModelShape& shape,
                      int window, const SlotSizes& sz, std::vector<ModelJob>& jobs,
                      const LstmBlockFactory& make_block) {
  const int workers = std::max(1, std::min(streams, static_cast<int>(jobs.size())));
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto worker = [&] {
    try {
      ScopedDevice dev(device);
      Stream stream;
      Slot slot(names, make_block(stream), stream, shape, window, sz);
      for (std::size_t k = next++; k < jobs.size() && !failed; k = next++) slot.train(jobs[k]);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace lstmad::gpu
