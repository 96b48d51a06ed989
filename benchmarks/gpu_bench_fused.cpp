// The fused kernels against cuDNN: time of one training step per shape, with CUDA events. The step is the
// engines' sequence
//   gather -> LSTM forward (training) -> head + MSE -> loss sum -> head backward -> LSTM backward ->
//   ||g||^2 -> Adam
// with the LSTM forward/backward either the fused kernels (FusedLstm, the engine's per-model path,
// LSTMAD_FUSED_MULTI=0; by default the engine trains through the multi-model path, whose one-model step
// gpu_bench_multi times at N = 1; fp32 FMA as the per-model path runs it: the
// thread-block cluster kernels for H whose R does not fit one block, the two-layer wavefront for L = 2
// where it fits, else the one-block or the split kernels, whichever timed faster; column "(path)" says
// which, "one-block" is the layer-by-layer one-block step beside it where the engine takes another path,
// and "split" the split kernels forced, layer by layer where they take H; the tensor-core time loops at
// tf32 and bf16, columns "fused tf32" and "fused bf16", and "bf16 unsplit" the bf16 step with one warp
// per backward tile where the engine splits the tiles' k-steps over several, version 3.4) or cuDNN
// (CudnnLstm, FMA math and TF32 default math, the faster of STANDARD and PERSIST_STATIC_SMALL_H where cuDNN
// takes it). Shapes: H in {32,64,128,256}, L in {1,2}, T in {50,100,250}, B in {32,64,256}, D=1, horizon 1.
// Each time is the median of --reps CUDA-graph replays of the step after --warmup (eager when capture fails).
// The engine's columns (fused fp32, fused tf32, fused bf16) are the autotuned step, as the engine's
// per-model loop runs it: eager steps first time the choices that give the same bits (the split kernels
// or the one-block kernels; the tensor-core backward in parts of K or not) and log what they timed, then
// the step with the fastest is captured. The other columns force one choice and time nothing.
//
// Per shape it prints the times, the ratios fused/cuDNN-FMA and fused/cuDNN-TF32 (fp32 fused), the ratio
// of the faster tensor-core fused step to cuDNN TF32 (tc/tf32), and two floors:
//   latency floor = 2 T x (one on-chip step): one step is the slope of the fused L=1 forward between a
//                   window of T and of 1 (launch and R loading cancel), measured at this H and B (the
//                   faster of the one-block and the split kernels where both take H);
//                   forward and backward each walk T dependent steps, so no kernel that runs the time
//                   loop step by step beats 2 T of them (a layer wavefront adds L-1, layer-by-layer L-fold)
//   compute floor = 24 H (D_l + H) B T flops per layer / the fp32 peak (--peak-tflops, default 66.9, the
//                   H200's nominal fp32 SIMT rate, not a measured one)
//
// --smoke: tiny sizes (H in {16, 128}, L in {1, 2}, T=4, B=3, 1 rep, no warm-up) that only show every path
// runs (H=128 takes the cluster kernels, H=16 the wavefront), as the host emulation of CUDA runs it in CI
// (emulated.gpu_bench_smoke); its times mean nothing.
//
// --shape H,L,T,B: that one shape only (the GPU check profiles one step of it under Nsight Compute).
//
// --phases (or --phases-csv FILE): then where one step's time goes on a few small shapes (those of the
// targets missed: H 32 and 64 at B 32 and 64, L = 1, T = 100, and the wavefront at H = 32, B = 64; the
// --shape given; --quick one, --smoke a tiny one): for the engine's steps (fp32, tf32, bf16, autotuned), the
// one-block or split kernels forced where the engine runs the other, and cuDNN at fp32, each phase's
// device time (the time loops, each cuBLAS GEMM, the head, the sums, Adam; cuDNN's forward and backward as
// one each), eager with an event after each phase.
//
// Usage: gpu_bench_fused [--quick | --smoke | --shape H,L,T,B] [--reps N] [--warmup N] [--peak-tflops X]
//                        [--csv FILE] [--phases] [--phases-csv FILE]
// Without a CUDA device it prints why and exits 0.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
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
#include "kernels/lstm_wavefront.hpp"
#include "kernels/reduce.hpp"
#include "lstm/cudnn/cudnn_check.hpp"
#include "lstm/cudnn/cudnn_lstm.hpp"
#include "lstm/fused/fused_lstm.hpp"
#include "lstm/init.hpp"

using namespace lstmad;

namespace {

// The step captured once as a CUDA graph and replayed; eager launches when capture fails.
double time_step_ms(cudaStream_t s, int warmup, int reps, const std::function<void()>& step) {
  step();  // one eager step: one-time setup (cuDNN's lazy plans, kernel attributes) outside capture
  CUDA_CHECK(cudaStreamSynchronize(s));
  const gpu::GraphExec graph = bench::capture_step(s, "gpu_bench_fused", step);
  if (graph) return bench::time_median_ms(s, warmup, reps, [&] { graph.launch(s); });
  return bench::time_median_ms(s, warmup, reps, step);
}

struct Row {
  int H = 0, L = 0, T = 0, B = 0;
  // fused_ms: the engine's fp32 path (fused_path says which); cluster_ms / wavefront_ms: the same time
  // where that path is the cluster or the wavefront (either form, the autotuning's pick: "wavefront" or
  // "wavefront-split"); one_block_ms: the layer-by-layer one-block kernels
  // (version 1.1, R from L2 where it does not fit), timed where the engine's path is another.
  // split_ms: the split kernels forced, layer by layer, where they take H.
  // fused_bf16_unsplit_ms: the bf16 step with the tensor-core backward unsplit, where the engine splits it.
  double fused_ms = -1, cluster_ms = -1, wavefront_ms = -1, one_block_ms = -1, split_ms = -1,
         fused_tf32_ms = -1, fused_bf16_ms = -1, fused_bf16_unsplit_ms = -1, cudnn_fma_ms = -1,
         cudnn_tf32_ms = -1, step_us = -1, latency_floor_ms = -1, compute_floor_ms = -1;
  std::string fused_path, cudnn_fma_algo, cudnn_tf32_algo;
  // What each engine step's autotuning did (to_string(TimeLoopTuning)).
  std::string fused_tuning, fused_tf32_tuning, fused_bf16_tuning;
};

// Times every way of running one shape's training step (the columns of Row) on one stream. A way that
// fails prints why and leaves its column at -1; the others still run.
class ShapeTimer {
 public:
  ShapeTimer(cudaStream_t stream, cublasHandle_t cublas, cudnnHandle_t cudnn,
             const kernels::FusedLimits& limits, int warmup, int reps, double peak_tflops)
      : stream_(stream),
        cublas_(cublas),
        cudnn_(cudnn),
        limits_(limits),
        warmup_(warmup),
        reps_(reps),
        peak_tflops_(peak_tflops) {}

  Row time(int H, int L, int T, int B) {
    const ModelShape shape{L, 1, H, 1};
    Row r;
    r.H = H;
    r.L = L;
    r.T = T;
    r.B = B;
    r.fused_ms = attempt(r, "fused", [&] {
      return fused(shape, T, B, Precision::FP32, nullptr, &r.fused_path, &r.fused_tuning);
    });
    if (r.fused_path.rfind("wavefront", 0) == 0) r.wavefront_ms = r.fused_ms;  // or its split form
    if (r.fused_path.rfind("cluster", 0) == 0) r.cluster_ms = r.fused_ms;
    if (r.fused_ms >= 0 && r.fused_path.rfind("one-block", 0) != 0)  // what the engine's path gains
      r.one_block_ms = attempt(r, "fused one-block", [&] {
        return fused(shape, T, B, Precision::FP32, [](FusedLstm& l) {
          l.enable_cluster(false);
          l.enable_wavefront(false);
        });
      });
    if (kernels::plan_fused_split(H, B, limits_).grid > 0)
      r.split_ms = attempt(r, "fused split", [&] {
        return fused(shape, T, B, Precision::FP32, [](FusedLstm& l) {
          l.enable_wavefront(false);
          l.enable_split(true);
        });
      });
    for (Precision p : {Precision::TF32, Precision::BF16}) {  // the tensor-core time loops
      if (!fused_unsupported_reason(shape, T, B, p, limits_).empty()) continue;
      (p == Precision::TF32 ? r.fused_tf32_ms : r.fused_bf16_ms) = attempt(r, "fused " + to_string(p), [&] {
        return fused(shape, T, B, p, nullptr, nullptr,
                     p == Precision::TF32 ? &r.fused_tf32_tuning : &r.fused_bf16_tuning);
      });
    }
    if (r.fused_bf16_ms >= 0 &&
        kernels::plan_fused_mma(kernels::mma::Format::BF16, H, B, limits_).bwd_parts > 1)
      r.fused_bf16_unsplit_ms = attempt(r, "fused bf16 unsplit", [&] {
        return fused(shape, T, B, Precision::BF16, [](FusedLstm& l) { l.enable_mma_split(false); });
      });
    for (Precision p : {Precision::FP32, Precision::TF32})
      for (RnnAlgo a : {RnnAlgo::Standard, RnnAlgo::PersistStaticSmallH}) {
        if (a == RnnAlgo::PersistStaticSmallH && H > 128) continue;  // outside SMALL_H's backward range
        std::string algo;
        const double ms = attempt(r, "cuDNN " + to_string(p) + " " + to_string(a),
                                  [&] { return cudnn_step(shape, T, B, p, a, algo); });
        double& best = p == Precision::FP32 ? r.cudnn_fma_ms : r.cudnn_tf32_ms;
        if (ms >= 0 && (best < 0 || ms < best)) {
          best = ms;
          (p == Precision::FP32 ? r.cudnn_fma_algo : r.cudnn_tf32_algo) = algo;
        }
      }
    floors(r);
    return r;
  }

  // Where one step's time goes at (H, L, T, B): for the engine's fp32 step (autotuned), the one-block and
  // the split kernels forced where the engine runs another path, the engine's tf32 and bf16 steps
  // (autotuned) and cuDNN at fp32 (PERSIST_STATIC_SMALL_H up to H = 128, else STANDARD), each phase's
  // median over `reps` eager steps after one warm-up, beside the graph-replayed step. Printed, and written
  // to `csv` (H,L,T,B,path,phase,ms,share,phases_ms,step_ms).
  void phases(int H, int L, int T, int B, int reps, bench::CsvRows& csv) {
    const ModelShape shape{L, 1, H, 1};
    Row r{};
    r.H = H;
    r.L = L;
    r.T = T;
    r.B = B;
    std::string engine_path;
    for (const std::string path :
         {"fused fp32", "one-block", "split", "fused tf32", "fused bf16", "cuDNN fp32"}) {
      attempt(r, "phases " + path, [&] {
        auto report = [&](const std::string& name, auto& bench, const std::string& what) {
          phase_rows(H, L, T, B, reps, name, what, bench, csv);
          return 0.0;
        };
        if (path == "cuDNN fp32") {
          const RnnAlgo a = H <= 128 ? RnnAlgo::PersistStaticSmallH : RnnAlgo::Standard;
          bench::StepBench<CudnnLstm> c(stream_, shape, T, B, [&] {
            return std::make_unique<CudnnLstm>(cudnn_, stream_, shape, T, B, Precision::FP32, a);
          });
          return report(path, c, to_string(c.lstm->algo()));
        }
        const Precision p = path == "fused tf32"   ? Precision::TF32
                            : path == "fused bf16" ? Precision::BF16
                                                   : Precision::FP32;
        if (!fused_unsupported_reason(shape, T, B, p, limits_).empty()) return 0.0;
        const bool forced = path == "one-block" || path == "split";
        if (path == "split" && kernels::plan_fused_split(H, B, limits_).grid == 0) return 0.0;
        bench::StepBench<FusedLstm> f(stream_, shape, T, B, [&] {
          auto l = std::make_unique<FusedLstm>(cublas_, stream_, shape, T, B, p, limits_);
          if (forced) {
            l->enable_cluster(false);
            l->enable_wavefront(false);
            l->enable_split(path == "split");
          }
          return l;
        });
        if (forced && f.lstm->path(B) == engine_path) return 0.0;  // the engine's column has it
        if (!forced) {
          f.lstm->begin_autotune(B);
          while (f.lstm->autotuning()) f.step();
        }
        const std::string kernels =
            p == Precision::FP32 ? f.lstm->path(B) : to_string(f.lstm->autotune_result());
        if (path == "fused fp32") engine_path = f.lstm->path(B);
        return report(path, f, kernels);
      });
    }
  }

 private:
  template <class Bench>
  void phase_rows(int H, int L, int T, int B, int reps, const std::string& path, const std::string& what,
                  Bench& bench, bench::CsvRows& csv) {
    const bench::PhaseMedians ph = bench::median_phases(reps, [&] { return bench.step_phases(); });
    const double step = time_step_ms(stream_, 2, reps, [&] { bench.step(); });
    std::printf("H=%d L=%d T=%d B=%d %s (%s): phases %.4f ms, step %.4f ms\n", H, L, T, B, path.c_str(),
                what.c_str(), ph.sum, step);
    for (std::size_t i = 0; i < ph.names.size(); ++i) {
      const double share = ph.sum > 0 ? ph.ms[i] / ph.sum : 0.0;
      std::printf("  %-30s %10.4f ms %6.1f%%\n", ph.names[i].c_str(), ph.ms[i], 100.0 * share);
      csv.row(H, L, T, B, path, ph.names[i], ph.ms[i], share, ph.sum, step);
    }
    std::fflush(stdout);
  }

  // `time_it`'s milliseconds, or -1 after printing why it failed.
  double attempt(const Row& r, const std::string& what, const std::function<double()>& time_it) {
    try {
      return time_it();
    } catch (const std::exception& e) {
      std::printf("%5d %2d %4d %4d %s failed: %s\n", r.H, r.L, r.T, r.B, what.c_str(), e.what());
      CUDA_CHECK(cudaStreamSynchronize(stream_));
      return -1;
    }
  }

  // The fused step at precision p, `configure` switching a path off (or on); `path` (if given) says which
  // fp32 kernels ran. Without `configure` the step is the engine's: its first steps time the time loops'
  // choices that give the same bits (FusedLstm::begin_autotune, which logs the times) and the timed step
  // runs the fastest; `tuning` (if given) says what that did. A configured step runs as configured.
  double fused(const ModelShape& shape, int T, int B, Precision p, void (*configure)(FusedLstm&),
               std::string* path = nullptr, std::string* tuning = nullptr) {
    bench::StepBench<FusedLstm> f(stream_, shape, T, B, [&] {
      auto l = std::make_unique<FusedLstm>(cublas_, stream_, shape, T, B, p, limits_);
      if (configure != nullptr) configure(*l);
      return l;
    });
    if (configure == nullptr) {
      f.lstm->begin_autotune(B);
      while (f.lstm->autotuning()) f.step();
      if (tuning != nullptr) *tuning = to_string(f.lstm->autotune_result());
    }
    if (path != nullptr) *path = f.lstm->path(B);
    return time_step_ms(stream_, warmup_, reps_, [&] { f.step(); });
  }

  double cudnn_step(const ModelShape& shape, int T, int B, Precision p, RnnAlgo a, std::string& algo) {
    bench::StepBench<CudnnLstm> c(stream_, shape, T, B, [&] {
      return std::make_unique<CudnnLstm>(cudnn_, stream_, shape, T, B, p, a);
    });
    const double ms = time_step_ms(stream_, warmup_, reps_, [&] { c.step(); });
    algo = to_string(c.lstm->algo());
    return ms;
  }

  // One on-chip step at (H, B): the slope of the fused L=1 forward between windows of T and 1, on the
  // faster of the one-block and the split kernels where both take H (either may be the engine's, as its
  // autotuning finds), so that the floor is the step's best.
  double step_us(int H, int T, int B) {
    auto fwd_ms = [&](int t, bool split) {
      const ModelShape shape{1, 1, H, 1};
      FusedLstm lstm(cublas_, stream_, shape, t, B, Precision::FP32, limits_);
      lstm.enable_split(split);
      const auto params = init_params(shape, 5);
      lstm.upload_params(params.data());
      gpu::DeviceBuffer<float> x(static_cast<std::size_t>(B) * t);
      std::vector<float> hx(x.size());
      Rng rng(3);
      for (auto& e : hx) e = static_cast<float>(rng.uniform(-1, 1));
      x.upload(hx, stream_);
      return bench::time_median_ms(stream_, warmup_, reps_,
                                   [&] { lstm.forward(lstm.theta(), x.data(), B, false); });
    };
    if (T < 2) return -1.0;
    double best = (fwd_ms(T, false) - fwd_ms(1, false)) * 1e3 / (T - 1);
    if (kernels::plan_fused_split(H, B, limits_).grid > 0)
      best = std::min(best, (fwd_ms(T, true) - fwd_ms(1, true)) * 1e3 / (T - 1));
    return best;
  }

  // The latency floor (2 T on-chip steps; one step does not depend on L: measured once per (H, T, B)) and
  // the compute floor (the step's flops at the nominal peak).
  void floors(Row& r) {
    const auto key = std::make_tuple(r.H, r.T, r.B);
    auto it = step_cache_.find(key);
    if (it == step_cache_.end())
      it = step_cache_.emplace(key, attempt(r, "step timing", [&] { return step_us(r.H, r.T, r.B); })).first;
    r.step_us = it->second;
    if (r.step_us > 0) r.latency_floor_ms = 2.0 * r.T * r.step_us * 1e-3;
    double flops = 0;
    for (int l = 0; l < r.L; ++l) flops += 24.0 * r.H * ((l == 0 ? 1 : r.H) + r.H) * r.B * r.T;
    r.compute_floor_ms = flops / (peak_tflops_ * 1e12) * 1e3;
  }

  cudaStream_t stream_;
  cublasHandle_t cublas_;
  cudnnHandle_t cudnn_;
  const kernels::FusedLimits limits_;
  const int warmup_, reps_;
  const double peak_tflops_;
  std::map<std::tuple<int, int, int>, double> step_cache_;
};

void print_header() {
  std::printf(
      "%5s %2s %4s %4s %10s %-12s %10s %10s %10s %10s %12s %10s %-22s %10s %-22s %8s %8s %8s %9s %10s %10s\n",
      "H", "L", "T", "B", "fused ms", "(path)", "one-block", "split", "fused tf32", "fused bf16",
      "bf16 unsplit", "cuDNN fma", "(algo)", "cuDNN tf32", "(algo)", "f/fma", "f/tf32", "tc/tf32", "step us",
      "lat.floor", "comp.floor");
}

void print_row(const Row& r) {
  auto ratio = [](double a, double b) { return a > 0 && b > 0 ? a / b : -1.0; };
  const double tc = r.fused_tf32_ms > 0 && (r.fused_bf16_ms < 0 || r.fused_tf32_ms < r.fused_bf16_ms)
                        ? r.fused_tf32_ms
                        : r.fused_bf16_ms;
  std::printf(
      "%5d %2d %4d %4d %10.4f %-12s %10.4f %10.4f %10.4f %10.4f %12.4f %10.4f %-22s %10.4f %-22s %8.3f %8.3f "
      "%8.3f "
      "%9.3f "
      "%10.4f "
      "%10.5f\n",
      r.H, r.L, r.T, r.B, r.fused_ms, r.fused_path.c_str(), r.one_block_ms, r.split_ms, r.fused_tf32_ms,
      r.fused_bf16_ms, r.fused_bf16_unsplit_ms, r.cudnn_fma_ms, r.cudnn_fma_algo.c_str(), r.cudnn_tf32_ms,
      r.cudnn_tf32_algo.c_str(), ratio(r.fused_ms, r.cudnn_fma_ms), ratio(r.fused_ms, r.cudnn_tf32_ms),
      ratio(tc, r.cudnn_tf32_ms), r.step_us, r.latency_floor_ms, r.compute_floor_ms);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  bench::BenchFlags flags;
  double peak_tflops = bench::kH200Fp32PeakTflops;
  CLI::App app{"gpu_bench_fused: one training step per shape, the fused kernels beside cuDNN"};
  bench::add_bench_flags(app, flags);
  app.add_option("--peak-tflops", peak_tflops, "The fp32 peak the compute floor divides by (nominal)")
      ->check(bench::tflops_range())
      ->capture_default_str();
  std::vector<int> one_shape;
  app.add_option("--shape", one_shape, "H,L,T,B: this shape only")
      ->delimiter(',')
      ->expected(4)
      ->check(bench::at_least(1));
  bool phases = false;
  std::string phases_csv;
  app.add_flag(
      "--phases", phases,
      "Then where one step's time goes, phase by phase, on a few small shapes (the --shape given, or "
      "H 32 and 64 at B 32 and 64, L = 1, T = 100, and H = 32, L = 2, B = 64)");
  app.add_option("--phases-csv", phases_csv,
                 "Also write the phases' rows to this CSV file (implies --phases)");
  if (const int rc = bench::parse_bench_flags(app, argc, argv); rc >= 0) return rc;
  phases = phases || !phases_csv.empty();
  const bool quick = flags.quick, smoke = flags.smoke;
  int &reps = flags.reps, &warmup = flags.warmup;
  const std::string& csv = flags.csv;
  if (smoke) {
    reps = 1;
    warmup = 0;
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
  if (smoke) {
    Hs = {16, 128};
    Ts = {4};
    Bs = {3};
  }
  if (!one_shape.empty()) {
    Hs = {one_shape[0]};
    Ls = {one_shape[1]};
    Ts = {one_shape[2]};
    Bs = {one_shape[3]};
  }
  gpu::Stream stream;
  gpu::CudnnHandle cudnn;
  CUDNN_CHECK(cudnnSetStream(cudnn, stream));
  gpu::CublasHandle cublas(stream.get());
  ShapeTimer timer(stream, cublas.get(), cudnn, limits, warmup, reps, peak_tflops);
  print_header();
  bench::CsvRows csv_rows(
      csv,
      "H,L,T,B,D,fused_ms,cluster_ms,wavefront_ms,fused_tf32_ms,fused_bf16_ms,cudnn_fma_ms,"
      "cudnn_fma_algo,cudnn_tf32_ms,cudnn_tf32_algo,step_us,latency_floor_ms,compute_floor_ms,fused_path,"
      "one_block_ms,split_ms,fused_bf16_unsplit_ms,fused_tuning,fused_tf32_tuning,fused_bf16_tuning");
  for (int H : Hs)
    for (int L : Ls)
      for (int T : Ts)
        for (int B : Bs) {
          const Row r = timer.time(H, L, T, B);
          print_row(r);
          csv_rows.row(r.H, r.L, r.T, r.B, 1, r.fused_ms, r.cluster_ms, r.wavefront_ms, r.fused_tf32_ms,
                       r.fused_bf16_ms, r.cudnn_fma_ms, r.cudnn_fma_algo, r.cudnn_tf32_ms, r.cudnn_tf32_algo,
                       r.step_us, r.latency_floor_ms, r.compute_floor_ms, r.fused_path, r.one_block_ms,
                       r.split_ms, r.fused_bf16_unsplit_ms, r.fused_tuning, r.fused_tf32_tuning,
                       r.fused_bf16_tuning);
        }
  csv_rows.done();
  std::printf(
      "(times in ms per training step; f/fma, f/tf32 = fused fp32 time / cuDNN time, tc/tf32 = the faster "
      "tensor-core fused time / cuDNN tf32 time; below 1 is faster)\n");
  if (phases) {
    std::vector<std::array<int, 4>> shapes{
        {32, 1, 100, 32}, {32, 1, 100, 64}, {64, 1, 100, 32}, {64, 1, 100, 64}, {32, 2, 100, 64}};
    if (quick) shapes = {{64, 1, 100, 64}};
    if (smoke) shapes = {{16, 1, 4, 3}};
    if (!one_shape.empty()) shapes = {{one_shape[0], one_shape[1], one_shape[2], one_shape[3]}};
    const int phase_reps = std::min(reps, 5);
    std::printf(
        "\nwhere one step goes: each phase's device time, eager with an event after each, median of %d; "
        "share "
        "of the phases' sum; 'step' is the graph-replayed step\n",
        phase_reps);
    bench::CsvRows phase_csv(phases_csv, "H,L,T,B,path,phase,ms,share,phases_ms,step_ms");
    for (const auto& [H, L, T, B] : shapes) timer.phases(H, L, T, B, phase_reps, phase_csv);
    phase_csv.done();
  }
  return 0;
}
