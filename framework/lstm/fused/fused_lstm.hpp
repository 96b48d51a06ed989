// One LSTM stack + linear head on the fused kernels (kernels/lstm_fused_*) for a fixed shape, window T
// and maximum batch: the building block of the "fused" engine, also used directly by tests and benchmarks.
//
// Parameters live on the device in one flat fp32 vector `theta` in the canonical layout of lstm/shape.hpp
// (no remapping: the kernels read W, R, bW, bR, Wh, bh where the canonical layout puts them), so Adam,
// the gradient norm and clipping each run as one launch over theta/dtheta.
//
// Per layer, forward is one cuBLAS GEMM (x W^T for all T steps; at layer 0 with at most 4 inputs the
// time loop projects x itself, kernels::FusedInput) and one persistent time-loop kernel (one block per
// group of batch rows; for H whose R does not fit one block's shared memory, R is read from L2, or a
// thread-block cluster splits R over 2-8 blocks where the device can place one: docs/kernels.md);
// backward is one persistent reverse time-loop kernel, then cuBLAS GEMMs over all steps for dW, dR, dx
// and a GEMV for the biases. Inside, activations are time-major (T x B x .); x comes in batch-major
// (B x T x D, as the window gather writes it) and is transposed once. At precision fp32 cuBLAS runs in
// pedantic fp32 math (never TF32); at tf32 and bf16 the time loops are the tensor-core kernels
// (kernels/lstm_fused_mma.hpp) and the GEMMs use cuBLAS's matching tensor-core compute type. Every kernel
// sums in a fixed order: a rerun gives bit-identical results.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>
#include <utility>
#include <vector>

#include "core/gpu/device_buffer.hpp"
#include "core/gpu/resources.hpp"
#include "kernels/lstm_fused_plan.hpp"
#include "kernels/lstm_fused_split_plan.hpp"
#include "kernels/lstm_mma_plan.hpp"
#include "kernels/lstm_wavefront.hpp"
#include "lstm/engine.hpp"
#include "lstm/fused/choice_timing.hpp"
#include "lstm/shape.hpp"

namespace lstmad {

// The limits the launch plan depends on, read from device `device` (cudaDeviceGetAttribute).
kernels::FusedLimits fused_device_limits(int device);

// Empty when the fused path can run this shape, window and batch at this precision on a device with
// these limits; otherwise why not and which engine can.
std::string fused_unsupported_reason(const ModelShape& shape, int window, int batch, Precision precision,
                                     const kernels::FusedLimits& limits);

class FusedLstm {
 public:
  // Uses `cublas` on `stream` (the caller has set the handle's stream). Throws UnsupportedError (naming
  // another engine) for a shape or precision the kernels cannot run.
  FusedLstm(cublasHandle_t cublas, cudaStream_t stream, const ModelShape& shape, int window, int max_batch,
            Precision precision, const kernels::FusedLimits& limits);
  FusedLstm(const FusedLstm&) = delete;
  FusedLstm& operator=(const FusedLstm&) = delete;

  const ModelShape& shape() const { return shape_; }
  int window() const { return T_; }
  int max_batch() const { return max_batch_; }
  cudaStream_t stream() const { return stream_; }
  // The launch plan for `batch` rows (for benchmarks and docs).
  kernels::FusedLaunch plan(int batch) const { return kernels::plan_fused(shape_.hidden, batch, limits_); }
  // The thread-block cluster kernels (kernels/lstm_fused_cluster.hpp) for H whose R does not fit one
  // block: on by default (LSTMAD_FUSED_CLUSTER=0 turns them off; docs/kernels.md has their H200 times).
  // Both switches set the kernels' shared memory limits for max_batch at once (outside graph capture).
  // Where the device cannot place such a cluster (cudaOccupancyMaxActiveClusters says 0: a MIG slice, say)
  // prepare() logs a warning and the one-block kernels run, with R read from L2.
  void enable_cluster(bool on) {
    cluster_enabled_ = on;
    cluster_refused_ = false;
    prepare(max_batch_);
  }
  // The cluster plan in use for `batch` rows; cluster == 0 when the one-block kernels run.
  kernels::FusedLaunch cluster_plan(int batch) const;
  // The two-layer wavefront (kernels/lstm_wavefront.hpp): layer 2 a step behind layer 1 in one kernel per
  // direction, for L = 2 at fp32 where R1, W2 and R2 fit one block (H <= 68 on the H200). On by default
  // (LSTMAD_FUSED_WAVEFRONT=0 turns it off). Turn it on before the first step (it allocates layer 2's
  // gate-gradient buffer). grid == 0 when not used.
  void enable_wavefront(bool on);
  kernels::WavefrontLaunch wavefront_plan(int batch) const;
  // The wavefront with four threads per unit (kernels::plan_wavefront_split, H = 16, 32, 64), with the
  // wavefront's bits, where the wavefront runs. Off by default (LSTMAD_FUSED_WAVEFRONT_SPLIT=1 turns it
  // on); begin_autotune times it against the wavefront. grid == 0 when not used.
  void enable_wavefront_split(bool on) { wavefront_split_ = on; }
  kernels::WavefrontLaunch wavefront_split_plan(int batch) const;
  // The split kernels (kernels/lstm_fused_split.hpp): four threads per hidden unit with R in registers,
  // for H in {16, 32, 64} at fp32, in place of the one-block kernels, with the same bits. Off by default
  // (LSTMAD_FUSED_SPLIT=1 turns them on); begin_autotune times them against the one-block kernels. The
  // wavefront, where it runs, comes first.
  void enable_split(bool on) { split_enabled_ = on; }
  kernels::SplitLaunch split_plan(int batch) const;
  // Which time-loop kernels forward() and backward() run at `batch` rows, as the benchmarks name them:
  // tensor-cores, wavefront, wavefront-split, clusterC, split, one-block, or one-block-L2 (R read from L2).
  std::string path(int batch) const;
  // The tensor-core backward in parts of K (version 3.4, kernels::mma_bwd_parts): on by default
  // (LSTMAD_FUSED_MMA_SPLIT=0 turns it off); the same bits either way. Sets the kernels' shared memory
  // limits for max_batch at once (outside graph capture).
  void enable_mma_split(bool on) {
    mma_split_ = on ? kernels::BwdSplit::FitSms : kernels::BwdSplit::Off;
    prepare(max_batch_);
  }
  // The tensor-core plan (precision tf32 or bf16, kernels/lstm_fused_mma.hpp); grid == 0 at fp32.
  kernels::MmaLaunch mma_plan(int batch) const;

  // Autotuning (choice_timing.hpp), as a multi-model batch does it: where the time loops at `batch` rows
  // have choices that give the same bits (fp32: the split kernels of version 4 beside the one-block
  // kernels, for H = 16, 32, 64 where neither the wavefront nor a cluster runs; tf32 / bf16: the
  // tensor-core backward in parts of K or unsplit, the other side of plan_fused_mma's rule), the next
  // training steps at `batch` rows (forward(training) ... backward()) run the choices in turn, one warm-up
  // round and three timed, and the fastest median runs from then on (the default unless another is more
  // than 2% faster). Every choice gives every other's bits, so these steps compute exactly what the
  // default would. While autotuning() is true the caller runs its steps eagerly (no graph capture: the
  // choices change kernels). Not for a choice a switch pins (LSTMAD_FUSED_SPLIT, LSTMAD_FUSED_MMA_SPLIT),
  // nor with LSTMAD_FUSED_AUTOTUNE=0; once per device, shape, window, batch and precision in a process (a
  // later FusedLstm of that key takes the choice at once). autotune_result() says what was done.
  void begin_autotune(int batch);
  bool autotuning() const { return timing_.active(); }
  TimeLoopTuning autotune_result() const;
  // The training steps the timing takes at `batch` rows (0 where there is nothing to time).
  int autotune_steps(int batch) const;
  Precision precision() const { return precision_; }

  std::size_t theta_size() const { return layout_.total; }
  std::size_t head_offset() const { return layout_.head_W; }
  float* theta() { return theta_.data(); }
  float* dtheta() { return dtheta_.data(); }
  void upload_params(const float* canonical);
  void download_params(float* canonical);
  void download_grad(float* canonical);

  // The LSTM stack on x (device, batch x T x D). training=true keeps what backward() needs.
  void forward(const float* theta, const float* x, int batch, bool training);
  // The head on the top layer's final h; with targets y (batch x horizon) also resid and dyhat (the mean-MSE
  // gradient), any of which may be null.
  void head(const float* theta, int batch, float* yhat, const float* y, float* dyhat, float* resid);
  // Backward of the last training forward() (same x, batch): dtheta (all of it) is overwritten with
  // dLoss/dtheta given dyhat; dx (batch x T x D) receives dLoss/dx when not null.
  void backward(const float* theta, const float* x, int batch, const float* dyhat, float* dtheta, float* dx);

  // For benchmarks: while `marks` is set, forward(), head() and backward() record an event on the stream
  // after each of their phases (the time loops, each GEMM, the head, ...), named in `marks` in step order;
  // nullptr stops it. Only for eager steps (an event recorded in a graph capture is not a timing).
  void set_phase_marks(std::vector<std::pair<std::string, gpu::Event>>* marks) { marks_ = marks; }

  // Sets the kernels' shared memory limits for `batch` now, outside any CUDA graph capture.
  void prepare(int batch);
  // Buffers never move after construction (sized for max_batch), so captured graphs stay valid.
  unsigned generation() const { return 0; }

  // Final states of the last forward(): L x batch x H on the device.
  const float* hy() const { return hy_.data(); }
  const float* cy() const { return cy_.data(); }

 private:
  // One choice of time loops that gives the bits of every other (autotuning).
  struct LoopChoice {
    std::string name;
    bool split = false;
    bool wavefront_split = false;
    kernels::BwdSplit mma_split = kernels::BwdSplit::FitSms;
  };
  // The choices at `batch` rows, the one in force first; one only where there is nothing to choose or a
  // switch pins it (then `pinned` names the switch).
  std::vector<LoopChoice> loop_choices(int batch, std::string& pinned) const;
  void run_choice(const LoopChoice& c);
  std::string tuning_key(int batch, const std::vector<LoopChoice>& choices) const;
  // The steps being timed: forward(training) at the tuned batch opens one, backward() closes it.
  void open_tuned_step(int batch, bool training);
  void close_tuned_step(int batch);
  void backward_pass(const float* theta, int batch, const float* dyhat, float* dtheta, float* dx);
  void check_batch(int batch) const;
  void mark(const char* phase, int layer = -1);
  bool wavefront_fits() const;  // L = 2, fp32, and the wavefront's plan exists at max_batch
  const float* layer_input(int l, int batch) const;
  void weight_grads(int l, const float* dG, int batch, float* dtheta);
  void input_grad(const float* dG, const float* theta, int batch, float* dx);

  cublasHandle_t cublas_;
  cudaStream_t stream_;
  ModelShape shape_;
  int T_, max_batch_;
  Precision precision_;
  kernels::FusedLimits limits_;
  bool cluster_enabled_ = true;   // the constructor reads LSTMAD_FUSED_CLUSTER
  bool cluster_refused_ = false;  // the device cannot place a cluster of the plan (prepare asked it)
  bool wavefront_enabled_ = true;  // the constructor reads LSTMAD_FUSED_WAVEFRONT
  bool split_enabled_ = false;     // the constructor reads LSTMAD_FUSED_SPLIT
  bool wavefront_split_ = false;   // the constructor reads LSTMAD_FUSED_WAVEFRONT_SPLIT
  // The tensor-core backward in parts of K (the constructor reads fused_mma_split)
  kernels::BwdSplit mma_split_ = kernels::BwdSplit::FitSms;
  // Layer 0's x W^T inside the forward time loops (kernels::FusedInput; fused_input_in_loop), not a GEMM
  bool input_in_loop_ = false;
  // Autotuning: the choices being timed at tune_batch_ rows, their timing, whether a timed step is open,
  // and what it came to.
  std::vector<LoopChoice> tune_choices_;
  ChoiceTiming timing_;
  TimeLoopTuning tuning_;
  int tune_batch_ = 0;
  bool tune_step_open_ = false;
  std::vector<std::pair<std::string, gpu::Event>>* marks_ = nullptr;  // set_phase_marks
  ParamLayout layout_;
  gpu::DeviceBuffer<float> theta_, dtheta_;
  gpu::DeviceBuffer<float> xt_, gx_, dgates_, dgates2_, dy_, dxt_, rt_, ones_, hy_, cy_, dhy_;
  std::vector<gpu::DeviceBuffer<float>> y_, gates_, c_;  // per layer
};

}  // namespace lstmad
