// The cudnn engine (cudnn_engine.hpp).
//
// Training runs the GPU engines' shared loop (lstm/gpu/training_loop.hpp) with a CudnnLstm on a
// per-worker cuDNN handle as the block, so each step's forward and backward are cudnnRNNForward,
// BackwardData, a zeroed dw and BackwardWeights. The first step of each batch size runs eagerly because
// cuDNN's lazy setup must not happen during graph capture. LSTMAD_CUDNN_GRAPHS=0 turns graphs off.
#include "lstm/cudnn/cudnn_engine.hpp"

#include <algorithm>
#include <mutex>

#include "core/gpu/check.hpp"
#include "core/gpu/device.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/gpu/resources.hpp"
#include "kernels/gather_windows.hpp"
#include "kernels/reduce.hpp"
#include "lstm/cudnn/cudnn_lstm.hpp"
#include "lstm/gpu/block_ops.hpp"
#include "lstm/gpu/training_loop.hpp"

namespace lstmad {

namespace {

constexpr gpu::GpuTrainingNames kNames{"cudnn", "LSTMAD_CUDNN_GRAPHS"};

// `device`, once checked usable (DeviceError with the reason otherwise).
int require_device(int device) {
  gpu::require_gpu_device(kNames.engine, device);
  return device;
}

class CudnnEngine final : public Engine {
 public:
  explicit CudnnEngine(const EngineOptions& o) : opts_(o), algo_(parse_rnn_algo(o.algo)) {
    if (o.precision != Precision::FP32 && o.precision != Precision::TF32)
      throw UnsupportedError(precision_reason(o.precision));
  }

  std::string name() const override { return "cudnn"; }
  Precision precision() const override { return opts_.precision; }

  std::string unsupported_reason(const ModelShape& shape, const TrainOptions& options) const override {
    (void)shape;
    (void)options;
    if (opts_.precision != Precision::FP32 && opts_.precision != Precision::TF32)
      return precision_reason(opts_.precision);
    return {};
  }

  void train(const ModelShape& shape, std::vector<ModelJob>& jobs) override {
    if (jobs.empty()) return;
    shape.validate();
    require_device(opts_.device);
    const int window = jobs.front().options.window;
    const gpu::SlotSizes sz = gpu::gpu_slot_sizes(kNames.engine, window, jobs);
    gpu::train_on_streams(kNames, opts_.device, opts_.streams, shape, window, sz, jobs,
                          [&](cudaStream_t stream) -> std::unique_ptr<gpu::GpuLstmBlock> {
                            gpu::CudnnHandle handle;
                            CUDNN_CHECK(cudnnSetStream(handle, stream));
                            return std::make_unique<gpu::OwningLstmBlock<gpu::CudnnHandle, CudnnLstm>>(
                                std::move(handle), stream, shape, window, sz.max_batch, opts_.precision,
                                algo_);
                          });
  }

  void predict(const ModelShape& shape, int window, const std::vector<float>& params, const float* x, int n,
               const std::vector<int>& starts, float* out) override {
    if (starts.empty()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const gpu::ScopedDevice dev(require_device(opts_.device));
    Context& c = context();
    check_window_starts(starts, n, window, 0, "predict");
    check_param_count(shape, params.size(), "cudnn engine");
    CudnnLstm& lstm = predictor(c, shape, window, gpu::predict_max_batch(starts));
    gpu::predict_windows(lstm, c.stream, shape, window, lstm.max_batch(), params, x, n, starts, out);
  }

  double loss_and_grad(const ModelShape& shape, int window, const float* params, const float* xb,
                       const float* yb, int batch, float* grad) override {
    std::lock_guard<std::mutex> lock(mutex_);
    const gpu::ScopedDevice dev(require_device(opts_.device));
    Context& c = context();
    CudnnLstm lstm(c.handle.get(), c.stream.get(), shape, window, batch, opts_.precision, algo_);
    return gpu::batch_loss_and_grad(lstm, c.stream, shape, window, params, xb, yb, batch, grad);
  }

 private:
  // An inference block kept for predict(): scoring calls predict() once per model and forecast segment,
  // and building a block (descriptors, device buffers, the persistent algorithm's probe) costs more than
  // the forecasts of a segment.
  struct PredictBlock {
    ModelShape shape;
    int window = 0;
    std::unique_ptr<CudnnLstm> lstm;
    unsigned long long last_use = 0;
  };
  // The most blocks kept: one per window of an ensemble (configs/nab.json has four) with room to spare;
  // the least recently used goes first.
  static constexpr std::size_t kPredictBlocks = 8;

  struct Context {
    gpu::Stream stream;
    gpu::CudnnHandle handle;
    std::vector<PredictBlock> blocks;
    unsigned long long uses = 0;
  };

  // The kept block for (shape, window) that holds `batch` windows, built or grown when there is none.
  // Sizes grow by powers of two (up to predict_max_batch's 1024) so that series of similar length share
  // one block.
  CudnnLstm& predictor(Context& c, const ModelShape& shape, int window, int batch) {
    ++c.uses;
    auto it = std::find_if(c.blocks.begin(), c.blocks.end(),
                           [&](const PredictBlock& b) { return b.shape == shape && b.window == window; });
    if (it != c.blocks.end() && it->lstm->max_batch() >= batch) {
      it->last_use = c.uses;
      return *it->lstm;
    }
    int rows = 1;
    while (rows < batch) rows *= 2;
    rows = std::min(rows, 1024);  // batch <= 1024 (predict_max_batch)
    if (it != c.blocks.end())
      c.blocks.erase(it);  // the smaller block's buffers are freed before the larger one is made
    else if (c.blocks.size() == kPredictBlocks)
      c.blocks.erase(std::min_element(
          c.blocks.begin(), c.blocks.end(),
          [](const PredictBlock& a, const PredictBlock& b) { return a.last_use < b.last_use; }));
    // Built before it is kept: a failed build (out of memory, a cuDNN error) leaves no entry behind.
    auto lstm = std::make_unique<CudnnLstm>(c.handle.get(), c.stream.get(), shape, window, rows,
                                            opts_.precision, algo_, CudnnLstm::Use::Inference);
    c.blocks.push_back({shape, window, std::move(lstm), c.uses});
    return *c.blocks.back().lstm;
  }

  static std::string precision_reason(Precision p) {
    return "engine \"cudnn\" runs fp32 and tf32, not " + to_string(p) +
           (p == Precision::FP64 ? "; engine \"cpu\" runs fp64" : "; engine \"fused\" is the one for bf16");
  }

  // The stream and handle for predict() and loss_and_grad(), made on first use on opts_.device. Each
  // caller makes that device current for its own scope (gpu::ScopedDevice), so that an engine never leaves
  // its caller's thread on another device.
  Context& context() {
    if (!context_) {
      context_ = std::make_unique<Context>();
      CUDNN_CHECK(cudnnSetStream(context_->handle, context_->stream));
    }
    return *context_;
  }

  EngineOptions opts_;
  RnnAlgo algo_;
  std::mutex mutex_;
  std::unique_ptr<Context> context_;
};

}  // namespace

std::unique_ptr<Engine> make_cudnn_engine(const EngineOptions& options) {
  return std::make_unique<CudnnEngine>(options);
}

}  // namespace lstmad
