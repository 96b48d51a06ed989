// The scheduler (experiments/scheduler.hpp) without a device: batch keys from settings, the fused batch
// size from made-up device properties, near-equal batches per group, one queue per device.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/files.hpp"
#include "experiments/config.hpp"
#include "experiments/scheduler.hpp"
#include "kernels/lstm_multi_plan.hpp"
#include "support/run_cli.hpp"
#include "support/test_support.hpp"

namespace lstmad {
namespace {

// An H200 as cudaGetDeviceProperties describes it (141 GB, 132 SMs, 227 KB opt-in, 228 KB per SM).
DeviceProps h200(int ordinal = 0) {
  DeviceProps d;
  d.ordinal = ordinal;
  d.memory_bytes = 150'000'000'000ull;
  d.sm_count = 132;
  d.smem_per_block_optin = 232448;
  d.smem_per_sm = 233472;
  d.max_threads_per_block = 1024;
  return d;
}

BatchKey key(int H, int L = 1, int T = 100, int B = 64) {
  BatchKey k;
  k.shape = ModelShape{L, 1, H, 1};
  k.window = T;
  k.batch = B;
  return k;
}

TEST(Scheduler, SettingsThatDifferOnlyInTrainingValuesShareAKey) {
  json cfg = resolve_config(json::parse(R"({"model": {"hidden": [32, 64], "window": 30},
                                            "train": {"lr": [0.001, 0.01], "batch": 16}})"),
                            "test");
  const auto settings = expand_settings(cfg);
  ASSERT_EQ(settings.size(), 4u);
  std::map<BatchKey, int> keys;
  for (const auto& v : settings) ++keys[batch_key(v, 1)];
  ASSERT_EQ(keys.size(), 2u) << "two hidden sizes, each with two learning rates";
  for (const auto& [k, n] : keys) {
    EXPECT_EQ(n, 2) << k.str();
    EXPECT_EQ(k.window, 30);
    EXPECT_EQ(k.batch, 16);
  }
  EXPECT_FALSE(batch_key(settings[0], 1) == batch_key(settings[0], 3)) << "input width is part of the shape";
}

// The per-model bytes docs/kernels.md quotes (H = 64, T = 100, D = 1, the longest NAB series of 22695
// rows as its windows too), counted here buffer by buffer: training at B = 64 (x, gx, dgates, dy, R^T,
// hy, cy, dhy, y, gates and c per layer, 5 parameter copies, inputs and targets, 4 head buffers, two
// window lists; at L = 2 the R workspace holds the wavefront's three matrices) and inference at B = 256
// (x, gx, R^T, hy, cy, y per layer, parameters, inputs, yhat,
// the forecasts and the window starts). With layer 0's input projection in the time loop a one-layer
// model holds no gx; two layers still hold one.
TEST(Scheduler, ModelBytesAreTheBuffersCounted) {
  const double MiB = 1024.0 * 1024.0, H = 64, T = 100, rows = 22695;
  kernels::MultiModelExtent e;
  e.hidden = 64;
  e.window = 100;
  e.rows = e.train = e.val = 22695;
  for (int L : {1, 2}) {
    e.layers = L;
    const double P = static_cast<double>(kernels::multi_param_count(e));
    double B = 64;
    const double train =
        4 * (T * B + 2 * T * B * 4 * H + T * B * H + (L == 2 ? 12 : 4) * H * H + 2 * L * B * H + B * H +
             L * ((T + 1) * B * H + T * B * 4 * H + T * B * H) + 5 * P + 2 * rows + 4 * B) +
        4 * 2 * rows + 256;
    e.batch = 64;
    EXPECT_EQ(static_cast<double>(kernels::multi_model_bytes(e)), train) << "L=" << L;
    const double gx64 = L == 1 ? 4 * T * B * 4 * H : 0;
    e.input_in_loop = true;
    EXPECT_EQ(static_cast<double>(kernels::multi_model_bytes(e)), train - gx64)
        << "L=" << L << ", x W^T in the loop";
    e.input_in_loop = false;
    B = 256;
    const double infer = 4 * (T * B + T * B * 4 * H + (L == 2 ? 12 : 4) * H * H + 2 * L * B * H +
                              L * (T + 1) * B * H + P + rows + B + rows) +
                         4 * rows + 256;
    e.batch = 256;
    EXPECT_EQ(static_cast<double>(kernels::multi_predict_bytes(e)), infer) << "L=" << L;
    const double gx256 = L == 1 ? 4 * T * B * 4 * H : 0;
    e.input_in_loop = true;
    EXPECT_EQ(static_cast<double>(kernels::multi_predict_bytes(e)), infer - gx256)
        << "L=" << L << ", x W^T in the loop";
    e.input_in_loop = false;
  }
  // The table's rounded figures (its window lists were shorter than the series: within 0.2 MiB).
  e.layers = 1;
  e.batch = 64;
  EXPECT_NEAR(static_cast<double>(kernels::multi_model_bytes(e)) / MiB, 24.2, 0.2);
  e.input_in_loop = true;
  EXPECT_NEAR(static_cast<double>(kernels::multi_model_bytes(e)) / MiB, 18.0, 0.2);
  e.input_in_loop = false;
  e.layers = 2;
  EXPECT_NEAR(static_cast<double>(kernels::multi_model_bytes(e)) / MiB, 34.4, 0.2);
  e.batch = 256;
  EXPECT_NEAR(static_cast<double>(kernels::multi_predict_bytes(e)) / MiB, 38.6, 0.05);
}

TEST(Scheduler, FusedBatchSizeFollowsMemoryAndWaves) {
  GroupExtent ext{20000, 16000, 4000};
  const BatchSizing s = size_fused_batch(key(64), ext, h200());
  kernels::MultiModelExtent e;
  e.hidden = 64;
  e.window = 100;
  e.batch = 64;
  e.rows = ext.rows;
  e.train = ext.train;
  e.val = ext.val;
  e.input_in_loop = true;  // fp32, one input: x W^T in the time loop, so no gx
  EXPECT_EQ(s.bytes_per_model, kernels::multi_model_bytes(e));
  // H=64, T=100, B=64: gates and dgates are 6.5 MB each (and no gx), so a model holds about 18 MB.
  EXPECT_GT(s.bytes_per_model, 15u << 20);
  EXPECT_LT(s.bytes_per_model, 40u << 20);
  EXPECT_EQ(s.by_memory, static_cast<int>(150e9 * 0.75 / static_cast<double>(s.bytes_per_model)));
  EXPECT_GE(s.wave, 1);
  EXPECT_LE(s.models, s.by_memory);
  if (s.models > s.wave) {
    EXPECT_EQ(s.models % s.wave, 0) << "whole waves";
  }
  EXPECT_GT(s.models, 1000) << "an H200 holds a thousand H=64 models";

  // A smaller device holds fewer; a cap bounds the batch; a second layer needs more memory per model.
  DeviceProps small = h200();
  small.memory_bytes = 8ull << 30;
  EXPECT_LT(size_fused_batch(key(64), ext, small).models, s.models);
  EXPECT_EQ(size_fused_batch(key(64), ext, h200(), 0.75, 58).models, 58);
  EXPECT_GT(size_fused_batch(key(64, 2), ext, h200()).bytes_per_model, s.bytes_per_model);
  // With LSTMAD_FUSED_INPUT=0 layer 0's gx GEMM runs, and its buffer is counted.
  const double gx = 4.0 * 100 * 64 * 4 * 64;
  {
    test::ScopedEnv off("LSTMAD_FUSED_INPUT", "0");
    EXPECT_EQ(static_cast<double>(size_fused_batch(key(64), ext, h200()).bytes_per_model),
              static_cast<double>(s.bytes_per_model) + gx);
  }
  // No memory at all still gives batches of one model (the engine then says why it cannot run).
  DeviceProps none;
  EXPECT_EQ(size_fused_batch(key(64), ext, none).models, 1);
}

TEST(Scheduler, WaveCountsTheBlocksTheSmsHold) {
  kernels::FusedLimits lim;
  lim.sm_count = 132;
  lim.smem_optin = 232448;
  lim.max_threads = 1024;
  // 1000 models: each gets the fewest blocks; few models: the SMs are shared out.
  const kernels::FusedLaunch many = kernels::plan_fused_multi(64, 64, 1000, lim);
  const kernels::FusedLaunch few = kernels::plan_fused_multi(64, 64, 2, lim);
  EXPECT_LT(many.grid, few.grid);
  EXPECT_EQ(many.grid * many.rows_per_block >= 64, true);
  EXPECT_TRUE(many.r_smem_fwd && many.r_smem_bwd) << "R of H=64 stays in shared memory";
  EXPECT_GE(kernels::fused_blocks_per_sm(many, 233472), 1);
  // The register file: the time loops may take 128 registers a thread (one 512-thread block's share), so
  // a 512-thread block of 80 KB fills an SM although its threads and shared memory would allow two.
  kernels::FusedLaunch full;
  full.H = 32;
  full.groups = 16;
  full.smem_fwd = full.smem_bwd = 80 * 1024;
  EXPECT_EQ(kernels::fused_blocks_per_sm(full, 233472), 1);
  full.groups = 4;  // 128 threads: 4 by registers, 2 by shared memory
  EXPECT_EQ(kernels::fused_blocks_per_sm(full, 233472), 2);
  full.smem_fwd = full.smem_bwd = 16 * 1024;  // 14 by shared memory, 16 by threads, 4 by registers
  EXPECT_EQ(kernels::fused_blocks_per_sm(full, 233472), 4);
  // H=112: R (196 KB) fits a block only with few rows; the multi plan keeps it on chip.
  for (int N : {1, 58, 1000}) {
    const kernels::FusedLaunch p = kernels::plan_fused_multi(112, 64, N, lim);
    EXPECT_TRUE(p.r_smem_fwd && p.r_smem_bwd) << "N=" << N << " rows per block " << p.rows_per_block;
    EXPECT_LE(p.smem_bwd, static_cast<std::size_t>(lim.smem_optin));
    EXPECT_GE(p.grid * p.rows_per_block, 64) << "every row covered";
  }
}

std::vector<CellWork> cells_of(const std::vector<std::pair<BatchKey, long long>>& spec) {
  std::vector<CellWork> cells;
  for (const auto& [k, train] : spec) {
    CellWork w;
    w.cell = static_cast<int>(cells.size());
    w.key = k;
    w.rows = train + 200;
    w.train = train;
    w.val = 50;
    w.epochs = 3;
    cells.push_back(w);
  }
  return cells;
}

TEST(Scheduler, CpuBatchesAreNearEqualPerGroupInKeyOrder) {
  std::vector<std::pair<BatchKey, long long>> spec;
  for (int i = 0; i < 7; ++i) spec.push_back({key(64), 100 + i});
  for (int i = 0; i < 4; ++i) spec.push_back({key(32), 100 + i});
  spec.insert(spec.begin() + 3, {key(32), 500});  // group members need not be adjacent in the input
  const auto cells = cells_of(spec);
  SchedulerOptions o;
  o.engine = "cpu";
  o.threads = 2;
  o.batch_models = 3;
  const Schedule s = schedule_cells(cells, o);
  ASSERT_EQ(s.queues.size(), 1u);
  std::vector<std::size_t> sizes;
  std::set<int> seen;
  for (const auto& b : s.queues[0]) {
    sizes.push_back(b.cells.size());
    EXPECT_TRUE(std::is_sorted(b.cells.begin(), b.cells.end())) << "input order inside a group";
    for (int c : b.cells) {
      EXPECT_TRUE(seen.insert(c).second) << "cell " << c << " twice";
      EXPECT_TRUE(cells[static_cast<std::size_t>(c)].key == b.key) << "cell in the wrong group";
    }
  }
  EXPECT_EQ(seen.size(), cells.size());
  // H=32 sorts first: 5 cells -> 3 + 2; H=64: 7 cells -> 3 + 2 + 2.
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 2, 3, 2, 2}));
  // Without run.batch_models the CPU engine takes 8 x threads, cudnn 2 x threads.
  o.batch_models = 0;
  o.threads = 1;
  const Schedule t = schedule_cells(cells, o);
  ASSERT_EQ(t.queues[0].size(), 2u);
  EXPECT_EQ(t.queues[0][0].cells.size(), 5u);
  EXPECT_EQ(t.queues[0][1].cells.size(), 7u);
  o.engine = "cudnn";
  o.threads = 2;
  sizes.clear();
  const Schedule u = schedule_cells(cells, o);
  for (const auto& b : u.queues[0]) sizes.push_back(b.cells.size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 2, 4, 3})) << "5 -> 3 + 2, 7 -> 4 + 3";
}

TEST(Scheduler, OneQueuePerDeviceWithBalancedWork) {
  std::vector<std::pair<BatchKey, long long>> spec;
  for (int i = 0; i < 40; ++i) spec.push_back({key(16 + 16 * (i % 4)), 1000 + 100 * i});
  const auto cells = cells_of(spec);
  SchedulerOptions o;
  o.engine = "fused";
  o.batch_models = 4;
  o.devices = {h200(0), h200(1), h200(2)};
  const Schedule s = schedule_cells(cells, o);
  ASSERT_EQ(s.queues.size(), 3u);
  EXPECT_EQ(s.devices, (std::vector<int>{0, 1, 2}));
  std::set<int> seen;
  std::vector<double> load;
  for (std::size_t q = 0; q < 3; ++q) {
    double w = 0;
    EXPECT_FALSE(s.queues[q].empty());
    for (const auto& b : s.queues[q]) {
      EXPECT_EQ(b.device, s.devices[q]);
      EXPECT_LE(b.cells.size(), 4u);
      w += b.work;
      for (int c : b.cells) EXPECT_TRUE(seen.insert(c).second);
    }
    load.push_back(w);
  }
  EXPECT_EQ(seen.size(), cells.size());
  const double lo = *std::min_element(load.begin(), load.end()),
               hi = *std::max_element(load.begin(), load.end());
  EXPECT_LT(hi - lo, 0.25 * hi) << "queues should carry similar work";
  // The same input gives the same schedule.
  const Schedule again = schedule_cells(cells, o);
  for (std::size_t q = 0; q < 3; ++q) {
    ASSERT_EQ(again.queues[q].size(), s.queues[q].size());
    for (std::size_t b = 0; b < s.queues[q].size(); ++b)
      EXPECT_EQ(again.queues[q][b].cells, s.queues[q][b].cells);
  }
  // The CPU engine ignores devices: one queue.
  o.engine = "cpu";
  EXPECT_EQ(schedule_cells(cells, o).queues.size(), 1u);
  // The fused engine cannot size batches without a device's properties.
  o.engine = "fused";
  o.devices.clear();
  EXPECT_THROW(schedule_cells(cells, o), Error);
}

// Two shapes x two learning rates: the scheduler puts both learning rates of a shape in one ModelBatch.
// Batches of 1, of 3 and of the default size, on 1 or 2 threads, give the same results.csv, NAB-format
// files and NAB scores, byte for byte.
TEST(Scheduler, RunResultsDoNotDependOnTheBatching) {
  test::TempDir tmp("scheduler_run");
  test::write_text(tmp.file("cfg.json"), R"({
    "data": {"format": "synthetic", "synthetic": {"seed": 3, "series_per_kind": 1, "length": 500}},
    "model": {"layers": 1, "hidden": [5, 9], "window": 10},
    "train": {"epochs": 3, "batch": 16, "lr": [0.01, 0.003], "patience": 1},
    "detector": {"likelihood": {"long_window": 150, "short_window": 4}},
    "run": {"name": "batching", "seed": 5}
  })");
  std::vector<std::vector<std::string>> results;
  for (const char* variant : {"1 -j 1", "3 -j 2", "0 -j 2"}) {
    const std::string dir = tmp.file(std::string("run") + variant[0]);
    std::string out;
    ASSERT_EQ(test::run_command(test::lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                                    " --set run.batch_models=" + variant + " --out " + dir,
                                &out),
              0)
        << out;
    results.push_back(test::results_without_timings(dir));
    ASSERT_GT(results.back().size(), 4u) << "a header and the cells";
  }
  EXPECT_EQ(results[0], results[1]) << "batches of 1 vs 3";
  EXPECT_EQ(results[0], results[2]) << "batches of 1 vs the default";
  // The NAB folder holds a file per cell and, per detector, one of scores per profile (three).
  std::set<std::string> detectors;
  for (const auto& row : test::read_results_csv(tmp.file("run1/results.csv")))
    detectors.insert(row.at("detector"));
  ASSERT_EQ(detectors.size(), 4u);
  for (const char* other : {"run3", "run0"}) {
    EXPECT_EQ(test::expect_same_nab_files(tmp.file("run1"), tmp.file(other)), results[0].size() - 1 + 3 * 4)
        << other;
    EXPECT_EQ(files::read(tmp.file("run1/nab_scores.json")),
              files::read(tmp.file(other) + "/nab_scores.json"))
        << other;
  }
  // The trained rows carry numbers, not only errors.
  int ok = 0;
  for (const auto& row : results[0]) ok += row.find(",OK,") != std::string::npos ? 1 : 0;
  EXPECT_GE(ok, 4);
}

}  // namespace
}  // namespace lstmad
