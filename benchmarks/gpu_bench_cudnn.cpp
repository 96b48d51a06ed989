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
// Usage: gpu_bench_cudnn [--quick] [--reps N] [--warmup N] [--models N] [--csv FILE]
// Without a CUDA device it prints why and exits 0.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/gpu/check.hpp"
#include "core/gpu/device.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/gpu/resources.hpp"
#include "core/rng.hpp"
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

double median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// One model's buffers and its step, enqueued on one stream.
struct Bench {
  Bench(cudnnHandle_t handle, cudaStream_t s, const ModelShape& shp, int t, int b, Precision p, RnnAlgo a)
      : stream(s), shape(shp), T(t), B(b), lstm(handle, s, shp, t, b, p, a) {
    const int n = 4 * (T + B) + 64;
    Rng rng(7);
    std::vector<float> xs(static_cast<std::size_t>(n) * shape.input), ys(static_cast<std::size_t>(n));
    for (auto& e : xs) e = static_cast<float>(rng.uniform(-1, 1));
    for (auto& e : ys) e = static_cast<float>(rng.uniform(-1, 1));
    std::vector<int> starts(static_cast<std::size_t>(B));
    for (auto& st : starts) st = static_cast<int>(rng.below(static_cast<uint64_t>(n - T - 1)));
    dxs.upload(xs, s);
    dys.upload(ys, s);
    dstarts.upload(starts, s);
    const std::size_t P = lstm.theta_size(), BH = static_cast<std::size_t>(B) * shape.horizon;
    xb.resize(static_cast<std::size_t>(B) * T * shape.input);
    yb.resize(BH);
    yhat.resize(BH);
    dyhat.resize(BH);
    sq.resize(BH);
    m.resize(P);
    v.resize(P);
    m.zero_async(s);
    v.zero_async(s);
    scalars.resize(3);
    kernels::AdamHyper h;
    h.lr = 1e-4f;  // small steps keep the parameters sane over hundreds of timed steps
    h.clip_norm = 1.f;
    hyper.upload(&h, 1, s);
    state.resize(1);
    state.zero_async(s);
    cub_bytes = std::max(kernels::sum_squares_temp_bytes(P), kernels::sum_squares_temp_bytes(BH));
    temp.resize(std::max<std::size_t>(cub_bytes, 1));
    const auto params = init_params(shape, 11);
    lstm.upload_params(params.data());
    lstm.prepare(B);
  }

  void step() {
    const int hz = shape.horizon;
    kernels::launch_gather_windows(dxs.data(), dys.data(), shape.input, dstarts.data(), nullptr, B, T, hz,
                                   xb.data(), yb.data(), stream);
    lstm.forward(lstm.theta(), xb.data(), B, true);
    lstm.head(lstm.theta(), B, yhat.data(), yb.data(), dyhat.data(), sq.data());
    CUDA_CHECK(kernels::launch_sum_squares(sq.data(), static_cast<std::size_t>(B) * hz, scalars.data(),
                                           temp.data(), cub_bytes, stream));
    kernels::launch_accumulate(scalars.data() + 2, scalars.data(), stream);
    lstm.backward(lstm.theta(), xb.data(), B, dyhat.data(), lstm.dtheta(), nullptr);
    CUDA_CHECK(kernels::launch_sum_squares(lstm.dtheta(), lstm.theta_size(), scalars.data() + 1, temp.data(),
                                           cub_bytes, stream));
    kernels::launch_adam_prepare(hyper.data(), scalars.data() + 1, state.data(), stream);
    kernels::launch_adam_update(lstm.theta(), lstm.dtheta(), m.data(), v.data(), lstm.theta_size(),
                                hyper.data(), state.data(), stream);
    KERNEL_CHECK("training step");
  }

  cudaStream_t stream;
  ModelShape shape;
  int T, B;
  CudnnLstm lstm;
  gpu::DeviceBuffer<float> dxs, dys, xb, yb, yhat, dyhat, sq, m, v;
  gpu::DeviceBuffer<int> dstarts;
  gpu::DeviceBuffer<double> scalars;
  gpu::DeviceBuffer<kernels::AdamHyper> hyper;
  gpu::DeviceBuffer<kernels::AdamStepState> state;
  gpu::DeviceBuffer<unsigned char> temp;
  std::size_t cub_bytes = 0;
};

template <typename F>
double time_median_ms(cudaStream_t s, int warmup, int reps, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  CUDA_CHECK(cudaStreamSynchronize(s));
  std::vector<gpu::Event> ev;
  ev.reserve(static_cast<std::size_t>(reps) + 1);
  for (int i = 0; i <= reps; ++i) ev.emplace_back(true);
  ev[0].record(s);
  for (int i = 0; i < reps; ++i) {
    f();
    ev[static_cast<std::size_t>(i) + 1].record(s);
  }
  ev.back().synchronize();
  std::vector<float> t;
  for (int i = 0; i < reps; ++i)
    t.push_back(ev[static_cast<std::size_t>(i) + 1].elapsed_ms_since(ev[static_cast<std::size_t>(i)]));
  return median(t);
}

// Wall time per model-step of the engine training `models` models at once.
void engine_throughput(int models, int stream_count, bool graphs, Precision p) {
  const ModelShape shape{1, 1, 64, 1};
  const int T = 100, B = 64, steps = 8, epochs = 2;
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

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int reps = 30, warmup = 5, models = 32;
  std::string csv;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick")
      quick = true;
    else if (a == "--reps" && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--warmup" && i + 1 < argc)
      warmup = std::max(0, std::atoi(argv[++i]));
    else if (a == "--models" && i + 1 < argc)
      models = std::max(1, std::atoi(argv[++i]));
    else if (a == "--csv" && i + 1 < argc)
      csv = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--reps N] [--warmup N] [--models N] [--csv FILE]\n",
                   argv[0]);
      return 2;
    }
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
  gpu::Stream stream;
  gpu::CudnnHandle handle;
  CUDNN_CHECK(cudnnSetStream(handle, stream));
  std::vector<Row> rows;
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
              const ModelShape shape{L, 1, H, 1};
              Row r{H, L, T, B, p == Precision::FP32 ? "fma" : "tf32", to_string(a), "", 0, -1, 0};
              try {
                Bench b(handle, stream, shape, T, B, p, a);
                r.algo_used = to_string(b.lstm.algo());
                r.eager_ms = time_median_ms(stream, warmup, reps, [&] { b.step(); });
                // The same step captured once and replayed.
                cudaGraph_t graph = nullptr;
                cudaGraphExec_t exec = nullptr;
                CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
                try {
                  b.step();
                } catch (...) {
                  cudaStreamEndCapture(stream, &graph);
                  if (graph) cudaGraphDestroy(graph);
                  cudaGetLastError();
                  graph = nullptr;
                }
                if (cudaStreamEndCapture(stream, &graph) == cudaSuccess && graph &&
                    cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess) {
                  r.graph_ms = time_median_ms(stream, warmup, reps,
                                              [&] { CUDA_CHECK(cudaGraphLaunch(exec, stream)); });
                  cudaGraphExecDestroy(exec);
                }
                if (graph) cudaGraphDestroy(graph);
                cudaGetLastError();
                double flops = 0;
                for (int l = 0; l < L; ++l) flops += 24.0 * H * ((l == 0 ? 1 : H) + H) * B * T;
                const double best = r.graph_ms > 0 ? std::min(r.eager_ms, r.graph_ms) : r.eager_ms;
                r.gflops = flops / (best * 1e-3) / 1e9;
              } catch (const std::exception& e) {
                std::printf("%5d %2d %4d %4d %5s %-22s failed: %s\n", H, L, T, B, r.math.c_str(),
                            r.algo_asked.c_str(), e.what());
                CUDA_CHECK(cudaStreamSynchronize(stream));
                continue;
              }
              std::printf("%5d %2d %4d %4d %5s %-22s %-22s %10.4f %10.4f %9.1f\n", H, L, T, B, r.math.c_str(),
                          r.algo_asked.c_str(), r.algo_used.c_str(), r.eager_ms, r.graph_ms, r.gflops);
              std::fflush(stdout);
              rows.push_back(r);
            }
  if (!csv.empty()) {
    std::ofstream f(csv);
    f << "H,L,T,B,D,math,algo,algo_used,eager_ms,graph_ms,gflops\n";
    for (const auto& r : rows)
      f << r.H << "," << r.L << "," << r.T << "," << r.B << ",1," << r.math << "," << r.algo_asked << ","
        << r.algo_used << "," << r.eager_ms << "," << r.graph_ms << "," << r.gflops << "\n";
    std::printf("wrote %s\n", csv.c_str());
  }

  std::printf(
      "\nengine throughput: H=64 L=1 T=100 B=64 D=1, 8 steps x 2 epochs per model (wall clock, with "
      "uploads and per-epoch synchronisation)\n");
  std::printf("%7s %8s %7s %5s %12s %18s\n", "models", "streams", "graphs", "math", "seconds",
              "ms/model-step");
  for (Precision p : {Precision::FP32, Precision::TF32})
    for (int sc : {1, 4, 8})
      for (bool g : {false, true}) {
        if (quick && (sc == 4 || p == Precision::TF32)) continue;
        try {
          engine_throughput(models, sc, g, p);
        } catch (const std::exception& e) {
          std::printf("%7d %8d %7s failed: %s\n", models, sc, g ? "on" : "off", e.what());
        }
      }
  return 0;
}
