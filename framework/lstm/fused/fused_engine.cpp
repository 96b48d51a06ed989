// The fused engine (fused_engine.hpp).
//
// The training loop is the cuDNN engine's (lstm/cudnn/cudnn_engine.cpp), with FusedLstm in place of
// CudnnLstm and a cuBLAS handle in place of the cuDNN one. Per worker thread: one CUDA stream, one cuBLAS
// handle and one Slot (a FusedLstm plus every buffer a model's training needs, sized for the largest
// job). Each training step is
//   gather -> fused forward (per layer: GEMM + time-loop kernel) -> head + MSE -> loss sum (CUB) -> head
//   backward -> fused backward (per layer: time-loop kernel + GEMMs) -> ||g||^2 (CUB) -> Adam prepare ->
//   Adam
// with every scalar read from device memory, so a full-batch step is captured once as a CUDA graph and
// replayed. The first step of each batch size runs eagerly (it sets the kernels' shared memory limits);
// the last, smaller minibatch of an epoch runs eagerly; a failed capture falls back to eager launches with
// a warning. LSTMAD_FUSED_GRAPHS=0 turns graphs off.
//
// Training semantics are those of the CPU trainer and the cuDNN engine: per-epoch shuffle with one
// Rng(seed) stream, minibatches in that order (the last may be smaller), train_loss[e] the MSE over all
// windows of the epoch, early stopping on validation MSE (min_delta, patience) keeping the best epoch's
// parameters, non-finite loss or gradient ends the job with status NonFinite (checked once per epoch).
#include "lstm/fused/fused_engine.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "core/gpu/check.hpp"
#include "core/gpu/device.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/gpu/resources.hpp"
#include "core/log.hpp"
#include "core/rng.hpp"
#include "kernels/adam.hpp"
#include "kernels/gather_windows.hpp"
#include "kernels/reduce.hpp"
#include "lstm/fused/fused_lstm.hpp"

namespace lstmad {

namespace {

bool graphs_enabled() {
  const char* v = std::getenv("LSTMAD_FUSED_GRAPHS");
  return v == nullptr || std::string(v) != "0";
}

void require_device(int device) {
  std::string reason;
  if (!gpu::device_available(device, &reason))
    throw DeviceError("engine \"fused\" needs a CUDA device: " + reason);
}

void check_windows(const WindowSource& d, const std::vector<int>& starts, int T, int horizon,
                   const char* what) {
  for (int s : starts)
    if (s < 0 || static_cast<long long>(s) + T + horizon > d.n)
      throw Error(std::string(what) + " window start " + std::to_string(s) + " needs rows up to " +
                  std::to_string(static_cast<long long>(s) + T + horizon) + " but the series has " +
                  std::to_string(d.n));
}

class GraphExec {
 public:
  GraphExec() = default;
  explicit GraphExec(cudaGraphExec_t e) : e_(e) {}
  ~GraphExec() {
    if (e_) cudaGraphExecDestroy(e_);
  }
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  cudaGraphExec_t get() const { return e_; }

 private:
  cudaGraphExec_t e_ = nullptr;
};

struct SlotSizes {
  int max_batch = 1;
  int max_n = 1;
  int max_train = 1;
  int max_val = 1;
};

// Everything one worker needs to train models of one shape, reused from model to model.
class Slot {
 public:
  Slot(cublasHandle_t handle, cudaStream_t stream, const ModelShape& shape, int window, Precision precision,
       const kernels::FusedLimits& limits, const SlotSizes& sz)
      : stream_(stream),
        shape_(shape),
        T_(window),
        sz_(sz),
        lstm_(handle, stream, shape, window, sz.max_batch, precision, limits),
        use_graphs_(graphs_enabled()) {
    const std::size_t P = lstm_.theta_size();
    const std::size_t BH = static_cast<std::size_t>(sz.max_batch) * shape.horizon;
    xs_.resize(static_cast<std::size_t>(sz.max_n) * shape.input);
    ys_.resize(static_cast<std::size_t>(sz.max_n));
    xb_.resize(static_cast<std::size_t>(sz.max_batch) * window * shape.input);
    yb_.resize(BH);
    yhat_.resize(BH);
    dyhat_.resize(BH);
    sq_.resize(BH);
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
    if (job.params.size() != param_count(shape_))
      throw Error("fused engine: job has " + std::to_string(job.params.size()) + " parameters, shape " +
                  shape_.str() + " needs " + std::to_string(param_count(shape_)));
    check_windows(d, d.train, T_, hz, "training");
    check_windows(d, d.val, T_, hz, "validation");
    if (d.train.empty()) {
      res.message = "no training windows";
      job.result = res;
      return;
    }
    const int B = std::min(o.batch, static_cast<int>(d.train.size()));
    const int ntrain = static_cast<int>(d.train.size()), nval = static_cast<int>(d.val.size());

    // Upload the model's state and data once.
    lstm_.upload_params(job.params.data());
    xs_.upload(d.x, static_cast<std::size_t>(d.n) * shape_.input, stream_);
    ys_.upload(d.y, static_cast<std::size_t>(d.n), stream_);
    if (nval > 0) val_.upload(d.val.data(), d.val.size(), stream_);
    kernels::AdamHyper hyper;
    hyper.lr = static_cast<float>(o.adam.lr);
    hyper.beta1 = static_cast<float>(o.adam.beta1);
    hyper.beta2 = static_cast<float>(o.adam.beta2);
    hyper.eps = static_cast<float>(o.adam.eps);
    hyper.weight_decay = static_cast<float>(o.adam.weight_decay);
    hyper.clip_norm = static_cast<float>(o.clip_norm);
    hyper_.upload(&hyper, 1, stream_);
    m_.zero_async(stream_);
    v_.zero_async(stream_);
    state_.zero_async(stream_);

    Rng rng(o.seed);
    std::vector<int> order = d.train;
    double best_val = std::numeric_limits<double>::infinity();
    int bad_epochs = 0;
    bool have_best = false;
    for (int e = 0; e < o.epochs; ++e) {
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
      const double val_loss = evaluate(nval);
      res.val_loss.push_back(val_loss);
      if (!std::isfinite(val_loss)) {
        res.status = TrainStatus::NonFinite;
        res.message = "non-finite validation loss at epoch " + std::to_string(e);
        break;
      }
      if (val_loss < best_val - o.min_delta) {
        best_val = val_loss;
        res.best_epoch = e;
        bad_epochs = 0;
        have_best = true;
        CUDA_CHECK(
            cudaMemcpyAsync(best_.data(), lstm_.theta(), best_.bytes(), cudaMemcpyDeviceToDevice, stream_));
      } else if (o.patience > 0 && ++bad_epochs >= o.patience) {
        res.message = "early stop after epoch " + std::to_string(e) + ": no validation improvement in " +
                      std::to_string(o.patience) + " epochs";
        break;
      }
    }
    if (have_best) {
      CUDA_CHECK(
          cudaMemcpyAsync(lstm_.theta(), best_.data(), best_.bytes(), cudaMemcpyDeviceToDevice, stream_));
      lstm_.download_params(job.params.data());
    } else if (res.status == TrainStatus::Ok) {
      res.best_epoch = -1;
      lstm_.download_params(job.params.data());
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
    lstm_.forward(lstm_.theta(), xb_.data(), B, true);
    lstm_.head(lstm_.theta(), B, yhat_.data(), yb_.data(), dyhat_.data(), sq_.data());
    CUDA_CHECK(kernels::launch_sum_squares(sq_.data(), static_cast<std::size_t>(B) * hz, step_sq,
                                           cub_temp_.data(), cub_bytes_, stream_));
    KERNEL_CHECK("sum_squares(loss)");
    kernels::launch_accumulate(epoch_sum, step_sq, stream_);
    KERNEL_CHECK("accumulate");
    lstm_.backward(lstm_.theta(), xb_.data(), B, dyhat_.data(), lstm_.dtheta(), nullptr);
    const std::size_t P = lstm_.theta_size();
    CUDA_CHECK(
        kernels::launch_sum_squares(lstm_.dtheta(), P, norm_sq, cub_temp_.data(), cub_bytes_, stream_));
    KERNEL_CHECK("sum_squares(grad)");
    kernels::launch_accumulate(epoch_norm_sq, norm_sq, stream_);
    KERNEL_CHECK("accumulate(grad)");
    kernels::launch_adam_prepare(hyper_.data(), norm_sq, state_.data(), stream_);
    KERNEL_CHECK("adam_prepare");
    kernels::launch_adam_update(lstm_.theta(), lstm_.dtheta(), m_.data(), v_.data(), P, hyper_.data(),
                                state_.data(), stream_);
    KERNEL_CHECK("adam_update");
  }

  void step(int B, bool allow_graph = true) {
    if (!allow_graph || !use_graphs_) {
      enqueue_step(B);
      return;
    }
    if (graph_generation_ != lstm_.generation()) {  // buffers moved: every captured graph is stale
      graphs_.clear();
      graph_generation_ = lstm_.generation();
    }
    auto it = graphs_.find(B);
    if (it != graphs_.end()) {
      CUDA_CHECK(cudaGraphLaunch(it->second->get(), stream_));
      return;
    }
    if (!warmed_[B]) {  // first step of this batch size: eager, so one-time setup happens outside capture
      lstm_.prepare(B);
      enqueue_step(B);
      CUDA_CHECK(cudaStreamSynchronize(stream_));
      warmed_[B] = true;
      return;
    }
    cudaGraph_t graph = nullptr;
    try {
      CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      try {
        enqueue_step(B);
      } catch (...) {
        cudaStreamEndCapture(stream_, &graph);
        throw;
      }
      CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
      cudaGraphExec_t exec = nullptr;
      CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
      cudaGraphDestroy(graph);
      graph = nullptr;
      auto& slot = graphs_[B];
      slot = std::make_unique<GraphExec>(exec);
      CUDA_CHECK(cudaGraphLaunch(exec, stream_));
    } catch (const DeviceError& e) {
      if (graph) cudaGraphDestroy(graph);
      cudaGetLastError();  // capture errors are not sticky; clear them before going on eagerly
      log::warn(std::string("fused engine: CUDA graph capture failed, running steps eagerly: ") + e.what());
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
      lstm_.forward(lstm_.theta(), xb_.data(), b, false);
      lstm_.head(lstm_.theta(), b, yhat_.data(), yb_.data(), nullptr, sq_.data());
      CUDA_CHECK(kernels::launch_sum_squares(sq_.data(), static_cast<std::size_t>(b) * hz, step_sq,
                                             cub_temp_.data(), cub_bytes_, stream_));
      KERNEL_CHECK("sum_squares(val)");
      kernels::launch_accumulate(val_sum, step_sq, stream_);
      KERNEL_CHECK("accumulate(val)");
    }
    double sums[4];
    scalars_.download(sums, 4, stream_);
    return sums[3] / (static_cast<double>(nval) * hz);
  }

  cudaStream_t stream_;
  ModelShape shape_;
  int T_;
  SlotSizes sz_;
  FusedLstm lstm_;
  bool use_graphs_;
  gpu::DeviceBuffer<float> xs_, ys_, xb_, yb_, yhat_, dyhat_, sq_, m_, v_, best_;
  gpu::DeviceBuffer<int> order_, val_, cursor_;
  // [step sum of squares, ||g||^2, epoch loss sum, validation sum, epoch sum of ||g||^2 (finiteness)]
  gpu::DeviceBuffer<double> scalars_;
  gpu::DeviceBuffer<kernels::AdamHyper> hyper_;
  gpu::DeviceBuffer<kernels::AdamStepState> state_;
  gpu::DeviceBuffer<unsigned char> cub_temp_;
  std::size_t cub_bytes_ = 0;
  std::map<int, std::unique_ptr<GraphExec>> graphs_;
  unsigned graph_generation_ = 0;
  std::map<int, bool> warmed_;
};

class FusedEngine final : public Engine {
 public:
  explicit FusedEngine(const EngineOptions& o) : opts_(o) {
    const std::string why = precision_reason(o.precision);
    if (!why.empty()) throw UnsupportedError(why);
  }

  std::string name() const override { return "fused"; }
  Precision precision() const override { return opts_.precision; }

  std::string unsupported_reason(const ModelShape& shape, const TrainOptions& options) const override {
    // Without a device only the limits that do not depend on it are checked; train() checks the rest.
    kernels::FusedLimits lim;
    lim.sm_count = 1;
    lim.smem_optin = std::numeric_limits<int>::max();
    lim.max_threads = kernels::kFusedMaxThreads;
    if (gpu::device_available(opts_.device)) lim = fused_device_limits(opts_.device);
    return fused_unsupported_reason(shape, options.window, std::max(1, options.batch), opts_.precision, lim);
  }

  void train(const ModelShape& shape, std::vector<ModelJob>& jobs) override {
    if (jobs.empty()) return;
    shape.validate();
    require_device(opts_.device);
    const int window = jobs.front().options.window;
    SlotSizes sz;
    for (const auto& j : jobs) {
      if (j.options.window != window)
        throw Error("fused engine: every job of a ModelBatch must share the window length (" +
                    std::to_string(window) + " vs " + std::to_string(j.options.window) + ")");
      if (j.options.batch < 1) throw Error("fused engine: batch must be at least 1");
      sz.max_batch = std::max(
          sz.max_batch, std::min(j.options.batch, std::max<int>(1, static_cast<int>(j.data.train.size()))));
      sz.max_n = std::max(sz.max_n, j.data.n);
      sz.max_train = std::max(sz.max_train, static_cast<int>(j.data.train.size()));
      sz.max_val = std::max(sz.max_val, static_cast<int>(j.data.val.size()));
    }
    const kernels::FusedLimits limits = fused_device_limits(opts_.device);
    const std::string why = fused_unsupported_reason(shape, window, sz.max_batch, opts_.precision, limits);
    if (!why.empty())
      throw UnsupportedError(why + " (" + shape.str() + ", T=" + std::to_string(window) + ")");
    const int workers = std::max(1, std::min(opts_.streams, static_cast<int>(jobs.size())));
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr first_error;
    std::mutex error_mutex;
    auto worker = [&] {
      try {
        gpu::ScopedDevice dev(opts_.device);
        gpu::Stream stream;
        gpu::CublasHandle handle(stream);
        Slot slot(handle.get(), stream, shape, window, opts_.precision, limits, sz);
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

  void predict(const ModelShape& shape, int window, const std::vector<float>& params, const float* x, int n,
               const std::vector<int>& starts, float* out) override {
    if (starts.empty()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    Context& c = context();
    for (int s : starts)
      if (s < 0 || static_cast<long long>(s) + window > n)
        throw Error("predict: window start " + std::to_string(s) + " needs rows up to " +
                    std::to_string(static_cast<long long>(s) + window) + " but the series has " +
                    std::to_string(n));
    check_params(shape, params.size());
    const int max_batch = std::min<int>(static_cast<int>(starts.size()), 1024);
    FusedLstm lstm(c.handle.get(), c.stream.get(), shape, window, max_batch, opts_.precision, c.limits);
    lstm.upload_params(params.data());
    const int hz = shape.horizon;
    gpu::DeviceBuffer<float> xs(static_cast<std::size_t>(n) * shape.input);
    gpu::DeviceBuffer<float> xb(static_cast<std::size_t>(max_batch) * window * shape.input);
    gpu::DeviceBuffer<float> yhat(starts.size() * static_cast<std::size_t>(hz));
    gpu::DeviceBuffer<int> st(starts.size());
    xs.upload(x, xs.size(), c.stream);
    st.upload(starts.data(), starts.size(), c.stream);
    for (int k = 0; k < static_cast<int>(starts.size()); k += max_batch) {
      const int b = std::min<int>(max_batch, static_cast<int>(starts.size()) - k);
      kernels::launch_gather_windows(xs.data(), nullptr, shape.input, st.data() + k, nullptr, b, window, hz,
                                     xb.data(), nullptr, c.stream);
      KERNEL_CHECK("gather_windows(predict)");
      lstm.forward(lstm.theta(), xb.data(), b, false);
      lstm.head(lstm.theta(), b, yhat.data() + static_cast<std::size_t>(k) * hz, nullptr, nullptr, nullptr);
    }
    yhat.download(out, yhat.size(), c.stream);
  }

  double loss_and_grad(const ModelShape& shape, int window, const float* params, const float* xb,
                       const float* yb, int batch, float* grad) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Context& c = context();
    FusedLstm lstm(c.handle.get(), c.stream.get(), shape, window, batch, opts_.precision, c.limits);
    lstm.upload_params(params);
    const int hz = shape.horizon;
    const std::size_t BH = static_cast<std::size_t>(batch) * hz;
    gpu::DeviceBuffer<float> x(static_cast<std::size_t>(batch) * window * shape.input), y(BH), yhat(BH),
        dyhat(BH), sq(BH);
    gpu::DeviceBuffer<double> loss(1);
    gpu::DeviceBuffer<unsigned char> temp(std::max<std::size_t>(kernels::sum_squares_temp_bytes(BH), 1));
    x.upload(xb, x.size(), c.stream);
    y.upload(yb, BH, c.stream);
    lstm.forward(lstm.theta(), x.data(), batch, true);
    lstm.head(lstm.theta(), batch, yhat.data(), y.data(), dyhat.data(), sq.data());
    CUDA_CHECK(kernels::launch_sum_squares(sq.data(), BH, loss.data(), temp.data(), temp.size(), c.stream));
    KERNEL_CHECK("sum_squares(loss)");
    lstm.backward(lstm.theta(), x.data(), batch, dyhat.data(), lstm.dtheta(), nullptr);
    lstm.download_grad(grad);
    double sum = 0.0;
    loss.download(&sum, 1, c.stream);
    return sum / static_cast<double>(BH);
  }

 private:
  struct Context {
    gpu::Stream stream;
    gpu::CublasHandle handle;
    kernels::FusedLimits limits;
  };

  // Empty for FP32; otherwise why not and which engine runs it.
  static std::string precision_reason(Precision p) {
    return fused_unsupported_reason(ModelShape{}, 1, 1, p, kernels::FusedLimits{});
  }

  static void check_params(const ModelShape& shape, std::size_t n) {
    if (n != param_count(shape))
      throw Error("fused engine: " + std::to_string(n) + " parameters given, shape " + shape.str() +
                  " needs " + std::to_string(param_count(shape)));
  }

  // The stream and handle for predict() and loss_and_grad(), made on first use on opts_.device.
  Context& context() {
    require_device(opts_.device);
    CUDA_CHECK(cudaSetDevice(opts_.device));
    if (!context_) {
      context_ = std::make_unique<Context>();
      context_->handle.set_stream(context_->stream);
      context_->limits = fused_device_limits(opts_.device);
    }
    return *context_;
  }

  EngineOptions opts_;
  std::mutex mutex_;
  std::unique_ptr<Context> context_;
};

}  // namespace

std::unique_ptr<Engine> make_fused_engine(const EngineOptions& options) {
  return std::make_unique<FusedEngine>(options);
}

}  // namespace lstmad
