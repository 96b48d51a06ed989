// The fused kernels against cuDNN: time of one training step per shape, with CUDA events. The step is the
// engines' sequence
//   gather -> LSTM forward (training) -> head + MSE -> loss sum -> head backward -> LSTM backward ->
//   ||g||^2 -> Adam
// with the LSTM forward/backward either the fused kernels (FusedLstm, fp32 FMA; for H whose R does not fit
// one block also the thread-block cluster kernels, column "cluster ms", -1 where not used) or cuDNN
// (CudnnLstm, FMA math and TF32 default math, the faster of STANDARD and PERSIST_STATIC_SMALL_H where cuDNN
// takes it). Shapes: H in {32,64,128,256}, L in {1,2}, T in {50,100,250}, B in {32,64,256}, D=1, horizon 1.
// Each time is the median of --reps CUDA-graph replays of the step after --warmup (eager when capture fails).
//
// Per shape it prints the three times, the ratios fused/cuDNN-FMA and fused/cuDNN-TF32, and two floors:
//   latency floor = 2 T x (one on-chip step): one step is the slope of the fused L=1 forward between a
//                   window of T and of 1 (launch and R loading cancel), measured at this H and B;
//                   forward and backward each walk T dependent steps, so no kernel that runs the time
//                   loop step by step beats 2 T of them (a layer wavefront adds L-1, layer-by-layer L-fold)
//   compute floor = 24 H (D_l + H) B T flops per layer / the fp32 peak (--peak-tflops, default 67, the
//                   H200's nominal fp32 SIMT rate, not a measured one)
//
// Usage: gpu_bench_fused [--quick] [--reps N] [--warmup N] [--peak-tflops X] [--csv FILE]
// Without a CUDA device it prints why and exits 0.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
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
#include "lstm/cudnn/cudnn_lstm.hpp"
#include "lstm/fused/fused_lstm.hpp"
#include "lstm/init.hpp"

using namespace lstmad;

namespace {

double median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// One model's buffers and its training step on one stream, for either LSTM block (both have the same
// device-side interface).
template <typename Lstm>
struct Bench {
  template <typename Make>
  Bench(cudaStream_t s, const ModelShape& shp, int t, int b, Make&& make)
      : stream(s), shape(shp), T(t), B(b), lstm(make()) {
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
    const std::size_t P = lstm->theta_size(), BH = static_cast<std::size_t>(B) * shape.horizon;
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
    lstm->upload_params(params.data());
    lstm->prepare(B);
  }

  void step() {
    const int hz = shape.horizon;
    kernels::launch_gather_windows(dxs.data(), dys.data(), shape.input, dstarts.data(), nullptr, B, T, hz,
                                   xb.data(), yb.data(), stream);
    lstm->forward(lstm->theta(), xb.data(), B, true);
    lstm->head(lstm->theta(), B, yhat.data(), yb.data(), dyhat.data(), sq.data());
    CUDA_CHECK(kernels::launch_sum_squares(sq.data(), static_cast<std::size_t>(B) * hz, scalars.data(),
                                           temp.data(), cub_bytes, stream));
    kernels::launch_accumulate(scalars.data() + 2, scalars.data(), stream);
    lstm->backward(lstm->theta(), xb.data(), B, dyhat.data(), lstm->dtheta(), nullptr);
    CUDA_CHECK(kernels::launch_sum_squares(lstm->dtheta(), lstm->theta_size(), scalars.data() + 1,
                                           temp.data(), cub_bytes, stream));
    kernels::launch_adam_prepare(hyper.data(), scalars.data() + 1, state.data(), stream);
    kernels::launch_adam_update(lstm->theta(), lstm->dtheta(), m.data(), v.data(), lstm->theta_size(),
                                hyper.data(), state.data(), stream);
    KERNEL_CHECK("training step");
  }

  cudaStream_t stream;
  ModelShape shape;
  int T, B;
  std::unique_ptr<Lstm> lstm;
  gpu::DeviceBuffer<float> dxs, dys, xb, yb, yhat, dyhat, sq, m, v;
  gpu::DeviceBuffer<int> dstarts;
  gpu::DeviceBuffer<double> scalars;
  gpu::DeviceBuffer<kernels::AdamHyper> hyper;
  gpu::DeviceBuffer<kernels::AdamStepState> state;
  gpu::DeviceBuffer<unsigned char> temp;
  std::size_t cub_bytes = 0;
};

double time_median_ms(cudaStream_t s, int warmup, int reps, const std::function<void()>& f) {
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

// The step captured once as a CUDA graph and replayed; eager launches when capture fails.
double time_step_ms(cudaStream_t s, int warmup, int reps, const std::function<void()>& step) {
  step();  // one eager step: one-time setup (cuDNN's lazy plans, kernel attributes) outside capture
  CUDA_CHECK(cudaStreamSynchronize(s));
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  bool captured = false;
  if (cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) == cudaSuccess) {
    try {
      step();
    } catch (...) {
    }
    captured = cudaStreamEndCapture(s, &graph) == cudaSuccess && graph != nullptr &&
               cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
  }
  cudaGetLastError();
  double ms;
  if (captured)
    ms = time_median_ms(s, warmup, reps, [&] { CUDA_CHECK(cudaGraphLaunch(exec, s)); });
  else
    ms = time_median_ms(s, warmup, reps, step);
  if (exec) cudaGraphExecDestroy(exec);
  if (graph) cudaGraphDestroy(graph);
  return ms;
}

struct Row {
  int H = 0, L = 0, T = 0, B = 0;
  double fused_ms = -1, cluster_ms = -1, cudnn_fma_ms = -1, cudnn_tf32_ms = -1, step_us = -1,
         latency_floor_ms = -1, compute_floor_ms = -1;
  std::string cudnn_fma_algo, cudnn_tf32_algo;
};

bool fused_plan_fits_one_block(int H, int B, const kernels::FusedLimits& limits) {
  return kernels::plan_fused(H, B, limits).r_smem_fwd;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int reps = 30, warmup = 5;
  double peak_tflops = 67.0;
  std::string csv;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick")
      quick = true;
    else if (a == "--reps" && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--warmup" && i + 1 < argc)
      warmup = std::max(0, std::atoi(argv[++i]));
    else if (a == "--peak-tflops" && i + 1 < argc)
      peak_tflops = std::max(1e-3, std::atof(argv[++i]));
    else if (a == "--csv" && i + 1 < argc)
      csv = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--reps N] [--warmup N] [--peak-tflops X] [--csv FILE]\n",
                   argv[0]);
      return 2;
    }
  }
  std::string reason;
  if (!gpu::device_available(0, &reason)) {
    std::printf("gpu_bench_fused: no CUDA device (%s); nothing to time\n", reason.c_str());
    return 0;
  }
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  const kernels::FusedLimits limits = fused_device_limits(0);
  std::printf(
      "gpu_bench_fused on %s (sm_%d%d, %d SMs, %d B shared memory per block opt-in), cuDNN %s, medians of %d "
      "graph replays after %d warm-up steps; compute floor at %.1f TFLOP/s fp32 (nominal)\n",
      prop.name, prop.major, prop.minor, limits.sm_count, limits.smem_optin,
      gpu::cudnn_version_string().c_str(), reps, warmup, peak_tflops);

  std::vector<int> Hs{32, 64, 128, 256}, Ls{1, 2}, Ts{50, 100, 250}, Bs{32, 64, 256};
  if (quick) {
    Hs = {64, 128};
    Ls = {1};
    Ts = {100};
    Bs = {64};
  }
  gpu::Stream stream;
  gpu::CudnnHandle cudnn;
  CUDNN_CHECK(cudnnSetStream(cudnn, stream));
  gpu::CublasHandle cublas(stream.get());

  // One on-chip step at (H, B): slope of the fused L=1 forward between windows of T and 1.
  auto step_us = [&](int H, int T, int B) {
    auto fwd_ms = [&](int t) {
      const ModelShape shape{1, 1, H, 1};
      FusedLstm lstm(cublas.get(), stream, shape, t, B, Precision::FP32, limits);
      const auto params = init_params(shape, 5);
      lstm.upload_params(params.data());
      gpu::DeviceBuffer<float> x(static_cast<std::size_t>(B) * t);
      std::vector<float> hx(x.size());
      Rng rng(3);
      for (auto& e : hx) e = static_cast<float>(rng.uniform(-1, 1));
      x.upload(hx, stream);
      return time_median_ms(stream, warmup, reps, [&] { lstm.forward(lstm.theta(), x.data(), B, false); });
    };
    return T > 1 ? (fwd_ms(T) - fwd_ms(1)) * 1e3 / (T - 1) : -1.0;
  };

  std::printf("%5s %2s %4s %4s %10s %10s %10s %-22s %10s %-22s %8s %8s %9s %10s %10s\n", "H", "L", "T", "B",
              "fused ms", "cluster ms", "cuDNN fma", "(algo)", "cuDNN tf32", "(algo)", "f/fma", "f/tf32",
              "step us", "lat.floor", "comp.floor");
  std::vector<Row> rows;
  std::map<std::tuple<int, int, int>, double> step_cache;
  for (int H : Hs)
    for (int L : Ls)
      for (int T : Ts)
        for (int B : Bs) {
          const ModelShape shape{L, 1, H, 1};
          Row r;
          r.H = H;
          r.L = L;
          r.T = T;
          r.B = B;
          try {
            Bench<FusedLstm> f(stream, shape, T, B, [&] {
              return std::make_unique<FusedLstm>(cublas.get(), stream, shape, T, B, Precision::FP32, limits);
            });
            r.fused_ms = time_step_ms(stream, warmup, reps, [&] { f.step(); });
          } catch (const std::exception& e) {
            std::printf("%5d %2d %4d %4d fused failed: %s\n", H, L, T, B, e.what());
            CUDA_CHECK(cudaStreamSynchronize(stream));
          }
          for (Precision p : {Precision::FP32, Precision::TF32})
            for (RnnAlgo a : {RnnAlgo::Standard, RnnAlgo::PersistStaticSmallH}) {
              if (a == RnnAlgo::PersistStaticSmallH && H > 128) continue;  // outside SMALL_H's backward range
              try {
                Bench<CudnnLstm> c(stream, shape, T, B, [&] {
                  return std::make_unique<CudnnLstm>(cudnn, stream, shape, T, B, p, a);
                });
                const double ms = time_step_ms(stream, warmup, reps, [&] { c.step(); });
                double& best = p == Precision::FP32 ? r.cudnn_fma_ms : r.cudnn_tf32_ms;
                if (best < 0 || ms < best) {
                  best = ms;
                  (p == Precision::FP32 ? r.cudnn_fma_algo : r.cudnn_tf32_algo) = to_string(c.lstm->algo());
                }
              } catch (const std::exception& e) {
                std::printf("%5d %2d %4d %4d cuDNN %s %s failed: %s\n", H, L, T, B, to_string(p).c_str(),
                            to_string(a).c_str(), e.what());
                CUDA_CHECK(cudaStreamSynchronize(stream));
              }
            }
          if (!fused_plan_fits_one_block(H, B, limits)) {
            try {  // the thread-block cluster kernels (opt-in in the engine until checked on a GPU)
              Bench<FusedLstm> f(stream, shape, T, B, [&] {
                auto l =
                    std::make_unique<FusedLstm>(cublas.get(), stream, shape, T, B, Precision::FP32, limits);
                l->enable_cluster(true);
                return l;
              });
              if (f.lstm->cluster_plan(B).cluster > 1)
                r.cluster_ms = time_step_ms(stream, warmup, reps, [&] { f.step(); });
            } catch (const std::exception& e) {
              std::printf("%5d %2d %4d %4d fused cluster failed: %s\n", H, L, T, B, e.what());
              CUDA_CHECK(cudaStreamSynchronize(stream));
            }
          }
          try {  // one on-chip step does not depend on L: measured once per (H, T, B)
            const auto key = std::make_tuple(H, T, B);
            auto it = step_cache.find(key);
            if (it == step_cache.end()) it = step_cache.emplace(key, step_us(H, T, B)).first;
            r.step_us = it->second;
          } catch (const std::exception& e) {
            std::printf("%5d %2d %4d %4d step timing failed: %s\n", H, L, T, B, e.what());
          }
          if (r.step_us > 0) r.latency_floor_ms = 2.0 * T * r.step_us * 1e-3;
          double flops = 0;
          for (int l = 0; l < L; ++l) flops += 24.0 * H * ((l == 0 ? 1 : H) + H) * B * T;
          r.compute_floor_ms = flops / (peak_tflops * 1e12) * 1e3;
          auto ratio = [](double a, double b) { return a > 0 && b > 0 ? a / b : -1.0; };
          std::printf(
              "%5d %2d %4d %4d %10.4f %10.4f %10.4f %-22s %10.4f %-22s %8.3f %8.3f %9.3f %10.4f %10.5f\n", H,
              L, T, B, r.fused_ms, r.cluster_ms, r.cudnn_fma_ms, r.cudnn_fma_algo.c_str(), r.cudnn_tf32_ms,
              r.cudnn_tf32_algo.c_str(), ratio(r.fused_ms, r.cudnn_fma_ms),
              ratio(r.fused_ms, r.cudnn_tf32_ms), r.step_us, r.latency_floor_ms, r.compute_floor_ms);
          std::fflush(stdout);
          rows.push_back(r);
        }
  if (!csv.empty()) {
    std::ofstream out(csv);
    out << "H,L,T,B,D,fused_ms,cluster_ms,cudnn_fma_ms,cudnn_fma_algo,cudnn_tf32_ms,cudnn_tf32_algo,step_us,"
           "latency_floor_ms,compute_floor_ms\n";
    for (const auto& r : rows)
      out << r.H << "," << r.L << "," << r.T << "," << r.B << ",1," << r.fused_ms << "," << r.cluster_ms
          << "," << r.cudnn_fma_ms << "," << r.cudnn_fma_algo << "," << r.cudnn_tf32_ms << ","
          << r.cudnn_tf32_algo << "," << r.step_us << "," << r.latency_floor_ms << "," << r.compute_floor_ms
          << "\n";
    std::printf("wrote %s\n", csv.c_str());
  }
  std::printf(
      "(times in ms per training step; f/fma, f/tf32 = fused time / cuDNN time, below 1 is faster)\n");
  return 0;
}
