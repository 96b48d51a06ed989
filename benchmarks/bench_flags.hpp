// The command line of the GPU benchmarks, parsed with CLI11 as lstmad's own commands are: the flags every
// one takes, each benchmark adding its own; a bad value or an unknown flag is an error naming it (exit 2),
// where a hand-written loop read "--reps x" as 0.
#pragma once

#include <CLI/CLI.hpp>
#include <limits>
#include <string>
#include <vector>

namespace lstmad::bench {

// The H200's nominal fp32 SIMT rate: 132 SMs x 128 fp32 lanes x 2 flops x 1.98 GHz boost clock. A
// compute floor divides by it; it is not measured.
inline constexpr double kH200Fp32PeakTflops = 66.9;
// Its dense tensor-core rates (NVIDIA's H200 figures, half the sparse ones): TF32 and BF16 operands with
// fp32 accumulation. The tensor-core paths' compute floors divide by them; nominal, not measured.
inline constexpr double kH200Tf32PeakTflops = 495.0;
inline constexpr double kH200Bf16PeakTflops = 989.0;

// An integer flag's check: at least `low` (the message names the flag, the value and the range).
inline CLI::Range at_least(int low) {
  return CLI::Range(low, std::numeric_limits<int>::max());
}

// --peak-tflops: a rate in TFLOP/s, above 0.
inline CLI::Range tflops_range() {
  return CLI::Range(1e-3, 1e6);
}

struct BenchFlags {
  bool quick = false;
  bool smoke = false;
  int reps = 30;
  int warmup = 5;
  std::string csv;
};

inline void add_bench_flags(CLI::App& app, BenchFlags& f) {
  CLI::Option* quick = app.add_flag("--quick", f.quick, "A few shapes only");
  CLI::Option* smoke = app.add_flag(
      "--smoke", f.smoke,
      "Tiny sizes on every path, one rep, no warm-up: shows every path runs, times mean nothing");
  quick->excludes(smoke);
  app.add_option("--reps", f.reps, "Timed repetitions; the median is reported")
      ->check(at_least(1))
      ->capture_default_str();
  app.add_option("--warmup", f.warmup, "Untimed repetitions before them")
      ->check(at_least(0))
      ->capture_default_str();
  app.add_option("--csv", f.csv, "Also write the table's rows to this CSV file");
}

// A comma-separated list of model counts, each at least 1 ("1,16,58").
inline CLI::Option* add_count_list(CLI::App& app, const std::string& name, std::vector<int>& out,
                                   const std::string& help) {
  return app.add_option(name, out, help)->delimiter(',')->check(at_least(1))->capture_default_str();
}

// Parses argv; returns -1 to go on, or the exit code (0 after --help, 2 after a usage error).
inline int parse_bench_flags(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return -1;
}

}  // namespace lstmad::bench
