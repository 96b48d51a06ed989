// The multi-model training path (fused_multi.hpp). Buffers hold N models side by side: model m's slice of
// a buffer of per-model size S starts at m x S. Operands of the GEMMs are described by (row, column,
// model) strides on row-major data; the comments give each GEMM as a formula on row-major matrices.
#include "lstm/fused/fused_multi.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "core/error.hpp"
#include "core/gpu/check.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/gpu/graph.hpp"
#include "core/log.hpp"
#include "core/rng.hpp"
#include "kernels/lstm_fused_bwd.hpp"
#include "kernels/lstm_fused_fwd.hpp"
#include "kernels/lstm_fused_mma.hpp"
#include "kernels/lstm_multi.hpp"
#include "kernels/lstm_multi_plan.hpp"
#include "lstm/shape.hpp"

namespace lstmad {

namespace fused_multi_detail {

// Per-model host state of the training loop (training_loop.cpp's Slot::train, per model).
struct ModelState {
  ModelJob* job = nullptr;
  Rng rng{0};
  std::vector<int> order;
  EarlyStopping stopping;
  bool done = false;
  TrainResult res;
};

}  // namespace fused_multi_detail

using fused_multi_detail::ModelState;
using gpu::DeviceBuffer;
using gpu::GraphExec;
using kernels::StridedOperand;

class FusedMultiBatch::Impl {
 public:
  // What sizes the buffers: the most windows of a model in the training list and in the validation (or,
  // for inference, prediction) list, and the rows of all series together. Inference allocates only what
  // the forward pass and the head read and write.
  struct Extent {
    std::size_t max_train = 0, max_val = 0, total_rows = 0;
    bool inference = false;
  };

  static Extent training_extent(const std::vector<ModelJob*>& jobs) {
    Extent e;
    for (const ModelJob* j : jobs) {
      e.max_train = std::max<std::size_t>(e.max_train, j->data.train.size());
      e.max_val = std::max<std::size_t>(e.max_val, j->data.val.size());
      e.total_rows += static_cast<std::size_t>(j->data.n);
    }
    return e;
  }

  Impl(const ModelShape& shape, int window, int B, const kernels::FusedLimits& limits, int models,
       const Extent& extent, cudaStream_t stream, bool graphs, Precision precision)
      : shape_(shape),
        layout_(shape),
        T_(window),
        B_(B),
        N_(models),
        stream_(stream),
        use_graphs_(graphs),
        inference_(extent.inference) {
    const std::size_t H = shape.hidden, D = shape.input, T = window, L = shape.layers, hz = shape.horizon;
    const std::size_t N = static_cast<std::size_t>(models), Bz = static_cast<std::size_t>(B), TB = T * Bz;
    P_ = layout_.total;
    plan_ = kernels::plan_fused_multi(shape.hidden, B, N_, limits);
    if (precision == Precision::TF32 || precision == Precision::BF16) {
      // The time loops (kernels/lstm_fused_mma.hpp) and the GEMMs (lstm_multi_gemm.cu) on the tensor cores.
      const kernels::mma::Format f =
          precision == Precision::TF32 ? kernels::mma::Format::TF32 : kernels::mma::Format::BF16;
      const std::string why = kernels::mma_unsupported_reason(f, shape.hidden, B, limits);
      if (!why.empty()) throw UnsupportedError(why + " (" + shape.str() + ")");
      mma_ = kernels::plan_fused_mma(f, shape.hidden, B, limits);
      rt_words_ = static_cast<std::size_t>(kernels::mma::a_words(f, shape.hidden));
      gemm_math_ = precision == Precision::TF32 ? kernels::GemmMath::TF32 : kernels::GemmMath::BF16;
    } else if (precision != Precision::FP32) {
      throw UnsupportedError("the fused multi-model path runs fp32, tf32 and bf16, not " +
                             to_string(precision));
    }
    max_train_ = extent.max_train;
    max_val_ = extent.max_val;
    total_rows_ = extent.total_rows;
    const bool train = !inference_;
    theta_.resize(N * P_);
    xt_.resize(N * TB * D);
    gx_.resize(N * TB * 4 * H);
    rt_.resize(N * rt_stride());
    hy_.resize(N * L * Bz * H);
    cy_.resize(N * L * Bz * H);
    y_.resize(L);
    for (std::size_t l = 0; l < L; ++l) y_[l].resize(N * (T + 1) * Bz * H);
    xs_.resize(std::max<std::size_t>(total_rows_ * D, 1));
    xs_offset_.resize(N);
    yhat_.resize(N * Bz * hz);
    val_.resize(N * std::max<std::size_t>(max_val_, 1));
    nval_.resize(N);
    cursor_.resize(N);
    start_.resize(N);
    rows_.resize(N);
    vrunning_.resize(N);
    active_.resize(N);
    if (train) {
      dtheta_.resize(N * P_);
      m_.resize(N * P_);
      v_.resize(N * P_);
      best_.resize(N * P_);
      dgates_.resize(N * TB * 4 * H);
      dy_.resize(N * TB * H);
      dhy_.resize(N * Bz * H);
      gates_.resize(L);
      c_.resize(L);
      for (std::size_t l = 0; l < L; ++l) {
        gates_[l].resize(N * TB * 4 * H);
        c_[l].resize(N * TB * H);
      }
      ys_.resize(std::max<std::size_t>(total_rows_, 1));
      yb_.resize(N * Bz * hz);
      dyhat_.resize(N * Bz * hz);
      resid_.resize(N * Bz * hz);
      order_.resize(N * std::max<std::size_t>(max_train_, 1));
      ntrain_.resize(N);
      running_.resize(N);
      flag_.resize(N);
      hyper_.resize(N);
      state_.resize(N);
      step_sq_.resize(N);
      norm_sq_.resize(N);
      epoch_sum_.resize(N);
      epoch_norm_.resize(N);
      val_sum_.resize(N);
    } else {
      out_offset_.resize(N);
    }
    // Buffers start at zero: rows a short minibatch leaves untouched hold finite values only.
    for (DeviceBuffer<float>* b :
         {&xt_, &gx_, &dgates_, &dy_, &hy_, &cy_, &dhy_, &yb_, &yhat_, &dyhat_, &resid_})
      b->zero_async(stream_);
    for (auto* v : {&y_, &gates_, &c_})
      for (DeviceBuffer<float>& b : *v) b.zero_async(stream_);
    if (mma_.grid > 0) {
      CUDA_CHECK(kernels::prepare_lstm_mma(mma_));
    } else {
      CUDA_CHECK(kernels::prepare_lstm_fused_forward(plan_));
      if (train) CUDA_CHECK(kernels::prepare_lstm_fused_backward(plan_));
    }
  }

  // Floats of the R workspace per model: R^T for the FMA kernels, staged fragments for the tensor cores.
  std::size_t rt_stride() const {
    return mma_.grid > 0 ? rt_words_ : kernels::fused_forward_workspace(shape_.hidden);
  }

  // Uploads every job's parameters, series, validation windows and hyperparameters; zeroes the Adam
  // state. Fills the per-model host state.
  void upload(const std::vector<ModelJob*>& jobs, std::vector<ModelState>& st, std::vector<int>& ntrain,
              std::vector<int>& nval) {
    const std::size_t N = jobs.size(), D = shape_.input;
    st.assign(N, ModelState{});
    ntrain.assign(N, 0);
    nval.assign(N, 0);
    std::vector<float> params(N * P_);
    std::vector<float> xs(total_rows_ * D), ys(total_rows_);
    std::vector<long long> offs(N);
    std::vector<int> val(N * std::max<std::size_t>(max_val_, 1), 0);
    std::vector<kernels::AdamHyper> hyper(N);
    long long at = 0;
    for (std::size_t m = 0; m < N; ++m) {
      ModelJob& j = *jobs[m];
      const TrainOptions& o = j.options;
      st[m].job = &j;
      st[m].rng.reseed(o.seed);
      st[m].order = j.data.train;
      std::copy(j.params.begin(), j.params.end(), params.begin() + static_cast<long long>(m * P_));
      std::copy(j.data.x, j.data.x + static_cast<std::size_t>(j.data.n) * D,
                xs.begin() + at * static_cast<long long>(D));
      std::copy(j.data.y, j.data.y + j.data.n, ys.begin() + at);
      offs[m] = at;
      at += j.data.n;
      ntrain[m] = static_cast<int>(j.data.train.size());
      nval[m] = static_cast<int>(j.data.val.size());
      std::copy(j.data.val.begin(), j.data.val.end(), val.begin() + static_cast<long long>(m * max_val_));
      kernels::AdamHyper& h = hyper[m];
      h.lr = static_cast<float>(o.adam.lr);
      h.beta1 = static_cast<float>(o.adam.beta1);
      h.beta2 = static_cast<float>(o.adam.beta2);
      h.eps = static_cast<float>(o.adam.eps);
      h.weight_decay = static_cast<float>(o.adam.weight_decay);
      h.clip_norm = static_cast<float>(o.clip_norm);
    }
    theta_.upload(params.data(), params.size(), stream_);
    if (!xs.empty()) xs_.upload(xs.data(), xs.size(), stream_);
    if (!ys.empty()) ys_.upload(ys.data(), ys.size(), stream_);
    xs_offset_.upload(offs.data(), N, stream_);
    ntrain_.upload(ntrain.data(), N, stream_);
    nval_.upload(nval.data(), N, stream_);
    if (max_val_ > 0) val_.upload(val.data(), val.size(), stream_);
    hyper_.upload(hyper.data(), N, stream_);
    m_.zero_async(stream_);
    v_.zero_async(stream_);
    state_.zero_async(stream_);
  }

  // For benchmarks: every model running on its unshuffled windows; step() then runs one training step of
  // all models on their first B windows (the cursor rewinds before each).
  void load_for_steps(const std::vector<ModelJob*>& jobs) {
    std::vector<ModelState> st;
    std::vector<int> ntrain, nval;
    upload(jobs, st, ntrain, nval);
    const std::size_t N = jobs.size();
    std::vector<int> order_h(N * std::max<std::size_t>(max_train_, 1), 0);
    for (std::size_t m = 0; m < N; ++m)
      std::copy(jobs[m]->data.train.begin(), jobs[m]->data.train.end(),
                order_h.begin() + static_cast<long long>(m * max_train_));
    order_.upload(order_h.data(), order_h.size(), stream_);
    const std::vector<unsigned char> on(N, 1);
    running_.upload(on.data(), N, stream_);
  }
  void bench_step() {
    cursor_.zero_async(stream_);
    run_step(Pass::Train);
  }

  void train(const std::vector<ModelJob*>& jobs) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::size_t N = jobs.size();
    std::vector<ModelState> st;
    EpochHost h(N, N * std::max<std::size_t>(max_train_, 1));
    upload(jobs, st, h.ntrain, h.nval);
    int max_epochs = 0;
    for (const ModelJob* j : jobs) max_epochs = std::max(max_epochs, j->options.epochs);
    for (int e = 0; e < max_epochs; ++e) {
      // The models train in lockstep, so each one's time limit is checked against the batch's time.
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      int steps = 0, vsteps = 0;
      if (!plan_epoch(e, seconds, st, h, steps, vsteps)) break;
      // The models run in lockstep: each running model's epoch takes the batch's epoch time.
      const auto te = std::chrono::steady_clock::now();
      run_epoch(h, steps, vsteps);
      const bool any_improved = judge_epoch(e, st, h);
      const double epoch_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
      for (std::size_t m = 0; m < N; ++m)
        if (h.running[m]) st[m].res.epoch_seconds.push_back(epoch_seconds);
      if (any_improved) {
        flag_.upload(h.flag.data(), N, stream_);
        kernels::launch_multi_copy(best_.data(), theta_.data(), P_, static_cast<long long>(P_), flag_.data(),
                                   N_, stream_);
        KERNEL_CHECK("multi_copy(best)");
      }
    }
    finish_training(st, h, t0);
  }

 private:
  // The host side of the epochs of train(): per model its windows, whether it runs this epoch (training
  // and validation), whether it improved, its device sums, and the batch's window orders.
  struct EpochHost {
    EpochHost(std::size_t N, std::size_t order_size)
        : order(order_size), running(N), vrunning(N), flag(N), sums(N), norms(N), vsums(N) {}
    std::vector<int> ntrain, nval, order;  // ntrain and nval: filled by upload()
    std::vector<unsigned char> running, vrunning, flag;
    std::vector<double> sums, norms, vsums;
  };

  // Which models run epoch e (not done, not past their epochs or time limit), their shuffled window
  // orders, and the steps the batch takes (its longest model's). False when no model runs.
  bool plan_epoch(int e, double seconds, std::vector<ModelState>& st, EpochHost& h, int& steps, int& vsteps) {
    bool any = false;
    for (std::size_t m = 0; m < st.size(); ++m) {
      ModelState& s = st[m];
      if (!s.done && e < s.job->options.epochs && past_time_limit(s.job->options, seconds, e, s.res))
        s.done = true;
      const bool run = !s.done && e < s.job->options.epochs;
      h.running[m] = run ? 1 : 0;
      h.vrunning[m] = run && h.nval[m] > 0 ? 1 : 0;
      if (!run) continue;
      any = true;
      s.rng.shuffle(s.order.begin(), s.order.end());
      std::copy(s.order.begin(), s.order.end(), h.order.begin() + static_cast<long long>(m * max_train_));
      steps = std::max(steps, (h.ntrain[m] + B_ - 1) / B_);
      if (h.vrunning[m]) vsteps = std::max(vsteps, (h.nval[m] + B_ - 1) / B_);
    }
    return any;
  }

  // One epoch on the device: `steps` training steps, then `vsteps` validation steps; the per-model loss
  // sums and gradient norms come back into h.
  void run_epoch(EpochHost& h, int steps, int vsteps) {
    const std::size_t N = h.running.size();
    order_.upload(h.order.data(), h.order.size(), stream_);
    running_.upload(h.running.data(), N, stream_);
    vrunning_.upload(h.vrunning.data(), N, stream_);
    cursor_.zero_async(stream_);
    kernels::launch_multi_reset(epoch_sum_.data(), running_.data(), N_, stream_);
    KERNEL_CHECK("multi_reset(epoch)");
    kernels::launch_multi_reset(epoch_norm_.data(), running_.data(), N_, stream_);
    KERNEL_CHECK("multi_reset(norm)");
    for (int s = 0; s < steps; ++s) run_step(Pass::Train);
    epoch_sum_.download(h.sums.data(), N, stream_);
    epoch_norm_.download(h.norms.data(), N, stream_);
    if (vsteps > 0) {
      cursor_.zero_async(stream_);
      kernels::launch_multi_reset(val_sum_.data(), vrunning_.data(), N_, stream_);
      KERNEL_CHECK("multi_reset(val)");
      for (int s = 0; s < vsteps; ++s) run_step(Pass::Validate);
      val_sum_.download(h.vsums.data(), N, stream_);
    }
  }

  // Each running model's losses of epoch e, the non-finite checks and EarlyStopping; h.flag marks the
  // models whose parameters became their best. Returns whether any did.
  bool judge_epoch(int e, std::vector<ModelState>& st, EpochHost& h) {
    const int hz = shape_.horizon;
    bool any_improved = false;
    for (std::size_t m = 0; m < st.size(); ++m) {
      h.flag[m] = 0;
      if (!h.running[m]) continue;
      ModelState& s = st[m];
      TrainResult& res = s.res;
      const double train_loss = h.sums[m] / (static_cast<double>(h.ntrain[m]) * hz);
      res.train_loss.push_back(train_loss);
      res.epochs_run = e + 1;
      if (!std::isfinite(train_loss) || !std::isfinite(h.norms[m])) {
        res.status = TrainStatus::NonFinite;
        res.message =
            std::string(!std::isfinite(train_loss) ? "non-finite training loss" : "non-finite gradient") +
            " at epoch " + std::to_string(e);
        s.done = true;
        continue;
      }
      if (h.nval[m] == 0) continue;
      const double val_loss = h.vsums[m] / (static_cast<double>(h.nval[m]) * hz);
      const auto verdict = s.stopping.after_epoch(s.job->options, e, val_loss, res);
      if (verdict == EarlyStopping::Verdict::Improved) {
        h.flag[m] = 1;
        any_improved = true;
      }
      if (verdict == EarlyStopping::Verdict::Stop) s.done = true;
    }
    return any_improved;
  }

  // After the last epoch: each model's best parameters (or its last, without a best epoch; or its initial
  // ones after a non-finite stop with none) into its job, with its TrainResult.
  void finish_training(std::vector<ModelState>& st, EpochHost& h, std::chrono::steady_clock::time_point t0) {
    const std::size_t N = st.size();
    bool any_best = false;
    for (std::size_t m = 0; m < N; ++m) {
      h.flag[m] = st[m].stopping.have_best() ? 1 : 0;
      any_best |= st[m].stopping.have_best();
    }
    if (any_best) {
      flag_.upload(h.flag.data(), N, stream_);
      kernels::launch_multi_copy(theta_.data(), best_.data(), P_, static_cast<long long>(P_), flag_.data(),
                                 N_, stream_);
      KERNEL_CHECK("multi_copy(restore)");
    }
    std::vector<float> params(N * P_);
    theta_.download(params.data(), params.size(), stream_);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (std::size_t m = 0; m < N; ++m) {
      ModelState& s = st[m];
      TrainResult& res = s.res;
      const bool keep = s.stopping.have_best() || res.status == TrainStatus::Ok;
      if (!s.stopping.have_best() && res.status == TrainStatus::Ok) res.best_epoch = -1;
      if (keep)  // non-finite with no best epoch: the job keeps its initial parameters
        std::copy(params.begin() + static_cast<long long>(m * P_),
                  params.begin() + static_cast<long long>((m + 1) * P_), s.job->params.begin());
      if (res.status == TrainStatus::Ok && res.message.empty())
        res.message = "ran " + std::to_string(res.epochs_run) + " epochs";
      res.seconds = seconds;
      s.job->result = std::move(res);
    }
  }

 public:
  // Inference: every job's windows (its starts in the validation list) in steps of B rows, the
  // forecasts of each step stored at the model's cursor in one output buffer, downloaded once.
  void predict(const std::vector<const PredictJob*>& jobs) {
    const std::size_t N = jobs.size(), D = shape_.input, hz = static_cast<std::size_t>(shape_.horizon);
    std::vector<float> params(N * P_), xs(total_rows_ * D);
    std::vector<long long> offs(N), out_offs(N);
    std::vector<int> starts(N * std::max<std::size_t>(max_val_, 1), 0), count(N);
    long long at = 0, out_at = 0;
    int steps = 0;
    for (std::size_t m = 0; m < N; ++m) {
      const PredictJob& j = *jobs[m];
      std::copy(j.params->begin(), j.params->end(), params.begin() + static_cast<long long>(m * P_));
      std::copy(j.x, j.x + static_cast<std::size_t>(j.n) * D, xs.begin() + at * static_cast<long long>(D));
      offs[m] = at;
      at += j.n;
      std::copy(j.starts.begin(), j.starts.end(), starts.begin() + static_cast<long long>(m * max_val_));
      count[m] = static_cast<int>(j.starts.size());
      out_offs[m] = out_at;
      out_at += static_cast<long long>(j.starts.size() * hz);
      steps = std::max(steps, (count[m] + B_ - 1) / B_);
    }
    DeviceBuffer<float> out(std::max<std::size_t>(static_cast<std::size_t>(out_at), 1));
    out_ = out.data();
    theta_.upload(params.data(), params.size(), stream_);
    if (!xs.empty()) xs_.upload(xs.data(), xs.size(), stream_);
    xs_offset_.upload(offs.data(), N, stream_);
    out_offset_.upload(out_offs.data(), N, stream_);
    val_.upload(starts.data(), starts.size(), stream_);
    nval_.upload(count.data(), N, stream_);
    const std::vector<unsigned char> on(N, 1);
    vrunning_.upload(on.data(), N, stream_);
    cursor_.zero_async(stream_);
    for (int s = 0; s < steps; ++s) run_step(Pass::Predict);
    std::vector<float> host(static_cast<std::size_t>(out_at));
    if (out_at > 0) out.download(host.data(), host.size(), stream_);
    for (std::size_t m = 0; m < N; ++m)
      std::copy(host.begin() + out_offs[m], host.begin() + out_offs[m] + static_cast<long long>(count[m] * hz),
                jobs[m]->out);
  }

 private:
  enum class Pass { Train, Validate, Predict };

  // One step, eager or as a graph replay (captured on the second call, after an eager first one).
  void run_step(Pass pass) {
    const int k = static_cast<int>(pass);
    GraphExec& g = graphs_[k];
    bool& warmed = warmed_[k];
    if (!use_graphs_ || !warmed) {
      enqueue(pass);
      warmed = true;
      return;
    }
    if (g) {
      g.launch(stream_);
      return;
    }
    try {
      g = gpu::capture_graph(stream_, [&] { enqueue(pass); });
      g.launch(stream_);
    } catch (const DeviceError& e) {
      cudaGetLastError();
      log::warn(
          std::string("fused engine: CUDA graph capture of the multi-model step failed, running eagerly: ") +
          e.what());
      use_graphs_ = false;
      enqueue(pass);  // nothing of the failed capture ran
    }
  }

  kernels::ModelStrides fwd_strides() const {
    const std::size_t H = shape_.hidden, TB = static_cast<std::size_t>(T_) * B_;
    kernels::ModelStrides s;
    s.models = N_;
    s.param = P_;
    s.rt = rt_stride();
    s.gx = TB * 4 * H;
    s.gates = TB * 4 * H;
    s.seq = TB * H;
    s.y = (static_cast<std::size_t>(T_) + 1) * B_ * H;
    s.state = static_cast<std::size_t>(shape_.layers) * B_ * H;
    s.rows = rows_.data();
    s.active = active_.data();
    return s;
  }

  // Layer l's input for all models: its base pointer, its width and its per-model stride.
  StridedOperand layer_input(int l) const {
    const long long H = shape_.hidden, TB = static_cast<long long>(T_) * B_;
    StridedOperand x;
    if (l == 0) {
      x.p = xt_.data();
      x.rs = shape_.input;
      x.batch = TB * shape_.input;
    } else {
      x.p = y_[static_cast<std::size_t>(l - 1)].data() + B_ * H;  // h_1 .. h_T
      x.rs = H;
      x.batch = (TB + B_) * H;
    }
    x.cs = 1;
    return x;
  }

  void forward(bool training) {
    const int H = shape_.hidden, H4 = 4 * H, TB = T_ * B_;
    const kernels::ModelStrides ms = fwd_strides();
    for (int l = 0; l < shape_.layers; ++l) {
      const LayerOffsets& o = layout_.layer[static_cast<std::size_t>(l)];
      const int Din = shape_.layer_input(l);
      // gx (TB x 4H) = X (TB x Din) W^T
      StridedOperand w;
      w.p = theta_.data() + o.W;
      w.rs = 1;  // (k, n) = W[n][k]
      w.cs = Din;
      w.batch = static_cast<long long>(P_);
      kernels::launch_multi_gemm(TB, H4, Din, layer_input(l), w, gx_.data(), H4, ms.gx, N_, active_.data(),
                                 stream_, gemm_math_);
      KERNEL_CHECK("multi_gemm(gx)");
      kernels::FusedFwdArgs a;
      a.gx = gx_.data();
      a.R = theta_.data() + o.R;
      a.bW = theta_.data() + o.bW;
      a.bR = theta_.data() + o.bR;
      a.T = T_;
      a.y = y_[static_cast<std::size_t>(l)].data();
      a.gates = training ? gates_[static_cast<std::size_t>(l)].data() : nullptr;
      a.c = training ? c_[static_cast<std::size_t>(l)].data() : nullptr;
      a.hy = hy_.data() + static_cast<std::size_t>(l) * B_ * H;
      a.cy = cy_.data() + static_cast<std::size_t>(l) * B_ * H;
      a.models = ms;
      if (mma_.grid > 0) {
        CUDA_CHECK(kernels::launch_lstm_mma_forward(mma_, a, rt_.data(), stream_));
      } else {
        kernels::launch_lstm_fused_forward(plan_, a, rt_.data(), stream_);
      }
      KERNEL_CHECK("lstm_fused_forward(multi)");
    }
  }

  void backward() {
    const int H = shape_.hidden, H4 = 4 * H, TB = T_ * B_, L = shape_.layers;
    const long long P = static_cast<long long>(P_);
    const kernels::ModelStrides fs = fwd_strides();
    const float* h_top = hy_.data() + static_cast<std::size_t>(L - 1) * B_ * H;
    kernels::launch_multi_head_backward(h_top, fs.state, dyhat_.data(), theta_.data(), dtheta_.data(), P,
                                        layout_.head_W, layout_.head_b, B_, H, shape_.horizon, rows_.data(),
                                        active_.data(), dhy_.data(), static_cast<long long>(B_) * H, N_,
                                        stream_);
    KERNEL_CHECK("multi_head_backward");
    for (int l = L - 1; l >= 0; --l) {
      const LayerOffsets& o = layout_.layer[static_cast<std::size_t>(l)];
      const int Din = shape_.layer_input(l);
      kernels::FusedBwdArgs a;
      a.R = theta_.data() + o.R;
      a.gates = gates_[static_cast<std::size_t>(l)].data();
      a.c = c_[static_cast<std::size_t>(l)].data();
      a.dy = l == L - 1 ? nullptr : dy_.data();
      a.dhy = l == L - 1 ? dhy_.data() : nullptr;
      a.T = T_;
      a.dgates = dgates_.data();
      a.models = fs;
      a.models.state = static_cast<std::size_t>(B_) * H;  // dhy: one layer per model
      if (mma_.grid > 0) {
        CUDA_CHECK(kernels::launch_lstm_mma_backward(mma_, a, rt_.data(), stream_));
      } else {
        kernels::launch_lstm_fused_backward(plan_, a, stream_);
      }
      KERNEL_CHECK("lstm_fused_backward(multi)");
      // dG^T as the left operand: (n, i) = dG[i][n]
      StridedOperand dgt;
      dgt.p = dgates_.data();
      dgt.rs = 1;
      dgt.cs = H4;
      dgt.batch = static_cast<long long>(fs.gates);
      // dW (4H x Din) = dG^T X
      kernels::launch_multi_gemm(H4, Din, TB, dgt, layer_input(l), dtheta_.data() + o.W, Din, P, N_,
                                 active_.data(), stream_, gemm_math_);
      KERNEL_CHECK("multi_gemm(dW)");
      // dR (4H x H) = dG^T [h_0 .. h_{T-1}]
      StridedOperand hprev;
      hprev.p = y_[static_cast<std::size_t>(l)].data();
      hprev.rs = H;
      hprev.cs = 1;
      hprev.batch = static_cast<long long>(fs.y);
      kernels::launch_multi_gemm(H4, H, TB, dgt, hprev, dtheta_.data() + o.R, H, P, N_, active_.data(),
                                 stream_, gemm_math_);
      KERNEL_CHECK("multi_gemm(dR)");
      // dbW = dbR = the column sums of dG over all (t, b)
      kernels::launch_multi_colsum(dgates_.data(), TB, H4, static_cast<long long>(fs.gates),
                                   dtheta_.data() + o.bW, dtheta_.data() + o.bR, P, N_, active_.data(),
                                   stream_);
      KERNEL_CHECK("multi_colsum(db)");
      if (l > 0) {
        // dX (TB x H) = dG W: the layer below's dy
        StridedOperand dg;
        dg.p = dgates_.data();
        dg.rs = H4;
        dg.cs = 1;
        dg.batch = static_cast<long long>(fs.gates);
        StridedOperand w;
        w.p = theta_.data() + o.W;
        w.rs = Din;
        w.cs = 1;
        w.batch = P;
        kernels::launch_multi_gemm(TB, Din, H4, dg, w, dy_.data(), Din, static_cast<long long>(fs.seq), N_,
                                   active_.data(), stream_, gemm_math_);
        KERNEL_CHECK("multi_gemm(dX)");
      }
    }
  }

  // Everything one step launches (kernels/lstm_multi.hpp's list).
  void enqueue(Pass pass) {
    if (pass == Pass::Predict) {
      enqueue_predict();
      return;
    }
    const bool validation = pass == Pass::Validate;
    const int H = shape_.hidden, hz = shape_.horizon, L = shape_.layers;
    const long long P = static_cast<long long>(P_);
    kernels::launch_multi_step_prepare(validation ? vrunning_.data() : running_.data(),
                                       validation ? nval_.data() : ntrain_.data(), B_, cursor_.data(),
                                       start_.data(), rows_.data(), active_.data(), N_, stream_);
    KERNEL_CHECK("multi_step_prepare");
    kernels::launch_multi_gather(
        xs_.data(), ys_.data(), xs_offset_.data(), shape_.input, validation ? val_.data() : order_.data(),
        static_cast<long long>(validation ? std::max<std::size_t>(max_val_, 1)
                                          : std::max<std::size_t>(max_train_, 1)),
        start_.data(), rows_.data(), active_.data(), B_, T_, hz, xt_.data(), yb_.data(), N_, stream_);
    KERNEL_CHECK("multi_gather");
    if (!validation) {
      kernels::launch_multi_zero_rows(dgates_.data(), T_, B_, 4 * H, rows_.data(), active_.data(), N_,
                                      stream_);
      KERNEL_CHECK("multi_zero_rows");
    }
    forward(!validation);
    const float* h_top = hy_.data() + static_cast<std::size_t>(L - 1) * B_ * H;
    const long long h_batch = static_cast<long long>(L) * B_ * H;
    kernels::launch_multi_head_forward(h_top, h_batch, theta_.data(), P, layout_.head_W, layout_.head_b, B_,
                                       H, hz, rows_.data(), active_.data(), yhat_.data(), yb_.data(),
                                       validation ? nullptr : dyhat_.data(), resid_.data(), N_, stream_);
    KERNEL_CHECK("multi_head_forward");
    kernels::launch_multi_sum_squares(resid_.data(), static_cast<long long>(B_) * hz, rows_.data(), hz,
                                      step_sq_.data(), validation ? val_sum_.data() : epoch_sum_.data(),
                                      active_.data(), N_, stream_);
    KERNEL_CHECK("multi_sum_squares(loss)");
    if (validation) return;
    backward();
    kernels::launch_multi_sum_squares(dtheta_.data(), P, nullptr, P, norm_sq_.data(), epoch_norm_.data(),
                                      active_.data(), N_, stream_);
    KERNEL_CHECK("multi_sum_squares(grad)");
    kernels::launch_multi_adam_prepare(hyper_.data(), norm_sq_.data(), state_.data(), active_.data(), N_,
                                       stream_);
    KERNEL_CHECK("multi_adam_prepare");
    kernels::launch_multi_adam_update(theta_.data(), dtheta_.data(), m_.data(), v_.data(), P_, P,
                                      hyper_.data(), state_.data(), active_.data(), N_, stream_);
    KERNEL_CHECK("multi_adam_update");
  }

  // An inference step: the validation pass's windows, forward and head without targets, and the
  // forecasts of the rows[m] windows copied to the model's place in the output.
  void enqueue_predict() {
    const int H = shape_.hidden, hz = shape_.horizon, L = shape_.layers;
    kernels::launch_multi_step_prepare(vrunning_.data(), nval_.data(), B_, cursor_.data(), start_.data(),
                                       rows_.data(), active_.data(), N_, stream_);
    KERNEL_CHECK("multi_step_prepare(predict)");
    kernels::launch_multi_gather(xs_.data(), nullptr, xs_offset_.data(), shape_.input, val_.data(),
                                 static_cast<long long>(std::max<std::size_t>(max_val_, 1)), start_.data(),
                                 rows_.data(), active_.data(), B_, T_, hz, xt_.data(), nullptr, N_, stream_);
    KERNEL_CHECK("multi_gather(predict)");
    forward(/*training=*/false);
    const float* h_top = hy_.data() + static_cast<std::size_t>(L - 1) * B_ * H;
    const long long h_batch = static_cast<long long>(L) * B_ * H;
    kernels::launch_multi_head_forward(h_top, h_batch, theta_.data(), static_cast<long long>(P_), layout_.head_W,
                                       layout_.head_b, B_, H, hz, rows_.data(), active_.data(), yhat_.data(),
                                       nullptr, nullptr, nullptr, N_, stream_);
    KERNEL_CHECK("multi_head_forward(predict)");
    kernels::launch_multi_store_rows(yhat_.data(), static_cast<long long>(B_) * hz, hz, start_.data(),
                                     rows_.data(), active_.data(), out_, out_offset_.data(), B_, N_, stream_);
    KERNEL_CHECK("multi_store_rows(predict)");
  }

  ModelShape shape_;
  ParamLayout layout_;
  int T_, B_, N_;
  cudaStream_t stream_;
  bool use_graphs_;
  bool inference_ = false;
  float* out_ = nullptr;  // predict(): the output of the call in progress (a captured step reads it)
  DeviceBuffer<long long> out_offset_;
  std::size_t P_ = 0, max_train_ = 0, max_val_ = 0, total_rows_ = 0;
  kernels::FusedLaunch plan_;
  kernels::MmaLaunch mma_;    // grid > 0: the tensor-core time loops (precision tf32 / bf16)
  std::size_t rt_words_ = 0;  // their staged R per model, in 32-bit words
  kernels::GemmMath gemm_math_ = kernels::GemmMath::FP32;
  DeviceBuffer<float> theta_, dtheta_, m_, v_, best_;
  DeviceBuffer<float> xt_, gx_, dgates_, dy_, rt_, hy_, cy_, dhy_;
  std::vector<DeviceBuffer<float>> y_, gates_, c_;
  DeviceBuffer<float> xs_, ys_, yb_, yhat_, dyhat_, resid_;
  DeviceBuffer<long long> xs_offset_;
  DeviceBuffer<int> order_, val_, ntrain_, nval_, cursor_, start_, rows_;
  DeviceBuffer<unsigned char> running_, vrunning_, active_, flag_;
  DeviceBuffer<kernels::AdamHyper> hyper_;
  DeviceBuffer<kernels::AdamStepState> state_;
  DeviceBuffer<double> step_sq_, norm_sq_, epoch_sum_, epoch_norm_, val_sum_;
  GraphExec graphs_[3];  // by Pass
  bool warmed_[3] = {false, false, false};
};

FusedMultiBatch::FusedMultiBatch(const ModelShape& shape, int window, int B,
                                 const kernels::FusedLimits& limits, std::vector<ModelJob*> jobs,
                                 cudaStream_t stream, bool graphs, Precision precision)
    : jobs_(std::move(jobs)) {
  if (jobs_.empty()) throw Error("fused multi-model batch: no models");
  impl_ = std::make_unique<Impl>(shape, window, B, limits, static_cast<int>(jobs_.size()),
                                 Impl::training_extent(jobs_), stream, graphs, precision);
}

FusedMultiBatch::~FusedMultiBatch() = default;

void FusedMultiBatch::train() {
  impl_->train(jobs_);
}
void FusedMultiBatch::load_for_steps() {
  impl_->load_for_steps(jobs_);
}
void FusedMultiBatch::step() {
  impl_->bench_step();
}

void train_fused_multi(const ModelShape& shape, int window, int B, const kernels::FusedLimits& limits,
                       const std::vector<ModelJob*>& jobs, cudaStream_t stream, bool graphs,
                       Precision precision) {
  if (jobs.empty()) return;
  FusedMultiBatch batch(shape, window, B, limits, jobs, stream, graphs, precision);
  batch.train();
}

void predict_fused_multi(const ModelShape& shape, int window, int B, const kernels::FusedLimits& limits,
                         const std::vector<const PredictJob*>& jobs, cudaStream_t stream, bool graphs,
                         Precision precision) {
  if (jobs.empty()) return;
  FusedMultiBatch::Impl::Extent e;
  e.inference = true;
  for (const PredictJob* j : jobs) {
    e.max_val = std::max(e.max_val, j->starts.size());
    e.total_rows += static_cast<std::size_t>(j->n);
  }
  FusedMultiBatch::Impl impl(shape, window, B, limits, static_cast<int>(jobs.size()), e, stream, graphs,
                             precision);
  impl.predict(jobs);
}

}  // namespace lstmad
