// The multi-model path of the "fused" engine (lstm/fused/fused_multi.hpp, kernels/lstm_multi.hpp):
// - a model trained in a batch of N ends bit-identical (parameters and TrainResult) to the same job
//   trained alone, for batches mixing series lengths, seeds, learning rates, epochs, early stopping and
//   a non-finite job, at L = 1 and 2;
// - models that stop early or run out of minibatches are masked out (an Adam step on a zero gradient
//   would still move the parameters, so equality with the model alone shows that nothing ran);
// - the training curves and final parameters follow the fp64 CPU engine (same window order: both
//   shuffle with the job's Rng(seed)), within the fp32 FMA tolerance of design.md grown over training;
// - graph replay equals eager launches bit for bit; the per-model loop (LSTMAD_FUSED_MULTI=0) agrees
//   within tolerance;
// - 58 models run another instantiation of the time loops than one model alone, with the same bits;
// - the same contracts at precision tf32 and bf16 (the tensor-core time loops), against fp64 within
//   their own tolerances;
// - predict_batch: a model's forecasts in a batch equal its forecasts alone and predict()'s bit for bit,
//   follow the fp64 CPU engine, and agree with the per-model path.
// Every test needs a device: it skips with the reason without one, and fails under LSTMAD_STRICT_GPU=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/gpu/resources.hpp"
#include "core/rng.hpp"
#include "gpu/gpu_test.hpp"
#include "kernels/lstm_mma_plan.hpp"
#include "kernels/lstm_multi.hpp"
#include "kernels/lstm_multi_plan.hpp"
#include "lstm/engine.hpp"
#include "lstm/fused/fused_lstm.hpp"
#include "lstm/fused/fused_multi.hpp"
#include "lstm/init.hpp"
#include "support/test_support.hpp"  // ScopedEnv

namespace lstmad {
namespace {

struct Series {
  std::vector<float> x, y;
  int n = 0;
};

// D columns; targets negated from flip_from on (contradicting validation: early stopping triggers).
Series make_series(int n, int D, double period, uint64_t seed, int flip_from) {
  Rng rng(seed);
  Series s;
  s.n = n;
  for (int t = 0; t < n; ++t) {
    const double v = 0.7 * std::sin(6.283185307179586 * t / period) + 0.05 * rng.normal();
    for (int d = 0; d < D; ++d) s.x.push_back(static_cast<float>(d == 0 ? v : 0.4 * v * d));
    s.y.push_back(static_cast<float>(t >= flip_from ? -v : v));
  }
  return s;
}

struct Batch {
  std::vector<Series> series;
  std::vector<ModelJob> jobs;
};

constexpr int kNonFinite = 4;

// Six models of one shape and minibatch size B that differ in series length (so in minibatches per
// epoch and in the last minibatch's rows), seed, learning rate, epochs and stopping; model 1 stops
// early, model 3 has no validation windows, model 4 goes non-finite.
Batch make_batch(const ModelShape& shape, int T, int B, int models = 6) {
  Batch b;
  // LSTMAD_GPU_QUICK=1 (the sanitizers, the host emulation): two fifths of the rows, an epoch less.
  const bool quick = test::env_flag("LSTMAD_GPU_QUICK");
  for (int m = 0; m < models; ++m) {
    const int n = quick ? 120 + 20 * m : 300 + 53 * m;
    const int train_end = n * 3 / 4;
    b.series.push_back(make_series(n, shape.input, 13.0 + 3.0 * m, 40 + static_cast<uint64_t>(m),
                                   m == 1 ? train_end : n + 1));
  }
  if (models > kNonFinite) b.series[kNonFinite].x[50 * static_cast<std::size_t>(shape.input)] = std::nanf("");
  for (int m = 0; m < models; ++m) {
    const Series& s = b.series[static_cast<std::size_t>(m)];
    const int train_end = s.n * 3 / 4;
    ModelJob j;
    j.params = init_params(shape, 300 + static_cast<uint64_t>(m));
    j.data.x = s.x.data();
    j.data.y = s.y.data();
    j.data.n = s.n;
    for (int st = 0; st + T + shape.horizon <= train_end; ++st) j.data.train.push_back(st);
    if (m != 3)
      for (int st = train_end - T; st + T + shape.horizon <= s.n; ++st) j.data.val.push_back(st);
    j.options.window = T;
    j.options.batch = B;
    j.options.epochs = (quick ? 3 : 4) + m % 3;
    j.options.adam.lr = 3e-3 * (1 + m);
    j.options.clip_norm = m == 2 ? 0.0 : 1.0;
    j.options.patience = m == 1 ? 1 : 0;
    j.options.seed = 77 + 5 * static_cast<uint64_t>(m);
    b.jobs.push_back(std::move(j));
  }
  return b;
}

EngineOptions fused(Precision p = Precision::FP32) {
  EngineOptions o;
  o.name = "fused";
  o.precision = p;
  return o;
}

void expect_identical(const ModelJob& got, const ModelJob& want, const std::string& what) {
  ASSERT_EQ(got.params.size(), want.params.size()) << what;
  EXPECT_EQ(0, std::memcmp(got.params.data(), want.params.data(), got.params.size() * sizeof(float)))
      << what << ": parameters differ";
  EXPECT_EQ(got.result.status, want.result.status) << what;
  EXPECT_EQ(got.result.message, want.result.message) << what;
  EXPECT_EQ(got.result.epochs_run, want.result.epochs_run) << what;
  EXPECT_EQ(got.result.best_epoch, want.result.best_epoch) << what;
  ASSERT_EQ(got.result.train_loss.size(), want.result.train_loss.size()) << what;
  for (std::size_t e = 0; e < got.result.train_loss.size(); ++e) {
    if (!(std::isnan(got.result.train_loss[e]) && std::isnan(want.result.train_loss[e]))) {
      EXPECT_EQ(got.result.train_loss[e], want.result.train_loss[e]) << what << " epoch " << e;
    }
  }
  EXPECT_EQ(got.result.val_loss, want.result.val_loss) << what;
}

void expect_batch_equals_alone(const ModelShape& shape, int T, int B, Precision p = Precision::FP32) {
  Batch batch = make_batch(shape, T, B);
  const auto initial = batch.jobs;
  make_engine(fused(p))->train(shape, batch.jobs);
  // The batch is not trivial: models learned and ended differently.
  EXPECT_EQ(batch.jobs[kNonFinite].result.status, TrainStatus::NonFinite);
  EXPECT_EQ(batch.jobs[kNonFinite].params, initial[kNonFinite].params);
  EXPECT_NE(batch.jobs[1].result.message.find("early stop"), std::string::npos)
      << batch.jobs[1].result.message;
  EXPECT_EQ(batch.jobs[3].result.best_epoch, -1);
  for (std::size_t m = 0; m < batch.jobs.size(); ++m) {
    if (static_cast<int>(m) == kNonFinite) continue;
    const ModelJob& j = batch.jobs[m];
    ASSERT_EQ(j.result.status, TrainStatus::Ok) << "model " << m << ": " << j.result.message;
    EXPECT_TRUE(test::finite_and_nonzero(j.params.data(), j.params.size())) << "model " << m;
    EXPECT_NE(j.params, initial[m].params) << "model " << m << " did not train";
    EXPECT_LT(j.result.train_loss.back(), j.result.train_loss.front()) << "model " << m << " did not learn";
  }
  // Quick (emulation): alone, the models that set the batch's extremes: model 1 stops first, model 2
  // trains unclipped, model 5 has the most minibatches and runs last.
  const bool quick = test::env_flag("LSTMAD_GPU_QUICK");
  for (std::size_t m = 0; m < batch.jobs.size(); ++m) {
    if (quick && m != 1 && m != 2 && m != 5) continue;
    Batch fresh = make_batch(shape, T, B);
    std::vector<ModelJob> alone{fresh.jobs[m]};
    make_engine(fused(p))->train(shape, alone);
    expect_identical(batch.jobs[m], alone[0],
                     shape.str() + " " + to_string(p) + ": model " + std::to_string(m) + " in a batch of 6 vs alone");
  }
}

TEST(FusedMulti, AModelInABatchEqualsTheModelAloneBitForBit) {
  LSTMAD_REQUIRE_GPU();
  expect_batch_equals_alone(ModelShape{1, 1, 32, 1}, 20, 24);
}

TEST(FusedMulti, TwoLayersWideInputAndHorizonEqualAloneBitForBit) {
  LSTMAD_REQUIRE_GPU();
  expect_batch_equals_alone(ModelShape{2, 3, 40, 2}, 15, 33);
}

TEST(FusedMulti, TensorCoreModelsInABatchEqualTheModelAloneBitForBit) {
  LSTMAD_REQUIRE_GPU();
  // LSTMAD_GPU_QUICK=1 (the host emulation): each format once, each depth once, the two-layer one at
  // H = 32 (H = 48's tensor-core tiles are checked there against fp64 by the single-model tests).
  const bool quick = test::env_flag("LSTMAD_GPU_QUICK");
  for (Precision p : {Precision::TF32, Precision::BF16}) {
    if (!quick || p == Precision::BF16) expect_batch_equals_alone(ModelShape{1, 1, 32, 1}, 20, 24, p);
    if (!quick || p == Precision::TF32)
      expect_batch_equals_alone(ModelShape{2, 3, quick ? 32 : 48, 2}, 15, 33, p);
  }
}

// Model 0 stops after a couple of epochs and has the fewest minibatches per epoch; model 1 runs 12 epochs
// on the longest series. Equality with the models alone shows model 0 was never stepped after its end.
TEST(FusedMulti, StoppedModelsAreMaskedOut) {
  LSTMAD_REQUIRE_GPU();
  const ModelShape shape{1, 1, 24, 1};
  const int T = 12, B = 16;
  Batch b;
  b.series.push_back(make_series(200, 1, 11.0, 1, 150));  // contradicting validation
  // Quick (emulation): half the long model's minibatches, still about twice model 0's.
  b.series.push_back(make_series(test::env_flag("LSTMAD_GPU_QUICK") ? 360 : 700, 1, 17.0, 2, 800));
  for (int m = 0; m < 2; ++m) {
    const Series& s = b.series[static_cast<std::size_t>(m)];
    ModelJob j;
    j.params = init_params(shape, 900 + static_cast<uint64_t>(m));
    j.data.x = s.x.data();
    j.data.y = s.y.data();
    j.data.n = s.n;
    const int train_end = s.n * 3 / 4;
    for (int st = 0; st + T + 1 <= train_end; ++st) j.data.train.push_back(st);
    for (int st = train_end - T; st + T + 1 <= s.n; ++st) j.data.val.push_back(st);
    j.options.window = T;
    j.options.batch = B;
    j.options.epochs = 12;
    j.options.adam.lr = 1e-2;
    j.options.patience = m == 0 ? 1 : 0;
    j.options.seed = 5 + static_cast<uint64_t>(m);
    b.jobs.push_back(std::move(j));
  }
  std::vector<ModelJob> batch = b.jobs, alone0{b.jobs[0]}, alone1{b.jobs[1]};
  make_engine(fused())->train(shape, batch);
  make_engine(fused())->train(shape, alone0);
  make_engine(fused())->train(shape, alone1);
  ASSERT_LT(batch[0].result.epochs_run, 12) << batch[0].result.message;
  EXPECT_EQ(batch[1].result.epochs_run, 12);
  expect_identical(batch[0], alone0[0], "early-stopped model");
  expect_identical(batch[1], alone1[0], "long model");
}

// Same window order in both engines (the job's Rng(seed) shuffles), so the curves must agree: fp32 FMA
// against fp64, a few 1e-4 after a few epochs of Adam.
TEST(FusedMulti, TrainingFollowsTheFp64CpuEngine) {
  LSTMAD_REQUIRE_GPU();
  const ModelShape shape{2, 1, 32, 1};
  const int T = 20, B = 32;
  EXPECT_GT(kernels::multi_gemm_parts(shape.hidden, T * B), 1)
      << "dR and layer 1's dW should be split over K";
  Batch g = make_batch(shape, T, B, 4), c = make_batch(shape, T, B, 4);
  for (Batch* b : {&g, &c})
    for (auto& j : b->jobs) {
      j.options.epochs = 3;
      j.options.patience = 0;
    }
  make_engine(fused())->train(shape, g.jobs);
  EngineOptions co;
  co.name = "cpu";
  co.precision = Precision::FP64;
  co.threads = 2;
  make_engine(co)->train(shape, c.jobs);
  for (std::size_t m = 0; m < g.jobs.size(); ++m) {
    const TrainResult &a = g.jobs[m].result, &r = c.jobs[m].result;
    ASSERT_EQ(a.status, TrainStatus::Ok) << "model " << m << ": " << a.message;
    ASSERT_EQ(a.train_loss.size(), r.train_loss.size()) << "model " << m;
    for (std::size_t e = 0; e < a.train_loss.size(); ++e)
      EXPECT_NEAR(a.train_loss[e], r.train_loss[e], 1e-3 * r.train_loss[e])
          << "model " << m << " epoch " << e;
    ASSERT_EQ(a.val_loss.size(), r.val_loss.size()) << "model " << m;
    for (std::size_t e = 0; e < a.val_loss.size(); ++e)
      EXPECT_NEAR(a.val_loss[e], r.val_loss[e], 1e-3 * r.val_loss[e]) << "model " << m << " epoch " << e;
    const auto err = test::compare(g.jobs[m].params.data(), c.jobs[m].params.data(), g.jobs[m].params.size());
    std::printf("model %zu: parameters after %zu epochs vs fp64: %s\n", m, a.train_loss.size(),
                err.str().c_str());
    EXPECT_TRUE(err.finite);
    EXPECT_LT(err.rel_frobenius, 3e-3) << "model " << m << ": " << err.str();
  }
}

// The tensor-core time loops against fp64: the recurrence's operands are rounded to TF32 (10-bit
// mantissa) or BF16 (8-bit), the GEMMs stay fp32. Tolerances to be confirmed with the printed errors.
TEST(FusedMulti, TensorCoreTrainingFollowsTheFp64CpuEngine) {
  LSTMAD_REQUIRE_GPU();
  const ModelShape shape{2, 1, 32, 1};
  const int T = 20, B = 32;
  Batch c = make_batch(shape, T, B, 4);
  for (auto& j : c.jobs) {
    j.options.epochs = 3;
    j.options.patience = 0;
  }
  EngineOptions co;
  co.name = "cpu";
  co.precision = Precision::FP64;
  co.threads = 2;
  make_engine(co)->train(shape, c.jobs);
  for (Precision p : {Precision::TF32, Precision::BF16}) {
    const double loss_tol = p == Precision::TF32 ? 2e-2 : 6e-2, param_tol = p == Precision::TF32 ? 3e-2 : 1e-1;
    Batch g = make_batch(shape, T, B, 4);
    for (auto& j : g.jobs) {
      j.options.epochs = 3;
      j.options.patience = 0;
    }
    make_engine(fused(p))->train(shape, g.jobs);
    for (std::size_t m = 0; m < g.jobs.size(); ++m) {
      const TrainResult &a = g.jobs[m].result, &r = c.jobs[m].result;
      const std::string tag = to_string(p) + " model " + std::to_string(m);
      ASSERT_EQ(a.status, TrainStatus::Ok) << tag << ": " << a.message;
      ASSERT_EQ(a.train_loss.size(), r.train_loss.size()) << tag;
      for (std::size_t e = 0; e < a.train_loss.size(); ++e)
        EXPECT_NEAR(a.train_loss[e], r.train_loss[e], loss_tol * r.train_loss[e]) << tag << " epoch " << e;
      const auto err = test::compare(g.jobs[m].params.data(), c.jobs[m].params.data(), g.jobs[m].params.size());
      std::printf("%s: parameters after %zu epochs vs fp64: %s\n", tag.c_str(), a.train_loss.size(),
                  err.str().c_str());
      EXPECT_TRUE(err.finite) << tag;
      EXPECT_LT(err.rel_frobenius, param_tol) << tag << ": " << err.str();
    }
  }
}

// Three models of differing lengths (n0, n0 + 12 and n0 + 24 rows: at n0 = 40, T = 6 and B = 8, 3, 5 and
// 6 minibatches an epoch, so the shorter ones are skipped by the last steps), clipped, two epochs, no
// early stopping.
Batch make_short_batch(const ModelShape& shape, int T, int B, int n0 = 40) {
  Batch b;
  for (int m = 0; m < 3; ++m)
    b.series.push_back(
        make_series(n0 + 12 * m, shape.input, 9.0 + 2.0 * m, 60 + static_cast<uint64_t>(m), 1 << 30));
  for (int m = 0; m < 3; ++m) {
    const Series& s = b.series[static_cast<std::size_t>(m)];
    const int train_end = s.n * 3 / 4;
    ModelJob j;
    j.params = init_params(shape, 700 + static_cast<uint64_t>(m));
    j.data.x = s.x.data();
    j.data.y = s.y.data();
    j.data.n = s.n;
    for (int st = 0; st + T + shape.horizon <= train_end; ++st) j.data.train.push_back(st);
    for (int st = train_end - T; st + T + shape.horizon <= s.n; ++st) j.data.val.push_back(st);
    j.options.window = T;
    j.options.batch = B;
    j.options.epochs = 2;
    j.options.adam.lr = 3e-3 * (1 + m);
    j.options.clip_norm = 1.0;
    j.options.seed = 31 + static_cast<uint64_t>(m);
    b.jobs.push_back(std::move(j));
  }
  return b;
}

// make_short_batch trained by the multi-model path with the limits given, against the fp64 CPU engine:
// losses within loss_tol, parameters within param_tol (relative Frobenius).
void expect_short_batch_follows_fp64(const ModelShape& shape, int T, int B, const kernels::FusedLimits& lim,
                                     Precision p, double loss_tol, double param_tol, const std::string& what,
                                     int n0 = 40) {
  Batch g = make_short_batch(shape, T, B, n0), c = make_short_batch(shape, T, B, n0);
  std::vector<ModelJob*> jobs;
  for (auto& j : g.jobs) jobs.push_back(&j);
  gpu::Stream stream;
  train_fused_multi(shape, T, B, lim, jobs, stream.get(), /*graphs=*/false, p);
  EngineOptions co;
  co.name = "cpu";
  co.precision = Precision::FP64;
  co.threads = 2;
  make_engine(co)->train(shape, c.jobs);
  for (std::size_t m = 0; m < g.jobs.size(); ++m) {
    const TrainResult &a = g.jobs[m].result, &r = c.jobs[m].result;
    const std::string tag = what + " model " + std::to_string(m);
    ASSERT_EQ(a.status, TrainStatus::Ok) << tag << ": " << a.message;
    ASSERT_EQ(a.train_loss.size(), r.train_loss.size()) << tag;
    for (std::size_t e = 0; e < a.train_loss.size(); ++e)
      EXPECT_NEAR(a.train_loss[e], r.train_loss[e], loss_tol * r.train_loss[e]) << tag << " epoch " << e;
    ASSERT_EQ(a.val_loss.size(), r.val_loss.size()) << tag;
    for (std::size_t e = 0; e < a.val_loss.size(); ++e)
      EXPECT_NEAR(a.val_loss[e], r.val_loss[e], loss_tol * r.val_loss[e]) << tag << " epoch " << e;
    const auto err = test::compare(g.jobs[m].params.data(), c.jobs[m].params.data(), g.jobs[m].params.size());
    std::printf("%s: parameters after %zu epochs vs fp64: %s\n", tag.c_str(), a.train_loss.size(),
                err.str().c_str());
    EXPECT_TRUE(err.finite) << tag;
    EXPECT_LT(err.rel_frobenius, param_tol) << tag << ": " << err.str();
  }
}

// Models whose R does not stay on chip: the multi-model time loops read it from L2 (the tensor-core ones the
// k-steps that do not fit shared memory beside the rest), each model's transposed or staged R at its own
// offset of the workspace. The plan is checked to be that one.
void expect_r_in_l2_follows_fp64(int H, int T, int n0, Precision p, double loss_tol, double param_tol) {
  const int B = 8;
  const kernels::FusedLimits lim = fused_device_limits(0);
  const std::string what = to_string(p) + " H=" + std::to_string(H);
  if (p == Precision::FP32) {
    const kernels::FusedLaunch plan = kernels::plan_fused_multi(H, B, 3, lim);
    EXPECT_FALSE(plan.r_smem_fwd || plan.r_smem_bwd) << what << ": R should not fit in shared memory";
  } else {
    const auto f = p == Precision::TF32 ? kernels::mma::Format::TF32 : kernels::mma::Format::BF16;
    const kernels::MmaLaunch mma = kernels::plan_fused_mma(f, H, B, lim);
    EXPECT_FALSE(mma.r_reg_fwd || mma.r_smem_fwd || mma.r_reg_bwd || mma.r_smem_bwd) << what;
    EXPECT_LT(mma.r_ksteps_fwd, kernels::mma::fwd_ksteps(f, H)) << what;
    EXPECT_LT(mma.r_ksteps_bwd, kernels::mma::bwd_ksteps(f, H)) << what;
    EXPECT_EQ(mma.fwd_units_per_warp, H <= 128 ? 8 : 16) << what;
  }
  expect_short_batch_follows_fp64(ModelShape{1, 1, H, 1}, T, B, lim, p, loss_tol, param_tol, what, n0);
}

// H = 128 (R 256 KB): fp32 FMA (the clusters switched off), and the tensor-core loops at TF32 (one tile
// pair per warp).
TEST(FusedMulti, ModelsWithRInL2FollowTheFp64CpuEngine) {
  LSTMAD_REQUIRE_GPU();
  {
    const test::ScopedEnv no_clusters("LSTMAD_FUSED_CLUSTER", "0");
    expect_r_in_l2_follows_fp64(128, 6, 40, Precision::FP32, 1e-3, 3e-3);
  }
  expect_r_in_l2_follows_fp64(128, 6, 40, Precision::TF32, 2e-2, 3e-2);
}

// H = 128 at fp32, where R does not fit one block: version 2's clusters with per-model strides (the
// default there). On 4 SMs three models share one cluster's worth of SMs each (all 8 rows in one
// cluster) where a model alone gets two clusters of 4 rows: a model in the batch is still bit for bit the
// model alone, and the batch follows the fp64 CPU engine. Layer 0's input is projected in the loop.
TEST(FusedMulti, ClusterModelsEqualAloneAndFollowTheFp64CpuEngine) {
  LSTMAD_REQUIRE_GPU();
  const ModelShape shape{1, 1, 128, 1};
  const int T = 6, B = 8, n0 = 40;
  kernels::FusedLimits lim = fused_device_limits(0);
  lim.sm_count = 4;
  Batch b = make_short_batch(shape, T, B, n0);
  const auto cluster_plan = [&](int models) {
    kernels::FusedLimits per = lim;
    per.sm_count = std::max(1, lim.sm_count / models);
    return kernels::plan_fused_cluster(shape.hidden, B, per);
  };
  const kernels::FusedLaunch many = cluster_plan(static_cast<int>(b.jobs.size())), single = cluster_plan(1);
  std::printf("cluster plan for %zu models: %d clusters of %d rows; alone: %d of %d rows\n", b.jobs.size(),
              many.grid / many.cluster, many.rows_per_block, single.grid / single.cluster,
              single.rows_per_block);
  EXPECT_NE(many.rows_per_block, single.rows_per_block) << "the batch should change the clusters' rows";
  std::vector<ModelJob*> jobs;
  for (auto& j : b.jobs) jobs.push_back(&j);
  gpu::Stream stream;
  {
    FusedMultiBatch batch(shape, T, B, lim, jobs, stream.get(), /*graphs=*/false);
    ASSERT_EQ(batch.time_loops(), "cluster 2");
    batch.train();
  }
  for (std::size_t m = 0; m < b.jobs.size(); ++m) {
    Batch fresh = make_short_batch(shape, T, B, n0);
    std::vector<ModelJob*> one{&fresh.jobs[m]};
    FusedMultiBatch alone(shape, T, B, lim, one, stream.get(), /*graphs=*/false);
    ASSERT_EQ(alone.time_loops(), "cluster 2");
    alone.train();
    expect_identical(b.jobs[m], fresh.jobs[m],
                     "H=128 cluster: model " + std::to_string(m) + " in a batch vs alone");
  }
  expect_short_batch_follows_fp64(shape, T, B, lim, Precision::FP32, 1e-3, 3e-3, "fp32 H=128 cluster", n0);
}

// H = 256 (R 512 KB at BF16): the tensor-core loops with two tile pairs per warp; 3, 4 and 5 minibatches.
TEST(FusedMulti, TwoTilePairsPerWarpWithRInL2FollowTheFp64CpuEngine) {
  LSTMAD_REQUIRE_GPU();
  expect_r_in_l2_follows_fp64(256, 4, 28, Precision::BF16, 6e-2, 1e-1);
}

// H = 112 with more rows per block than leave room for R next to the backward's buffers (here: 2 SMs
// for 3 models, one SM's worth of blocks each): the multi-model plan shrinks the rows per block until R
// fits in shared memory both ways.
TEST(FusedMulti, RowsPerBlockShrinkUntilRFitsInSharedMemory) {
  LSTMAD_REQUIRE_GPU();
  const ModelShape shape{1, 1, 112, 1};
  const int T = 5, B = 16;
  kernels::FusedLimits lim = fused_device_limits(0);
  lim.sm_count = 2;
  kernels::FusedLimits one_sm = lim;
  one_sm.sm_count = 1;
  const kernels::FusedLaunch first = kernels::plan_fused(shape.hidden, B, one_sm);
  ASSERT_FALSE(first.r_smem_bwd) << "the test needs a first plan whose R does not fit";
  const kernels::FusedLaunch plan = kernels::plan_fused_multi(shape.hidden, B, 3, lim);
  EXPECT_TRUE(plan.r_smem_fwd && plan.r_smem_bwd);
  EXPECT_LT(plan.rows_per_block, first.rows_per_block);
  std::printf("plan: grid %d x %d rows, MAXR %d (first: %d rows)\n", plan.grid, plan.rows_per_block,
              plan.max_rows, first.rows_per_block);
  expect_short_batch_follows_fp64(shape, T, B, lim, Precision::FP32, 1e-3, 3e-3, "fp32 H=112");
}

// A job without training windows ends at once with that message and its parameters untouched; the job
// beside it trains as it would alone.
TEST(FusedMulti, AJobWithoutTrainingWindowsEndsAloneAndTheOtherTrains) {
  LSTMAD_REQUIRE_GPU();
  const ModelShape shape{1, 1, 16, 1};
  const int T = 6, B = 8;
  Batch b = make_short_batch(shape, T, B);
  b.jobs.resize(2);
  b.jobs[1].data.train.clear();
  const std::vector<float> initial = b.jobs[1].params;
  std::vector<ModelJob> alone{b.jobs[0]};
  make_engine(fused())->train(shape, b.jobs);
  make_engine(fused())->train(shape, alone);
  EXPECT_EQ(b.jobs[1].result.message, "no training windows");
  EXPECT_EQ(b.jobs[1].result.epochs_run, 0);
  EXPECT_EQ(b.jobs[1].params, initial);
  ASSERT_EQ(b.jobs[0].result.status, TrainStatus::Ok) << b.jobs[0].result.message;
  expect_identical(b.jobs[0], alone[0], "the job beside one without training windows vs alone");
}

// Whether some epoch's validation loss lies within `rel` of the best before it (where early stopping's
// verdict can turn on the last bits of the sums).
bool validation_ties_the_best(const std::vector<double>& val, double rel) {
  for (std::size_t e = 1; e < val.size(); ++e) {
    const double best = *std::min_element(val.begin(), val.begin() + static_cast<std::ptrdiff_t>(e));
    if (std::abs(val[e] - best) <= rel * std::abs(best)) return true;
  }
  return false;
}

// The time loops a batch of make_batch's six models of this shape would run, as the switches now stand.
std::string time_loops_of(const ModelShape& shape, int T, int B) {
  Batch probe = make_batch(shape, T, B);
  std::vector<ModelJob*> ptrs;
  for (auto& j : probe.jobs) ptrs.push_back(&j);
  gpu::Stream stream;
  const FusedMultiBatch batch(shape, T, B, fused_device_limits(0), ptrs, stream, false);
  return batch.time_loops();
}

std::vector<ModelJob> train_with(const char* var, const char* value, const ModelShape& shape, int T, int B,
                                 Batch& b) {
  setenv(var, value, 1);
  b = make_batch(shape, T, B);
  make_engine(fused())->train(shape, b.jobs);
  unsetenv(var);
  return b.jobs;
}

// The split kernels (LSTMAD_FUSED_SPLIT=1, docs/kernels.md "Version 4") in the multi-model path: a model
// in a batch equals the model alone bit for bit, and every model ends with the one-block kernels' bits
// (the forward sums each gate in their order, the backward each quarter, folded as they fold), which is
// what lets the autotuning choose between them.
TEST(FusedMulti, SplitKernelsKeepTheBatchContract) {
  LSTMAD_REQUIRE_GPU();
  const bool quick = test::env_flag("LSTMAD_GPU_QUICK");
  const ModelShape shape{quick ? 1 : 2, 1, 32, 1};
  const int T = 20, B = 24;
  Batch one = make_batch(shape, T, B);
  make_engine(fused())->train(shape, one.jobs);
  const test::ScopedEnv on("LSTMAD_FUSED_SPLIT", "1");
  ASSERT_EQ(time_loops_of(shape, T, B), "split");
  Batch split = make_batch(shape, T, B);
  make_engine(fused())->train(shape, split.jobs);
  // Alone: the model that stops first (1) and the one with the most minibatches, which runs last (5).
  for (std::size_t m : {std::size_t{1}, std::size_t{5}}) {
    Batch fresh = make_batch(shape, T, B);
    std::vector<ModelJob> alone{fresh.jobs[m]};
    make_engine(fused())->train(shape, alone);
    expect_identical(split.jobs[m], alone[0],
                     "split kernels: model " + std::to_string(m) + " in a batch vs alone");
  }
  const Batch fresh = make_batch(shape, T, B);
  for (std::size_t m = 0; m < split.jobs.size(); ++m) {
    if (m != static_cast<std::size_t>(kNonFinite)) {
      ASSERT_EQ(split.jobs[m].result.status, TrainStatus::Ok)
          << "model " << m << ": " << split.jobs[m].result.message;
      EXPECT_NE(split.jobs[m].params, fresh.jobs[m].params) << "model " << m << " did not train";
    }
    expect_identical(split.jobs[m], one.jobs[m],
                     "model " + std::to_string(m) + ": split vs one-block kernels");
  }
}

// Layer 0's input projection inside the time loops (kernels::FusedInput, the default for D <= 4) gives
// the bits of the input GEMM it replaces (LSTMAD_FUSED_INPUT=0) at fp32, on the one-block and the split time
// loops; three inputs, so each gate's chain has more than one term, and two layers, so layer 1 keeps its
// GEMM in the same step. That the projection ran in the loop shows in the step's phases, at every
// precision: no input GEMM at layer 1 unless the switch keeps it.
TEST(FusedMulti, InputProjectionInTheTimeLoopGivesTheGemmsBits) {
  LSTMAD_REQUIRE_GPU();
  const ModelShape shape{2, 3, 16, 1};
  const int T = 12, B = 8, models = 4;
  for (const Precision precision : {Precision::FP32, Precision::TF32, Precision::BF16})
    for (const bool keep_gemm : {false, true}) {
      setenv("LSTMAD_FUSED_INPUT", keep_gemm ? "0" : "1", 1);
      Batch b = make_batch(shape, T, B, models);
      std::vector<ModelJob*> ptrs;
      for (auto& j : b.jobs) ptrs.push_back(&j);
      gpu::Stream stream;
      FusedMultiBatch batch(shape, T, B, fused_device_limits(0), ptrs, stream, /*graphs=*/false, precision);
      batch.load_for_steps();
      const auto phases = batch.step_phases();
      unsetenv("LSTMAD_FUSED_INPUT");
      const auto has = [&](const std::string& name) {
        return std::any_of(phases.begin(), phases.end(), [&](const auto& p) { return p.first == name; });
      };
      EXPECT_EQ(has("input GEMM (layer 1)"), keep_gemm) << to_string(precision);
      EXPECT_TRUE(has("input GEMM (layer 2)") && has("forward time loop (layer 1)")) << to_string(precision);
    }
  for (const char* split : {"0", "1"}) {
    setenv("LSTMAD_FUSED_SPLIT", split, 1);
    Batch in_loop = make_batch(shape, T, B, models);
    make_engine(fused())->train(shape, in_loop.jobs);
    setenv("LSTMAD_FUSED_INPUT", "0", 1);
    Batch gemm = make_batch(shape, T, B, models);
    make_engine(fused())->train(shape, gemm.jobs);
    unsetenv("LSTMAD_FUSED_INPUT");
    unsetenv("LSTMAD_FUSED_SPLIT");
    const std::vector<ModelJob>& with_gemm = gemm.jobs;
    for (int m = 0; m < models; ++m) {
      const ModelJob& j = in_loop.jobs[static_cast<std::size_t>(m)];
      ASSERT_EQ(j.result.status, TrainStatus::Ok) << "model " << m << ": " << j.result.message;
      EXPECT_NE(j.params, make_batch(shape, T, B, models).jobs[static_cast<std::size_t>(m)].params)
          << "model " << m << " did not train";
      expect_identical(j, with_gemm[static_cast<std::size_t>(m)],
                       std::string("split ") + split + ": model " + std::to_string(m) +
                           ", input projected in the time loop vs by the GEMM");
    }
  }
}

// Trains make_short_batch(shape, T, B) and forecasts every window of each model with all models sharing
// one SM's worth of blocks (B rows per block), with the time loops' tiled products and without them
// (LSTMAD_FUSED_TILED=0): each model's parameters, losses and forecasts must be the same bits.
void expect_tiled_gives_untiled_bits(const ModelShape& shape, int T, int B, int max_rows) {
  kernels::FusedLimits lim = fused_device_limits(0);
  lim.sm_count = 1;
  const kernels::FusedLaunch plan = kernels::plan_fused_multi(shape.hidden, B, 3, lim);
  ASSERT_TRUE(kernels::fused_bwd_tiled(plan) && kernels::fused_fwd_tiled(plan))
      << "rows per block " << plan.rows_per_block;
  EXPECT_EQ(plan.max_rows, max_rows);
  EXPECT_EQ(plan.rows_per_block, B);
  std::vector<ModelJob> runs[2];
  std::vector<std::vector<float>> forecasts[2];
  for (const int tiled : {1, 0}) {
    setenv("LSTMAD_FUSED_TILED", tiled ? "1" : "0", 1);
    Batch b = make_short_batch(shape, T, B, /*n0=*/120);
    std::vector<ModelJob*> jobs;
    for (auto& j : b.jobs) jobs.push_back(&j);
    gpu::Stream stream;
    train_fused_multi(shape, T, B, lim, jobs, stream.get(), /*graphs=*/false, Precision::FP32);
    // Forecasts of every window of each trained model, B rows a step (the forward without training).
    std::vector<PredictJob> asks(b.jobs.size());
    forecasts[tiled].resize(b.jobs.size());
    std::vector<const PredictJob*> ask_ptrs;
    for (std::size_t m = 0; m < b.jobs.size(); ++m) {
      PredictJob& a = asks[m];
      a.params = &b.jobs[m].params;
      a.x = b.jobs[m].data.x;
      a.n = b.jobs[m].data.n;
      for (int st = 0; st + T <= a.n; ++st) a.starts.push_back(st);
      forecasts[tiled][m].assign(a.starts.size(), std::nanf(""));
      a.out = forecasts[tiled][m].data();
      ask_ptrs.push_back(&a);
    }
    predict_fused_multi(shape, T, B, lim, ask_ptrs, stream.get(), /*graphs=*/false, Precision::FP32);
    unsetenv("LSTMAD_FUSED_TILED");
    runs[tiled] = b.jobs;
  }
  const Batch fresh = make_short_batch(shape, T, B, 120);
  for (std::size_t m = 0; m < runs[1].size(); ++m) {
    ASSERT_EQ(runs[1][m].result.status, TrainStatus::Ok)
        << "model " << m << ": " << runs[1][m].result.message;
    EXPECT_NE(runs[1][m].params, fresh.jobs[m].params) << "model " << m << " did not train";
    expect_identical(runs[1][m], runs[0][m], "model " + std::to_string(m) + ": tiled vs untiled time loops");
    const auto& f = forecasts[1][m];
    EXPECT_TRUE(test::finite_and_nonzero(f.data(), f.size())) << "model " << m;
    EXPECT_EQ(0, std::memcmp(f.data(), forecasts[0][m].data(), f.size() * sizeof(float)))
        << "model " << m << ": tiled vs untiled forecasts";
  }
}

// The time loops' tiled products (kernels::fused_fwd_tiled, fused_bwd_tiled), which the plan takes where a
// block holds many rows. H = 32: 42 rows per block at four rows per thread, so the last tile of rows is
// short in both directions, two layers (layer 0's input projected in the loop, dy from above), full and
// short minibatches; H = 16: 24 rows per block at one row per thread, one layer.
TEST(FusedMulti, TiledTimeLoopsGiveTheUntiledBits) {
  LSTMAD_REQUIRE_GPU();
  EXPECT_NE(42 % kernels::kBwdTileRows, 0);
  EXPECT_NE(42 % kernels::kFwdTileRows, 0);
  expect_tiled_gives_untiled_bits(ModelShape{2, 1, 32, 1}, 8, 42, 4);
  expect_tiled_gives_untiled_bits(ModelShape{1, 1, 16, 1}, 8, 24, 1);
}

// Trains make_short_batch(shape, T, B, n0) for three epochs as one FusedMultiBatch on `lim` with
// LSTMAD_FUSED_AUTOTUNE set to `autotune` (nullptr: unset); the jobs come back in `out`.
TimeLoopTuning train_tuned(const ModelShape& shape, int T, int B, const kernels::FusedLimits& lim,
                           Precision p, const char* autotune, std::vector<ModelJob>& out, int n0 = 120) {
  const test::ScopedEnv env("LSTMAD_FUSED_AUTOTUNE", autotune);
  Batch b = make_short_batch(shape, T, B, n0);
  for (ModelJob& j : b.jobs) j.options.epochs = 3;  // at 120 rows and more, over 12 steps: 3 choices' rounds
  std::vector<ModelJob*> jobs;
  for (auto& j : b.jobs) jobs.push_back(&j);
  gpu::Stream stream;
  FusedMultiBatch batch(shape, T, B, lim, jobs, stream, /*graphs=*/true, p);
  batch.train();
  out = b.jobs;
  return batch.tuning();
}

// The autotuning (MultiModelBlock::begin_autotune) runs the batch's first training steps with the two
// choices of time loops that give the same bits in turn, times them, runs the faster from then on (the
// default unless the other is faster by more than the margin) and remembers it for the next batch of the
// same key. The models end bit for bit as without it (LSTMAD_FUSED_AUTOTUNE=0): which shows that the
// choices, switched from step to step, give the same bits. `names` are the choices, the default first.
void expect_autotune_keeps_the_bits(const ModelShape& shape, int T, int B, const kernels::FusedLimits& lim,
                                    Precision p, const std::vector<std::string>& names, int n0 = 120) {
  std::vector<ModelJob> plain, tuned, again;
  const TimeLoopTuning off = train_tuned(shape, T, B, lim, p, "0", plain, n0);
  EXPECT_EQ(off.how, "not timed: LSTMAD_FUSED_AUTOTUNE=0");
  EXPECT_EQ(off.chosen, names[0]);
  EXPECT_TRUE(off.timed.empty());
  const TimeLoopTuning t = train_tuned(shape, T, B, lim, p, nullptr, tuned, n0);
  ASSERT_EQ(t.how, "timed") << to_string(p);
  ASSERT_EQ(t.timed.size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(t.timed[i].first, names[i]);
    EXPECT_GT(t.timed[i].second, 0.0) << names[i];
  }
  std::printf("%s, %s: %s\n", shape.str().c_str(), to_string(p).c_str(), to_string(t).c_str());
  std::size_t best = 0;  // the fastest, unless it is within 2% of the default
  for (std::size_t i = 1; i < names.size(); ++i)
    if (t.timed[i].second < t.timed[best].second) best = i;
  if (!(t.timed[best].second < 0.98 * t.timed[0].second)) best = 0;
  EXPECT_EQ(t.chosen, names[best]);
  const TimeLoopTuning t2 = train_tuned(shape, T, B, lim, p, nullptr, again, n0);
  EXPECT_EQ(t2.how, "as timed before in this process");
  EXPECT_EQ(t2.chosen, t.chosen);
  EXPECT_TRUE(t2.timed.empty());
  const Batch fresh = make_short_batch(shape, T, B, n0);
  for (std::size_t m = 0; m < plain.size(); ++m) {
    ASSERT_EQ(plain[m].result.status, TrainStatus::Ok) << "model " << m << ": " << plain[m].result.message;
    EXPECT_NE(plain[m].params, fresh.jobs[m].params) << "model " << m << " did not train";
    expect_identical(tuned[m], plain[m], "model " + std::to_string(m) + ": autotuned vs not");
    expect_identical(again[m], plain[m], "model " + std::to_string(m) + ": tuned before vs not");
  }
}

// Forecasts of every window of each job, Bp rows a step, with LSTMAD_FUSED_AUTOTUNE set to `autotune`.
TimeLoopTuning forecast_tuned(const ModelShape& shape, int T, int Bp, const kernels::FusedLimits& lim,
                              const std::vector<ModelJob>& jobs, const char* autotune,
                              std::vector<std::vector<float>>& out) {
  const test::ScopedEnv env("LSTMAD_FUSED_AUTOTUNE", autotune);
  std::vector<PredictJob> asks(jobs.size());
  std::vector<const PredictJob*> ptrs;
  out.assign(jobs.size(), {});
  for (std::size_t m = 0; m < jobs.size(); ++m) {
    PredictJob& a = asks[m];
    a.params = &jobs[m].params;
    a.x = jobs[m].data.x;
    a.n = jobs[m].data.n;
    for (int st = 0; st + T <= a.n; ++st) a.starts.push_back(st);
    out[m].assign(a.starts.size(), std::nanf(""));
    a.out = out[m].data();
    ptrs.push_back(&a);
  }
  gpu::Stream stream;
  return predict_fused_multi(shape, T, Bp, lim, ptrs, stream.get(), /*graphs=*/true, Precision::FP32);
}

// The forecasting pass tunes its forward the same way: tiled or not, and at H = 16 the split kernels, on
// its own first steps (16 rows a step, so that a block holds the 16 rows the tiles need and the longest
// series gives more steps than the timing's 4 per choice), the forecasts bit for bit those of the untuned
// pass.
TEST(FusedMulti, AutotunedForecastsKeepTheBits) {
  LSTMAD_REQUIRE_GPU();
  kernels::FusedLimits one_sm = fused_device_limits(0);
  one_sm.sm_count = 1;
  const int T = 8, Bp = 16;
  // H = 24: tiled or not; H = 16: also the split kernels. 200 to 224 rows: up to 14 steps of 16 windows.
  const std::vector<std::pair<int, std::vector<std::string>>> cases{{24, {"tiled", "untiled"}},
                                                                    {16, {"tiled", "untiled", "split"}}};
  for (const auto& [H, names] : cases) {
    const ModelShape shape{1, 1, H, 1};
    ASSERT_TRUE(kernels::fused_fwd_tiled(kernels::plan_fused_multi(shape.hidden, Bp, 3, one_sm)));
    Batch b = make_short_batch(shape, T, Bp, 200);  // untrained parameters serve as well
    std::vector<std::vector<float>> plain, tuned;
    const TimeLoopTuning off = forecast_tuned(shape, T, Bp, one_sm, b.jobs, "0", plain);
    EXPECT_EQ(off.how, "not timed: LSTMAD_FUSED_AUTOTUNE=0");
    const TimeLoopTuning t = forecast_tuned(shape, T, Bp, one_sm, b.jobs, nullptr, tuned);
    ASSERT_EQ(t.how, "timed") << "H=" << H;
    ASSERT_EQ(t.timed.size(), names.size());
    for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(t.timed[i].first, names[i]);
    std::printf("forecasting, %s: %s\n", shape.str().c_str(), to_string(t).c_str());
    for (std::size_t m = 0; m < plain.size(); ++m) {
      EXPECT_TRUE(test::finite_and_nonzero(plain[m].data(), plain[m].size())) << "model " << m;
      EXPECT_EQ(0, std::memcmp(plain[m].data(), tuned[m].data(), plain[m].size() * sizeof(float)))
          << "H=" << H << " model " << m << ": forecasts with the timing vs without";
    }
  }
}

// The two-layer wavefront in the layers' order (docs/kernels.md, "The wavefront for many models";
// LSTMAD_FUSED_WAVEFRONT=1 pins it) in the multi-model path: every model of a batch ends bit for bit as run
// layer by layer (LSTMAD_FUSED_WAVEFRONT=0), which is what lets the autotuning choose it. Layer 0's input
// is projected in the loop (D = 3) or by the GEMM (D = 5, quick: not run); B = 20 at H = 24 puts the rows
// in blocks of fewer (a padded last block), the short last minibatches skip rows and models, and a model
// that turns non-finite or stops early is masked out. A model in the batch equals the model alone, and the
// forecasts of the trained models are the layer-by-layer forecasts.
TEST(FusedMulti, WavefrontGivesTheLayerByLayerBits) {
  LSTMAD_REQUIRE_GPU();
  const bool quick = test::env_flag("LSTMAD_GPU_QUICK");
  const int T = 12, B = 20;
  for (int D : {3, 5}) {
    if (quick && D == 5) continue;
    const ModelShape shape{2, D, 24, 1};
    Batch b_layers, b_wave;
    const std::vector<ModelJob> layers = train_with("LSTMAD_FUSED_WAVEFRONT", "0", shape, T, B, b_layers);
    {
      const test::ScopedEnv on("LSTMAD_FUSED_WAVEFRONT", "1");
      ASSERT_EQ(time_loops_of(shape, T, B), "wavefront");
    }
    const std::vector<ModelJob> wave = train_with("LSTMAD_FUSED_WAVEFRONT", "1", shape, T, B, b_wave);
    const std::string tag = shape.str() + ": ";
    const Batch fresh = make_batch(shape, T, B);
    ASSERT_EQ(wave.size(), layers.size());
    for (std::size_t m = 0; m < wave.size(); ++m) {
      if (m != static_cast<std::size_t>(kNonFinite)) {
        ASSERT_EQ(wave[m].result.status, TrainStatus::Ok)
            << tag << "model " << m << ": " << wave[m].result.message;
        EXPECT_NE(wave[m].params, fresh.jobs[m].params) << tag << "model " << m << " did not train";
      }
      expect_identical(wave[m], layers[m],
                       tag + "model " + std::to_string(m) + ": wavefront vs layer by layer");
    }
    EXPECT_NE(wave[1].result.message.find("early stop"), std::string::npos) << wave[1].result.message;
    {
      const test::ScopedEnv on("LSTMAD_FUSED_WAVEFRONT", "1");
      Batch one = make_batch(shape, T, B);
      std::vector<ModelJob> alone{one.jobs[5]};
      make_engine(fused())->train(shape, alone);
      expect_identical(alone[0], wave[5], tag + "wavefront: model 5 alone vs in the batch");
    }
    // Forecasts of the trained models, 7 windows a step.
    std::vector<std::vector<float>> f_layers, f_wave;
    kernels::FusedLimits lim = fused_device_limits(0);
    {
      const test::ScopedEnv off("LSTMAD_FUSED_WAVEFRONT", "0");
      forecast_tuned(shape, T, 7, lim, wave, "0", f_layers);
    }
    {
      const test::ScopedEnv on("LSTMAD_FUSED_WAVEFRONT", "1");
      forecast_tuned(shape, T, 7, lim, wave, "0", f_wave);
    }
    for (std::size_t m = 0; m < wave.size(); ++m) {
      if (m == static_cast<std::size_t>(kNonFinite)) continue;
      ASSERT_EQ(f_wave[m].size(), f_layers[m].size());
      EXPECT_TRUE(test::finite_and_nonzero(f_wave[m].data(), f_wave[m].size())) << tag << "model " << m;
      EXPECT_EQ(0, std::memcmp(f_wave[m].data(), f_layers[m].data(), f_wave[m].size() * sizeof(float)))
          << tag << "model " << m << ": forecasts of the wavefront vs layer by layer";
    }
  }
}

// fp32, all models on one SM's worth of blocks so that the one-block time loops take their tiled products:
// tiled (the default) against untiled and, at H = 16, the split kernels of version 4. bf16 at H = 32 with
// few blocks: the tensor-core backward in four parts of K (the default where the blocks fit the SMs)
// against one warp per tile.
TEST(FusedMulti, AutotuneTimesTheChoicesThatKeepTheBits) {
  LSTMAD_REQUIRE_GPU();
  kernels::FusedLimits one_sm = fused_device_limits(0);
  one_sm.sm_count = 1;
  const ModelShape fp32_shape{1, 1, 16, 1};
  ASSERT_TRUE(kernels::fused_bwd_tiled(kernels::plan_fused_multi(fp32_shape.hidden, 24, 3, one_sm)));
  expect_autotune_keeps_the_bits(fp32_shape, 8, 24, one_sm, Precision::FP32, {"tiled", "untiled", "split"});
  // Two layers: also the wavefront in the layers' order (four choices: 16 timed steps, so longer series).
  const ModelShape two_layers{2, 1, 16, 1};
  expect_autotune_keeps_the_bits(two_layers, 8, 24, one_sm, Precision::FP32,
                                 {"tiled", "untiled", "split", "wavefront"}, 200);
  const ModelShape bf16_shape{1, 1, 32, 1};
  const kernels::FusedLimits lim = fused_device_limits(0);
  ASSERT_EQ(kernels::plan_fused_mma(kernels::mma::Format::BF16, 32, 8, lim, 3).bwd_parts, 4);
  expect_autotune_keeps_the_bits(bf16_shape, 8, 8, lim, Precision::BF16,
                                 {"backward in 4 parts of K", "backward unsplit"});
}

// What the autotuning leaves alone: a choice a switch pins, time loops with nothing to choose (one model
// spread over the SMs: a few rows per block, untiled), and a batch whose training ends before the rounds
// do (it keeps what it ran, with the same bits).
TEST(FusedMulti, AutotuneLeavesPinnedSingleAndShortCasesAlone) {
  LSTMAD_REQUIRE_GPU();
  kernels::FusedLimits one_sm = fused_device_limits(0);
  one_sm.sm_count = 1;
  const ModelShape shape{1, 1, 20, 1};
  std::vector<ModelJob> jobs;
  {
    const test::ScopedEnv pin("LSTMAD_FUSED_TILED", "0");
    const TimeLoopTuning t = train_tuned(shape, 8, 24, one_sm, Precision::FP32, nullptr, jobs);
    EXPECT_EQ(t.how, "not timed: pinned by LSTMAD_FUSED_TILED");
    EXPECT_EQ(t.chosen, "untiled");
  }
  const TimeLoopTuning single =
      train_tuned(shape, 8, 4, fused_device_limits(0), Precision::FP32, nullptr, jobs);
  EXPECT_EQ(single.how, "not timed: one choice");
  EXPECT_TRUE(single.timed.empty());
  // 40 to 64 rows: at most ceil(40 / 24) = 2 minibatches in each of 3 epochs, 2 choices.
  std::vector<ModelJob> plain;
  const TimeLoopTuning off = train_tuned(shape, 8, 24, one_sm, Precision::FP32, "0", plain, /*n0=*/40);
  const TimeLoopTuning t = train_tuned(shape, 8, 24, one_sm, Precision::FP32, nullptr, jobs, /*n0=*/40);
  std::size_t steps = 0;
  for (const ModelJob& j : jobs)
    steps = std::max(steps, (j.data.train.size() + 23) / 24 * static_cast<std::size_t>(j.options.epochs));
  ASSERT_LT(steps, 8u);
  EXPECT_EQ(t.how, "not timed: the batch ran fewer training steps than the 8 the timing takes");
  EXPECT_TRUE(t.timed.empty());
  for (std::size_t m = 0; m < jobs.size(); ++m)
    expect_identical(jobs[m], plain[m],
                     "model " + std::to_string(m) + ": steps of both choices vs the default");
}

TEST(FusedMulti, GraphReplayEqualsEagerAndTheLoopAgrees) {
  LSTMAD_REQUIRE_GPU();
  const ModelShape shape{1, 2, 48, 1};
  const int T = 16, B = 20;
  Batch b1, b2, b3, b4;
  const auto eager = train_with("LSTMAD_FUSED_GRAPHS", "0", shape, T, B, b1);
  const auto graph = train_with("LSTMAD_FUSED_GRAPHS", "1", shape, T, B, b2);
  const auto again = train_with("LSTMAD_FUSED_GRAPHS", "1", shape, T, B, b3);
  const auto loop = train_with("LSTMAD_FUSED_MULTI", "0", shape, T, B, b4);
  for (std::size_t m = 0; m < eager.size(); ++m) {
    expect_identical(graph[m], eager[m], "model " + std::to_string(m) + " graph vs eager");
    expect_identical(graph[m], again[m], "model " + std::to_string(m) + " rerun");
    EXPECT_EQ(loop[m].result.status, graph[m].result.status) << "model " << m;
    // The loop's GEMMs are cuBLAS's, which sum in another order than the multi-model path (they agree to
    // about 1e-7): an early stop may fall on another epoch only where a validation loss ties the best.
    if (loop[m].result.epochs_run != graph[m].result.epochs_run) {
      EXPECT_TRUE(validation_ties_the_best(graph[m].result.val_loss, 1e-5))
          << "model " << m << ": " << loop[m].result.epochs_run << " epochs in the loop, "
          << graph[m].result.epochs_run << " in the multi-model path, with no near tie to explain it";
    }
    if (graph[m].result.status != TrainStatus::Ok) continue;
    const std::size_t epochs = std::min(graph[m].result.train_loss.size(), loop[m].result.train_loss.size());
    for (std::size_t e = 0; e < epochs; ++e)
      EXPECT_NEAR(loop[m].result.train_loss[e], graph[m].result.train_loss[e],
                  1e-3 * graph[m].result.train_loss[e])
          << "model " << m << " epoch " << e << ": per-model loop vs multi-model";
  }
}

// 58 models (NAB's count): the plan gives each model fewer blocks with more rows per thread than a model
// alone gets (another instantiation of the time loops); the bits must not change.
TEST(FusedMulti, ManyModelsChangeTheLaunchGeometryNotTheBits) {
  LSTMAD_REQUIRE_GPU();
  const ModelShape shape{1, 1, 32, 1};
  const int T = 12, B = 64, N = 58;
  const kernels::FusedLimits lim = fused_device_limits(0);
  const kernels::FusedLaunch many = kernels::plan_fused_multi(shape.hidden, B, N, lim);
  const kernels::FusedLaunch one = kernels::plan_fused_multi(shape.hidden, B, 1, lim);
  std::printf("plan for %d models: grid %d x %d rows, MAXR %d; alone: grid %d x %d rows, MAXR %d\n", N,
              many.grid, many.rows_per_block, many.max_rows, one.grid, one.rows_per_block, one.max_rows);
  EXPECT_NE(many.max_rows, one.max_rows) << "the test should run two instantiations of the time loops";
  EXPECT_GT(kernels::multi_gemm_parts(shape.hidden, T * B), 1) << "the test should split dR over K";
  Batch b;
  for (int m = 0; m < N; ++m)
    b.series.push_back(make_series(150 + 3 * m, 1, 9.0 + 0.2 * m, 500 + m, 1 << 30));
  for (int m = 0; m < N; ++m) {
    const Series& s = b.series[static_cast<std::size_t>(m)];
    ModelJob j;
    j.params = init_params(shape, 4000 + static_cast<uint64_t>(m));
    j.data.x = s.x.data();
    j.data.y = s.y.data();
    j.data.n = s.n;
    for (int st = 0; st + T + 1 <= 120; ++st) j.data.train.push_back(st);
    for (int st = 120 - T; st + T + 1 <= s.n; ++st) j.data.val.push_back(st);
    j.options.window = T;
    j.options.batch = B;
    j.options.epochs = 2;
    j.options.adam.lr = 1e-3 * (1 + m % 5);
    j.options.seed = 900 + static_cast<uint64_t>(m);
    b.jobs.push_back(std::move(j));
  }
  std::vector<ModelJob> batch = b.jobs;
  make_engine(fused())->train(shape, batch);
  for (int m : {0, 29, N - 1}) {
    std::vector<ModelJob> alone{b.jobs[static_cast<std::size_t>(m)]};
    make_engine(fused())->train(shape, alone);
    ASSERT_EQ(alone[0].result.status, TrainStatus::Ok) << alone[0].result.message;
    expect_identical(batch[static_cast<std::size_t>(m)], alone[0],
                     "model " + std::to_string(m) + " of " + std::to_string(N) + " vs alone");
  }
}

// The smallest case that runs every multi-model kernel (two layers, a short last minibatch, validation,
// a skipped model): the one benchmarks/gpu_check.sh runs under compute-sanitizer.
void small_batch(Precision p) {
  const ModelShape shape{2, 2, 16, 1};
  const int T = 6, B = 8;
  Batch b = make_batch(shape, T, B, 3);
  for (std::size_t m = 0; m < b.jobs.size(); ++m) {
    ModelJob& j = b.jobs[m];
    j.data.train.resize(std::min<std::size_t>(j.data.train.size(), 19 + 4 * m));  // 3, 3 and 4 minibatches
    j.data.val.resize(std::min<std::size_t>(j.data.val.size(), 10));
    j.options.epochs = 2;
  }
  Batch a = b;
  std::vector<ModelJob> alone{a.jobs[2]};
  make_engine(fused(p))->train(shape, b.jobs);
  make_engine(fused(p))->train(shape, alone);
  for (const auto& j : b.jobs) EXPECT_TRUE(test::finite_and_nonzero(j.params.data(), j.params.size()));
  expect_identical(b.jobs[2], alone[0], "model 2 of 3 vs alone, " + to_string(p));
  // Inference of the three (a short last step for each), for the sanitizers too.
  std::vector<std::vector<float>> out(b.jobs.size());
  std::vector<PredictJob> asks;
  for (std::size_t m = 0; m < b.jobs.size(); ++m) {
    const ModelJob& j = b.jobs[m];
    PredictJob ask;
    ask.params = &j.params;
    ask.x = j.data.x;
    ask.n = j.data.n;
    for (int st = 0; st < 13 + 5 * static_cast<int>(m); ++st) ask.starts.push_back(st);
    out[m].assign(ask.starts.size() * static_cast<std::size_t>(shape.horizon), std::nanf(""));
    ask.out = out[m].data();
    asks.push_back(std::move(ask));
  }
  make_engine(fused(p))->predict_batch(shape, T, asks, 1);
  for (const auto& o : out) EXPECT_TRUE(test::finite_and_nonzero(o.data(), o.size())) << to_string(p);
}

// Forecasts of several models at once (predict_batch, kernels/lstm_multi.hpp's inference steps).
struct PredictCase {
  Batch batch;
  std::vector<PredictJob> asks;
  std::vector<std::vector<float>> out;
};

// Six models of differing lengths: every window of models 0 and 2, every other of model 1, 5 windows
// of model 3 (one step alone, of another B), none of model 4, the last windows only of model 5 (the
// series' end, past which a horizon of 2 has no target). NaN-poisoned outputs.
PredictCase make_predict_case(const ModelShape& shape, int T) {
  PredictCase c;
  c.batch = make_batch(shape, T, 16);
  c.batch.series[kNonFinite].x[50 * static_cast<std::size_t>(shape.input)] = 0.25f;
  for (std::size_t m = 0; m < c.batch.jobs.size(); ++m) {
    const ModelJob& j = c.batch.jobs[m];
    PredictJob a;
    a.params = &j.params;
    a.x = j.data.x;
    a.n = j.data.n;
    const int last = j.data.n - T;
    if (m == 0 || m == 2)
      for (int st = 0; st <= last; ++st) a.starts.push_back(st);
    if (m == 1)
      for (int st = 0; st <= last; st += 2) a.starts.push_back(st);
    if (m == 3)
      for (int st : {7, 3, 40, 0, last}) a.starts.push_back(st);
    if (m == 5)
      for (int st = last - 20; st <= last; ++st) a.starts.push_back(st);
    c.asks.push_back(std::move(a));
  }
  c.out.resize(c.asks.size());
  for (std::size_t m = 0; m < c.asks.size(); ++m) {
    c.out[m].assign(c.asks[m].starts.size() * static_cast<std::size_t>(shape.horizon), std::nanf(""));
    c.asks[m].out = c.out[m].data();
  }
  return c;
}

void expect_predictions_batch_alone_and_fp64(const ModelShape& shape, int T, Precision p, double tol) {
  PredictCase all = make_predict_case(shape, T);
  auto engine = make_engine(fused(p));
  engine->predict_batch(shape, T, all.asks, 1);
  EngineOptions co;
  co.name = "cpu";
  co.precision = Precision::FP64;
  auto cpu = make_engine(co);
  const std::string tag = shape.str() + " " + to_string(p);
  for (std::size_t m = 0; m < all.asks.size(); ++m) {
    const PredictJob& a = all.asks[m];
    const std::vector<float>& got = all.out[m];
    if (a.starts.empty()) continue;
    EXPECT_TRUE(test::finite_and_nonzero(got.data(), got.size())) << tag << " model " << m;
    // Alone (another number of models and, for model 3, another rows per step): the same bits; and
    // predict() is a batch of one.
    PredictCase one = make_predict_case(shape, T);
    engine->predict_batch(shape, T, {one.asks[m]}, 1);
    EXPECT_EQ(0, std::memcmp(one.out[m].data(), got.data(), got.size() * sizeof(float)))
        << tag << " model " << m << ": in a batch vs alone";
    std::vector<float> single(got.size(), std::nanf(""));
    engine->predict(shape, T, *a.params, a.x, a.n, a.starts, single.data());
    EXPECT_EQ(0, std::memcmp(single.data(), got.data(), got.size() * sizeof(float)))
        << tag << " model " << m << ": predict_batch vs predict";
    std::vector<float> ref(got.size());
    cpu->predict(shape, T, *a.params, a.x, a.n, a.starts, ref.data());
    const auto err = test::compare(got.data(), ref.data(), got.size());
    std::printf("%s model %zu (%zu windows): forecasts vs fp64 %s\n", tag.c_str(), m, a.starts.size(),
                err.str().c_str());
    EXPECT_TRUE(err.finite) << tag;
    EXPECT_LT(err.rel_frobenius, tol) << tag << " model " << m << ": " << err.str();
  }
}

TEST(FusedMulti, PredictionsOfABatchEqualEachModelAloneAndFollowFp64) {
  LSTMAD_REQUIRE_GPU();
  expect_predictions_batch_alone_and_fp64(ModelShape{1, 1, 32, 1}, 12, Precision::FP32, 3e-5);
  expect_predictions_batch_alone_and_fp64(ModelShape{2, 3, 24, 2}, 9, Precision::FP32, 3e-5);
}

TEST(FusedMulti, TensorCorePredictionsOfABatchEqualEachModelAlone) {
  LSTMAD_REQUIRE_GPU();
  expect_predictions_batch_alone_and_fp64(ModelShape{2, 1, 32, 1}, 10, Precision::TF32, 1e-2);
}

// The per-model path (LSTMAD_FUSED_MULTI=0: FusedLstm and cuBLAS per model) gives the same forecasts
// within fp32 rounding.
TEST(FusedMulti, BatchedPredictionsAgreeWithThePerModelPath) {
  LSTMAD_REQUIRE_GPU();
  const ModelShape shape{1, 2, 40, 1};
  const int T = 11;
  PredictCase multi = make_predict_case(shape, T), loop = make_predict_case(shape, T);
  make_engine(fused())->predict_batch(shape, T, multi.asks, 1);
  setenv("LSTMAD_FUSED_MULTI", "0", 1);
  make_engine(fused())->predict_batch(shape, T, loop.asks, 2);
  unsetenv("LSTMAD_FUSED_MULTI");
  for (std::size_t m = 0; m < multi.out.size(); ++m) {
    if (multi.out[m].empty()) continue;
    const auto err = test::compare(multi.out[m].data(), loop.out[m].data(), multi.out[m].size());
    EXPECT_TRUE(err.finite) << "model " << m;
    EXPECT_LT(err.rel_frobenius, 1e-5) << "model " << m << ": " << err.str();
  }
}

TEST(FusedMulti, SmallBatchForTheSanitizers) {
  LSTMAD_REQUIRE_GPU();
  small_batch(Precision::FP32);
}

// The same with both layers in the wavefront's loops (the layers' order: layer 2's gate gradients in a
// ring of five buffers, written over its gates), for the sanitizers' memcheck and racecheck.
TEST(FusedMulti, WavefrontSmallBatchForTheSanitizers) {
  LSTMAD_REQUIRE_GPU();
  const test::ScopedEnv on("LSTMAD_FUSED_WAVEFRONT", "1");
  small_batch(Precision::FP32);
}

// The same for the tensor-core time loops (H = 16: R in registers both ways, a short last minibatch).
TEST(FusedMulti, TensorCoreSmallBatchForTheSanitizers) {
  LSTMAD_REQUIRE_GPU();
  small_batch(Precision::TF32);
  small_batch(Precision::BF16);
}

}  // namespace
}  // namespace lstmad
