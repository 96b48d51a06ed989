// The "cpu" engine (cpu_engine.hpp): LstmCpu<float> for fp32, LstmCpu<double> for fp64 with double master
// parameters (converted from the job's fp32 canonical buffer and rounded back at the end).
//
// Each model is trained start to finish by one thread, with buffers sized from that model's own options
// only, so its result does not depend on the thread count or on which other models share the batch.
//
// The models' buffers are kept between models in a ModelPool (model_pool.hpp) rather than allocated and
// zero-filled for each model and each scored series.
#include "lstm/cpu/cpu_engine.hpp"

#include <algorithm>
#include <mutex>
#include <string>

#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "lstm/cpu/lstm_cpu.hpp"
#include "lstm/cpu/model_pool.hpp"
#include "train/trainer.hpp"

namespace lstmad {

namespace {

template <typename Real>
class LstmCpuModel final : public TrainableModel<Real> {
 public:
  LstmCpuModel(const ModelShape& shape, int window, int max_batch) : net_(shape, window, max_batch) {}
  const ModelShape& shape() const override { return net_.shape(); }
  int window() const override { return net_.window(); }
  int max_batch() const override { return net_.max_batch(); }
  bool rows_independent() const override { return net_.rows_independent(); }
  // The trainer's forward is prediction or validation, never followed by a backward.
  void forward(const Real* params, const Real* xb, int batch, Real* yhat) override {
    net_.infer(params, xb, batch, yhat);
  }
  Real loss_and_grad(const Real* params, const Real* xb, const Real* yb, int batch, Real* grad) override {
    return net_.loss_and_grad(params, xb, yb, batch, grad);
  }
  LstmCpu<Real>& net() { return net_; }

 private:
  LstmCpu<Real> net_;
};

template <typename Real>
std::vector<Real> to_real(const float* p, std::size_t n) {
  return std::vector<Real>(p, p + n);
}

// Windows per forward in predict(): enough rows for efficient GEMMs. 128 and 256 were no faster (within
// 4 %, either way, at L = 1-2, H = 32-128, T = 50), while each step's h, kept for the layer above, grows as
// T x batch x H per layer and several threads predict at once.
constexpr int kPredictBatch = 64;

template <typename Real>
class CpuEngine final : public Engine {
 public:
  CpuEngine(const EngineOptions& o, Precision p)
      : threads_(std::max(1, o.threads)), precision_(p), pool_(static_cast<std::size_t>(threads_)) {}

  std::string name() const override { return "cpu"; }
  Precision precision() const override { return precision_; }

  void train(const ModelShape& shape, std::vector<ModelJob>& jobs) override {
    if (jobs.empty()) return;
    shape.validate();
    // Reject malformed jobs before any training, so a batch either runs whole or not at all.
    const int window = jobs.front().options.window;
    if (window < 1) throw Error("cpu engine: window must be at least 1, got " + std::to_string(window));
    for (std::size_t k = 0; k < jobs.size(); ++k) {
      const ModelJob& j = jobs[k];
      const std::string tag = "job " + std::to_string(k);
      if (j.options.window != window)
        throw Error("cpu engine: every job of a ModelBatch must share the window length (" +
                    std::to_string(window) + " vs " + std::to_string(j.options.window) + " in " + tag + ")");
      if (j.options.batch < 1)
        throw Error("cpu engine: batch must be at least 1 in " + tag + ", got " +
                    std::to_string(j.options.batch));
      check_param_count(shape, j.params.size(), "cpu engine: " + tag);
      check_window_starts(j.data.train, j.data.n, window, shape.horizon, (tag + " training").c_str());
      check_window_starts(j.data.val, j.data.n, window, shape.horizon, (tag + " validation").c_str());
    }
    parallel_for(jobs.size(), static_cast<std::size_t>(threads_),
                 [&](std::size_t k) { train_one(shape, jobs[k]); });
  }

  void predict(const ModelShape& shape, int window, const std::vector<float>& params, const float* x, int n,
               const std::vector<int>& starts, float* out) override {
    shape.validate();
    check_param_count(shape, params.size(), "cpu engine: predict");
    if (starts.empty()) return;
    // A model per call: the runner predicts from several threads at once. Always kPredictBatch windows
    // of room, whatever the call asks: predict_windows pads its calls to it where the model's rows are not
    // independent (rows_independent), so that a window's forecast is the same in a longer series.
    PooledModel<LstmCpuModel<Real>> model(pool_, shape, window, kPredictBatch);
    const std::vector<Real> p = to_real<Real>(params.data(), params.size());
    predict_windows(*model, p.data(), x, n, starts, out);
  }

  double loss_and_grad(const ModelShape& shape, int window, const float* params, const float* xb,
                       const float* yb, int batch, float* grad) override {
    shape.validate();
    const std::size_t P = param_count(shape);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!cached_ || cached_->shape() != shape || cached_->window() != window || cached_->max_batch() < batch)
      cached_ = std::make_unique<LstmCpuModel<Real>>(shape, window, batch);
    const std::size_t nx = static_cast<std::size_t>(batch) * window * shape.input;
    const std::size_t ny = static_cast<std::size_t>(batch) * shape.horizon;
    const std::vector<Real> p = to_real<Real>(params, P), x = to_real<Real>(xb, nx),
                            y = to_real<Real>(yb, ny);
    std::vector<Real> g(P);
    const Real loss = cached_->loss_and_grad(p.data(), x.data(), y.data(), batch, g.data());
    for (std::size_t k = 0; k < P; ++k) grad[k] = static_cast<float>(g[k]);
    return static_cast<double>(loss);
  }

 private:
  void train_one(const ModelShape& shape, ModelJob& job) {
    const int ntrain = static_cast<int>(job.data.train.size());
    const int max_batch = std::max(1, std::min(job.options.batch, ntrain));
    PooledModel<LstmCpuModel<Real>> model(pool_, shape, job.options.window, max_batch);
    std::vector<Real> p = to_real<Real>(job.params.data(), job.params.size());
    job.result = train_model(*model, p, job.data, job.options);
    for (std::size_t k = 0; k < p.size(); ++k) job.params[k] = static_cast<float>(p[k]);
  }

  int threads_;
  Precision precision_;
  std::mutex mutex_;
  std::unique_ptr<LstmCpuModel<Real>> cached_;
  ModelPool<LstmCpuModel<Real>> pool_;
};

}  // namespace

std::unique_ptr<Engine> make_cpu_engine(const EngineOptions& options) {
  switch (options.precision) {
    case Precision::FP32:
      return std::make_unique<CpuEngine<float>>(options, Precision::FP32);
    case Precision::FP64:
      return std::make_unique<CpuEngine<double>>(options, Precision::FP64);
    case Precision::TF32:
      throw UnsupportedError("engine \"cpu\" runs fp32 and fp64, not tf32; engine \"cudnn\" runs tf32");
    case Precision::BF16:
      throw UnsupportedError(
          "engine \"cpu\" runs fp32 and fp64, not bf16; engine \"fused\" is the one for bf16");
  }
  throw UnsupportedError("engine \"cpu\": unknown precision");
}

}  // namespace lstmad
