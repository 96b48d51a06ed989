// The fused engine (fused_engine.hpp).
//
// Training runs the GPU engines' shared loop (lstm/gpu/training_loop.hpp, the cuDNN engine's loop) with a
// FusedLstm on a per-worker cuBLAS handle as the block, so each step's forward is per layer a GEMM and a
// time-loop kernel and its backward per layer a time-loop kernel and GEMMs. The first step of each batch
// size runs eagerly because it sets the kernels' shared memory limits, which must not happen during graph
// capture. LSTMAD_FUSED_GRAPHS=0 turns graphs off.
//
// Version 2 of training (the default): the jobs of a ModelBatch train together, every launch covering all
// of them (fused_multi.hpp; at tf32 and bf16 on the tensor-core time loops, kernels/lstm_fused_mma.hpp);
// LSTMAD_FUSED_MULTI=0 goes back to the per-model loop above. Inference likewise: predict_batch() runs
// the forecasts of all models in lockstep, and predict() is a batch of one.
#include "lstm/fused/fused_engine.hpp"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <string>

#include "core/gpu/check.hpp"
#include "core/gpu/device.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/gpu/resources.hpp"
#include "kernels/gather_windows.hpp"
#include "kernels/lstm_multi_plan.hpp"
#include "kernels/reduce.hpp"
#include "lstm/fused/fused_lstm.hpp"
#include "lstm/fused/fused_multi.hpp"
#include "lstm/fused/fused_switches.hpp"
#include "lstm/gpu/block_ops.hpp"
#include "lstm/gpu/training_loop.hpp"

namespace lstmad {

namespace {

constexpr gpu::GpuTrainingNames kNames{"fused", "LSTMAD_FUSED_GRAPHS"};

// `device`, once checked usable (DeviceError with the reason otherwise).
int require_device(int device) {
  gpu::require_gpu_device(kNames.engine, device);
  return device;
}

// One model's sizes for kernels/lstm_multi_plan.hpp; the caller fills in batch, rows and window counts.
kernels::MultiModelExtent model_extent(const ModelShape& shape, int window) {
  kernels::MultiModelExtent e;
  e.input_in_loop = fused_input_in_loop(shape.input);
  e.layers = shape.layers;
  e.input = shape.input;
  e.hidden = shape.hidden;
  e.horizon = shape.horizon;
  e.window = window;
  return e;
}

// Models of `bytes` each that fit `fraction` of the current device's free memory: at least 1, at most
// 65535 (gridDim.y of the time-loop kernels holds the model index).
std::size_t models_that_fit(std::size_t bytes, double fraction) {
  std::size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  const std::size_t fit = static_cast<std::size_t>(fraction * static_cast<double>(free_bytes)) / bytes;
  return std::max<std::size_t>(1, std::min<std::size_t>(fit, 65535));
}

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
    const gpu::SlotSizes sz = gpu::gpu_slot_sizes(kNames.engine, window, jobs);
    const kernels::FusedLimits limits = fused_device_limits(opts_.device);
    const std::string why = fused_unsupported_reason(shape, window, sz.max_batch, opts_.precision, limits);
    if (!why.empty())
      throw UnsupportedError(why + " (" + shape.str() + ", T=" + std::to_string(window) + ")");
    if (multi_enabled()) {
      train_multi(shape, window, limits, jobs);
      return;
    }
    gpu::train_on_streams(kNames, opts_.device, opts_.streams, shape, window, sz, jobs,
                          [&](cudaStream_t stream) -> std::unique_ptr<gpu::GpuLstmBlock> {
                            return std::make_unique<gpu::OwningLstmBlock<gpu::CublasHandle, FusedLstm>>(
                                gpu::CublasHandle(stream), stream, shape, window, sz.max_batch,
                                opts_.precision, limits);
                          });
  }

  void predict(const ModelShape& shape, int window, const std::vector<float>& params, const float* x, int n,
               const std::vector<int>& starts, float* out) override {
    if (starts.empty()) return;
    if (multi_enabled()) {  // the multi-model path with one job: the same forecasts as in any batch
      PredictJob j;
      j.params = &params;
      j.x = x;
      j.n = n;
      j.starts = starts;
      j.out = out;
      predict_batch(shape, window, {j}, 1);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    const gpu::ScopedDevice dev(require_device(opts_.device));
    Context& c = context();
    check_window_starts(starts, n, window, 0, "predict");
    check_param_count(shape, params.size(), "fused engine");
    const int max_batch = gpu::predict_max_batch(starts);
    FusedLstm lstm(c.handle.get(), c.stream.get(), shape, window, max_batch, opts_.precision, c.limits);
    gpu::predict_windows(lstm, c.stream, shape, window, max_batch, params, x, n, starts, out);
  }

  // Version 2 (the default): every job's windows in lockstep (predict_fused_multi), in chunks of jobs
  // that fit the device's free memory; with LSTMAD_FUSED_MULTI=0 predict() per job.
  void predict_batch(const ModelShape& shape, int window, const std::vector<PredictJob>& jobs,
                     int threads) override {
    if (!multi_enabled()) {
      Engine::predict_batch(shape, window, jobs, threads);
      return;
    }
    std::vector<const PredictJob*> todo;
    kernels::MultiModelExtent e = model_extent(shape, window);
    for (const PredictJob& j : jobs) {
      if (j.starts.empty()) continue;
      check_window_starts(j.starts, j.n, window, 0, "predict");
      check_param_count(shape, j.params->size(), "fused engine");
      todo.push_back(&j);
      e.rows = std::max<long long>(e.rows, j.n);
      e.val = std::max<long long>(e.val, static_cast<long long>(j.starts.size()));
    }
    if (todo.empty()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const gpu::ScopedDevice dev(require_device(opts_.device));
    Context& c = context();
    e.batch = predict_rows_per_step(shape, window, static_cast<int>(e.val), c.limits);
    const std::size_t chunk = models_that_fit(kernels::multi_predict_bytes(e), 0.75);
    for (std::size_t at = 0; at < todo.size(); at += chunk) {
      const std::vector<const PredictJob*> part(
          todo.begin() + static_cast<long long>(at),
          todo.begin() + static_cast<long long>(std::min(todo.size(), at + chunk)));
      predict_fused_multi(shape, window, e.batch, c.limits, part, c.stream.get(),
                          gpu::graphs_enabled(kNames.graphs_env), opts_.precision);
    }
  }

  double loss_and_grad(const ModelShape& shape, int window, const float* params, const float* xb,
                       const float* yb, int batch, float* grad) override {
    std::lock_guard<std::mutex> lock(mutex_);
    const gpu::ScopedDevice dev(require_device(opts_.device));
    Context& c = context();
    FusedLstm lstm(c.handle.get(), c.stream.get(), shape, window, batch, opts_.precision, c.limits);
    return gpu::batch_loss_and_grad(lstm, c.stream, shape, window, params, xb, yb, batch, grad);
  }

 private:
  // LSTMAD_FUSED_MULTI=0 trains the models one by one on streams (the per-model loop of version 1).
  static bool multi_enabled() { return fused_switch("LSTMAD_FUSED_MULTI", true); }

  // The multi-model path (fused_multi.hpp): jobs grouped by their minibatch size min(batch, windows), each
  // group cut into chunks that fit the device's free memory. A job's result does not depend on its group
  // or chunk.
  void train_multi(const ModelShape& shape, int window, const kernels::FusedLimits& limits,
                   std::vector<ModelJob>& jobs) {
    std::map<int, std::vector<ModelJob*>> groups;
    for (std::size_t k = 0; k < jobs.size(); ++k) {
      ModelJob& j = jobs[k];
      check_param_count(shape, j.params.size(), "fused engine: job " + std::to_string(k));
      check_window_starts(j.data.train, j.data.n, window, shape.horizon, "training");
      check_window_starts(j.data.val, j.data.n, window, shape.horizon, "validation");
      if (j.data.train.empty()) {
        j.result = TrainResult{};
        j.result.message = "no training windows";
        continue;
      }
      const int b = std::min(j.options.batch, static_cast<int>(j.data.train.size()));
      groups[b].push_back(&j);
    }
    gpu::ScopedDevice dev(opts_.device);
    gpu::Stream stream;
    const bool graphs = gpu::graphs_enabled(kNames.graphs_env);
    for (auto& [B, group] : groups) {
      kernels::MultiModelExtent e = model_extent(shape, window);
      e.batch = B;
      for (const ModelJob* j : group) {
        e.rows += j->data.n;  // the series are concatenated: count them all
        e.train = std::max<long long>(e.train, static_cast<long long>(j->data.train.size()));
        e.val = std::max<long long>(e.val, static_cast<long long>(j->data.val.size()));
      }
      e.rows = (e.rows + static_cast<long long>(group.size()) - 1) / static_cast<long long>(group.size());
      const std::size_t chunk = models_that_fit(kernels::multi_model_bytes(e), 0.9);
      for (std::size_t at = 0; at < group.size(); at += chunk) {
        const std::vector<ModelJob*> part(
            group.begin() + static_cast<long long>(at),
            group.begin() + static_cast<long long>(std::min(group.size(), at + chunk)));
        train_fused_multi(shape, window, B, limits, part, stream, graphs, opts_.precision);
      }
    }
  }

  // Rows per inference step: the most windows of one job rounded up to a power of two, at most 256, and
  // at most what the time loops take at this shape. The forecasts do not depend on it; the memory and the
  // number of steps do.
  int predict_rows_per_step(const ModelShape& shape, int window, int most_windows,
                            const kernels::FusedLimits& limits) const {
    int b = 1;
    while (b < most_windows && b < 256) b *= 2;
    for (; b > 1; b /= 2)
      if (fused_unsupported_reason(shape, window, b, opts_.precision, limits).empty()) return b;
    const std::string why = fused_unsupported_reason(shape, window, 1, opts_.precision, limits);
    if (!why.empty())
      throw UnsupportedError(why + " (" + shape.str() + ", T=" + std::to_string(window) + ")");
    return 1;
  }

  struct Context {
    gpu::Stream stream;
    gpu::CublasHandle handle;
    kernels::FusedLimits limits;
  };

  // Empty for the precisions the fused kernels run (fp32, tf32, bf16); otherwise why not and which engine
  // runs it.
  static std::string precision_reason(Precision p) {
    return fused_unsupported_reason(ModelShape{}, 1, 1, p, kernels::FusedLimits{});
  }

  // The stream and handle for predict() and loss_and_grad(), made on first use on opts_.device. Each
  // caller makes that device current for its own scope (gpu::ScopedDevice), so that an engine never leaves
  // its caller's thread on another device.
  Context& context() {
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
