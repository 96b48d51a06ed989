// Where one step of the fp32 time loops spends its time, on the device, without a profiler
// (kernels/step_anatomy.hpp; docs/kernels.md, "One step's anatomy").
//
// 1. The SM clock while the probes run (clock64 cycles against %globaltimer nanoseconds), and the
//    primitive latencies a step is made of, in cycles per dependent operation: fmaf, a shared-memory load,
//    an L2 load, expf, tanhf, the whole cell (precise and fast activations), a warp shuffle, and the
//    exchange of values between threads through shared memory and one barrier (at 32, 64, 128 and 256
//    threads: the blocks of the one-block kernels at H = 32, 64 and of the split kernels; and within one
//    warp with __syncwarp, which is all a block of one warp needs). Thread 0 of one
//    block times a chain of --probe-ops operations; the median of --reps launches.
// 2. The step ladders, forward and backward, at H in {32, 64} and B in {32, 64} (one row per block: the
//    shapes where the fused step lost to cuDNN on the H200): the time per step of each rung, from the
//    barrier and the exchange alone up to the whole step, then the whole step without each part, beside
//    the engine's one-block and split kernels on the same inputs (the backward on the gates and c of the
//    engine's forward). A step's time is the slope of the launch's time between windows of --steps and a
//    quarter of it (launch and loading R cancel), with CUDA events; the cycles beside it are the kernels'
//    own clock64 count over the loop, per step, median over blocks.
//    Each top rung must give its one-block kernel's outputs bit for bit (y, gates and c; the gate
//    gradients), and the split forward the one-block forward's: a difference is printed as "failed" and
//    the exit status is 1, since then the ladder would not be taking apart the engine's step.
//
// --quick: H = 32, B = 32 only. --smoke: tiny sizes on every path, as the host emulation of CUDA runs it
// in CI (emulated.gpu_bench_smoke); its times mean nothing there.
// Usage: gpu_bench_anatomy [--quick | --smoke] [--reps N] [--warmup N] [--steps T] [--probe-ops N]
//                          [--csv FILE]
// Without a CUDA device it prints why and exits 0.
#include <algorithm>
#include <cmath>
#include <cstdio>
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
#include "kernels/lstm_fused_fwd.hpp"
#include "kernels/lstm_fused_split.hpp"
#include "kernels/step_anatomy.hpp"
#include "lstm/fused/fused_lstm.hpp"

using namespace lstmad;
namespace an = kernels::anatomy;

namespace {

struct ProbeResult {
  double cycles_per_op = 0, mhz = 0;
};

// Thread 0's chain of n operations in one block of `threads`, median over reps launches (after warmup).
ProbeResult run_probe(cudaStream_t s, an::Probe p, int threads, int n, const int* chase, int warmup,
                      int reps) {
  gpu::DeviceBuffer<long long> out(3);
  std::vector<double> cycles, mhz;
  for (int i = 0; i < warmup + reps; ++i) {
    CUDA_CHECK(an::launch_probe(p, threads, n, chase, out.data(), s));
    long long h[3];
    out.download(h, 3, s);
    if (i < warmup) continue;
    cycles.push_back(static_cast<double>(h[0]) / n);
    if (h[1] > 0) mhz.push_back(static_cast<double>(h[0]) / static_cast<double>(h[1]) * 1e3);
  }
  return {bench::median(cycles), bench::median(mhz)};
}

// One (H, B) shape's inputs and outputs, shared by the ladders' rungs and the engine's kernels. The
// backward reads the gates and c the forward left (the engine's one-block forward runs last before it).
struct Shape {
  int H, B, T;
  gpu::DeviceBuffer<float> R, Rt, gx, bW, bR, y, gates, c, dy, dgates;
  gpu::DeviceBuffer<long long> cycles;

  Shape(int h, int b, int t, cudaStream_t s) : H(h), B(b), T(t) {
    const std::size_t H4 = 4 * static_cast<std::size_t>(H), TB = static_cast<std::size_t>(T) * B;
    Rng rng(17);
    // Weights as the engine initialises them (uniform in 1/sqrt(H)), so the cells run on ordinary values.
    const float a = 1.f / std::sqrt(static_cast<float>(H));
    std::vector<float> r(H4 * H), rt(H4 * H), g(TB * H4), bw(H4), br(H4), d(TB * H);
    for (auto& e : r) e = static_cast<float>(rng.uniform(-a, a));
    for (std::size_t m = 0; m < H4; ++m)
      for (int k = 0; k < H; ++k) rt[static_cast<std::size_t>(k) * H4 + m] = r[m * H + k];
    for (auto& e : g) e = static_cast<float>(rng.uniform(-1, 1));
    for (auto& e : bw) e = static_cast<float>(rng.uniform(-a, a));
    for (auto& e : br) e = static_cast<float>(rng.uniform(-a, a));
    for (auto& e : d) e = static_cast<float>(rng.uniform(-0.1, 0.1));
    R.upload(r, s);
    Rt.upload(rt, s);
    gx.upload(g, s);
    bW.upload(bw, s);
    bR.upload(br, s);
    dy.upload(d, s);
    y.resize((TB + B) * H);
    gates.resize(TB * H4);
    c.resize(TB * H);
    dgates.resize(TB * H4);
    cycles.resize(static_cast<std::size_t>(B));
  }

  an::LadderArgs ladder(int t) {
    an::LadderArgs a;
    a.H = H;
    a.B = B;
    a.T = t;
    a.R = R.data();
    a.Rt = Rt.data();
    a.gx = gx.data();
    a.bW = bW.data();
    a.bR = bR.data();
    a.y = y.data();
    a.gates = gates.data();
    a.c = c.data();
    a.dy = dy.data();
    a.dgates = dgates.data();
    a.cycles = cycles.data();
    return a;
  }

  kernels::FusedFwdArgs forward(int t) {
    kernels::FusedFwdArgs a;
    a.gx = gx.data();
    a.R = R.data();
    a.bW = bW.data();
    a.bR = bR.data();
    a.T = t;
    a.y = y.data();
    a.gates = gates.data();
    a.c = c.data();
    return a;
  }

  kernels::FusedBwdArgs backward(int t) {
    kernels::FusedBwdArgs a;
    a.R = R.data();
    a.gates = gates.data();
    a.c = c.data();
    a.dy = dy.data();
    a.T = t;
    a.dgates = dgates.data();
    return a;
  }

  // What a direction's step leaves in global memory, as the host sees it: y from step 1 on (y[0], h_0, is
  // the engine's alone), the gates and c; the gate gradients.
  std::vector<float> outputs(an::Direction d, cudaStream_t s) {
    if (d == an::Direction::Backward) return dgates.to_host(s);
    std::vector<float> all = y.to_host(s);
    all.erase(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(B) * H);
    const std::vector<float> g = gates.to_host(s), cc = c.to_host(s);
    all.insert(all.end(), g.begin(), g.end());
    all.insert(all.end(), cc.begin(), cc.end());
    return all;
  }
};

// How many of the floats differ in their bits.
std::size_t bit_differences(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return std::max(a.size(), b.size());
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  return n;
}

// The rungs' names, in kLadder's order: up to the whole step one part at a time, then without each.
constexpr const char* kRungNames[an::kLadderRungs] = {
    "barrier + exchange",    "+ product",       "+ cell",       "+ input",
    "+ stores (whole step)", "without product", "without cell", "without input"};

class LadderTimer {
 public:
  LadderTimer(cudaStream_t s, const kernels::FusedLimits& lim, int warmup, int reps)
      : s_(s), lim_(lim), warmup_(warmup), reps_(reps) {}

  // Both directions at one shape: the forward first, whose engine run leaves the backward its inputs.
  int run(Shape& sh, bench::CsvRows& csv, double mhz) {
    std::printf("\nH = %d, B = %d (one row per block, %d blocks of %d threads), %d steps:\n", sh.H, sh.B,
                sh.B, sh.H, sh.T);
    const int failed = direction(sh, an::Direction::Forward, csv, mhz);
    return failed | direction(sh, an::Direction::Backward, csv, mhz);
  }

 private:
  // The time per step of `launch(t)` (ms of a launch at t steps) by the slope between T and T / 4.
  template <class Launch>
  double step_us(int T, Launch&& launch) {
    const int t0 = std::max(1, T / 4);
    const double a = bench::time_median_ms(s_, warmup_, reps_, [&] { launch(T); });
    const double b = bench::time_median_ms(s_, warmup_, reps_, [&] { launch(t0); });
    return (a - b) * 1e3 / (T - t0);
  }

  // The kernels' own count per step at T steps (median over blocks).
  double cycles_per_step(Shape& sh, int T) { return bench::median(sh.cycles.to_host(s_)) / T; }

  // One engine kernel's row: its time per step, and its outputs at T steps.
  template <class Launch>
  std::vector<float> engine_row(Shape& sh, an::Direction d, const char* name, int threads, Launch&& launch,
                                bench::CsvRows& csv, double mhz) {
    const double us = step_us(sh.T, launch);
    std::printf("  %-32s %10.3f %12s %12s\n", name, us, "", "");
    csv.row(std::string("engine"), std::string(direction_name(d)), std::string(name), sh.H, sh.B, threads,
            sh.T, us, -1.0, mhz);
    launch(sh.T);
    CUDA_CHECK(cudaStreamSynchronize(s_));
    return sh.outputs(d, s_);
  }

  static const char* direction_name(an::Direction d) {
    return d == an::Direction::Forward ? "forward" : "backward";
  }

  int direction(Shape& sh, an::Direction d, bench::CsvRows& csv, double mhz) {
    int failed = 0;
    const int T = sh.T;
    const char* dir = direction_name(d);
    std::printf("  %-32s %10s %12s %12s\n", dir, "us/step", "cycles/step", "vs previous");
    double previous = -1;
    for (int i = 0; i < an::kLadderRungs; ++i) {
      const unsigned parts = an::kLadder[i];
      const double us =
          step_us(T, [&](int t) { CUDA_CHECK(an::launch_step_ladder(d, parts, sh.ladder(t), s_)); });
      CUDA_CHECK(an::launch_step_ladder(d, parts, sh.ladder(T), s_));
      CUDA_CHECK(cudaStreamSynchronize(s_));
      const double cyc = cycles_per_step(sh, T);
      if (i > 0 && i <= 4)
        std::printf("  %-32s %10.3f %12.0f %+12.3f\n", kRungNames[i], us, cyc, us - previous);
      else
        std::printf("  %-32s %10.3f %12.0f %12s\n", kRungNames[i], us, cyc, "");
      if (i <= 4) previous = us;
      csv.row(std::string("rung"), std::string(dir), std::string(kRungNames[i]), sh.H, sh.B, sh.H, T, us, cyc,
              mhz);
    }
    // The engine's kernels on the same inputs, and the top rung's bits against the one-block kernel's.
    CUDA_CHECK(an::launch_step_ladder(d, an::kAllParts, sh.ladder(T), s_));
    CUDA_CHECK(cudaStreamSynchronize(s_));
    const std::vector<float> rung = sh.outputs(d, s_);
    const kernels::FusedLaunch plan = kernels::plan_fused(sh.H, sh.B, lim_);
    const kernels::SplitLaunch split = kernels::plan_fused_split(sh.H, sh.B, lim_);
    gpu::DeviceBuffer<float> workspace(kernels::fused_forward_workspace(sh.H));
    const bool fwd = d == an::Direction::Forward;
    const std::vector<float> engine = engine_row(
        sh, d, fwd ? "engine: one-block forward" : "engine: one-block backward", plan.groups * sh.H,
        [&](int t) {
          if (fwd)
            kernels::launch_lstm_fused_forward(plan, sh.forward(t), workspace.data(), s_);
          else
            kernels::launch_lstm_fused_backward(plan, sh.backward(t), s_);
          CUDA_CHECK(cudaGetLastError());
        },
        csv, mhz);
    if (const std::size_t n = bit_differences(rung, engine); n != 0) {
      std::printf("  failed: the whole-step rung differs from the one-block %s in %zu of %zu floats\n", dir,
                  n, engine.size());
      failed = 1;
    } else {
      std::printf("  the whole-step rung gives the one-block %s's %s bit for bit\n", dir,
                  fwd ? "y, gates and c" : "gate gradients");
    }
    if (split.grid > 0) {
      // The split forward gives the one-block forward's bits; the split backward sums the recurrent
      // gradient in another fixed order (lstm_fused_split.hpp), so its bits are not compared.
      const std::vector<float> out = engine_row(
          sh, d, fwd ? "engine: split forward" : "engine: split backward", 4 * sh.H * split.rows_per_block,
          [&](int t) {
            if (fwd)
              kernels::launch_lstm_fused_forward_split(split, sh.forward(t), s_);
            else
              kernels::launch_lstm_fused_backward_split(split, sh.backward(t), s_);
            CUDA_CHECK(cudaGetLastError());
          },
          csv, mhz);
      if (const std::size_t n = bit_differences(engine, out); fwd && n != 0) {
        std::printf("  failed: the split forward differs from the one-block forward in %zu floats\n", n);
        failed = 1;
      }
    }
    // The backward then reads the gates and c of the last engine forward above (one-block or split: the
    // same bits, checked), as the engine's step would.
    return failed;
  }

  cudaStream_t s_;
  kernels::FusedLimits lim_;
  int warmup_, reps_;
};

}  // namespace

int main(int argc, char** argv) {
  bench::BenchFlags flags;
  flags.reps = 11;
  flags.warmup = 2;
  int steps = 2000, probe_ops = 1 << 14;
  CLI::App app{"gpu_bench_anatomy: where one step of the fp32 time loops spends its time"};
  bench::add_bench_flags(app, flags);
  app.add_option("--steps", steps, "Steps of the ladder's long window (the short one is a quarter)")
      ->check(bench::at_least(8))
      ->capture_default_str();
  app.add_option("--probe-ops", probe_ops, "Dependent operations per probe chain")
      ->check(bench::at_least(8))
      ->capture_default_str();
  if (const int rc = bench::parse_bench_flags(app, argc, argv); rc >= 0) return rc;
  if (flags.smoke) {
    flags.reps = 1;
    flags.warmup = 0;
    steps = 8;
    probe_ops = 16;
  }
  std::string reason;
  if (!gpu::device_available(0, &reason)) {
    std::printf("gpu_bench_anatomy: no CUDA device (%s); nothing to time\n", reason.c_str());
    return 0;
  }
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  const kernels::FusedLimits limits = fused_device_limits(0);
  gpu::Stream stream;
  bench::CsvRows csv(flags.csv, "kind,direction,name,H,B,threads,steps,us,cycles,mhz");

  // 1. The clock and the primitives.
  // The L2 chase: 1 MiB of ints (past L1, well inside L2) in which lane l of a warp reads word l of one
  // 128-byte line per step, so that a warp's load is one line as the time loops' coalesced loads are, and
  // the next line is 129 lines on (coprime with the 8192 lines: every line in turn).
  const int chase_n = 1 << 18;
  std::vector<int> ring(chase_n);
  for (int x = 0; x < chase_n; ++x) ring[x] = (x / 32 * 32 + 32 * 129) % chase_n + x % 32;
  gpu::DeviceBuffer<int> chase(static_cast<std::size_t>(chase_n));
  chase.upload(ring, stream);
  const ProbeResult clock =
      run_probe(stream, an::Probe::Fma, 32, probe_ops * 16, nullptr, flags.warmup, flags.reps);
  std::printf(
      "gpu_bench_anatomy on %s (sm_%d%d, %d SMs), medians of %d launches after %d; SM clock during the "
      "probes %.0f MHz (clock64 against %%globaltimer)\n",
      prop.name, prop.major, prop.minor, limits.sm_count, flags.reps, flags.warmup, clock.mhz);
  std::printf("\nprimitive latencies, cycles per dependent operation (one block, thread 0's chain of %d):\n",
              probe_ops);
  std::printf("  %-28s %8s %10s\n", "operation", "threads", "cycles");
  struct Case {
    an::Probe p;
    int threads;
  };
  const std::vector<Case> cases{
      {an::Probe::Fma, 32},         {an::Probe::SharedLoad, 32}, {an::Probe::L2Load, 32},
      {an::Probe::Expf, 32},        {an::Probe::Tanhf, 32},      {an::Probe::Cell, 32},
      {an::Probe::CellFast, 32},    {an::Probe::Shuffle, 32},    {an::Probe::Exchange, 32},
      {an::Probe::Exchange, 64},    {an::Probe::Exchange, 128},  {an::Probe::Exchange, 256},
      {an::Probe::WarpExchange, 32}};
  for (const Case& k : cases) {
    const ProbeResult r =
        run_probe(stream, k.p, k.threads, probe_ops, chase.data(), flags.warmup, flags.reps);
    std::printf("  %-28s %8d %10.1f\n", an::probe_name(k.p), k.threads, r.cycles_per_op);
    csv.row(std::string("probe"), std::string("-"), std::string(an::probe_name(k.p)), 0, 0, k.threads,
            probe_ops, clock.mhz > 0 ? r.cycles_per_op / clock.mhz : -1.0, r.cycles_per_op, r.mhz);
  }

  // 2. The ladder.
  std::vector<int> Hs{32, 64}, Bs{32, 64};
  if (flags.quick) Hs = Bs = {32};
  if (flags.smoke) {
    Hs = {16};
    Bs = {3};
  }
  std::printf(
      "\nthe step ladders: time per step (the slope between %d and %d steps) and the kernel's own cycles "
      "per step; 'vs previous' is what the rung's part adds to the one above it\n",
      steps, std::max(1, steps / 4));
  LadderTimer timer(stream, limits, flags.warmup, flags.reps);
  int failed = 0;
  for (int H : Hs)
    for (int B : Bs) {
      Shape sh(H, B, steps, stream);
      failed |= timer.run(sh, csv, clock.mhz);
    }
  csv.done();
  return failed;
}
