// What the GPU step benchmarks (gpu_bench_cudnn.cpp, gpu_bench_fused.cpp) share: one model's training
// step on one stream, the engines' sequence
//   gather -> LSTM forward (training) -> head + MSE -> loss sum -> LSTM backward -> ||g||^2 -> Adam
// and its timing with CUDA events, so both benchmarks time exactly the same step.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/gpu/check.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/gpu/graph.hpp"
#include "core/gpu/resources.hpp"
#include "core/rng.hpp"
#include "kernels/adam.hpp"
#include "kernels/gather_windows.hpp"
#include "kernels/reduce.hpp"
#include "lstm/init.hpp"
#include "lstm/shape.hpp"

namespace lstmad::bench {

// Whether Lstm names the phases of its own steps (FusedLstm::set_phase_marks).
template <class Lstm, class = void>
struct HasPhaseMarks : std::false_type {};
template <class Lstm>
struct HasPhaseMarks<Lstm, std::void_t<decltype(std::declval<Lstm&>().set_phase_marks(nullptr))>>
    : std::true_type {};

// The upper median of a sample (0 for none), for float and double timings alike.
template <typename T>
double median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : static_cast<double>(v[v.size() / 2]);
}

// One model's buffers and its training step on one stream, for either LSTM block (CudnnLstm, FusedLstm:
// both have the same device-side interface). `make` returns the block as a std::unique_ptr<Lstm>.
template <typename Lstm>
struct StepBench {
  template <typename Make>
  StepBench(cudaStream_t s, const ModelShape& shp, int t, int b, Make&& make)
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
    resid.resize(BH);
    m.resize(P);
    v.resize(P);
    m.zero_async(s);
    v.zero_async(s);
    scalars.resize(3);
    kernels::AdamHyper h;
    h.lr = 1e-4f;  // small steps keep the parameters sane over hundreds of timed steps
    h.clip_norm = 1.f;
    hyper.resize(1);
    hyper.upload(&h, 1, s);
    state.resize(1);
    state.zero_async(s);
    cub_bytes = std::max(kernels::sum_squares_temp_bytes(P), kernels::sum_squares_temp_bytes(BH));
    temp.resize(std::max<std::size_t>(cub_bytes, 1));
    const auto params = init_params(shape, 11);
    lstm->upload_params(params.data());
    lstm->prepare(B);
  }

  // One training step; with `marks`, an event after each phase (eager steps only): the LSTM's own phases
  // where it names them (FusedLstm::set_phase_marks), else its forward, head and backward as one each.
  void step(std::vector<std::pair<std::string, gpu::Event>>* marks = nullptr) {
    constexpr bool inner = HasPhaseMarks<Lstm>::value;
    auto mark = [&](const char* phase) {
      if (marks == nullptr) return;
      marks->emplace_back(phase, gpu::Event());
      marks->back().second.record(stream);
    };
    if constexpr (inner) lstm->set_phase_marks(marks);
    const int hz = shape.horizon;
    kernels::launch_gather_windows(dxs.data(), dys.data(), shape.input, dstarts.data(), nullptr, B, T, hz,
                                   xb.data(), yb.data(), stream);
    mark("gather windows");
    lstm->forward(lstm->theta(), xb.data(), B, true);
    if (!inner) mark("LSTM forward");
    lstm->head(lstm->theta(), B, yhat.data(), yb.data(), dyhat.data(), resid.data());
    if (!inner) mark("head and MSE");
    CUDA_CHECK(kernels::launch_sum_squares(resid.data(), static_cast<std::size_t>(B) * hz, scalars.data(),
                                           temp.data(), cub_bytes, stream));
    kernels::launch_accumulate(scalars.data() + 2, scalars.data(), stream);
    mark("loss sum");
    lstm->backward(lstm->theta(), xb.data(), B, dyhat.data(), lstm->dtheta(), nullptr);
    if (!inner) mark("LSTM backward");
    CUDA_CHECK(kernels::launch_sum_squares(lstm->dtheta(), lstm->theta_size(), scalars.data() + 1,
                                           temp.data(), cub_bytes, stream));
    mark("gradient norm");
    kernels::launch_adam_prepare(hyper.data(), scalars.data() + 1, state.data(), stream);
    kernels::launch_adam_update(lstm->theta(), lstm->dtheta(), m.data(), v.data(), lstm->theta_size(),
                                hyper.data(), state.data(), stream);
    mark("Adam");
    if constexpr (inner) lstm->set_phase_marks(nullptr);
    KERNEL_CHECK("training step");
  }
  // One eager step with the device time of each phase in ms, in step order. Eager launches leave small
  // gaps that a graph replay does not, so the phases add up to a little more than the replayed step.
  std::vector<std::pair<std::string, double>> step_phases() {
    std::vector<std::pair<std::string, gpu::Event>> marks;
    marks.emplace_back("start", gpu::Event());
    marks.back().second.record(stream);
    step(&marks);
    marks.back().second.synchronize();
    std::vector<std::pair<std::string, double>> out;
    for (std::size_t i = 1; i < marks.size(); ++i)
      out.emplace_back(marks[i].first, marks[i].second.elapsed_ms_since(marks[i - 1].second));
    return out;
  }

  cudaStream_t stream;
  ModelShape shape;
  int T, B;
  std::unique_ptr<Lstm> lstm;
  gpu::DeviceBuffer<float> dxs, dys, xb, yb, yhat, dyhat, resid, m, v;
  gpu::DeviceBuffer<int> dstarts;
  gpu::DeviceBuffer<double> scalars;
  gpu::DeviceBuffer<kernels::AdamHyper> hyper;
  gpu::DeviceBuffer<kernels::AdamStepState> state;
  gpu::DeviceBuffer<unsigned char> temp;
  std::size_t cub_bytes = 0;
};

// Each phase's median over `reps` calls of phases() (a step's (name, ms) in step order, the same names each
// time) after one untimed call (lazy set-up, first touches): the names, the medians and their sum.
struct PhaseMedians {
  std::vector<std::string> names;
  std::vector<double> ms;
  double sum = 0;
};
template <typename F>
PhaseMedians median_phases(int reps, F&& phases) {
  phases();
  std::vector<std::vector<double>> t;
  PhaseMedians out;
  for (int r = 0; r < reps; ++r) {
    const auto ph = phases();
    if (out.names.empty()) {
      for (const auto& [name, ms] : ph) out.names.push_back(name);
      t.resize(out.names.size());
    }
    for (std::size_t i = 0; i < ph.size() && i < t.size(); ++i) t[i].push_back(ph[i].second);
  }
  for (auto& v : t) {
    out.ms.push_back(median(std::move(v)));
    out.sum += out.ms.back();
  }
  return out;
}

// Median milliseconds of `reps` calls of f() on stream s after `warmup` untimed ones, each call timed
// between two CUDA events.
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

// `step` captured once as a CUDA graph, or an empty GraphExec where capture fails: then a line on stderr
// says why, and the caller times eager launches. A step that throws during capture leaves no graph
// behind, so a step cut short is never timed as a whole one.
template <typename F>
gpu::GraphExec capture_step(cudaStream_t s, const char* what, F&& step) {
  try {
    return gpu::capture_graph(s, step);
  } catch (const std::exception& e) {
    cudaGetLastError();  // capture errors are not sticky; clear the last one before eager launches
    std::fprintf(stderr, "%s: CUDA graph capture failed, timing eager launches: %s\n", what, e.what());
    return gpu::GraphExec();
  }
}

}  // namespace lstmad::bench
