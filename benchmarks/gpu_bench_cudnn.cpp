// Time of one training step of the cuDNN engine's step sequence, per shape, with CUDA events:
//   gather -> cudnnRNNForward(TRAINING) -> head + MSE -> loss sum -> head backward -> BackwardData ->
//   BackwardWeights -> ||g||^2 -> Adam
// over H in {32,64,128,256}, L in {1,2}, T in {50,100,250}, B in {32,64,256}, D=1, horizon 1; cuDNN FMA
// (strict fp32) and TF32 math; STANDARD and, where cuDNN takes it (H <= 128), PERSIST_STATIC_SMALL_H.
// Each row: median of --reps steps after --warmup steps, launched eagerly and as a CUDA graph replay,
// and the achieved GFLOP/s (24 H (D_l + H) B T per layer and step).
// A second table times the whole engine on a ModelBatch of --models models (H=64, L=1, T=100, B=64, 8
// steps per epoch, 2 epochs) for 1, 4 and 8 streams, CUDA graphs on and off: wall time per model-step.
//
// --smoke: tiny sizes (H=16, T=4, B=3, 2 models, 1 rep, no warm-up) that only show every path runs, as the
// host emulation of CUDA runs it in CI (emulated.gpu_bench_smoke); its times mean nothing.
//
// Usage: gpu_bench_cudnn [--quick | --smoke] [--reps N] [--warmup N] [--models N] [--csv FILE]
// Without a CUDA device it prints why and exits 0.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_csv.hpp"
#include "bench_flags.hpp"
#include "core/gpu/check.hpp"
#include "core/gpu/device.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/gpu/resources.hpp"
#include "core/rng.hpp"
#include "gpu_step_bench.hpp"
#include "kernels/adam.hpp"
#include "kernels/gather_windows.hpp"
#include "kernels/reduce.hpp"
#include "lstm/cudnn/cudnn_check.hpp"
#include "lstm/cudnn/cudnn_engine.hpp"
#include "lstm/cudnn/cudnn_lstm.hpp"
#include "lstm/init.hpp"

using namespace lstmad;

namespace {

struct Row {
  int H, L, T, B;
  std::string math, algo_asked, algo_used;
  double eager_ms = 0, graph_ms = -1, gflops = 0;
};

// The engine table's model and schedule.
struct EngineSize {
  int H = 64, T = 100, B = 64, steps = 8, epochs = 2;
};

// Wall time per model-step of the engine training `models` models at once.
void engine_throughput(const EngineSize& z, int models, int stream_count, bool graphs, Precision p) {
  const ModelShape shape{1, 1, z.H, 1};
  const int T = z.T, B = z.B, steps = z.steps, epochs = z.epochs;
  const int n = T + 1 + steps * B;
  Rng rng(3);
  std::vector<float> x(static_cast<std::size_t>(n)), y(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    x[static_cast<std::size_t>(i)] = y[static_cast<std::size_t>(i)] =
        static_cast<float>(std::sin(0.05 * i) + 0.1 * rng.normal());
  std::vector<ModelJob> jobs(static_cast<std::size_t>(models));
  for (int m = 0; m < models; ++m) {
    ModelJob& j = jobs[static_cast<std::size_t>(m)];
    j.params = init_params(shape, 100 + m);
    j.data.x = x.data();
    j.data.y = y.data();
    j.data.n = n;
    for (int i = 0; i < steps * B; ++i) j.data.train.push_back(i);
    j.options.window = T;
    j.options.batch = B;
    j.options.epochs = epochs;
    j.options.patience = 0;
    j.options.seed = static_cast<uint64_t>(m);
  }
  EngineOptions eo;
  eo.name = "cudnn";
  eo.precision = p;
  eo.streams = stream_count;
  setenv("LSTMAD_CUDNN_GRAPHS", graphs ? "1" : "0", 1);
  auto engine = make_cudnn_engine(eo);
  const auto t0 = std::chrono::steady_clock::now();
  engine->train(shape, jobs);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  unsetenv("LSTMAD_CUDNN_GRAPHS");
  const double per = s * 1e3 / (static_cast<double>(models) * steps * epochs);
  std::printf("%7d %8d %7s %5s %12.3f %18.4f\n", models, stream_count, graphs ? "on" : "off",
              p == Precision::FP32 ? "fma" : "tf32", s, per);
  std::fflush(stdout);
}

// Row r's step on cuDNN (math p, algorithm a): eager, then captured once as a CUDA graph and replayed
// (graph_ms stays -1 where capture fails), and the GFLOP/s of the faster.
void time_row(Row& r, Precision p, RnnAlgo a, cudaStream_t stream, cudnnHandle_t handle, int warmup,
              int reps) {
  const ModelShape shape{r.L, 1, r.H, 1};
  const int T = r.T, B = r.B;
  bench::StepBench<CudnnLstm> b(
      stream, shape, T, B, [&] { return std::make_unique<CudnnLstm>(handle, stream, shape, T, B, p, a); });
  r.algo_used = to_string(b.lstm->algo());
  r.eager_ms = bench::time_median_ms(stream, warmup, reps, [&] { b.step(); });
  const gpu::GraphExec graph = bench::capture_step(stream, "gpu_bench_cudnn", [&] { b.step(); });
  if (graph) r.graph_ms = bench::time_median_ms(stream, warmup, reps, [&] { graph.launch(stream); });
  double flops = 0;
  for (int l = 0; l < r.L; ++l) flops += 24.0 * r.H * ((l == 0 ? 1 : r.H) + r.H) * B * T;
  const double best = r.graph_ms > 0 ? std::min(r.eager_ms, r.graph_ms) : r.eager_ms;
  r.gflops = flops / (best * 1e-3) / 1e9;
}

// The engine's throughput table: `models` models in one ModelBatch on 1, 4 and 8 streams, graphs off and
// on, at fma and tf32 math (--quick: fewer).
void engine_rows(const EngineSize& size, int models, bool quick) {
  std::printf(
      "\nengine throughput: H=%d L=1 T=%d B=%d D=1, %d steps x %d epochs per model (wall clock, with "
      "uploads and per-epoch synchronisation)\n",
      size.H, size.T, size.B, size.steps, size.epochs);
  std::printf("%7s %8s %7s %5s %12s %18s\n", "models", "streams", "graphs", "math", "seconds",
              "ms/model-step");
  for (Precision p : {Precision::FP32, Precision::TF32})
    for (int sc : {1, 4, 8})
      for (bool g : {false, true}) {
        if (quick && (sc == 4 || p == Precision::TF32)) continue;
        try {
          engine_throughput(size, models, sc, g, p);
        } catch (const std::exception& e) {
          std::printf("%7d %8d %7s failed: %s\n", models, sc, g ? "on" : "off", e.what());
        }
      }
}

}  // namespace

int main(int argc, char** argv) {
  bench::BenchFlags flags;
  int models = 32;
  CLI::App app{"gpu_bench_cudnn: one cuDNN training step per shape, then the cudnn engine on a ModelBatch"};
  bench::add_bench_flags(app, flags);
  app.add_option("--models", models, "Models in the engine's ModelBatch")
      ->check(bench::at_least(1))
      ->capture_default_str();
  if (const int rc = bench::parse_bench_flags(app, argc, argv); rc >= 0) return rc;
  const bool quick = flags.quick, smoke = flags.smoke;
  int &reps = flags.reps, &warmup = flags.warmup;
  const std::string& csv = flags.csv;
  EngineSize engine_size;
  if (smoke) {
    reps = 1;
    warmup = 0;
    models = 2;
    engine_size = {16, 4, 3, 2, 1};
  }
  std::string reason;
  if (!gpu::device_available(0, &reason)) {
    std::printf("gpu_bench_cudnn: no CUDA device (%s); nothing to time\n", reason.c_str());
    return 0;
  }
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("gpu_bench_cudnn on %s (sm_%d%d, %d SMs), cuDNN %s, %d reps after %d warm-up steps, medians\n",
              prop.name, prop.major, prop.minor, prop.multiProcessorCount,
              gpu::cudnn_version_string().c_str(), reps, warmup);

  std::vector<int> Hs{32, 64, 128, 256}, Ls{1, 2}, Ts{50, 100, 250}, Bs{32, 64, 256};
  if (quick) {
    Hs = {64, 256};
    Ls = {1};
    Ts = {100};
    Bs = {64};
  }
  if (smoke) {
    Hs = {16};
    Ts = {4};
    Bs = {3};
  }
  gpu::Stream stream;
  gpu::CudnnHandle handle;
  CUDNN_CHECK(cudnnSetStream(handle, stream));
  bench::CsvRows csv_rows(csv, "H,L,T,B,D,math,algo,algo_used,eager_ms,graph_ms,gflops");
  std::printf("%5s %2s %4s %4s %5s %-22s %-22s %10s %10s %9s\n", "H", "L", "T", "B", "math", "algo", "ran as",
              "eager ms", "graph ms", "GFLOP/s");
  for (int H : Hs)
    for (int L : Ls)
      for (int T : Ts)
        for (int B : Bs)
          for (Precision p : {Precision::FP32, Precision::TF32})
            for (RnnAlgo a : {RnnAlgo::Standard, RnnAlgo::PersistStaticSmallH}) {
              if (a == RnnAlgo::PersistStaticSmallH && H > 128)
                continue;  // outside cuDNN's SMALL_H backward range
              Row r{H, L, T, B, p == Precision::FP32 ? "fma" : "tf32", to_string(a), "", 0, -1, 0};
              try {
                time_row(r, p, a, stream, handle, warmup, reps);
              } catch (const std::exception& e) {
                std::printf("%5d %2d %4d %4d %5s %-22s failed: %s\n", H, L, T, B, r.math.c_str(),
                            r.algo_asked.c_str(), e.what());
                CUDA_CHECK(cudaStreamSynchronize(stream));
                continue;
              }
              std::printf("%5d %2d %4d %4d %5s %-22s %-22s %10.4f %10.4f %9.1f\n", H, L, T, B, r.math.c_str(),
                          r.algo_asked.c_str(), r.algo_used.c_str(), r.eager_ms, r.graph_ms, r.gflops);
              std::fflush(stdout);
              csv_rows.row(r.H, r.L, r.T, r.B, 1, r.math, r.algo_asked, r.algo_used, r.eager_ms, r.graph_ms,
                           r.gflops);
            }
  csv_rows.done();

  engine_rows(engine_size, models, quick);
  return 0;
}
