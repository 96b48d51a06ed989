// The device side of the multi-model fused path (multi_model_block.hpp): buffers of N models side by
// side and the launches of one step.
#include "lstm/fused/multi_model_block.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "core/gpu/check.hpp"
#include "core/log.hpp"
#include "kernels/lstm_fused_bwd.hpp"
#include "kernels/lstm_fused_cluster.hpp"
#include "kernels/lstm_fused_fwd.hpp"
#include "kernels/lstm_fused_mma.hpp"
#include "kernels/lstm_fused_split.hpp"
#include "kernels/lstm_multi_plan.hpp"
#include "kernels/lstm_wavefront.hpp"
#include "lstm/fused/cluster_capacity.hpp"
#include "lstm/fused/fused_switches.hpp"
#include "lstm/fused/wavefront_args.hpp"
#include "lstm/gpu/training_loop.hpp"

namespace lstmad {

using gpu::DeviceBuffer;
using gpu::GraphExec;
using kernels::StridedOperand;

MultiModelBlock::Extent MultiModelBlock::Extent::training(const std::vector<ModelJob*>& jobs) {
  Extent e;
  for (const ModelJob* j : jobs) {
    e.max_train = std::max<std::size_t>(e.max_train, j->data.train.size());
    e.max_val = std::max<std::size_t>(e.max_val, j->data.val.size());
    e.total_rows += static_cast<std::size_t>(j->data.n);
  }
  return e;
}

MultiModelBlock::Extent MultiModelBlock::Extent::prediction(const std::vector<const PredictJob*>& jobs) {
  Extent e;
  e.inference = true;
  for (const PredictJob* j : jobs) {
    e.max_val = std::max(e.max_val, j->starts.size());
    e.total_rows += static_cast<std::size_t>(j->n);
  }
  return e;
}

MultiModelBlock::MultiModelBlock(const ModelShape& shape, int window, int B,
                                 const kernels::FusedLimits& limits, int models, const Extent& extent,
                                 cudaStream_t stream, bool graphs, Precision precision)
    : shape_(shape),
      layout_(shape),
      T_(window),
      B_(B),
      N_(models),
      limits_(limits),
      precision_(precision),
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
    mma_ = kernels::plan_fused_mma(f, shape.hidden, B, limits, models, fused_mma_split());
    rt_words_ = static_cast<std::size_t>(kernels::mma::a_words(f, shape.hidden));
    gemm_math_ = precision == Precision::TF32 ? kernels::GemmMath::TF32 : kernels::GemmMath::BF16;
  } else if (precision != Precision::FP32) {
    throw UnsupportedError("the fused multi-model path runs fp32, tf32 and bf16, not " +
                           to_string(precision));
  } else if (fused_switch("LSTMAD_FUSED_SPLIT", false)) {
    // The split kernels (a candidate, docs/kernels.md "Version 4"), the SMs shared out as for plan_: their
    // per-(row, unit) sums do not depend on the rows per block, so a model in a batch keeps its bits.
    kernels::FusedLimits per = limits;
    per.sm_count = std::max(1, limits.sm_count / std::max(1, models));
    split_ = kernels::plan_fused_split(shape.hidden, B, per);
  } else if (!(plan_.r_smem_fwd && plan_.r_smem_bwd) && fused_switch("LSTMAD_FUSED_CLUSTER", true)) {
    plan_cluster(limits);
  }
  if (precision == Precision::FP32 && L == 2 && fused_switch("LSTMAD_FUSED_WAVEFRONT", true)) {
    // The wavefront in the layers' order: the layer-by-layer bits, so a choice of the autotuning (or pinned
    // by LSTMAD_FUSED_WAVEFRONT=1); the SMs shared out as for plan_, rows per block not changing the bits.
    kernels::FusedLimits per = limits;
    per.sm_count = std::max(1, limits.sm_count / std::max(1, models));
    wavefront_plan_ = kernels::plan_wavefront(shape.hidden, B, per, /*layers=*/true);
    if (fused_switch_set("LSTMAD_FUSED_WAVEFRONT")) wavefront_ = wavefront_plan_;
  }
  // Layer 0's input projection inside the forward time loops for a few inputs (FusedInput: no gx round
  // trip; at fp32 the GEMM's bits, on the tensor cores fp32 FMAs where the GEMM rounds its operands);
  // LSTMAD_FUSED_INPUT=0 keeps the GEMM.
  fused_input_ = fused_input_in_loop(shape.input);
  // The time loops' tiled products for blocks of many rows (kernels::fused_fwd_tiled, fused_bwd_tiled):
  // the same bits; LSTMAD_FUSED_TILED=0 keeps one unit per thread, to compare.
  tiled_ = fused_switch("LSTMAD_FUSED_TILED", true);
  // dR and a wide dW as kernels::multi_gemm_parts(N, K) parts of K where it splits them, so that a few
  // models fill the GPU; LSTMAD_FUSED_GEMM_PARTS=0 runs one chain over all of K, to compare (other bits).
  gemm_parts_ = fused_switch("LSTMAD_FUSED_GEMM_PARTS", true);
  max_train_ = extent.max_train;
  max_val_ = extent.max_val;
  total_rows_ = extent.total_rows;
  const bool train = !inference_;
  theta_.resize(N * P_);
  xt_.resize(N * TB * D);
  gx_.resize(fused_input_ && L == 1 ? 0 : N * TB * 4 * H);  // layer 0 may not need it
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
  CUDA_CHECK(kernels::prepare_wavefront_layers(wavefront_));
}

// Where R does not fit one block (H of about 120 and more): version 2's clusters, the SMs shared out among
// the models first as for plan_ (their per-(row, unit) chains are the one-block kernels', so a model keeps
// its bits whatever the rows per cluster). Where the device cannot place such a cluster, or refuses the
// question, a warning, and the one-block kernels read R from L2 as before (FusedLstm does the same).
void MultiModelBlock::plan_cluster(const kernels::FusedLimits& limits) {
  kernels::FusedLimits per = limits;
  per.sm_count = std::max(1, limits.sm_count / std::max(1, N_));
  const kernels::FusedLaunch pc = kernels::plan_fused_cluster(shape_.hidden, B_, per);
  if (pc.cluster > 1 &&
      clusters_fit(pc, "fused LSTM (multi-model)", shape_.str() + ", batch " + std::to_string(B_)))
    cluster_ = pc;
}

std::string MultiModelBlock::time_loops() const {
  if (mma_.grid > 0)
    return mma_.bwd_parts > 1 ? "tensor cores, backward in " + std::to_string(mma_.bwd_parts) + " parts of K"
                              : "tensor cores";
  if (wavefront_.grid > 0) return "wavefront";
  if (split_.grid > 0) return "split";
  if (cluster_.cluster > 1) return "cluster " + std::to_string(cluster_.cluster);
  return plan_.r_smem_fwd && plan_.r_smem_bwd ? "one-block" : "one-block, R from L2";
}

// Floats of the R workspace per model: R^T for the FMA kernels (and where the wavefront may run its three
// matrices transposed), staged fragments for the tensor cores.
std::size_t MultiModelBlock::rt_stride() const {
  if (mma_.grid > 0) return rt_words_;
  const std::size_t rt = kernels::fused_forward_workspace(shape_.hidden);
  if (wavefront_plan_.grid <= 0) return rt;
  return std::max(rt, static_cast<std::size_t>(kernels::wavefront::weight_floats(shape_.hidden)));
}

void MultiModelBlock::load(const std::vector<ModelJob*>& jobs) {
  const std::size_t N = jobs.size(), D = shape_.input;
  std::vector<int> ntrain(N), nval(N);
  std::vector<float> params(N * P_);
  std::vector<float> xs(total_rows_ * D), ys(total_rows_);
  std::vector<long long> offs(N);
  std::vector<int> val(N * std::max<std::size_t>(max_val_, 1), 0);
  std::vector<kernels::AdamHyper> hyper(N);
  long long at = 0;
  for (std::size_t m = 0; m < N; ++m) {
    ModelJob& j = *jobs[m];
    std::copy(j.params.begin(), j.params.end(), params.begin() + static_cast<long long>(m * P_));
    std::copy(j.data.x, j.data.x + static_cast<std::size_t>(j.data.n) * D,
              xs.begin() + at * static_cast<long long>(D));
    std::copy(j.data.y, j.data.y + j.data.n, ys.begin() + at);
    offs[m] = at;
    at += j.data.n;
    ntrain[m] = static_cast<int>(j.data.train.size());
    nval[m] = static_cast<int>(j.data.val.size());
    std::copy(j.data.val.begin(), j.data.val.end(), val.begin() + static_cast<long long>(m * max_val_));
    hyper[m] = gpu::adam_hyper(j.options);
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

void MultiModelBlock::load_for_steps(const std::vector<ModelJob*>& jobs) {
  load(jobs);
  const std::size_t N = jobs.size();
  std::vector<int> order_h(N * std::max<std::size_t>(max_train_, 1), 0);
  for (std::size_t m = 0; m < N; ++m)
    std::copy(jobs[m]->data.train.begin(), jobs[m]->data.train.end(),
              order_h.begin() + static_cast<long long>(m * max_train_));
  order_.upload(order_h.data(), order_h.size(), stream_);
  const std::vector<unsigned char> on(N, 1);
  running_.upload(on.data(), N, stream_);
}

void MultiModelBlock::bench_step() {
  cursor_.zero_async(stream_);
  run_step(Pass::Train);
}

std::vector<std::pair<std::string, double>> MultiModelBlock::bench_step_phases() {
  cursor_.zero_async(stream_);
  std::vector<std::pair<std::string, gpu::Event>> marks;
  marks.emplace_back("start", gpu::Event());
  marks.back().second.record(stream_);
  struct Reset {
    MultiModelBlock* b;
    ~Reset() { b->marks_ = nullptr; }
  } reset{this};
  marks_ = &marks;
  enqueue(Pass::Train);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  std::vector<std::pair<std::string, double>> out;
  for (std::size_t i = 1; i < marks.size(); ++i)
    out.emplace_back(marks[i].first, marks[i].second.elapsed_ms_since(marks[i - 1].second));
  return out;
}

void MultiModelBlock::mark(const char* phase, int layer) {
  if (marks_ == nullptr) return;
  std::string name(phase);
  if (layer >= 0) name += " (layer " + std::to_string(layer + 1) + ")";
  marks_->emplace_back(std::move(name), gpu::Event());
  marks_->back().second.record(stream_);
}
void MultiModelBlock::run_epoch(EpochHost& h, int steps, int vsteps) {
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

// A copy of theta into best (or back) for the models flagged, one launch for all of them.
void MultiModelBlock::copy_flagged(float* dst, const float* src, const std::vector<unsigned char>& flag,
                                   const char* what) {
  flag_.upload(flag.data(), flag.size(), stream_);
  kernels::launch_multi_copy(dst, src, P_, static_cast<long long>(P_), flag_.data(), N_, stream_);
  KERNEL_CHECK(what);
}

void MultiModelBlock::keep_best(const std::vector<unsigned char>& flag) {
  copy_flagged(best_.data(), theta_.data(), flag, "multi_copy(best)");
}

void MultiModelBlock::restore_best(const std::vector<unsigned char>& flag) {
  copy_flagged(theta_.data(), best_.data(), flag, "multi_copy(restore)");
}

void MultiModelBlock::download_params(std::vector<float>& params) {
  params.resize(static_cast<std::size_t>(N_) * P_);
  theta_.download(params.data(), params.size(), stream_);
}

void MultiModelBlock::predict(const std::vector<const PredictJob*>& jobs) {
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
  begin_autotune();  // the first steps time the forward's choices, if it has any
  for (int s = 0; s < steps; ++s) run_step(Pass::Predict);
  std::vector<float> host(static_cast<std::size_t>(out_at));
  if (out_at > 0) out.download(host.data(), host.size(), stream_);
  for (std::size_t m = 0; m < N; ++m)
    std::copy(host.begin() + out_offs[m], host.begin() + out_offs[m] + static_cast<long long>(count[m] * hz),
              jobs[m]->out);
}

// One step, eager or as a graph replay (captured on the second call, after an eager first one).
void MultiModelBlock::run_step(Pass pass) {
  if (tuner_.timing.active() && pass == (inference_ ? Pass::Predict : Pass::Train)) {
    tuned_step();  // eager, each step with the next choice in turn
    return;
  }
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

kernels::ModelStrides MultiModelBlock::fwd_strides() const {
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
  s.x = TB * shape_.input;  // layer 0's input, where the time loop projects it (fused_input_)
  s.rows = rows_.data();
  s.active = active_.data();
  return s;
}

// Layer l's input for all models: its base pointer, its width and its per-model stride.
StridedOperand MultiModelBlock::layer_input(int l) const {
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

void MultiModelBlock::forward(bool training) {
  if (wavefront_.grid > 0) {
    forward_wavefront(training);
    return;
  }
  const int H = shape_.hidden, H4 = 4 * H, TB = T_ * B_;
  const kernels::ModelStrides ms = fwd_strides();
  for (int l = 0; l < shape_.layers; ++l) {
    const LayerOffsets& o = layout_.layer[static_cast<std::size_t>(l)];
    const int Din = shape_.layer_input(l);
    kernels::FusedFwdArgs a;
    if (l == 0 && fused_input_) {
      a.input.x = xt_.data();
      a.input.W = theta_.data() + o.W;
      a.input.D = Din;
    } else {
      // gx (TB x 4H) = X (TB x Din) W^T
      StridedOperand w;
      w.p = theta_.data() + o.W;
      w.rs = 1;  // (k, n) = W[n][k]
      w.cs = Din;
      w.batch = static_cast<long long>(P_);
      kernels::launch_multi_gemm(TB, H4, Din, layer_input(l), w, gx_.data(), H4, ms.gx, N_, active_.data(),
                                 stream_, gemm_math_);
      KERNEL_CHECK("multi_gemm(gx)");
      mark("input GEMM", l);
      a.gx = gx_.data();
    }
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
    a.tiled = tiled_;
    if (mma_.grid > 0) {
      CUDA_CHECK(kernels::launch_lstm_mma_forward(mma_, a, rt_.data(), stream_));
    } else if (split_.grid > 0) {
      kernels::launch_lstm_fused_forward_split(split_, a, stream_);
    } else if (cluster_.cluster > 1) {
      CUDA_CHECK(kernels::launch_lstm_fused_forward_cluster(cluster_, a, stream_));
    } else {
      kernels::launch_lstm_fused_forward(plan_, a, rt_.data(), stream_);
    }
    KERNEL_CHECK("lstm_fused_forward(multi)");
    mark("forward time loop", l);
  }
}

void MultiModelBlock::backward() {
  const int H = shape_.hidden, L = shape_.layers;
  const long long P = static_cast<long long>(P_);
  const kernels::ModelStrides fs = fwd_strides();
  const float* h_top = hy_.data() + static_cast<std::size_t>(L - 1) * B_ * H;
  kernels::launch_multi_head_backward(
      h_top, fs.state, dyhat_.data(), theta_.data(), dtheta_.data(), P, layout_.head_W, layout_.head_b, B_, H,
      shape_.horizon, rows_.data(), active_.data(), dhy_.data(), static_cast<long long>(B_) * H, N_, stream_);
  KERNEL_CHECK("multi_head_backward");
  mark("head backward");
  if (wavefront_.grid > 0) {
    backward_wavefront();
    return;
  }
  for (int l = L - 1; l >= 0; --l) {
    const LayerOffsets& o = layout_.layer[static_cast<std::size_t>(l)];
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
    a.tiled = tiled_;
    if (mma_.grid > 0) {
      CUDA_CHECK(kernels::launch_lstm_mma_backward(mma_, a, rt_.data(), stream_));
    } else if (split_.grid > 0) {
      kernels::launch_lstm_fused_backward_split(split_, a, stream_);
    } else if (cluster_.cluster > 1) {
      CUDA_CHECK(kernels::launch_lstm_fused_backward_cluster(cluster_, a, stream_));
    } else {
      kernels::launch_lstm_fused_backward(plan_, a, stream_);
    }
    KERNEL_CHECK("lstm_fused_backward(multi)");
    mark("backward time loop", l);
    weight_gradients(l, dgates_.data(), gates_[static_cast<std::size_t>(l)].data(), l > 0);
  }
}

void MultiModelBlock::weight_gradients(int l, const float* dG, float* work, bool dx) {
  const int H = shape_.hidden, H4 = 4 * H, TB = T_ * B_;
  const long long P = static_cast<long long>(P_);
  const kernels::ModelStrides fs = fwd_strides();
  const LayerOffsets& o = layout_.layer[static_cast<std::size_t>(l)];
  const int Din = shape_.layer_input(l);
  // dG^T as the left operand: (n, i) = dG[i][n]
  StridedOperand dgt;
  dgt.p = dG;
  dgt.rs = 1;
  dgt.cs = H4;
  dgt.batch = static_cast<long long>(fs.gates);
  // dW (4H x Din) = dG^T X. With a few inputs (layer 0) the thin kernel, which also sums each row of
  // dG^T (dbW = dbR, the column sums of dG over all (t, b)), so dG is read once for both.
  const bool thin = Din <= kernels::kMultiThinCols;
  // dR and a wide dW, in parts of K where kernels::multi_gemm_parts splits them (LSTMAD_FUSED_GEMM_PARTS=0:
  // one chain over all of K). The parts' partial sums (at most 4H x TB floats, as the gates) go to `work`,
  // a layer's gates, which nothing reads once the backward time loops have run, until the next forward. With
  // sums, the GEMM also sums dG^T's rows (dbW = dbR) where it can, and says whether it did.
  const auto weight_gemm = [&](int N, const StridedOperand& X, float* C, bool sums) {
    if (!gemm_parts_) {
      kernels::launch_multi_gemm(H4, N, TB, dgt, X, C, N, P, N_, active_.data(), stream_, gemm_math_);
      return false;
    }
    return kernels::launch_multi_gemm_split(
        H4, N, TB, dgt, X, C, N, P, work, static_cast<long long>(fs.gates), N_, active_.data(), stream_,
        gemm_math_, sums ? dtheta_.data() + o.bW : nullptr, sums ? dtheta_.data() + o.bR : nullptr, P);
  };
  if (thin) {
    kernels::launch_multi_gemm_rowsum(H4, Din, TB, dgt, layer_input(l), dtheta_.data() + o.W, Din, P,
                                      dtheta_.data() + o.bW, dtheta_.data() + o.bR, P, N_, active_.data(),
                                      stream_);
    KERNEL_CHECK("multi_gemm_rowsum(dW, db)");
    mark("dW GEMM and bias sums", l);
  } else {
    weight_gemm(Din, layer_input(l), dtheta_.data() + o.W, false);
    KERNEL_CHECK("multi_gemm(dW)");
    mark("dW GEMM", l);
  }
  // dR (4H x H) = dG^T [h_0 .. h_{T-1}]
  StridedOperand hprev;
  hprev.p = y_[static_cast<std::size_t>(l)].data();
  hprev.rs = H;
  hprev.cs = 1;
  hprev.batch = static_cast<long long>(fs.y);
  // Above layer 0 the bias gradients come with dR where the split allows (launch_multi_colsum's bits either
  // way), so dG is read once for both.
  const bool summed = weight_gemm(H, hprev, dtheta_.data() + o.R, !thin);
  KERNEL_CHECK("multi_gemm(dR)");
  mark(summed ? "dR GEMM and bias sums" : "dR GEMM", l);
  if (!thin && !summed) {
    // dbW = dbR = the column sums of dG over all (t, b)
    kernels::launch_multi_colsum(dG, TB, H4, static_cast<long long>(fs.gates), dtheta_.data() + o.bW,
                                 dtheta_.data() + o.bR, P, N_, active_.data(), stream_);
    KERNEL_CHECK("multi_colsum(db)");
    mark("bias sums", l);
  }
  if (dx) {
    // dX (TB x H) = dG W: the layer below's dy
    StridedOperand dg;
    dg.p = dG;
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
    mark("dX GEMM", l);
  }
}

// Both layers' forward time loops as one wavefront (lstm_wavefront.hpp, the layers' order): layer 0's input
// projected in the loop (fused_input_) or by the GEMM into gx_, layer 1's inside the wavefront.
void MultiModelBlock::forward_wavefront(bool training) {
  const int H = shape_.hidden, H4 = 4 * H, TB = T_ * B_;
  const kernels::ModelStrides ms = fwd_strides();
  kernels::WavefrontFwdArgs a =
      wavefront_forward_args(theta_.data(), layout_, T_, y_, gates_, c_, training, hy_.data(), cy_.data());
  kernels::wavefront::FwdGlobal& g = a.g;
  if (fused_input_) {
    g.x = xt_.data();
    g.W1 = theta_.data() + layout_.layer[0].W;
    g.D = shape_.input;
  } else {
    StridedOperand w;
    w.p = theta_.data() + layout_.layer[0].W;
    w.rs = 1;
    w.cs = shape_.input;
    w.batch = static_cast<long long>(P_);
    kernels::launch_multi_gemm(TB, H4, shape_.input, layer_input(0), w, gx_.data(), H4, ms.gx, N_,
                               active_.data(), stream_, gemm_math_);
    KERNEL_CHECK("multi_gemm(gx)");
    mark("input GEMM", 0);
    g.gx1 = gx_.data();
  }
  kernels::launch_wavefront_forward_layers(wavefront_, a, rt_.data(), ms, stream_);
  KERNEL_CHECK("wavefront_forward(multi)");
  mark("forward wavefront");
}

// Both layers' backward time loops as one wavefront, layer 2's dX inside it. Layer 2's gate gradients
// overwrite its gates (each thread reads a cell's gates before it writes that cell's gradients), so no
// buffer is added; their rows past rows[m], which the wavefront leaves alone, are zeroed first, as
// enqueue() zeroes dgates_'s. Then each layer's weight gradients, the parts of K in layer 1's gates.
void MultiModelBlock::backward_wavefront() {
  const int H = shape_.hidden;
  kernels::launch_multi_zero_rows(gates_[1].data(), T_, B_, 4 * H, rows_.data(), active_.data(), N_, stream_);
  KERNEL_CHECK("multi_zero_rows(layer 2)");
  const kernels::WavefrontBwdArgs a = wavefront_backward_args(theta_.data(), layout_, T_, gates_, c_,
                                                              dhy_.data(), dgates_.data(), gates_[1].data());
  kernels::ModelStrides ms = fwd_strides();
  ms.state = static_cast<std::size_t>(B_) * H;  // dhy: one layer per model
  kernels::launch_wavefront_backward_layers(wavefront_, a, ms, stream_);
  KERNEL_CHECK("wavefront_backward(multi)");
  mark("backward wavefront");
  weight_gradients(1, gates_[1].data(), gates_[0].data(), false);
  weight_gradients(0, dgates_.data(), gates_[0].data(), false);
}

// Everything one step launches (kernels/lstm_multi.hpp's list).
void MultiModelBlock::enqueue(Pass pass) {
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
    kernels::launch_multi_zero_rows(dgates_.data(), T_, B_, 4 * H, rows_.data(), active_.data(), N_, stream_);
    KERNEL_CHECK("multi_zero_rows");
  }
  mark("prepare and gather");
  forward(!validation);
  const float* h_top = hy_.data() + static_cast<std::size_t>(L - 1) * B_ * H;
  const long long h_batch = static_cast<long long>(L) * B_ * H;
  kernels::launch_multi_head_forward(h_top, h_batch, theta_.data(), P, layout_.head_W, layout_.head_b, B_, H,
                                     hz, rows_.data(), active_.data(), yhat_.data(), yb_.data(),
                                     validation ? nullptr : dyhat_.data(), resid_.data(), N_, stream_);
  KERNEL_CHECK("multi_head_forward");
  kernels::launch_multi_sum_squares(resid_.data(), static_cast<long long>(B_) * hz, rows_.data(), hz,
                                    step_sq_.data(), validation ? val_sum_.data() : epoch_sum_.data(),
                                    active_.data(), N_, stream_);
  KERNEL_CHECK("multi_sum_squares(loss)");
  mark("head and loss");
  if (validation) return;
  backward();
  kernels::launch_multi_sum_squares(dtheta_.data(), P, nullptr, P, norm_sq_.data(), epoch_norm_.data(),
                                    active_.data(), N_, stream_);
  KERNEL_CHECK("multi_sum_squares(grad)");
  kernels::launch_multi_adam_prepare(hyper_.data(), norm_sq_.data(), state_.data(), active_.data(), N_,
                                     stream_);
  KERNEL_CHECK("multi_adam_prepare");
  kernels::launch_multi_adam_update(theta_.data(), dtheta_.data(), m_.data(), v_.data(), P_, P, hyper_.data(),
                                    state_.data(), active_.data(), N_, stream_);
  KERNEL_CHECK("multi_adam_update");
  mark("norm and Adam");
}

// An inference step: the validation pass's windows, forward and head without targets, and the
// forecasts of the rows[m] windows copied to the model's place in the output.
void MultiModelBlock::enqueue_predict() {
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
  kernels::launch_multi_head_forward(h_top, h_batch, theta_.data(), static_cast<long long>(P_),
                                     layout_.head_W, layout_.head_b, B_, H, hz, rows_.data(), active_.data(),
                                     yhat_.data(), nullptr, nullptr, nullptr, N_, stream_);
  KERNEL_CHECK("multi_head_forward(predict)");
  kernels::launch_multi_store_rows(yhat_.data(), static_cast<long long>(B_) * hz, hz, start_.data(),
                                   rows_.data(), active_.data(), out_, out_offset_.data(), B_, N_, stream_);
  KERNEL_CHECK("multi_store_rows(predict)");
}

}  // namespace lstmad
