// The Engine interface: trains and runs a ModelBatch, N independent models of one shape, each with its
// own parameters, data and options. Engines: "cpu" (threads over models; fp32, or fp64 as the accuracy
// reference), "cudnn" (the per-model GPU reference), "fused" (our multi-model CUDA kernels).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "lstm/shape.hpp"
#include "train/options.hpp"

namespace lstmad {

enum class Precision { FP32, FP64, TF32, BF16 };
std::string to_string(Precision p);
Precision parse_precision(const std::string& s);  // "fp32" | "fp64" | "tf32" | "bf16"

// One model's data: a normalized series and the windows to learn from. A window starting at row s reads
// inputs x[s .. s+T-1] (each row D values) and predicts targets y[s+T .. s+T+horizon-1].
struct WindowSource {
  const float* x = nullptr;  // n x D, row-major
  const float* y = nullptr;  // n
  int n = 0;
  std::vector<int> train;    // window starts used for gradient steps
  std::vector<int> val;      // window starts for validation loss / early stopping (may be empty)
};

// One model of a ModelBatch.
struct ModelJob {
  std::vector<float> params;  // in: initial parameters; out: trained (best validation epoch)
  WindowSource data;
  TrainOptions options;
  TrainResult result;         // out
};

// One model's windows for Engine::predict_batch(): as predict()'s arguments.
struct PredictJob {
  const std::vector<float>* params = nullptr;
  const float* x = nullptr;  // n x D, row-major
  int n = 0;
  std::vector<int> starts;   // window starts (each window's rows must lie in [0, n))
  float* out = nullptr;      // starts.size() x horizon
};

// Throws Error naming `what` and the start when a window's rows [s, s + window + horizon) leave [0, n);
// horizon = 0 checks the inputs only (prediction). Every engine checks its jobs with it.
void check_window_starts(const std::vector<int>& starts, int n, int window, int horizon, const char* what);

struct EngineOptions {
  std::string name = "cpu";
  Precision precision = Precision::FP32;
  int threads = 1;            // CPU engine: models trained at once
  int device = 0;             // GPU engines: CUDA device ordinal
  std::string algo = "standard";  // cuDNN: "standard" | "persist_static_small_h"
  int streams = 4;            // cuDNN: streams for the loop over models
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string name() const = 0;
  virtual Precision precision() const = 0;

  // Empty when the engine can train this shape with these options; otherwise why not and which engine can.
  virtual std::string unsupported_reason(const ModelShape& shape, const TrainOptions& options) const {
    (void)shape;
    (void)options;
    return {};
  }

  // Trains every job (a ModelBatch: all jobs share `shape` and the window length). A job whose training
  // goes non-finite ends with status NonFinite; it never stops the others.
  virtual void train(const ModelShape& shape, std::vector<ModelJob>& jobs) = 0;

  // Predictions of one model for the windows starting at `starts`: out[k * horizon + j] is the j-th
  // predicted value after the window starting at starts[k]. x is n x D.
  virtual void predict(const ModelShape& shape, int window, const std::vector<float>& params, const float* x,
                       int n, const std::vector<int>& starts, float* out) = 0;

  // predict() for several models of one shape and window. The default calls predict() per job on up to
  // `threads` threads; the fused engine runs every job's windows in lockstep, each launch covering all
  // models. A job's predictions do not depend on the other jobs.
  virtual void predict_batch(const ModelShape& shape, int window, const std::vector<PredictJob>& jobs,
                             int threads);

  // Loss (MSE over batch x horizon) and its gradient for one minibatch of one model, for cross-engine
  // checks and benchmarks. xb: batch x window x D; yb: batch x horizon; grad: param_count(shape).
  virtual double loss_and_grad(const ModelShape& shape, int window, const float* params, const float* xb,
                               const float* yb, int batch, float* grad) = 0;
};

// Engine names that this build can make ("cpu" always; "cudnn", "fused" with CUDA).
std::vector<std::string> engine_names();
// Makes an engine; an unknown name is a ConfigError listing the valid ones.
std::unique_ptr<Engine> make_engine(const EngineOptions& options);

}  // namespace lstmad
