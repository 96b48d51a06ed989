// Many models at once: the time of one training step of all N models, with CUDA events, for
//   fused multi   the fused engine's multi-model batch (FusedMultiBatch): every kernel launch covers all N
//                 models, the step replayed as one CUDA graph, on the time loops the batch's autotuning
//                 picks where they have choices that give the same bits (logged: "fused engine: time loops
//                 for ..."); at fp32, and with the tensor-core time loops at tf32 and bf16 (columns "tf32
//                 ms", "bf16 ms"; the GEMMs stay fp32), and at fp32 with the split time loops (column "split
//                 ms", LSTMAD_FUSED_SPLIT=1: a candidate);
//   cuDNN loop    the same step of each model through cuDNN (CudnnLstm, FMA math), N model-steps spread
//                 over --streams streams, each model's step a CUDA graph replay (eager where capture
//                 fails), STANDARD and PERSIST_STATIC_SMALL_H, the faster kept;
//   compute floor N x 24 H (D_l + H) B T flops per layer over the fp32 peak (--peak-tflops, default 66.9,
//                 the H200's nominal fp32 SIMT rate, not a measured one); for the tensor-core columns the
//                 same flops over the dense TF32 and BF16 rates (--tf32-peak-tflops 495,
//                 --bf16-peak-tflops 989, nominal), columns "tf32 floor", "bf16 floor".
// Shapes: N in {1, 16, 58, 256, 1024}, L in {1, 2}, H = 64, T = 100, B = 64, D = 1, horizon 1. Each model
// has its own series, parameters and learning rate. Times are medians of --reps steps after --warmup.
// The step is the engines' full training step (gather, forward, head and MSE, loss sum, backward,
// gradient norm, Adam), B windows per model.
//
// Then forecasting (the runner's scoring pass): N models (--forecast-models, default 1,58,256) each
// predicting --forecast-windows W windows (default 2048; 0 leaves it out) through predict_batch on the
// fused engine (lockstep), its per-model path and the cuDNN engine, with the forward compute floor.
//
// Then where a step's time goes (--phases-models, default 1,58,1024; 0 leaves it out): for each N and L, the
// fused fp32 step run eagerly with an event after each phase (the gather, each layer's input GEMM, forward
// and backward time loops, dW, dR and dX GEMMs and bias sums, the head and loss, the norm and Adam), on the
// engine's default time loops, on the split ones, at L = 2 on the wavefront in the layers' order, where
// the default time loops are tiled (blocks of many
// rows) on the untiled ones, and where dR runs in parts of K (kernels::multi_gemm_parts) with one chain
// over all of K ("whole-K"); and the bf16 step on the tensor cores ("bf16"), whose distance from its own
// floor is the largest; medians of --reps (at most 3), beside the graph-replayed step.
// Eager launches leave small gaps, so the phases add up to a little more than the step.
//
// --cpu-threads K adds the CPU engine's rows (fp32, K threads over the models; the steady-state step, wall
// clock, medians of at most 3 after the device's rows) for --cpu-models (default 1,16,58): with --cpu-only
// it runs them alone, also without a device, with --reps repetitions.
//
// --smoke: tiny sizes (H=16, T=4, B=3; N in {1, 3}; 5 forecast windows; the CPU row for N in {1, 2}; 1 rep,
// no warm-up) that only show every path runs, as the host emulation of CUDA runs it in CI
// (emulated.gpu_bench_smoke); its times mean nothing.
//
// Usage: gpu_bench_multi [--quick | --smoke] [--reps N] [--warmup N] [--streams S] [--models a,b,c]
//                        [--peak-tflops X] [--tf32-peak-tflops X] [--bf16-peak-tflops X] [--csv FILE]
//                        [--cpu-threads K [--cpu-models a,b,c] [--cpu-only]]
//                        [--forecast-models a,b,c] [--forecast-windows W] [--forecast-csv FILE]
//                        [--phases-models a,b,c] [--phases-csv FILE]
// Without a CUDA device (and without --cpu-only) it prints why and exits 0.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench_csv.hpp"
#include "bench_flags.hpp"
#include "core/gpu/check.hpp"
#include "core/gpu/device.hpp"
#include "core/gpu/resources.hpp"
#include "core/rng.hpp"
#include "gpu_step_bench.hpp"
#include "kernels/lstm_fused_split_plan.hpp"
#include "kernels/lstm_mma_plan.hpp"
#include "kernels/lstm_multi.hpp"
#include "kernels/lstm_multi_plan.hpp"
#include "kernels/lstm_wavefront_plan.hpp"
#include "lstm/cudnn/cudnn_check.hpp"
#include "lstm/cudnn/cudnn_lstm.hpp"
#include "lstm/engine.hpp"
#include "lstm/fused/fused_lstm.hpp"
#include "lstm/fused/fused_multi.hpp"
#include "lstm/init.hpp"

using namespace lstmad;

namespace {

// The models' size: H = 64, T = 100, B = 64 unless --smoke.
struct Size {
  int H = 64, T = 100, B = 64;
};

// The nominal rates the compute floors divide by, TFLOP/s.
struct Peaks {
  double fp32 = bench::kH200Fp32PeakTflops, tf32 = bench::kH200Tf32PeakTflops,
         bf16 = bench::kH200Bf16PeakTflops;
};

struct Row {
  int N = 0, L = 0;
  double fused_ms = -1, tf32_ms = -1, bf16_ms = -1, split_ms = -1, cudnn_ms = -1, floor_ms = 0;
  double tf32_floor_ms = 0, bf16_floor_ms = 0;  // the same flops at the tensor cores' dense rates
  std::string cudnn_algo;
};

// N models, each with its own series of exactly B windows (one full minibatch) and learning rate.
struct Models {
  std::vector<std::vector<float>> series;
  std::vector<ModelJob> jobs;
  Models(const ModelShape& shape, int T, int B, int N) {
    const int n = T + shape.horizon + B - 1;
    for (int m = 0; m < N; ++m) {
      Rng rng(1000 + static_cast<uint64_t>(m));
      std::vector<float> s(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i)
        s[static_cast<std::size_t>(i)] = static_cast<float>(std::sin(0.05 * (i + m)) + 0.1 * rng.normal());
      series.push_back(std::move(s));
    }
    for (int m = 0; m < N; ++m) {
      ModelJob j;
      j.params = init_params(shape, 10 + static_cast<uint64_t>(m));
      j.data.x = series[static_cast<std::size_t>(m)].data();
      j.data.y = series[static_cast<std::size_t>(m)].data();
      j.data.n = n;
      for (int st = 0; st < B; ++st) j.data.train.push_back(st);
      j.options.window = T;
      j.options.batch = B;
      j.options.epochs = 1;
      j.options.adam.lr = 1e-4 * (1 + m % 7);  // small steps keep the parameters sane over the timed steps
      j.options.clip_norm = 1.0;
      jobs.push_back(std::move(j));
    }
  }
};

double fused_multi_ms(const ModelShape& shape, int T, int B, int N, int warmup, int reps,
                      const kernels::FusedLimits& limits, cudaStream_t stream,
                      Precision p = Precision::FP32) {
  Models models(shape, T, B, N);
  std::vector<ModelJob*> ptrs;
  for (auto& j : models.jobs) ptrs.push_back(&j);
  FusedMultiBatch batch(shape, T, B, limits, ptrs, stream, /*graphs=*/true, p);
  batch.autotune();  // the time loops the engine trains with (it logs what it timed and picked)
  batch.load_for_steps();
  return bench::time_median_ms(stream, warmup, reps, [&] { batch.step(); });
}

// N model-steps over the streams: stream k takes models k, k + S, ...; the main stream waits for all.
double cudnn_loop_ms(const ModelShape& shape, int T, int B, int N, int S, RnnAlgo algo, int warmup, int reps,
                     cudaStream_t main, std::string* ran_as) {
  S = std::max(1, std::min(S, N));
  std::vector<gpu::Stream> streams(static_cast<std::size_t>(S));
  std::vector<gpu::CudnnHandle> handles(static_cast<std::size_t>(S));
  std::vector<std::unique_ptr<bench::StepBench<CudnnLstm>>> benches;
  std::vector<gpu::GraphExec> graphs(static_cast<std::size_t>(S));
  for (int k = 0; k < S; ++k) {
    cudaStream_t s = streams[static_cast<std::size_t>(k)];
    CUDNN_CHECK(cudnnSetStream(handles[static_cast<std::size_t>(k)], s));
    benches.push_back(std::make_unique<bench::StepBench<CudnnLstm>>(s, shape, T, B, [&] {
      return std::make_unique<CudnnLstm>(handles[static_cast<std::size_t>(k)], s, shape, T, B,
                                         Precision::FP32, algo);
    }));
    benches.back()->step();  // one eager step: cuDNN's lazy setup stays out of the capture
    CUDA_CHECK(cudaStreamSynchronize(s));
    graphs[static_cast<std::size_t>(k)] =
        bench::capture_step(s, "gpu_bench_multi (cudnn loop)", [&] { benches.back()->step(); });
  }
  *ran_as = to_string(benches.front()->lstm->algo()) + (graphs.front() ? "+graph" : "");
  gpu::Event fork(false);
  std::vector<gpu::Event> joins;
  for (int k = 0; k < S; ++k) joins.emplace_back(false);
  auto all_models = [&] {
    fork.record(main);
    for (int k = 0; k < S; ++k) {
      cudaStream_t s = streams[static_cast<std::size_t>(k)];
      CUDA_CHECK(cudaStreamWaitEvent(s, fork.get(), 0));
      for (int m = k; m < N; m += S) {
        if (graphs[static_cast<std::size_t>(k)])
          graphs[static_cast<std::size_t>(k)].launch(s);
        else
          benches[static_cast<std::size_t>(k)]->step();
      }
      joins[static_cast<std::size_t>(k)].record(s);
      CUDA_CHECK(cudaStreamWaitEvent(main, joins[static_cast<std::size_t>(k)].get(), 0));
    }
  };
  const double ms = bench::time_median_ms(main, warmup, reps, all_models);
  CUDA_CHECK(cudaDeviceSynchronize());
  return ms;
}

// Where the step's time goes: N models of `shape` at fp32 on the multi-model engine (its default time
// loops; the split ones; at L = 2 the wavefront in the layers' order, LSTMAD_FUSED_WAVEFRONT=1, where it
// fits; where the default time loops are tiled, kernels::fused_bwd_tiled, the
// untiled ones, LSTMAD_FUSED_TILED=0; where the weight-gradient GEMMs run in parts of K,
// kernels::multi_gemm_parts, one chain over all of K, LSTMAD_FUSED_GEMM_PARTS=0), and at bf16 on the tensor
// cores (where H lets the backward split into parts of K, also the other choice than the default's at
// this N: "bf16 unsplit" where the default splits, LSTMAD_FUSED_MMA_SPLIT=0, "bf16 split" where it does
// not, LSTMAD_FUSED_MMA_SPLIT=all), each phase's median over `reps` eager steps after one warm-up, and the
// graph-replayed step beside them. Printed and written to `csv`.
void phase_rows(const Size& z, const std::vector<int>& Ns, int reps, const std::string& csv) {
  const kernels::FusedLimits limits = fused_device_limits(0);
  gpu::Stream stream;
  bench::CsvRows csv_rows(csv, "N,L,H,T,B,path,phase,ms,share,phases_ms,step_ms");
  std::printf(
      "\nwhere the step goes: fp32 (and bf16 on the tensor cores), eager with an event after each phase, "
      "median of %d; share of the phases' sum; 'step' is the graph-replayed step\n",
      reps);
  for (int L : {1, 2})
    for (int N : Ns)
      for (const std::string path :
           {"default", "split", "wavefront", "untiled", "whole-K", "bf16", "bf16 split", "bf16 unsplit"}) {
        const bool split = path == "split", untiled = path == "untiled", whole_k = path == "whole-K";
        const bool wave = path == "wavefront";
        const bool bf16_split = path == "bf16 split", bf16_unsplit = path == "bf16 unsplit";
        const Precision precision = path.rfind("bf16", 0) == 0 ? Precision::BF16 : Precision::FP32;
        if (bf16_split || bf16_unsplit) {  // the other choice than the default's, where there is one
          if (kernels::mma_bwd_parts(z.H) == 1) continue;
          const bool splits =
              kernels::plan_fused_mma(kernels::mma::Format::BF16, z.H, z.B, limits, N).bwd_parts > 1;
          if (splits != bf16_unsplit) continue;
        }
        if (split && !kernels::split_hidden_supported(z.H)) continue;
        if (wave) {
          kernels::FusedLimits per = limits;
          per.sm_count = std::max(1, limits.sm_count / N);
          if (L != 2 || kernels::plan_wavefront(z.H, z.B, per, /*layers=*/true).grid == 0) continue;
        }
        if (untiled && !kernels::fused_bwd_tiled(kernels::plan_fused_multi(z.H, z.B, N, limits))) continue;
        if (whole_k && kernels::multi_gemm_parts(z.H, z.T * z.B) == 1) continue;
        const ModelShape shape{L, 1, z.H, 1};
        if (split) setenv("LSTMAD_FUSED_SPLIT", "1", 1);
        if (wave) setenv("LSTMAD_FUSED_WAVEFRONT", "1", 1);
        if (untiled) setenv("LSTMAD_FUSED_TILED", "0", 1);
        if (whole_k) setenv("LSTMAD_FUSED_GEMM_PARTS", "0", 1);
        if (bf16_split || bf16_unsplit) setenv("LSTMAD_FUSED_MMA_SPLIT", bf16_split ? "all" : "0", 1);
        try {
          Models models(shape, z.T, z.B, N);
          std::vector<ModelJob*> ptrs;
          for (auto& j : models.jobs) ptrs.push_back(&j);
          FusedMultiBatch batch(shape, z.T, z.B, limits, ptrs, stream, /*graphs=*/true, precision);
          batch.load_for_steps();
          const bench::PhaseMedians ph = bench::median_phases(reps, [&] { return batch.step_phases(); });
          const double step = bench::time_median_ms(stream, 2, reps, [&] { batch.step(); });
          std::printf("N=%d L=%d %s time loops (%s): phases %.3f ms, step %.3f ms\n", N, L, path.c_str(),
                      batch.time_loops().c_str(), ph.sum, step);
          for (std::size_t i = 0; i < ph.names.size(); ++i) {
            const double share = ph.sum > 0 ? ph.ms[i] / ph.sum : 0.0;
            std::printf("  %-30s %10.3f ms %6.1f%%\n", ph.names[i].c_str(), ph.ms[i], 100.0 * share);
            csv_rows.row(N, L, z.H, z.T, z.B, path, ph.names[i], ph.ms[i], share, ph.sum, step);
          }
        } catch (const std::exception& e) {
          std::printf("N=%d L=%d %s time loops: phases failed: %s\n", N, L, path.c_str(), e.what());
          CUDA_CHECK(cudaDeviceSynchronize());
        }
        if (split) unsetenv("LSTMAD_FUSED_SPLIT");
        if (wave) unsetenv("LSTMAD_FUSED_WAVEFRONT");
        if (untiled) unsetenv("LSTMAD_FUSED_TILED");
        if (whole_k) unsetenv("LSTMAD_FUSED_GEMM_PARTS");
        if (bf16_split || bf16_unsplit) unsetenv("LSTMAD_FUSED_MMA_SPLIT");
        std::fflush(stdout);
      }
  csv_rows.done();
}

// The CPU engine on the same N models, as the GPU rows are timed: the steady-state step, its setup left
// out. An epoch of exactly B windows without validation is one training step per model, and train()
// also allocates each model's workspace and gathers its windows (their first touch alone is most of a
// one-step train() at N = 1). So each repetition times train() for 1 and for 1 + K epochs, and a step is
// the difference over K; "setup" is what the one-epoch call took beyond a step. Wall clock, medians of
// `reps` after one warm-up.
void cpu_rows(const Size& z, const std::vector<int>& Ns, int threads, int reps) {
  constexpr int K = 2;
  std::printf("\nCPU engine, fp32, %d thread(s), wall clock (this machine, not the GPU's host):\n", threads);
  std::printf("%6s %2s %12s %12s %12s\n", "N", "L", "CPU ms", "ms/model", "setup ms");
  const int H = z.H, T = z.T, B = z.B;
  EngineOptions eo;
  eo.name = "cpu";
  eo.threads = threads;
  auto engine = make_engine(eo);
  const auto train_ms = [&](const ModelShape& shape, int N, int epochs) {
    Models models(shape, T, B, N);
    for (auto& j : models.jobs) j.options.epochs = epochs;
    const auto t0 = std::chrono::steady_clock::now();
    engine->train(shape, models.jobs);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  for (int L : {1, 2})
    for (int N : Ns) {
      const ModelShape shape{L, 1, H, 1};
      std::vector<double> step, setup;
      for (int r = 0; r <= reps; ++r) {
        const double one = train_ms(shape, N, 1), more = train_ms(shape, N, 1 + K);
        if (r == 0) continue;  // the warm-up
        step.push_back((more - one) / K);
        setup.push_back(one - step.back());
      }
      const double med = bench::median(step);
      std::printf("%6d %2d %12.1f %12.2f %12.1f\n", N, L, med, med / N, bench::median(setup));
      std::fflush(stdout);
    }
}

// Forecasting as the runner scores a series: each of N models predicts W windows of its own series
// through an engine's predict_batch (host wall clock, uploads and downloads included; median of `reps`
// after one warm-up). Engines: the fused engine's lockstep inference (version 2), its per-model path
// (LSTMAD_FUSED_MULTI=0: a FusedLstm per call) and the cuDNN engine (a kept inference CudnnLstm
// per shape and window, models one after another).
double forecast_ms(const char* engine, bool per_model, const ModelShape& shape, int T, int W, int N,
                   int reps) {
  const int n = W + T - 1;
  std::vector<std::vector<float>> series(static_cast<std::size_t>(N)), params(static_cast<std::size_t>(N)),
      out(static_cast<std::size_t>(N));
  std::vector<PredictJob> asks(static_cast<std::size_t>(N));
  for (int m = 0; m < N; ++m) {
    const std::size_t k = static_cast<std::size_t>(m);
    Rng rng(2000 + static_cast<uint64_t>(m));
    for (int i = 0; i < n; ++i)
      series[k].push_back(static_cast<float>(std::sin(0.05 * (i + m)) + 0.1 * rng.normal()));
    params[k] = init_params(shape, 20 + static_cast<uint64_t>(m));
    out[k].resize(static_cast<std::size_t>(W) * shape.horizon);
    asks[k].params = &params[k];
    asks[k].x = series[k].data();
    asks[k].n = n;
    for (int st = 0; st < W; ++st) asks[k].starts.push_back(st);
    asks[k].out = out[k].data();
  }
  if (per_model) setenv("LSTMAD_FUSED_MULTI", "0", 1);
  EngineOptions eo;
  eo.name = engine;
  auto eng = make_engine(eo);
  std::vector<double> t;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    eng->predict_batch(shape, T, asks, 1);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) t.push_back(ms);
  }
  if (per_model) unsetenv("LSTMAD_FUSED_MULTI");
  return bench::median(std::move(t));
}

void forecast_rows(const Size& z, const std::vector<int>& Ns, int W, int reps, double peak_tflops,
                   const std::string& csv) {
  bench::CsvRows csv_rows(csv, "N,L,H,T,D,windows,fused_ms,fused_per_model_ms,cudnn_ms,floor_ms");
  const int H = z.H, T = z.T;
  std::printf(
      "\nforecasting: each of N models predicts %d windows (T=%d, H=%d, D=1) through predict_batch; "
      "host wall clock with uploads and downloads, median of %d after 1 warm-up\n",
      W, T, H, reps);
  std::printf("%6s %2s %14s %16s %12s %12s %12s %14s %12s\n", "N", "L", "fused ms", "fused/model ms",
              "cuDNN ms", "vs per-model", "vs cuDNN", "Mwindows/s", "floor ms");
  for (int L : {1, 2})
    for (int N : Ns) {
      const ModelShape shape{L, 1, H, 1};
      double flops = 0;
      for (int l = 0; l < L; ++l) flops += 8.0 * H * ((l == 0 ? 1 : H) + H) * T;
      const double floor_ms = static_cast<double>(N) * W * flops / (peak_tflops * 1e12) * 1e3;
      double fu = -1, fm = -1, c = -1;
      try {
        fu = forecast_ms("fused", false, shape, T, W, N, reps);
        fm = forecast_ms("fused", true, shape, T, W, N, reps);
        c = forecast_ms("cudnn", false, shape, T, W, N, reps);
      } catch (const std::exception& e) {
        std::printf("%6d %2d forecasting failed: %s\n", N, L, e.what());
      }
      std::printf("%6d %2d %14.2f %16.2f %12.2f %11.1fx %11.1fx %14.2f %12.3f\n", N, L, fu, fm, c,
                  fu > 0 && fm > 0 ? fm / fu : 0.0, fu > 0 && c > 0 ? c / fu : 0.0,
                  fu > 0 ? static_cast<double>(N) * W / (fu * 1e3) : 0.0, floor_ms);
      std::fflush(stdout);
      csv_rows.row(N, L, H, T, 1, W, fu, fm, c, floor_ms);
    }
  csv_rows.done();
}

// One training row: N models of `shape` at fp32, tf32 and bf16 on the multi-model engine, and the cuDNN
// loop (the faster algorithm). A way that fails prints why and leaves its column at -1.
Row training_row(const ModelShape& shape, const Size& z, int N, int streams, int warmup, int reps,
                 const Peaks& peaks, const kernels::FusedLimits& limits, cudaStream_t stream) {
  const int L = shape.layers, H = z.H, T = z.T, B = z.B;
  Row r;
  r.N = N;
  r.L = L;
  double flops = 0;
  for (int l = 0; l < L; ++l) flops += 24.0 * H * ((l == 0 ? 1 : H) + H) * B * T;
  r.floor_ms = N * flops / (peaks.fp32 * 1e12) * 1e3;
  r.tf32_floor_ms = N * flops / (peaks.tf32 * 1e12) * 1e3;
  r.bf16_floor_ms = N * flops / (peaks.bf16 * 1e12) * 1e3;
  try {
    r.fused_ms = fused_multi_ms(shape, T, B, N, warmup, reps, limits, stream);
  } catch (const std::exception& e) {
    std::printf("%6d %2d fused multi failed: %s\n", N, L, e.what());
  }
  if (kernels::split_hidden_supported(H)) {  // the split time loops (candidate, LSTMAD_FUSED_SPLIT=1)
    setenv("LSTMAD_FUSED_SPLIT", "1", 1);
    try {
      r.split_ms = fused_multi_ms(shape, T, B, N, warmup, reps, limits, stream);
    } catch (const std::exception& e) {
      std::printf("%6d %2d fused multi split failed: %s\n", N, L, e.what());
    }
    unsetenv("LSTMAD_FUSED_SPLIT");
  }
  for (Precision p : {Precision::TF32, Precision::BF16}) {
    try {
      (p == Precision::TF32 ? r.tf32_ms : r.bf16_ms) =
          fused_multi_ms(shape, T, B, N, warmup, reps, limits, stream, p);
    } catch (const std::exception& e) {
      std::printf("%6d %2d fused multi %s failed: %s\n", N, L, to_string(p).c_str(), e.what());
    }
  }
  for (RnnAlgo a : {RnnAlgo::Standard, RnnAlgo::PersistStaticSmallH}) {
    try {
      std::string ran;
      const double ms = cudnn_loop_ms(shape, T, B, N, streams, a, warmup, reps, stream, &ran);
      if (r.cudnn_ms < 0 || ms < r.cudnn_ms) {
        r.cudnn_ms = ms;
        r.cudnn_algo = ran;
      }
    } catch (const std::exception& e) {
      std::printf("%6d %2d cuDNN %s failed: %s\n", N, L, to_string(a).c_str(), e.what());
      CUDA_CHECK(cudaDeviceSynchronize());
    }
  }
  return r;
}

// The training table: every N at L = 1 and 2, printed and written to `csv`.
void training_rows(const Size& z, const std::vector<int>& Ns, int streams, int warmup, int reps,
                   const Peaks& peaks, const std::string& csv) {
  const kernels::FusedLimits limits = fused_device_limits(0);
  gpu::Stream stream;
  bench::CsvRows csv_rows(
      csv,
      "N,L,H,T,B,D,fused_ms,fused_tf32_ms,fused_bf16_ms,cudnn_loop_ms,cudnn_ran_as,floor_ms,split_ms,"
      "tf32_floor_ms,bf16_floor_ms");
  std::printf("%6s %2s %12s %10s %10s %10s %14s %-30s %10s %10s %12s %12s %12s %11s %11s\n", "N", "L",
              "fused ms", "split ms", "tf32 ms", "bf16 ms", "cuDNN loop ms", "cuDNN ran as", "speedup",
              "tc speedup", "floor ms", "fused/floor", "us/model", "tf32/floor", "bf16/floor");
  for (int L : {1, 2})
    for (int N : Ns) {
      const Row r =
          training_row(ModelShape{L, 1, z.H, 1}, z, N, streams, warmup, reps, peaks, limits, stream);
      const double tc = r.tf32_ms > 0 && (r.bf16_ms < 0 || r.tf32_ms < r.bf16_ms) ? r.tf32_ms : r.bf16_ms;
      std::printf(
          "%6d %2d %12.3f %10.3f %10.3f %10.3f %14.3f %-30s %9.1fx %9.1fx %12.4f %11.2fx %12.2f %10.2fx "
          "%10.2fx\n",
          N, L, r.fused_ms, r.split_ms, r.tf32_ms, r.bf16_ms, r.cudnn_ms, r.cudnn_algo.c_str(),
          r.fused_ms > 0 && r.cudnn_ms > 0 ? r.cudnn_ms / r.fused_ms : 0.0,
          tc > 0 && r.cudnn_ms > 0 ? r.cudnn_ms / tc : 0.0, r.floor_ms,
          r.fused_ms > 0 ? r.fused_ms / r.floor_ms : 0.0, r.fused_ms > 0 ? 1e3 * r.fused_ms / N : 0.0,
          r.tf32_ms > 0 ? r.tf32_ms / r.tf32_floor_ms : 0.0,
          r.bf16_ms > 0 ? r.bf16_ms / r.bf16_floor_ms : 0.0);
      std::fflush(stdout);
      csv_rows.row(r.N, r.L, z.H, z.T, z.B, 1, r.fused_ms, r.tf32_ms, r.bf16_ms, r.cudnn_ms, r.cudnn_algo,
                   r.floor_ms, r.split_ms, r.tf32_floor_ms, r.bf16_floor_ms);
    }
  csv_rows.done();
}

}  // namespace

int main(int argc, char** argv) {
  bench::BenchFlags flags;
  flags.reps = 7;
  flags.warmup = 2;
  int streams = 8;
  Peaks peaks;
  std::vector<int> Ns{1, 16, 58, 256, 1024}, cpu_Ns{1, 16, 58};
  int cpu_threads = 0;
  bool cpu_only = false;
  std::vector<int> forecast_Ns{1, 58, 256};
  int forecast_windows = 2048;
  std::string forecast_csv;
  std::vector<int> phase_Ns{1, 58, 1024};
  std::string phases_csv;
  CLI::App app{
      "gpu_bench_multi: one training step of N models, the multi-model engine beside the cuDNN loop"};
  bench::add_bench_flags(app, flags);
  app.add_option("--streams", streams, "Streams of the cuDNN loop")
      ->check(bench::at_least(1))
      ->capture_default_str();
  bench::add_count_list(app, "--models", Ns, "Model counts N");
  app.add_option("--peak-tflops", peaks.fp32, "The fp32 peak the compute floor divides by (nominal)")
      ->check(bench::tflops_range())
      ->capture_default_str();
  app.add_option("--tf32-peak-tflops", peaks.tf32,
                 "The dense TF32 tensor-core peak of the tf32 floor (nominal)")
      ->check(bench::tflops_range())
      ->capture_default_str();
  app.add_option("--bf16-peak-tflops", peaks.bf16,
                 "The dense BF16 tensor-core peak of the bf16 floor (nominal)")
      ->check(bench::tflops_range())
      ->capture_default_str();
  app.add_option("--cpu-threads", cpu_threads, "Also time the CPU engine on K threads")
      ->check(bench::at_least(1));
  bench::add_count_list(app, "--cpu-models", cpu_Ns, "Model counts of the CPU engine's rows");
  app.add_flag("--cpu-only", cpu_only, "Only the CPU engine's rows (no device needed)");
  bench::add_count_list(app, "--forecast-models", forecast_Ns, "Model counts of the forecasting table");
  app.add_option("--forecast-windows", forecast_windows, "Windows each model forecasts")
      ->check(bench::at_least(0))
      ->capture_default_str();
  app.add_option("--forecast-csv", forecast_csv, "Also write the forecasting rows to this CSV file");
  app.add_option("--phases-models", phase_Ns, "Model counts of the table of a step's phases (0: none)")
      ->delimiter(',');
  app.add_option("--phases-csv", phases_csv, "Also write the phases' rows to this CSV file");
  if (const int rc = bench::parse_bench_flags(app, argc, argv); rc >= 0) return rc;
  const bool quick = flags.quick, smoke = flags.smoke;
  int &reps = flags.reps, &warmup = flags.warmup;
  const std::string& csv = flags.csv;
  if (quick) Ns = {1, 58, 256};
  Size z;
  if (smoke) {
    z = {16, 4, 3};
    Ns = forecast_Ns = {1, 3};
    phase_Ns = {3};
    cpu_Ns = {1, 2};
    cpu_threads = 1;
    forecast_windows = 5;
    reps = 1;
    warmup = 0;
  }
  if (cpu_only) {
    cpu_rows(z, cpu_Ns, std::max(1, cpu_threads), reps);
    return 0;
  }
  std::string reason;
  if (!gpu::device_available(0, &reason)) {
    std::printf("gpu_bench_multi: no CUDA device (%s); nothing to time\n", reason.c_str());
    return 0;
  }
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf(
      "gpu_bench_multi on %s (sm_%d%d, %d SMs), cuDNN %s: one training step of all N models, H=%d T=%d B=%d "
      "D=1, medians of %d after %d warm-up; cuDNN loop on %d streams, FMA math; floors at %.1f (fp32), %.0f "
      "(TF32) and %.0f (BF16) TFLOP/s (nominal)\n",
      prop.name, prop.major, prop.minor, prop.multiProcessorCount, gpu::cudnn_version_string().c_str(), z.H,
      z.T, z.B, reps, warmup, streams, peaks.fp32, peaks.tf32, peaks.bf16);
  training_rows(z, Ns, streams, warmup, reps, peaks, csv);
  phase_Ns.erase(std::remove(phase_Ns.begin(), phase_Ns.end(), 0), phase_Ns.end());
  // At most 3 repetitions: eager steps at N = 1024 take ~0.1 s each, and the GPU check's share of time is
  // what it is (the training table comes first).
  if (!phase_Ns.empty()) phase_rows(z, phase_Ns, std::min(reps, 3), phases_csv);
  if (forecast_windows > 0)
    forecast_rows(z, forecast_Ns, forecast_windows, std::min(reps, 3), peaks.fp32, forecast_csv);
  // Each CPU repetition trains 4 steps (see cpu_rows): at most 3 of them after the device's rows.
  if (cpu_threads > 0) cpu_rows(z, cpu_Ns, cpu_threads, std::min(reps, 3));
  return 0;
}
