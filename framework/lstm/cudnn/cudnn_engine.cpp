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
#include "lstm/gpu/training_loop.hpp"

namespace lstmad {

namespace {

constexpr gpu::GpuTrainingNames kNames{"cudnn", "LSTMAD_CUDNN_GRAPHS"};

void require_device(int device) {
  gpu::require_gpu_device(kNames.engine, device);
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
    Context& c = context();
    for (int s : starts)
      if (s < 0 || static_cast<long long>(s) + window > n)
        throw Error("predict: window start " + std::to_string(s) + " needs rows up to " +
                    std::to_string(static_cast<long long>(s) + window) + " but the series has " +
                    std::to_string(n));
    check_params(shape, params.size());
    const int max_batch = std::min<int>(static_cast<int>(starts.size()), 1024);
    CudnnLstm lstm(c.handle.get(), c.stream.get(), shape, window, max_batch, opts_.precision, algo_);
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
    CudnnLstm lstm(c.handle.get(), c.stream.get(), shape, window, batch, opts_.precision, algo_);
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
    gpu::CudnnHandle handle;
  };

  static std::string precision_reason(Precision p) {
    return "engine \"cudnn\" runs fp32 and tf32, not " + to_string(p) +
           (p == Precision::FP64 ? "; engine \"cpu\" runs fp64" : "; engine \"fused\" is the one for bf16");
  }

  static void check_params(const ModelShape& shape, std::size_t n) {
    if (n != param_count(shape))
      throw Error("cudnn engine: " + std::to_string(n) + " parameters given, shape " + shape.str() +
                  " needs " + std::to_string(param_count(shape)));
  }

  // The stream and handle for predict() and loss_and_grad(), made on first use on opts_.device.
  Context& context() {
    require_device(opts_.device);
    CUDA_CHECK(cudaSetDevice(opts_.device));
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
