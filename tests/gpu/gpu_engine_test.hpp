// What the GPU engine tests (test_cudnn_lstm.cpp, test_fused_lstm.cpp) share: the block test shapes,
// one forward and backward of a block with poisoned outputs, the fp64 CPU reference and the error checks
// that name the failing block; the training data, the jobs, and the engine-level checks every GPU engine
// must pass (loss_and_grad and predict against the fp64 CPU engine, the full-batch loss curve against
// the fp64 CPU engine, graph vs eager runs, a non-finite job, a time limit, training without a device),
// each taking the engine's options so both engines are held to the same test.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/gpu/check.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/rng.hpp"
#include "gpu/gpu_test.hpp"
#include "lstm/cpu/lstm_cpu.hpp"
#include "lstm/engine.hpp"
#include "lstm/init.hpp"

namespace lstmad::test {

// One LSTM block test shape: L layers of H units, window T, batch B, D inputs, `horizon` outputs.
struct Case {
  int L, H, T, B, D, horizon;
  std::string str() const {
    return "L=" + std::to_string(L) + " H=" + std::to_string(H) + " T=" + std::to_string(T) +
           " B=" + std::to_string(B) + " D=" + std::to_string(D) + " horizon=" + std::to_string(horizon);
  }
  ModelShape shape() const { return ModelShape{L, D, H, horizon}; }
};

// Under LSTMAD_GPU_QUICK (the sanitizer runs, the host emulation) a window T cut to at most `most` steps.
// The emulation's time goes to the time loops' steps, and the launch plans and kernels a block test runs
// follow from its L, H, B, D and horizon, not from T: the same kernels and plans run, over fewer steps.
// On a GPU without the flag the window is left as it is.
inline int quick_steps(int T, int most) {
  return env_flag("LSTMAD_GPU_QUICK") && T > most ? most : T;
}
inline Case quick_window(Case k, int most = 8) {
  k.T = quick_steps(k.T, most);
  return k;
}

// The whole product of the tested dimensions (LSTMAD_GPU_FULL=1).
inline std::vector<Case> all_cases() {
  std::vector<Case> all;
  for (int L : {1, 2})
    for (int H : {1, 7, 32, 64, 100, 128, 256})
      for (int T : {1, 50, 250})
        for (int B : {1, 33, 64, 256})
          for (int D : {1, 3}) all.push_back({L, H, T, B, D, 1});
  return all;
}

// One block's outputs for a Case: yhat (B x horizon), final h and c (L x B x H), the canonical gradient
// and dx (B x T x D).
struct BlockResult {
  std::vector<float> yhat, h, c, grad, dx;
};

// One training forward, the head and one backward of `lstm` (a CudnnLstm or a FusedLstm: both blocks take
// these calls) on the case's inputs, with every output and the whole gradient buffer poisoned with NaN
// first, so that a value the block failed to write shows up.
template <class Block>
BlockResult run_block(Block& lstm, cudaStream_t s, const Case& k, const std::vector<float>& params,
                      const std::vector<float>& x, const std::vector<float>& dyhat) {
  lstm.upload_params(params.data());
  gpu::DeviceBuffer<float> dx_in(x.size()), ddy(dyhat.size()), yhat(dyhat.size()), dx(x.size());
  dx_in.upload(x, s);
  ddy.upload(dyhat, s);
  const std::size_t LBH = static_cast<std::size_t>(k.L) * k.B * k.H;
  yhat.fill_bytes_async(0xFF, s);
  dx.fill_bytes_async(0xFF, s);
  CUDA_CHECK(cudaMemsetAsync(const_cast<float*>(lstm.hy()), 0xFF, LBH * sizeof(float), s));
  CUDA_CHECK(cudaMemsetAsync(const_cast<float*>(lstm.cy()), 0xFF, LBH * sizeof(float), s));
  CUDA_CHECK(cudaMemsetAsync(lstm.dtheta(), 0xFF, lstm.theta_size() * sizeof(float), s));
  lstm.forward(lstm.theta(), dx_in.data(), k.B, true);
  lstm.head(lstm.theta(), k.B, yhat.data(), nullptr, nullptr, nullptr);
  BlockResult g;
  g.h.resize(LBH);
  g.c.resize(LBH);
  CUDA_CHECK(cudaMemcpyAsync(g.h.data(), lstm.hy(), LBH * sizeof(float), cudaMemcpyDeviceToHost, s));
  CUDA_CHECK(cudaMemcpyAsync(g.c.data(), lstm.cy(), LBH * sizeof(float), cudaMemcpyDeviceToHost, s));
  lstm.backward(lstm.theta(), dx_in.data(), k.B, ddy.data(), lstm.dtheta(), dx.data());
  CUDA_CHECK(cudaStreamSynchronize(s));
  g.yhat = yhat.to_host(s);
  g.dx = dx.to_host(s);
  g.grad.resize(params.size());
  lstm.download_grad(g.grad.data());
  return g;
}

struct Reference {                           // LstmCpu<double> results
  std::vector<double> yhat, h, c, grad, dx;  // h, c: L x B x H
};

inline Reference cpu_reference(const Case& k, const std::vector<float>& params, const std::vector<float>& x,
                               const std::vector<float>& dyhat) {
  LstmCpu<double> cpu(k.shape(), k.T, k.B);
  const std::vector<double> p(params.begin(), params.end()), xd(x.begin(), x.end()),
      dy(dyhat.begin(), dyhat.end());
  Reference r;
  r.yhat.resize(static_cast<std::size_t>(k.B) * k.horizon);
  cpu.forward(p.data(), xd.data(), k.B, r.yhat.data());
  const std::size_t BH = static_cast<std::size_t>(k.B) * k.H;
  for (int l = 0; l < k.L; ++l) {
    r.h.insert(r.h.end(), cpu.final_h(l), cpu.final_h(l) + BH);
    r.c.insert(r.c.end(), cpu.final_c(l), cpu.final_c(l) + BH);
  }
  r.grad.resize(params.size());
  r.dx.resize(x.size());
  cpu.backward(p.data(), dy.data(), r.grad.data(), r.dx.data());
  return r;
}

// A shape's random parameters, inputs and head gradient (seeds seed+1, +2, +3; seed ends at +3) and the
// fp64 CPU engine's results on them.
struct Inputs {
  std::vector<float> params, x, dyhat;
  Reference ref;
};

inline Inputs make_inputs(const Case& k, uint64_t& seed) {
  Inputs in;
  in.params = init_params(k.shape(), ++seed);
  in.x = random_vector(static_cast<std::size_t>(k.B) * k.T * k.D, ++seed);
  in.dyhat = random_vector(static_cast<std::size_t>(k.B) * k.horizon, ++seed);
  in.ref = cpu_reference(k, in.params, in.x, in.dyhat);
  return in;
}

// Returns the relative Frobenius error (printed per shape so that a GPU run records the measured errors).
template <typename A, typename R>
double expect_close(const std::vector<A>& got, const std::vector<R>& ref, double tol,
                    const std::string& what) {
  EXPECT_EQ(got.size(), ref.size()) << what;
  if (got.size() != ref.size()) return std::numeric_limits<double>::infinity();
  // Some blocks are exactly zero in exact arithmetic (dR at T=1: the initial state is zero); those must
  // come out finite and (near) zero rather than non-zero.
  bool ref_nonzero = false;
  for (const auto& r : ref) ref_nonzero |= r != R(0);
  if (ref_nonzero) {
    EXPECT_TRUE(finite_and_nonzero(got.data(), got.size())) << what << ": non-finite or all zero";
  }
  const auto e = compare(got.data(), ref.data(), ref.size());
  EXPECT_TRUE(e.finite) << what << ": non-finite values";
  EXPECT_LE(e.rel_frobenius, tol) << what << ": " << e.str() << " (tolerance " << tol << ")";
  return e.finite ? e.rel_frobenius : std::numeric_limits<double>::infinity();
}

// Per-block comparison of the gradient so a failure names the block (W, R, bW, bR per layer, head).
// Returns the worst block's error and writes its name.
inline double expect_grad_close(const Case& k, const std::vector<float>& got, const std::vector<double>& ref,
                                double tol, const std::string& tag, std::string* worst_block = nullptr) {
  const ParamLayout pl(k.shape());
  const std::size_t G = 4 * static_cast<std::size_t>(k.H);
  double worst = 0.0;
  auto block = [&](std::size_t off, std::size_t n, const std::string& name) {
    std::vector<float> g(got.begin() + off, got.begin() + off + n);
    std::vector<double> r(ref.begin() + off, ref.begin() + off + n);
    const double e = expect_close(g, r, tol, tag + " d" + name);
    if (e >= worst) {
      worst = e;
      if (worst_block) *worst_block = "d" + name;
    }
  };
  for (int l = 0; l < k.L; ++l) {
    const auto& o = pl.layer[l];
    const std::string s = std::to_string(l);
    block(o.W, G * k.shape().layer_input(l), "W" + s);
    block(o.R, G * k.H, "R" + s);
    block(o.bW, G, "bW" + s);
    block(o.bR, G, "bR" + s);
  }
  block(pl.head_W, static_cast<std::size_t>(k.horizon) * k.H, "Wh");
  block(pl.head_b, k.horizon, "bh");
  return worst;
}

// A smooth series with noise, n rows of D columns, the target being column 0 of the next row.
struct Series {
  std::vector<float> x, y;
  int n = 0;
};

inline Series make_series(int n, int D, uint64_t seed) {
  Series s;
  s.n = n;
  Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    const double v = std::sin(0.07 * i) + 0.3 * std::sin(0.31 * i) + 0.05 * rng.normal();
    for (int d = 0; d < D; ++d) s.x.push_back(static_cast<float>(d == 0 ? v : 0.5 * v * d));
    s.y.push_back(static_cast<float>(v));
  }
  return s;
}

inline std::vector<ModelJob> make_jobs(const ModelShape& shape, const Series& s, int T, int batch, int epochs,
                                       int nmodels) {
  std::vector<ModelJob> jobs(static_cast<std::size_t>(nmodels));
  for (int m = 0; m < nmodels; ++m) {
    ModelJob& j = jobs[static_cast<std::size_t>(m)];
    j.params = init_params(shape, 500 + m);
    j.data.x = s.x.data();
    j.data.y = s.y.data();
    j.data.n = s.n;
    const int last = s.n - T - shape.horizon;
    for (int i = 0; i <= last; ++i) (i < last * 4 / 5 ? j.data.train : j.data.val).push_back(i);
    j.options.window = T;
    j.options.batch = batch;
    j.options.epochs = epochs;
    j.options.adam.lr = 1e-2 * (1 + m);  // models of one batch differ in their hyperparameters
    j.options.clip_norm = 1.0;
    j.options.patience = 0;
    j.options.seed = 42 + m;
  }
  return jobs;
}

// A GPU engine by name at precision p, with two streams (so a ModelBatch's jobs are spread over both).
inline EngineOptions gpu_engine_options(const std::string& name, Precision p = Precision::FP32) {
  EngineOptions o;
  o.name = name;
  o.precision = p;
  o.streams = 2;
  return o;
}

// The engine's loss_and_grad on one minibatch (L = 2, D = 3, horizon 2, an odd batch) against
// LstmCpu<double>: the loss within `tol_loss` and every gradient block within `tol_grads` (relative).
inline void expect_loss_and_grad_matches_cpu(const EngineOptions& options, double tol_loss,
                                             double tol_grads) {
  const Case k{2, 32, 30, 17, 3, 2};
  const std::string tag = k.str() + " " + to_string(options.precision);
  const auto params = init_params(k.shape(), 5);
  const auto x = random_vector(static_cast<std::size_t>(k.B) * k.T * k.D, 6);
  const auto y = random_vector(static_cast<std::size_t>(k.B) * k.horizon, 7);
  auto engine = make_engine(options);
  std::vector<float> grad(params.size(), std::nanf(""));
  const double loss =
      engine->loss_and_grad(k.shape(), k.T, params.data(), x.data(), y.data(), k.B, grad.data());
  LstmCpu<double> cpu(k.shape(), k.T, k.B);
  const std::vector<double> p(params.begin(), params.end()), xd(x.begin(), x.end()), yd(y.begin(), y.end());
  std::vector<double> rgrad(params.size());
  const double rloss = cpu.loss_and_grad(p.data(), xd.data(), yd.data(), k.B, rgrad.data());
  EXPECT_NEAR(loss, rloss, tol_loss * rloss) << tag;
  expect_grad_close(k, grad, rgrad, tol_grads, tag);
}

// The engine's predict() over every third window of a D=3 series and the fp64 CPU forward of the same
// windows, for the caller to compare with its tolerance (shape.input must be 3).
struct PredictPair {
  std::vector<float> got;
  std::vector<double> ref;
};

// With `engine` itself, every `step`-th window of length T and the parameters drawn from `param_seed`.
inline PredictPair predict_and_cpu_forward(Engine& engine, const ModelShape& shape, int T = 25, int step = 3,
                                           uint64_t param_seed = 10) {
  const Series s = make_series(300, shape.input, 9);
  const auto params = init_params(shape, param_seed);
  std::vector<int> starts;
  for (int i = 0; i + T <= s.n; i += step) starts.push_back(i);
  PredictPair r;
  r.got.assign(starts.size() * shape.horizon, std::nanf(""));
  engine.predict(shape, T, params, s.x.data(), s.n, starts, r.got.data());
  LstmCpu<double> cpu(shape, T, static_cast<int>(starts.size()));
  std::vector<double> xb;
  for (int st : starts)
    for (int i = 0; i < T * shape.input; ++i)
      xb.push_back(s.x[static_cast<std::size_t>(st) * shape.input + i]);
  const std::vector<double> p(params.begin(), params.end());
  r.ref.resize(r.got.size());
  cpu.forward(p.data(), xb.data(), static_cast<int>(starts.size()), r.ref.data());
  return r;
}

inline PredictPair predict_and_cpu_forward(const EngineOptions& options,
                                           const ModelShape& shape = {2, 3, 40, 2}) {
  return predict_and_cpu_forward(*make_engine(options), shape);
}

// Full-batch training (one minibatch per epoch) makes the curve independent of shuffling, so the GPU
// engine's curve must follow the fp64 CPU engine's.
inline void expect_loss_curve_matches_cpu_engine(const EngineOptions& options) {
  const ModelShape shape{1, 1, 32, 1};
  const int T = quick_steps(20, 10);
  const Series s = make_series(260, 1, 3);
  auto gpu_jobs = make_jobs(shape, s, T, 1024, 12, 3);
  auto cpu_jobs = make_jobs(shape, s, T, 1024, 12, 3);
  make_engine(options)->train(shape, gpu_jobs);
  EngineOptions co;
  co.name = "cpu";
  co.precision = Precision::FP64;
  co.threads = 2;
  make_engine(co)->train(shape, cpu_jobs);
  for (std::size_t m = 0; m < gpu_jobs.size(); ++m) {
    const auto& g = gpu_jobs[m].result;
    const auto& c = cpu_jobs[m].result;
    ASSERT_EQ(g.status, TrainStatus::Ok) << g.message;
    ASSERT_EQ(g.train_loss.size(), c.train_loss.size()) << "model " << m;
    ASSERT_EQ(g.val_loss.size(), c.val_loss.size()) << "model " << m;
    // Every engine times each epoch it runs, as the CPU trainer does.
    ASSERT_EQ(g.epoch_seconds.size(), static_cast<std::size_t>(g.epochs_run)) << "model " << m;
    for (const double t : g.epoch_seconds) EXPECT_GT(t, 0.0) << "model " << m;
    EXPECT_LT(g.train_loss.back(), g.train_loss.front()) << "model " << m << " did not learn";
    for (std::size_t e = 0; e < g.train_loss.size(); ++e) {
      EXPECT_NEAR(g.train_loss[e], c.train_loss[e], 1e-3 * c.train_loss[e])
          << "model " << m << " epoch " << e;
      EXPECT_NEAR(g.val_loss[e], c.val_loss[e], 1e-3 * c.val_loss[e]) << "model " << m << " epoch " << e;
    }
    EXPECT_EQ(g.best_epoch, c.best_epoch) << "model " << m;
  }
}

// Three models with minibatches (3 full + 1 partial per epoch, 4 epochs), trained eagerly and twice with
// CUDA graphs (the engine's variable `graphs_env` set to 0, then 1): the two graph runs are bit-identical,
// and the replayed parameters differ from the eager ones by at most `graph_vs_eager` (relative Frobenius;
// 0: bit-identical, for an engine that launches the same kernels in the same order either way).
inline void expect_graph_replay_matches_eager(const EngineOptions& options, const char* graphs_env,
                                              double graph_vs_eager) {
  // Quick (sanitizers, emulation): H = 32, a window of 12, two epochs of three minibatches (each replayed
  // after the first).
  const bool quick = env_flag("LSTMAD_GPU_QUICK");
  const ModelShape shape{2, 1, quick ? 32 : 64, 1};
  const int epochs = quick ? 2 : 4;
  const Series s = make_series(quick ? 202 : 330, 1, 4);
  const auto initial = make_jobs(shape, s, quick_steps(30, 12), 64, epochs, 3);
  auto train = [&](const char* graphs) {
    setenv(graphs_env, graphs, 1);
    auto jobs = initial;
    make_engine(options)->train(shape, jobs);
    unsetenv(graphs_env);
    return jobs;
  };
  const auto eager = train("0"), graph1 = train("1"), graph2 = train("1");
  for (std::size_t m = 0; m < eager.size(); ++m) {
    ASSERT_EQ(eager[m].result.status, TrainStatus::Ok) << eager[m].result.message;
    ASSERT_EQ(graph1[m].result.train_loss.size(), static_cast<std::size_t>(epochs));
    EXPECT_EQ(graph1[m].params, graph2[m].params) << "model " << m << ": rerun differs";
    EXPECT_EQ(graph1[m].result.train_loss, graph2[m].result.train_loss) << "model " << m;
    if (graph_vs_eager == 0.0) {
      EXPECT_EQ(graph1[m].params, eager[m].params) << "model " << m << ": graph vs eager";
    } else {
      const auto e = compare(graph1[m].params.data(), eager[m].params.data(), eager[m].params.size());
      EXPECT_LE(e.rel_frobenius, graph_vs_eager) << "model " << m << " graph vs eager: " << e.str();
    }
    EXPECT_NE(graph1[m].params, initial[m].params) << "parameters did not change";
  }
}

// Two models, the second on a series with a NaN: it must end NonFinite alone, keeping its initial
// parameters. Returns the second job's result.
inline TrainResult expect_nonfinite_job_ends_alone(const EngineOptions& options) {
  const ModelShape shape{1, 1, 16, 1};
  const int T = 10;
  Series good = make_series(120, 1, 5);
  Series bad = good;
  bad.x[30] = std::nanf("");
  auto jobs = make_jobs(shape, good, T, 32, 3, 2);
  jobs[1].data.x = bad.x.data();
  const auto initial = jobs[1].params;
  make_engine(options)->train(shape, jobs);
  EXPECT_EQ(jobs[0].result.status, TrainStatus::Ok) << jobs[0].result.message;
  EXPECT_EQ(jobs[1].result.status, TrainStatus::NonFinite);
  EXPECT_EQ(jobs[1].params, initial);
  return jobs[1].result;
}

// Two models, the second with a time limit that every epoch passes (the check is between epochs): it ends
// Timeout after its first epoch, and the first trains all its epochs.
inline void expect_time_limit_stops_its_job_alone(const EngineOptions& options) {
  const ModelShape shape{1, 1, 16, 1};
  const Series s = make_series(120, 1, 5);
  auto jobs = make_jobs(shape, s, 10, 32, 3, 2);
  jobs[1].options.max_seconds = 1e-12;
  make_engine(options)->train(shape, jobs);
  EXPECT_EQ(jobs[0].result.status, TrainStatus::Ok) << jobs[0].result.message;
  EXPECT_EQ(jobs[0].result.epochs_run, 3);
  EXPECT_EQ(jobs[1].result.status, TrainStatus::Timeout) << jobs[1].result.message;
  EXPECT_EQ(jobs[1].result.epochs_run, 1);
  EXPECT_EQ(jobs[0].result.epoch_seconds.size(), 3u) << "each epoch run is timed";
  EXPECT_EQ(jobs[1].result.epoch_seconds.size(), 1u) << "the skipped epochs are not";
  EXPECT_NE(jobs[1].result.message.find("training stopped after 1 of 3 epochs"), std::string::npos)
      << jobs[1].result.message;
}

// Where there is no device (`reason` says why): training throws DeviceError carrying that reason and
// naming the CPU engine.
// Returns the options of the job it tried.
inline TrainOptions expect_training_throws_device_error(Engine& engine, const std::string& reason) {
  const ModelShape shape{1, 1, 8, 1};
  const Series s = make_series(100, 1, 1);
  auto jobs = make_jobs(shape, s, 10, 16, 1, 1);
  try {
    engine.train(shape, jobs);
    ADD_FAILURE() << "training without a device did not throw";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    // and names the engine that runs without one
    EXPECT_NE(std::string(e.what()).find("engine \"cpu\" runs without one (--engine cpu)"), std::string::npos)
        << e.what();
  }
  return jobs[0].options;
}

}  // namespace lstmad::test
