// cpu_step_timer: wall-clock timings of the CPU engine for one shape, printed as one JSON object.
//
//   cpu_step_timer --mode train|infer|peak [--layers L] [--hidden H] [--window T] [--batch B] [--input D]
//                  [--threads N] [--warmup W] [--reps R] [--rows n] [--precision fp32|fp64] [--samples 0|1]
//
// train: one training step exactly as train/trainer.cpp takes it: gather a minibatch of B shuffled windows
//        from a series, forward, MSE, backward (LstmCpu::loss_and_grad), global-norm clipping at 1.0,
//        Adam. Each of the R timed steps is timed alone.
// infer: scoring a whole series of n rows with a trained model as the runner does: one Engine::predict
//        call (engine "cpu") for every window of the series (n - T windows, batches of the engine's own
//        size); each of the R repetitions is one such call. The model is trained for W steps first.
// peak:  the core's fp32 peak: twelve independent chains of vector fused multiply-adds on one thread,
//        the best of R trials.
//
// With --threads N > 1, N independent models (each its own series, parameters and optimizer) run at once,
// one per thread, as the CPU engine's pool trains a ModelBatch; after their warm-up the threads start the
// timed part together, and "per_s" is the aggregate rate (steps or series per second of wall time) over
// that part, so the scaling from 1 to N threads is per_s(N) / per_s(1).
//
// Times are wall clock; "cpu_median_ms"/"cpu_min_ms" are the same repetitions in thread CPU time, which
// on a shared machine leaves out the waits for a core. GFLOP/s counts the GEMMs only (cpu_work.hpp): a
// lower bound of the arithmetic done.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/rng.hpp"
#include "core/thread_pool.hpp"
#include "cpu_work.hpp"
#include "lstm/cpu/lstm_cpu.hpp"
#include "lstm/engine.hpp"
#include "lstm/init.hpp"
#include "train/adam.hpp"
#include "train/trainer.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using lstmad::ModelShape;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// CPU time of the calling thread in ms: on a shared machine it leaves out the time the thread waited for
// a core (not the cache and memory traffic of the other programs).
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

struct Args {
  std::string mode = "train";
  std::string precision = "fp32";
  int layers = 2, hidden = 64, window = 50, batch = 64, input = 1, threads = 1;
  int warmup = 10, reps = 50, rows = 4000;
  int samples = 0;  // 1: also print every repetition's wall and CPU ms
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "cpu_step_timer: %s\n"
               "usage: cpu_step_timer --mode train|infer|peak [--layers L] [--hidden H] [--window T] "
               "[--batch B] [--input D] [--threads N] [--warmup W] [--reps R] [--rows n] "
               "[--precision fp32|fp64] [--samples 0|1]\n",
               why.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  std::map<std::string, int*> ints = {
      {"--layers", &a.layers}, {"--hidden", &a.hidden},   {"--window", &a.window}, {"--batch", &a.batch},
      {"--input", &a.input},   {"--threads", &a.threads}, {"--warmup", &a.warmup}, {"--reps", &a.reps},
      {"--rows", &a.rows},     {"--samples", &a.samples}};
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") usage("timings of the CPU engine as JSON");
    if (i + 1 >= argc) usage("missing value after " + k);
    const std::string v = argv[++i];
    if (k == "--mode") {
      a.mode = v;
    } else if (k == "--precision") {
      a.precision = v;
    } else if (auto it = ints.find(k); it != ints.end()) {
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0') usage("not an integer: " + k + " " + v);
      *it->second = static_cast<int>(n);
    } else {
      usage("unknown option " + k);
    }
  }
  if (a.mode != "train" && a.mode != "infer" && a.mode != "peak") usage("unknown mode " + a.mode);
  if (a.precision != "fp32" && a.precision != "fp64") usage("unknown precision " + a.precision);
  if (a.layers < 1 || a.hidden < 1 || a.window < 1 || a.batch < 1 || a.input < 1 || a.threads < 1 ||
      a.warmup < 0 || a.reps < 1)
    usage("every size must be at least 1 (warm-up at least 0)");
  if (a.rows < a.window + 2) usage("--rows must exceed the window by at least 2");
  return a;
}

struct Stats {
  double median = 0, min = 0, mean = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  s.min = v.front();
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(n);
  return s;
}

// A noisy sine with a slow drift, in [-1, 1]-ish: the values do not change the arithmetic, only make the
// model's training meaningful.
void make_series(uint64_t seed, int n, int D, std::vector<float>& x, std::vector<float>& y) {
  lstmad::Rng rng(seed);
  x.resize(static_cast<std::size_t>(n) * D);
  y.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const double v = 0.6 * std::sin(0.07 * i) + 0.2 * std::sin(0.013 * i) + 0.05 * rng.normal();
    y[static_cast<std::size_t>(i)] = static_cast<float>(v);
    for (int d = 0; d < D; ++d)
      x[static_cast<std::size_t>(i) * D + d] = static_cast<float>(d == 0 ? v : 0.5 * v);
  }
}

// One model's training state, stepping through shuffled minibatches as the trainer does.
template <typename Real>
struct Trainee {
  ModelShape shape;
  int T, B;
  std::vector<float> x, y;
  std::vector<int> order;
  std::size_t next = 0;
  lstmad::Rng rng;
  lstmad::LstmCpu<Real> net;
  std::vector<Real> params, grad, xb, yb;
  lstmad::Adam<Real> adam;

  Trainee(const ModelShape& s, int window, int batch, int rows, uint64_t seed)
      : shape(s), T(window), B(batch), rng(seed), net(s, window, batch), adam(lstmad::param_count(s), {}) {
    make_series(seed, rows, s.input, x, y);
    for (int k = 0; k + T + s.horizon <= rows; ++k) order.push_back(k);
    if (static_cast<int>(order.size()) < B) throw std::runtime_error("--rows too small for one minibatch");
    rng.shuffle(order.begin(), order.end());
    const std::vector<float> p0 = lstmad::init_params(s, seed);
    params.assign(p0.begin(), p0.end());
    grad.resize(params.size());
    xb.resize(static_cast<std::size_t>(B) * T * s.input);
    yb.resize(static_cast<std::size_t>(B) * s.horizon);
  }

  Real step() {
    if (next + static_cast<std::size_t>(B) > order.size()) {  // a new epoch
      rng.shuffle(order.begin(), order.end());
      next = 0;
    }
    lstmad::gather_windows(x.data(), y.data(), shape.input, T, shape.horizon, order.data() + next, B,
                           xb.data(), yb.data());
    next += static_cast<std::size_t>(B);
    const Real loss = net.loss_and_grad(params.data(), xb.data(), yb.data(), B, grad.data());
    lstmad::clip_grad_norm(grad.data(), grad.size(), 1.0);
    adam.step(params.data(), grad.data());
    return loss;
  }
};

// Runs body(thread) on `threads` threads at once; each calls start() when its warm-up is done and the
// timed part begins when all have. Returns the wall time of the timed part (from the common start to the
// last thread's end).
template <typename Body>
double run_together(int threads, Body body) {
  std::atomic<int> ready{0};
  std::atomic<long long> start_ns{0}, end_ns{0};
  auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  };
  lstmad::parallel_for(static_cast<std::size_t>(threads), static_cast<std::size_t>(threads),
                       [&](std::size_t t) {
                         auto start = [&] {
                           if (ready.fetch_add(1) + 1 == threads) start_ns.store(now_ns());
                           while (ready.load() < threads) std::this_thread::yield();
                         };
                         body(static_cast<int>(t), start);
                         const long long e = now_ns();
                         long long prev = end_ns.load();
                         while (e > prev && !end_ns.compare_exchange_weak(prev, e)) {
                         }
                       });
  return static_cast<double>(end_ns.load() - start_ns.load()) * 1e-6;
}

struct Result {
  std::vector<double> ms;      // every timed repetition of every thread
  std::vector<double> cpu_ms;  // the same repetitions in thread CPU time
  double wall_ms = 0;          // timed part, all threads together
  double last_loss = 0;
};

template <typename Real>
Result time_train(const Args& a, const ModelShape& s) {
  std::vector<std::vector<double>> per(static_cast<std::size_t>(a.threads)), cpu(per.size());
  std::vector<double> loss(static_cast<std::size_t>(a.threads));
  Result r;
  r.wall_ms = run_together(a.threads, [&](int t, auto start) {
    Trainee<Real> m(s, a.window, a.batch, a.rows, 1000 + static_cast<uint64_t>(t));
    for (int k = 0; k < a.warmup; ++k) m.step();
    start();
    auto& v = per[static_cast<std::size_t>(t)];
    v.reserve(static_cast<std::size_t>(a.reps));
    for (int k = 0; k < a.reps; ++k) {
      const double c0 = thread_cpu_ms();
      const auto t0 = Clock::now();
      loss[static_cast<std::size_t>(t)] = static_cast<double>(m.step());
      v.push_back(ms_since(t0));
      cpu[static_cast<std::size_t>(t)].push_back(thread_cpu_ms() - c0);
    }
  });
  for (auto& v : per) r.ms.insert(r.ms.end(), v.begin(), v.end());
  for (auto& v : cpu) r.cpu_ms.insert(r.cpu_ms.end(), v.begin(), v.end());
  r.last_loss = loss[0];
  return r;
}

template <typename Real>
Result time_infer(const Args& a, const ModelShape& s) {
  std::vector<std::vector<double>> per(static_cast<std::size_t>(a.threads)), cpu(per.size());
  Result r;
  lstmad::EngineOptions eo;
  eo.name = "cpu";
  eo.precision = std::is_same_v<Real, float> ? lstmad::Precision::FP32 : lstmad::Precision::FP64;
  r.wall_ms = run_together(a.threads, [&](int t, auto start) {
    // The brief training takes at most every window in one minibatch.
    Trainee<Real> m(s, a.window, std::min(a.batch, a.rows - a.window - s.horizon + 1), a.rows,
                    2000 + static_cast<uint64_t>(t));
    for (int k = 0; k < std::max(1, a.warmup); ++k) m.step();  // a (briefly) trained model
    const std::vector<float> params(m.params.begin(), m.params.end());
    std::vector<int> starts;
    for (int k = 0; k + a.window <= a.rows - 1; ++k) starts.push_back(k);  // every row after a full window
    std::vector<float> out(starts.size() * static_cast<std::size_t>(s.horizon));
    auto engine = lstmad::make_engine(eo);
    engine->predict(s, a.window, params, m.x.data(), a.rows, starts, out.data());  // warm-up call
    start();
    auto& v = per[static_cast<std::size_t>(t)];
    for (int k = 0; k < a.reps; ++k) {
      const double c0 = thread_cpu_ms();
      const auto t0 = Clock::now();
      engine->predict(s, a.window, params, m.x.data(), a.rows, starts, out.data());
      v.push_back(ms_since(t0));
      cpu[static_cast<std::size_t>(t)].push_back(thread_cpu_ms() - c0);
    }
  });
  for (auto& v : per) r.ms.insert(r.ms.end(), v.begin(), v.end());
  for (auto& v : cpu) r.cpu_ms.insert(r.cpu_ms.end(), v.begin(), v.end());
  return r;
}

// fp32 peak of one core: kChains independent accumulators, each acc = acc * m + c, so every operation is
// one fused multiply-add and the chains hide its latency.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
#endif
#if defined(__AVX512F__)
constexpr int kPeakLanes = 16;
#elif defined(__AVX__)
constexpr int kPeakLanes = 8;
#else
constexpr int kPeakLanes = 4;
#endif
constexpr int kChains = 12;
typedef float pvec __attribute__((vector_size(kPeakLanes * sizeof(float))));

__attribute__((noinline)) float fma_chains(long iters, float seed) {
  pvec acc[kChains];
  pvec m, c;
  for (int l = 0; l < kPeakLanes; ++l) {
    m[l] = 0.999999f;
    c[l] = 1e-7f * seed;
  }
  for (int k = 0; k < kChains; ++k)
    for (int l = 0; l < kPeakLanes; ++l) acc[k][l] = seed + 0.01f * static_cast<float>(k * kPeakLanes + l);
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < kChains; ++k) acc[k] = acc[k] * m + c;
  float sum = 0;
  for (int k = 0; k < kChains; ++k)
    for (int l = 0; l < kPeakLanes; ++l) sum += acc[k][l];
  return sum;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

void print_header(const Args& a) {
  std::printf(
      "{\"mode\": \"%s\", \"precision\": \"%s\", \"layers\": %d, \"hidden\": %d, \"window\": %d, "
      "\"batch\": %d, \"input\": %d, \"threads\": %d, \"warmup\": %d, \"reps\": %d",
      a.mode.c_str(), a.precision.c_str(), a.layers, a.hidden, a.window, a.batch, a.input, a.threads,
      a.warmup, a.reps);
}

int run_peak(const Args& a) {
  const long iters = 4'000'000;
  std::vector<double> gflops;
  float sink = 0;
  for (int k = 0; k < a.reps; ++k) {
    const auto t0 = Clock::now();
    sink += fma_chains(iters, 1.0f + static_cast<float>(k));
    const double ms = ms_since(t0);
    gflops.push_back(2.0 * kChains * kPeakLanes * static_cast<double>(iters) / (ms * 1e6));
  }
  print_header(a);
  std::printf(
      ", \"vector_lanes\": %d, \"chains\": %d, \"peak_gflops\": %.2f, \"median_gflops\": %.2f, "
      "\"checksum\": %.6g}\n",
      kPeakLanes, kChains, *std::max_element(gflops.begin(), gflops.end()), stats(gflops).median,
      static_cast<double>(sink));
  return 0;
}

template <typename Real>
int run(const Args& a) {
  ModelShape s;
  s.layers = a.layers;
  s.hidden = a.hidden;
  s.input = a.input;
  s.horizon = 1;
  s.validate();
  const bool train = a.mode == "train";
  const Result r = train ? time_train<Real>(a, s) : time_infer<Real>(a, s);
  const Stats st = stats(r.ms), sc = stats(r.cpu_ms);
  const double windows = static_cast<double>(a.rows - a.window);
  const double flop = train ? lstmad::bench::train_step_flops(s, a.window, a.batch)
                            : lstmad::bench::forward_flops(s, a.window, 1) * windows;
  const double total = static_cast<double>(a.threads) * a.reps;
  const double per_s = total / (r.wall_ms * 1e-3);
  print_header(a);
  if (!train) std::printf(", \"rows\": %d, \"windows\": %.0f", a.rows, windows);
  std::printf(
      ", \"unit\": \"%s\", \"median_ms\": %.6g, \"min_ms\": %.6g, \"mean_ms\": %.6g, "
      "\"mflop\": %.6g, \"gflops_median\": %.6g, \"gflops_best\": %.6g, \"wall_ms\": %.6g, "
      "\"per_s\": %.6g, \"gflops_aggregate\": %.6g, \"cpu_median_ms\": %.6g, \"cpu_min_ms\": %.6g",
      train ? "step" : "series", st.median, st.min, st.mean, flop * 1e-6, flop / (st.median * 1e6),
      flop / (st.min * 1e6), r.wall_ms, per_s, per_s * flop * 1e-9, sc.median, sc.min);
  if (train) std::printf(", \"last_loss\": %.6g", r.last_loss);
  if (a.samples) {
    auto list = [](const char* key, const std::vector<double>& v) {
      std::printf(", \"%s\": [", key);
      for (std::size_t k = 0; k < v.size(); ++k) std::printf("%s%.6g", k ? ", " : "", v[k]);
      std::printf("]");
    };
    list("samples_ms", r.ms);
    list("samples_cpu_ms", r.cpu_ms);
  }
  std::printf("}\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  try {
    if (a.mode == "peak") return run_peak(a);
    return a.precision == "fp64" ? run<double>(a) : run<float>(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cpu_step_timer: %s\n", e.what());
    return 1;
  }
}
