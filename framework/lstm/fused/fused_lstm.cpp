// The fused LSTM block; see fused_lstm.hpp. GEMMs are column-major cuBLAS calls on row-major data: a
// row-major r x c matrix is a column-major c x r one, so every call below reads as the transpose of the
// formula in its comment.
#include "lstm/fused/fused_lstm.hpp"

#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "core/gpu/check.hpp"
#include "core/gpu/cublas_library.hpp"
#include "kernels/head.hpp"
#include "kernels/lstm_fused_bwd.hpp"
#include "kernels/lstm_fused_cluster.hpp"
#include "kernels/lstm_fused_fwd.hpp"
#include "kernels/lstm_fused_mma.hpp"
#include "kernels/lstm_fused_split.hpp"
#include "kernels/lstm_wavefront.hpp"
#include "lstm/fused/cluster_capacity.hpp"
#include "lstm/fused/fused_switches.hpp"
#include "lstm/fused/wavefront_args.hpp"

namespace lstmad {

namespace {

// fp32 data throughout; `tensor_cores` selects the compute type: strict fp32 (cublasSgemm in pedantic math)
// or cuBLAS's TF32 / BF16 tensor-core compute with fp32 accumulation (CUBLAS_COMPUTE_32F_FAST_*), which
// rounds the operands as the time-loop kernels do.
void gemm(cublasHandle_t h, Precision p, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
          const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  const float one = 1.f, zero = 0.f;
  if (p == Precision::FP32) {
    CUBLAS_CHECK(gpu::cublas().cublasSgemm_v2(h, ta, tb, m, n, k, &one, A, lda, B, ldb, &zero, C, ldc));
    return;
  }
  const cublasComputeType_t compute =
      p == Precision::TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F_FAST_16BF;
  CUBLAS_CHECK(gpu::cublas().cublasGemmEx(h, ta, tb, m, n, k, &one, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb,
                                          &zero, C, CUDA_R_32F, ldc, compute, CUBLAS_GEMM_DEFAULT));
}

bool tensor_cores(Precision p) {
  return p == Precision::TF32 || p == Precision::BF16;
}

kernels::mma::Format mma_format(Precision p) {
  return p == Precision::BF16 ? kernels::mma::Format::BF16 : kernels::mma::Format::TF32;
}

}  // namespace

kernels::FusedLimits fused_device_limits(int device) {
  kernels::FusedLimits lim;
  CUDA_CHECK(cudaDeviceGetAttribute(&lim.sm_count, cudaDevAttrMultiProcessorCount, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&lim.smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&lim.max_threads, cudaDevAttrMaxThreadsPerBlock, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&lim.cluster_launch, cudaDevAttrClusterLaunch, device));
  return lim;
}

std::string fused_unsupported_reason(const ModelShape& shape, int window, int batch, Precision precision,
                                     const kernels::FusedLimits& limits) {
  if (precision == Precision::FP64)
    return "engine \"fused\" runs fp32, tf32 and bf16, not fp64; engine \"cpu\" runs fp64";
  if (window < 1) return "engine \"fused\" needs a window of at least 1 step";
  if (tensor_cores(precision))
    return kernels::mma_unsupported_reason(mma_format(precision), shape.hidden, batch, limits);
  return kernels::fused_unsupported_reason(shape.hidden, batch, limits);
}

FusedLstm::FusedLstm(cublasHandle_t cublas, cudaStream_t stream, const ModelShape& shape, int window,
                     int max_batch, Precision precision, const kernels::FusedLimits& limits)
    : cublas_(cublas),
      stream_(stream),
      shape_(shape),
      T_(window),
      max_batch_(max_batch),
      precision_(precision),
      limits_(limits),
      layout_(shape) {
  // Both on by default since the H200 run of 2026-12-04 (docs/gpu-results.md): each matched the fp64 CPU
  // engine there and was faster than the path it replaces at every benchmarked shape. "0" turns one off.
  cluster_enabled_ = fused_switch("LSTMAD_FUSED_CLUSTER", true);
  wavefront_enabled_ = fused_switch("LSTMAD_FUSED_WAVEFRONT", true);
  split_enabled_ = fused_switch("LSTMAD_FUSED_SPLIT", false);  // a candidate: off unless asked for
  wavefront_split_ = fused_switch("LSTMAD_FUSED_WAVEFRONT_SPLIT", false);  // likewise
  mma_split_ = fused_mma_split();
  // As on the multi-model path: the one-block, cluster, split and tensor-core forward loops project layer
  // 0's few inputs themselves (one launch and gx's round trip less per step; LSTMAD_FUSED_INPUT=0 keeps the
  // GEMM).
  input_in_loop_ = fused_input_in_loop(shape.input);
  shape_.validate();
  if (max_batch < 1) throw Error("fused LSTM needs batch >= 1");
  const std::string why = fused_unsupported_reason(shape, window, max_batch, precision, limits);
  if (!why.empty()) throw UnsupportedError(why + " (" + shape.str() + ", T=" + std::to_string(window) + ")");
  // Pedantic fp32: cuBLAS never substitutes TF32 (not even under NVIDIA_TF32_OVERRIDE). The tensor-core
  // precisions name their compute type in every GEMM call instead.
  CUBLAS_CHECK(gpu::cublas().cublasSetMathMode(
      cublas_, tensor_cores(precision) ? CUBLAS_DEFAULT_MATH : CUBLAS_PEDANTIC_MATH));
  const std::size_t H = shape.hidden, D = shape.input, T = window, B = max_batch, L = shape.layers;
  theta_.resize(layout_.total);
  dtheta_.resize(layout_.total);
  xt_.resize(T * B * D);
  gx_.resize(T * B * 4 * H);
  dgates_.resize(T * B * 4 * H);
  dy_.resize(T * B * H);
  dxt_.resize(T * B * D);
  const bool two_layer_fp32 = L == 2 && precision == Precision::FP32;  // the wavefront may run
  if (tensor_cores(precision))
    rt_.resize(kernels::mma_r_bytes(mma_format(precision), shape.hidden) / sizeof(float));  // staged R
  else if (two_layer_fp32)
    rt_.resize(3 * kernels::fused_forward_workspace(shape.hidden));  // R1, W2, R2 transposed
  else
    rt_.resize(kernels::fused_forward_workspace(shape.hidden));
  if (two_layer_fp32 && wavefront_enabled_ && wavefront_fits()) dgates2_.resize(T * B * 4 * H);
  hy_.resize(L * B * H);
  cy_.resize(L * B * H);
  dhy_.resize(B * H);
  y_.resize(L);
  gates_.resize(L);
  c_.resize(L);
  for (std::size_t l = 0; l < L; ++l) {
    y_[l].resize((T + 1) * B * H);
    gates_[l].resize(T * B * 4 * H);
    c_[l].resize(T * B * H);
  }
  const std::vector<float> ones(T * B, 1.f);
  ones_.resize(ones.size());
  ones_.upload(ones.data(), ones.size(), stream_);
  theta_.zero_async(stream_);
  dtheta_.zero_async(stream_);
  prepare(max_batch);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void FusedLstm::check_batch(int batch) const {
  if (batch < 1 || batch > max_batch_)
    throw Error("fused LSTM batch " + std::to_string(batch) + " outside [1, " + std::to_string(max_batch_) +
                "]");
}

void FusedLstm::prepare(int batch) {
  check_batch(batch);
  if (tensor_cores(precision_)) {
    CUDA_CHECK(kernels::prepare_lstm_mma(mma_plan(batch)));
    return;
  }
  CUDA_CHECK(kernels::prepare_wavefront(wavefront_plan(batch)));
  if (wavefront_plan(batch).grid > 0)  // either choice of the autotuning may run
    CUDA_CHECK(
        kernels::prepare_wavefront_split(kernels::plan_wavefront_split(shape_.hidden, batch, limits_)));
  const kernels::FusedLaunch p = plan(batch);
  CUDA_CHECK(kernels::prepare_lstm_fused_forward(p));
  CUDA_CHECK(kernels::prepare_lstm_fused_backward(p));
  // Where the device cannot place the plan's clusters, the one-block kernels (clusters_fit says why).
  const kernels::FusedLaunch pc = cluster_plan(batch);
  if (pc.cluster > 1 && !clusters_fit(pc, "fused LSTM", shape_.str() + ", batch " + std::to_string(batch)))
    cluster_refused_ = true;
}

kernels::MmaLaunch FusedLstm::mma_plan(int batch) const {
  if (!tensor_cores(precision_)) return kernels::MmaLaunch{};
  return kernels::plan_fused_mma(mma_format(precision_), shape_.hidden, batch, limits_, 1, mma_split_);
}

// Layer 2's gate-gradient buffer is held only where the wavefront can run at max_batch (H <= 68 on the
// H200): at H = 256 it would be T B 4H floats (256 MB at T = B = 256) that nothing reads.
bool FusedLstm::wavefront_fits() const {
  return shape_.layers == 2 && precision_ == Precision::FP32 &&
         kernels::plan_wavefront(shape_.hidden, max_batch_, limits_).grid > 0;
}

void FusedLstm::enable_wavefront(bool on) {
  wavefront_enabled_ = on;
  if (on && wavefront_fits() && dgates2_.size() == 0)
    dgates2_.resize(static_cast<std::size_t>(T_) * max_batch_ * 4 *
                    shape_.hidden);  // layer 2's gate gradients
  prepare(max_batch_);
}

kernels::WavefrontLaunch FusedLstm::wavefront_plan(int batch) const {
  if (!wavefront_enabled_ || !wavefront_fits()) return kernels::WavefrontLaunch{};
  return kernels::plan_wavefront(shape_.hidden, batch, limits_);
}

std::string FusedLstm::path(int batch) const {
  if (mma_plan(batch).grid > 0) return "tensor-cores";
  if (wavefront_plan(batch).grid > 0)
    return wavefront_split_plan(batch).grid > 0 ? "wavefront-split" : "wavefront";
  const kernels::FusedLaunch c = cluster_plan(batch);
  if (c.cluster > 1) return "cluster" + std::to_string(c.cluster);
  if (split_plan(batch).grid > 0) return "split";
  return plan(batch).r_smem_fwd ? "one-block" : "one-block-L2";
}

kernels::WavefrontLaunch FusedLstm::wavefront_split_plan(int batch) const {
  if (!wavefront_split_ || wavefront_plan(batch).grid == 0) return kernels::WavefrontLaunch{};
  return kernels::plan_wavefront_split(shape_.hidden, batch, limits_);
}

kernels::SplitLaunch FusedLstm::split_plan(int batch) const {
  if (!split_enabled_ || precision_ != Precision::FP32) return kernels::SplitLaunch{};
  return kernels::plan_fused_split(shape_.hidden, batch, limits_);
}

kernels::FusedLaunch FusedLstm::cluster_plan(int batch) const {
  if (!cluster_enabled_ || cluster_refused_ || tensor_cores(precision_) || plan(batch).r_smem_fwd)
    return kernels::FusedLaunch{};
  return kernels::plan_fused_cluster(shape_.hidden, batch, limits_);
}

void FusedLstm::upload_params(const float* canonical) {
  theta_.upload(canonical, layout_.total, stream_);
}
void FusedLstm::download_params(float* canonical) {
  theta_.download(canonical, layout_.total, stream_);
}
void FusedLstm::download_grad(float* canonical) {
  dtheta_.download(canonical, layout_.total, stream_);
}

// Layer l's input, time-major T x batch x D_l: the transposed x for layer 0, h_1..h_T of layer l-1 above.
const float* FusedLstm::layer_input(int l, int batch) const {
  if (l == 0) return xt_.data();
  return y_[static_cast<std::size_t>(l - 1)].data() + static_cast<std::size_t>(batch) * shape_.hidden;
}

void FusedLstm::forward(const float* theta, const float* x, int batch, bool training) {
  check_batch(batch);
  open_tuned_step(batch, training);  // before the plans below: the step may run another choice
  const int H = shape_.hidden, H4 = 4 * H, Tb = T_ * batch;
  const kernels::FusedLaunch p = plan(batch);
  const kernels::FusedLaunch pc = cluster_plan(batch);
  const kernels::SplitLaunch ps = split_plan(batch);
  const kernels::MmaLaunch pm = mma_plan(batch);
  kernels::launch_permute_021(x, batch, T_, shape_.input, xt_.data(), stream_);
  KERNEL_CHECK("permute_021(x)");
  mark("x to time-major");
  const kernels::WavefrontLaunch pw = wavefront_plan(batch);
  if (pw.grid > 0) {  // both layers in one kernel; only layer 1's input projection is a GEMM
    const LayerOffsets& o1 = layout_.layer[0];
    gemm(cublas_, precision_, CUBLAS_OP_T, CUBLAS_OP_N, H4, Tb, shape_.input, theta + o1.W, shape_.input,
         xt_.data(), shape_.input, gx_.data(), H4);
    mark("input GEMM", 0);
    kernels::WavefrontFwdArgs a =
        wavefront_forward_args(theta, layout_, T_, y_, gates_, c_, training, hy_.data(), cy_.data());
    a.g.gx1 = gx_.data();
    const kernels::WavefrontLaunch pws = wavefront_split_plan(batch);
    if (pws.grid > 0)
      kernels::launch_wavefront_forward_split(pws, a, stream_);
    else
      kernels::launch_wavefront_forward(pw, a, rt_.data(), stream_);
    KERNEL_CHECK("wavefront_forward");
    mark("wavefront forward");
    return;
  }
  for (int l = 0; l < shape_.layers; ++l) {
    const LayerOffsets& o = layout_.layer[static_cast<std::size_t>(l)];
    const int Din = shape_.layer_input(l);
    kernels::FusedFwdArgs a;
    if (l == 0 && input_in_loop_) {  // every forward loop but the wavefront's (above) projects it
      a.input.x = xt_.data();
      a.input.W = theta + o.W;
      a.input.D = Din;
    } else {
      // gx (Tb x 4H) = X (Tb x Din) W^T
      gemm(cublas_, precision_, CUBLAS_OP_T, CUBLAS_OP_N, H4, Tb, Din, theta + o.W, Din,
           layer_input(l, batch), Din, gx_.data(), H4);
      a.gx = gx_.data();
      mark("input GEMM", l);
    }
    a.R = theta + o.R;
    a.bW = theta + o.bW;
    a.bR = theta + o.bR;
    a.T = T_;
    a.y = y_[static_cast<std::size_t>(l)].data();
    a.gates = training ? gates_[static_cast<std::size_t>(l)].data() : nullptr;
    a.c = training ? c_[static_cast<std::size_t>(l)].data() : nullptr;
    a.hy = hy_.data() + static_cast<std::size_t>(l) * batch * H;
    a.cy = cy_.data() + static_cast<std::size_t>(l) * batch * H;
    if (pm.grid > 0) {
      CUDA_CHECK(kernels::launch_lstm_mma_forward(pm, a, rt_.data(), stream_));
    } else if (pc.cluster > 1) {
      CUDA_CHECK(kernels::launch_lstm_fused_forward_cluster(pc, a, stream_));
    } else if (ps.grid > 0) {
      kernels::launch_lstm_fused_forward_split(ps, a, stream_);
    } else {
      kernels::launch_lstm_fused_forward(p, a, rt_.data(), stream_);
    }
    KERNEL_CHECK("lstm_fused_forward");
    mark("forward time loop", l);
  }
}

void FusedLstm::head(const float* theta, int batch, float* yhat, const float* y, float* dyhat, float* resid) {
  const int H = shape_.hidden, hz = shape_.horizon;
  const float* h_top = hy_.data() + static_cast<std::size_t>(shape_.layers - 1) * batch * H;
  const float* Wh = theta + layout_.head_W;
  kernels::launch_head_forward(h_top, batch, H, hz, Wh, theta + layout_.head_b, yhat, y, dyhat, resid,
                               stream_);
  KERNEL_CHECK("head_forward");
  mark("head and MSE");
}

void FusedLstm::backward(const float* theta, const float* x, int batch, const float* dyhat, float* dtheta,
                         float* dx) {
  (void)x;  // forward() kept its time-major copy
  check_batch(batch);
  backward_pass(theta, batch, dyhat, dtheta, dx);
  close_tuned_step(batch);
}

void FusedLstm::backward_pass(const float* theta, int batch, const float* dyhat, float* dtheta, float* dx) {
  const int H = shape_.hidden, H4 = 4 * H, Tb = T_ * batch, L = shape_.layers;
  const kernels::FusedLaunch p = plan(batch);
  const kernels::FusedLaunch pc = cluster_plan(batch);
  const kernels::SplitLaunch ps = split_plan(batch);
  const kernels::MmaLaunch pm = mma_plan(batch);
  const float* h_top = hy_.data() + static_cast<std::size_t>(L - 1) * batch * H;
  kernels::launch_head_backward(h_top, dyhat, batch, H, shape_.horizon, theta + layout_.head_W,
                                dtheta + layout_.head_W, dtheta + layout_.head_b, dhy_.data(), stream_);
  KERNEL_CHECK("head_backward");
  mark("head backward");
  const kernels::WavefrontLaunch pw = wavefront_plan(batch);
  if (pw.grid > 0) {  // both layers' gate gradients in one kernel, layer 2's dx inside it
    const kernels::WavefrontBwdArgs a =
        wavefront_backward_args(theta, layout_, T_, gates_, c_, dhy_.data(), dgates_.data(), dgates2_.data());
    const kernels::WavefrontLaunch pws = wavefront_split_plan(batch);
    if (pws.grid > 0)
      kernels::launch_wavefront_backward_split(pws, a, stream_);
    else
      kernels::launch_wavefront_backward(pw, a, stream_);
    KERNEL_CHECK("wavefront_backward");
    mark("wavefront backward");
    weight_grads(1, dgates2_.data(), batch, dtheta);
    weight_grads(0, dgates_.data(), batch, dtheta);
    if (dx != nullptr) input_grad(dgates_.data(), theta, batch, dx);
    return;
  }
  for (int l = L - 1; l >= 0; --l) {
    const LayerOffsets& o = layout_.layer[static_cast<std::size_t>(l)];
    kernels::FusedBwdArgs a;
    a.R = theta + o.R;
    a.gates = gates_[static_cast<std::size_t>(l)].data();
    a.c = c_[static_cast<std::size_t>(l)].data();
    a.dy = l == L - 1 ? nullptr : dy_.data();    // the layer above's dx
    a.dhy = l == L - 1 ? dhy_.data() : nullptr;  // a lower layer's h_T reaches the loss through dy
    a.T = T_;
    a.dgates = dgates_.data();
    if (pm.grid > 0) {
      CUDA_CHECK(kernels::launch_lstm_mma_backward(pm, a, rt_.data(), stream_));
    } else if (pc.cluster > 1) {
      CUDA_CHECK(kernels::launch_lstm_fused_backward_cluster(pc, a, stream_));
    } else if (ps.grid > 0) {
      kernels::launch_lstm_fused_backward_split(ps, a, stream_);
    } else {
      kernels::launch_lstm_fused_backward(p, a, stream_);
    }
    KERNEL_CHECK("lstm_fused_backward");
    mark("backward time loop", l);
    const float* dG = dgates_.data();
    weight_grads(l, dG, batch, dtheta);
    // dX (Tb x Din) = dG W: the layer below's dy, or dx for layer 0
    if (l > 0) {
      gemm(cublas_, precision_, CUBLAS_OP_N, CUBLAS_OP_N, H, Tb, H4, theta + o.W, H, dG, H4, dy_.data(), H);
      mark("dX GEMM", l);
    } else if (dx != nullptr) {
      input_grad(dG, theta, batch, dx);
    }
  }
}

// Layer l's dW, dR and biases from its gate gradients dG (Tb x 4H), as GEMMs over all steps.
void FusedLstm::weight_grads(int l, const float* dG, int batch, float* dtheta) {
  const LayerOffsets& o = layout_.layer[static_cast<std::size_t>(l)];
  const int H = shape_.hidden, H4 = 4 * H, Tb = T_ * batch, Din = shape_.layer_input(l);
  // dW (4H x Din) = dG^T X
  gemm(cublas_, precision_, CUBLAS_OP_N, CUBLAS_OP_T, Din, H4, Tb, layer_input(l, batch), Din, dG, H4,
       dtheta + o.W, Din);
  mark("dW GEMM", l);
  // dR (4H x H) = dG^T [h_0 .. h_{T-1}]
  gemm(cublas_, precision_, CUBLAS_OP_N, CUBLAS_OP_T, H, H4, Tb, y_[static_cast<std::size_t>(l)].data(), H,
       dG, H4, dtheta + o.R, H);
  mark("dR GEMM", l);
  // dbW = dbR = the sum of dG over all (t, b), a fixed-order GEMV against ones
  const float one = 1.f, zero = 0.f;
  CUBLAS_CHECK(gpu::cublas().cublasSgemv_v2(cublas_, CUBLAS_OP_N, H4, Tb, &one, dG, H4, ones_.data(), 1,
                                            &zero, dtheta + o.bW, 1));
  CUDA_CHECK(cudaMemcpyAsync(dtheta + o.bR, dtheta + o.bW, static_cast<std::size_t>(H4) * sizeof(float),
                             cudaMemcpyDeviceToDevice, stream_));
  mark("bias sums", l);
}

// dx (batch x T x D) = dG W of layer 0, transposed back to batch-major.
void FusedLstm::input_grad(const float* dG, const float* theta, int batch, float* dx) {
  const int H4 = 4 * shape_.hidden, Tb = T_ * batch, D = shape_.input;
  gemm(cublas_, precision_, CUBLAS_OP_N, CUBLAS_OP_N, D, Tb, H4, theta + layout_.layer[0].W, D, dG, H4,
       dxt_.data(), D);
  kernels::launch_permute_021(dxt_.data(), T_, batch, D, dx, stream_);
  KERNEL_CHECK("permute_021(dx)");
  mark("dx", 0);
}

// An event after a phase, where set_phase_marks asked for them (never in a graph capture: the benchmark
// that asks runs its steps eagerly).
void FusedLstm::mark(const char* phase, int layer) {
  if (marks_ == nullptr) return;
  std::string name(phase);
  if (layer >= 0) name += " (layer " + std::to_string(layer + 1) + ")";
  marks_->emplace_back(std::move(name), gpu::Event());
  marks_->back().second.record(stream_);
}

}  // namespace lstmad
