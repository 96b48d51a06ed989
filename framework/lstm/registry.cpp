// Engine registry: names -> factories (GPU engines exist only in CUDA builds), and the Engine defaults.
#include <algorithm>

#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "lstm/cpu/cpu_engine.hpp"
#ifdef LSTMAD_WITH_CUDNN
#include "lstm/cudnn/cudnn_engine.hpp"
#endif
#ifdef LSTMAD_WITH_CUDA
#include "lstm/fused/fused_engine.hpp"
#endif
#include "lstm/engine.hpp"

namespace lstmad {

std::string to_string(Precision p) {
  switch (p) {
    case Precision::FP32: return "fp32";
    case Precision::FP64: return "fp64";
    case Precision::TF32: return "tf32";
    case Precision::BF16: return "bf16";
  }
  return "?";
}

Precision parse_precision(const std::string& s) {
  if (s == "fp32") return Precision::FP32;
  if (s == "fp64") return Precision::FP64;
  if (s == "tf32") return Precision::TF32;
  if (s == "bf16") return Precision::BF16;
  throw ConfigError("unknown precision \"" + s + "\": expected one of fp32, fp64, tf32, bf16");
}

void check_window_starts(const std::vector<int>& starts, int n, int window, int horizon, const char* what) {
  for (int s : starts) {
    const long long end = static_cast<long long>(s) + window + horizon;
    if (s < 0 || end > n)
      throw Error(std::string(what) + " window start " + std::to_string(s) + " needs rows [" +
                  std::to_string(s) + ", " + std::to_string(end) + ") but the series has " +
                  std::to_string(n) + " rows");
  }
}

void Engine::predict_batch(const ModelShape& shape, int window, const std::vector<PredictJob>& jobs,
                           int threads) {
  parallel_for(jobs.size(), static_cast<std::size_t>(std::max(1, threads)), [&](std::size_t j) {
    const PredictJob& p = jobs[j];
    if (!p.starts.empty()) predict(shape, window, *p.params, p.x, p.n, p.starts, p.out);
  });
}

std::vector<std::string> engine_names() {
  std::vector<std::string> names{"cpu"};
#ifdef LSTMAD_WITH_CUDNN
  names.push_back("cudnn");
#endif
#ifdef LSTMAD_WITH_CUDA
  names.push_back("fused");
#endif
  return names;
}

std::unique_ptr<Engine> make_engine(const EngineOptions& options) {
  if (options.name == "cpu") return make_cpu_engine(options);
#ifdef LSTMAD_WITH_CUDNN
  if (options.name == "cudnn") return make_cudnn_engine(options);
#endif
#ifdef LSTMAD_WITH_CUDA
  if (options.name == "fused") return make_fused_engine(options);
#endif
  std::string valid;
  for (const auto& n : engine_names()) valid += (valid.empty() ? "" : ", ") + n;
  std::string hint;
  if (options.name == "cudnn" || options.name == "fused")
    hint = " (this build has no CUDA toolkit; rebuild where nvcc and cuDNN are installed)";
  throw ConfigError("unknown engine \"" + options.name + "\": this build has " + valid + hint);
}

}  // namespace lstmad
