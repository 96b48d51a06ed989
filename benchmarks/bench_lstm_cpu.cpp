// LstmCpu<float> on one thread: forward, backward and a whole training step (forward, MSE, backward,
// global-norm clipping, Adam) for L in {1, 2}, H in {32, 64, 128}, T = 50, B = 64, D = 1, horizon 1.
//
// FLOPs count the GEMMs only (cpu_work.hpp), so the FLOP/s is a lower bound of the arithmetic done.
// Counters: FLOP/s ("FLOPS", 1000-based) and windows/s ("items_per_second"). With --benchmark_repetitions
// a "min" aggregate is reported besides mean/median/stddev.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

#include "core/rng.hpp"
#include "cpu_work.hpp"
#include "lstm/cpu/lstm_cpu.hpp"
#include "lstm/init.hpp"
#include "train/adam.hpp"

namespace {

using lstmad::LstmCpu;
using lstmad::ModelShape;

constexpr int kT = 50, kB = 64, kD = 1;

ModelShape bench_shape(const benchmark::State& state) {
  ModelShape s;
  s.layers = static_cast<int>(state.range(0));
  s.hidden = static_cast<int>(state.range(1));
  s.input = kD;
  s.horizon = 1;
  return s;
}

using lstmad::bench::backward_flops;
using lstmad::bench::forward_flops;

struct Inputs {
  std::vector<float> params, x, y, yhat, dyhat, grad;
  explicit Inputs(const ModelShape& s) {
    params = lstmad::init_params(s, 1, 1.0);
    lstmad::Rng rng(2);
    x.resize(static_cast<std::size_t>(kB) * kT * kD);
    for (auto& v : x) v = static_cast<float>(rng.normal());
    y.resize(static_cast<std::size_t>(kB) * s.horizon);
    for (auto& v : y) v = static_cast<float>(rng.normal());
    yhat.resize(y.size());
    dyhat.resize(y.size());
    for (auto& v : dyhat) v = static_cast<float>(rng.normal(0.0, 0.01));
    grad.resize(params.size());
  }
};

void set_counters(benchmark::State& state, double flops_per_iter) {
  state.counters["FLOPS"] = benchmark::Counter(flops_per_iter, benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::kIs1000);
  state.counters["MFLOP/iter"] = flops_per_iter / 1e6;
  state.SetItemsProcessed(state.iterations() * kB);
}

void BM_Forward(benchmark::State& state) {
  const ModelShape s = bench_shape(state);
  Inputs in(s);
  LstmCpu<float> net(s, kT, kB);
  for (auto _ : state) {
    net.forward(in.params.data(), in.x.data(), kB, in.yhat.data());
    benchmark::DoNotOptimize(in.yhat.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, forward_flops(s, kT, kB));
}

void BM_Backward(benchmark::State& state) {
  const ModelShape s = bench_shape(state);
  Inputs in(s);
  LstmCpu<float> net(s, kT, kB);
  net.forward(in.params.data(), in.x.data(), kB, in.yhat.data());  // backward only reads the activations
  for (auto _ : state) {
    net.backward(in.params.data(), in.dyhat.data(), in.grad.data());
    benchmark::DoNotOptimize(in.grad.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, backward_flops(s, kT, kB));
}

void BM_TrainStep(benchmark::State& state) {
  const ModelShape s = bench_shape(state);
  Inputs in(s);
  LstmCpu<float> net(s, kT, kB);
  lstmad::Adam<float> adam(in.params.size(), lstmad::AdamOptions{});
  for (auto _ : state) {
    const float loss = net.loss_and_grad(in.params.data(), in.x.data(), in.y.data(), kB, in.grad.data());
    benchmark::DoNotOptimize(loss);
    lstmad::clip_grad_norm(in.grad.data(), in.grad.size(), 1.0);
    adam.step(in.params.data(), in.grad.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, forward_flops(s, kT, kB) + backward_flops(s, kT, kB));
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"L", "H"});
  for (int L : {1, 2})
    for (int H : {32, 64, 128}) b->Args({L, H});
  b->Unit(benchmark::kMillisecond);
  // On a shared machine the fastest repetition is the best estimate of the code's own speed.
  b->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
}

BENCHMARK(BM_Forward)->Apply(shapes);
BENCHMARK(BM_Backward)->Apply(shapes);
BENCHMARK(BM_TrainStep)->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
