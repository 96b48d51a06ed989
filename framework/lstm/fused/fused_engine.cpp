// The fused engine (fused_engine.hpp).
//
// Training runs the GPU engines' shared loop (lstm/gpu/training_loop.hpp, the cuDNN engine's loop) with a
// FusedLstm on a per-worker cuBLAS handle as the block, so each step's forward is per layer a GEMM and a
// time-loop kernel and its backward per layer a time-loop kernel and GEMMs. The first step of each batch
// size runs eagerly because it sets the kernels' shared memory limits, which must not happen during graph
// capture. LSTMAD_FUSED_GRAPHS=0 turns graphs off.
#include "lstm/fused/fused_engine.hpp"

#include <algorithm>
#include <limits>
#include <mutex>

#include "core/gpu/check.hpp"
#include "core/gpu/device.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/gpu/resources.hpp"
#include "kernels/gather_windows.hpp"
#include "kernels/reduce.hpp"
#include "lstm/fused/fused_lstm.hpp"
#include "lstm/gpu/block_ops.hpp"
#include "lstm/gpu/training_loop.hpp"

namespace lstmad {

namespace {

constexpr gpu::GpuTrainingNames kNames{"fused", "LSTMAD_FUSED_GRAPHS"};

void require_device(int device) {
  gpu::require_gpu_device(kNames.engine, device);
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
    std::lock_guard<std::mutex> lock(mutex_);
    Context& c = context();
    gpu::check_predict_starts(window, n, starts);
    check_params(shape, params.size());
    const int max_batch = gpu::predict_max_batch(starts);
    FusedLstm lstm(c.handle.get(), c.stream.get(), shape, window, max_batch, opts_.precision, c.limits);
    gpu::predict_windows(lstm, c.stream, shape, window, max_batch, params, x, n, starts, out);
  }

  double loss_and_grad(const ModelShape& shape, int window, const float* params, const float* xb,
                       const float* yb, int batch, float* grad) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Context& c = context();
    FusedLstm lstm(c.handle.get(), c.stream.get(), shape, window, batch, opts_.precision, c.limits);
    return gpu::batch_loss_and_grad(lstm, c.stream, shape, window, params, xb, yb, batch, grad);
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
