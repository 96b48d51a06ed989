// The device side of the multi-model fused path (fused_multi.hpp): N models of one shape held side by
// side in device buffers, and the launches of one step (training, validation or inference) covering all
// of them. The host side, the epochs with their shuffles, early stopping and results, is fused_multi.cpp.
//
// Buffers hold N models side by side: model m's slice of a buffer of per-model size S starts at m x S.
// Operands of the GEMMs are described by (row, column, model) strides on row-major data; the comments in
// multi_model_block.cpp give each GEMM as a formula on row-major matrices.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "core/gpu/device_buffer.hpp"
#include "core/gpu/graph.hpp"
#include "core/gpu/resources.hpp"
#include "kernels/lstm_fused_plan.hpp"
#include "kernels/lstm_fused_split_plan.hpp"
#include "kernels/lstm_mma_plan.hpp"
#include "kernels/lstm_multi.hpp"
#include "kernels/lstm_wavefront_plan.hpp"
#include "lstm/engine.hpp"
#include "lstm/fused/choice_timing.hpp"
#include "lstm/shape.hpp"

namespace lstmad {

// What one epoch exchanges between the host loop and the device: the models' window orders (max_train()
// ints per model) and which models run its training and validation passes, in; the per-model loss sums
// and squared gradient norms, out.
struct EpochHost {
  EpochHost(std::size_t N, std::size_t order_size)
      : order(order_size), running(N), vrunning(N), sums(N), norms(N), vsums(N) {}
  std::vector<int> order;
  std::vector<unsigned char> running, vrunning;
  std::vector<double> sums, norms, vsums;
};

class MultiModelBlock {
 public:
  // What sizes the buffers: the most windows of a model in the training list and in the validation (or,
  // for inference, prediction) list, and the rows of all series together. Inference allocates only what
  // the forward pass and the head read and write.
  struct Extent {
    std::size_t max_train = 0, max_val = 0, total_rows = 0;
    bool inference = false;
    static Extent training(const std::vector<ModelJob*>& jobs);
    static Extent prediction(const std::vector<const PredictJob*>& jobs);
  };

  // precision fp32 runs the FMA time loops and GEMMs; tf32 and bf16 the tensor-core ones (an
  // UnsupportedError names what the shape lacks).
  MultiModelBlock(const ModelShape& shape, int window, int B, const kernels::FusedLimits& limits, int models,
                  const Extent& extent, cudaStream_t stream, bool graphs, Precision precision);
  MultiModelBlock(const MultiModelBlock&) = delete;
  MultiModelBlock& operator=(const MultiModelBlock&) = delete;

  const ModelShape& shape() const { return shape_; }
  int batch() const { return B_; }
  std::size_t param_count() const { return P_; }
  std::size_t max_train() const { return max_train_; }

  // Training. load() uploads every job's parameters, series, validation windows and hyperparameters and
  // zeroes the Adam state; run_epoch() runs `steps` training steps on h's orders and masks, then `vsteps`
  // validation steps, and brings the sums back into h.
  void load(const std::vector<ModelJob*>& jobs);
  void run_epoch(EpochHost& h, int steps, int vsteps);
  // best <- theta for the models flagged; theta <- best for the models flagged; theta to the host.
  void keep_best(const std::vector<unsigned char>& flag);
  void restore_best(const std::vector<unsigned char>& flag);
  void download_params(std::vector<float>& params);

  // For benchmarks: every model running on its unshuffled windows; bench_step() then runs one training
  // step of all models on their first B windows (the cursor rewinds before each).
  void load_for_steps(const std::vector<ModelJob*>& jobs);
  void bench_step();
  // For benchmarks: bench_step() run eagerly with an event after each phase of the step (the gather, each
  // layer's input GEMM and time loops, the head and loss, each layer's weight-gradient GEMMs and sums, the
  // norm and Adam); the device time of each phase in ms, in step order. Eager launches leave small gaps
  // that a graph replay does not, so the phases add up to a little more than bench_step()'s time.
  std::vector<std::pair<std::string, double>> bench_step_phases();
  // The time loops this block runs: "tensor cores" (", backward in P parts of K" where it splits), "split",
  // "wavefront" (both layers of L = 2 in one loop per direction), "cluster C", "one-block" or "one-block, R
  // from L2".
  std::string time_loops() const;

  // Autotuning. Where the time loops have choices that give the same bits (at fp32 the tiled products or
  // not, the split kernels for H = 16, 32, 64, and at L = 2 the wavefront in the layers' order; the
  // tensor-core backward in parts of K or not), the block
  // runs its next training steps (an inference block: its forecasting steps) with the choices in turn, one
  // warm-up round and three timed ones, and then keeps the fastest: the device's own answer, whatever the
  // defaults were measured on. Since each choice gives every other's bits, the steps that time them are the
  // block's own, and the models and forecasts end as they would without the timing. predict() begins it
  // itself. Not for a choice a switch pins (LSTMAD_FUSED_TILED, LSTMAD_FUSED_SPLIT, LSTMAD_FUSED_WAVEFRONT,
  // LSTMAD_FUSED_MMA_SPLIT),
  // nor with LSTMAD_FUSED_AUTOTUNE=0; once per shape, window, batch, N, precision and device in a process (a
  // later block of the same key takes the choice). begin_autotune() before the steps; autotune_result() says
  // what was done (also when the steps ran out before the rounds did).
  void begin_autotune();
  TimeLoopTuning autotune_result() const;
  // The steps the timing takes where it runs.
  int autotune_steps() const;

  // Inference: every job's windows (its starts in the validation list) in steps of B rows, the forecasts
  // of each step stored at the model's cursor in one output buffer, downloaded once into each job's out.
  void predict(const std::vector<const PredictJob*>& jobs);

 private:
  enum class Pass { Train, Validate, Predict };

  // One choice of time loops that gives the bits of every other (autotune).
  struct LoopChoice {
    std::string name;
    bool tiled = true;
    kernels::MmaLaunch mma;
    kernels::SplitLaunch split;          // grid > 0: version 4's split kernels
    kernels::WavefrontLaunch wavefront;  // grid > 0: the wavefront in the layers' order (L = 2)
  };
  // The block's choices, the one it runs first; one only where there is nothing to choose, or where a
  // switch pins it (then `pinned` names the switches).
  std::vector<LoopChoice> loop_choices(std::string& pinned) const;
  void run_choice(const LoopChoice& c);
  std::string tuning_key(const std::vector<LoopChoice>& choices) const;
  void tuned_step();
  void finish_tuning();
  std::size_t rt_stride() const;
  void plan_cluster(const kernels::FusedLimits& limits);
  void copy_flagged(float* dst, const float* src, const std::vector<unsigned char>& flag, const char* what);
  void run_step(Pass pass);
  kernels::ModelStrides fwd_strides() const;
  kernels::StridedOperand layer_input(int l) const;
  void forward(bool training);
  void forward_wavefront(bool training);
  void backward();
  void backward_wavefront();
  // Layer l's dW, dR and bias gradients from its gate gradients dG (the parts of K in `work`, a dead gates
  // buffer), and with dx its dX into dy_ (the layer below's dy).
  void weight_gradients(int l, const float* dG, float* work, bool dx);
  void enqueue(Pass pass);
  // Records the end of a phase when bench_step_phases() asked for it; nothing otherwise (and never in a
  // graph capture, which bench_step_phases() does not run). Phase names hold no comma: gpu_bench_multi
  // writes them into a CSV as they are.
  void mark(const char* phase, int layer = -1);
  void enqueue_predict();

  ModelShape shape_;
  ParamLayout layout_;
  int T_, B_, N_;
  kernels::FusedLimits limits_;
  Precision precision_;
  cudaStream_t stream_;
  bool use_graphs_;
  bool inference_ = false;
  float* out_ = nullptr;  // predict(): the output of the call in progress (a captured step reads it)
  gpu::DeviceBuffer<long long> out_offset_;
  std::size_t P_ = 0, max_train_ = 0, max_val_ = 0, total_rows_ = 0;
  kernels::FusedLaunch plan_;
  kernels::SplitLaunch split_;  // version 4 in place of the one-block time loops (LSTMAD_FUSED_SPLIT=1)
  // Version 2's clusters where R does not fit one block and the device can place them (cluster > 1).
  kernels::FusedLaunch cluster_;
  // At L = 2 and fp32 where it fits: the wavefront in the layers' order (wavefront_plan_), an autotuning
  // choice; wavefront_.grid > 0 while it runs (LSTMAD_FUSED_WAVEFRONT=1 pins it, =0 leaves it out).
  kernels::WavefrontLaunch wavefront_plan_, wavefront_;
  kernels::MmaLaunch mma_;    // grid > 0: the tensor-core time loops (precision tf32 / bf16)
  std::size_t rt_words_ = 0;  // their staged R per model, in 32-bit words
  kernels::GemmMath gemm_math_ = kernels::GemmMath::FP32;
  bool fused_input_ = false;  // layer 0's x W^T inside the forward time loops (kernels::FusedInput)
  bool tiled_ = true;  // the time loops' tiled products where the plan takes them (LSTMAD_FUSED_TILED=0: off)
  bool gemm_parts_ =
      true;  // dR and a wide dW in parts of K (kernels::multi_gemm_parts; LSTMAD_FUSED_GEMM_PARTS=0: off)
  gpu::DeviceBuffer<float> theta_, dtheta_, m_, v_, best_;
  gpu::DeviceBuffer<float> xt_, gx_, dgates_, dy_, rt_, hy_, cy_, dhy_;
  std::vector<gpu::DeviceBuffer<float>> y_, gates_, c_;
  gpu::DeviceBuffer<float> xs_, ys_, yb_, yhat_, dyhat_, resid_;
  gpu::DeviceBuffer<long long> xs_offset_;
  gpu::DeviceBuffer<int> order_, val_, ntrain_, nval_, cursor_, start_, rows_;
  gpu::DeviceBuffer<unsigned char> running_, vrunning_, active_, flag_;
  gpu::DeviceBuffer<kernels::AdamHyper> hyper_;
  gpu::DeviceBuffer<kernels::AdamStepState> state_;
  gpu::DeviceBuffer<double> step_sq_, norm_sq_, epoch_sum_, epoch_norm_, val_sum_;
  gpu::GraphExec graphs_[3];  // by Pass
  std::vector<std::pair<std::string, gpu::Event>>* marks_ = nullptr;  // bench_step_phases() in progress
  bool warmed_[3] = {false, false, false};
  // Autotuning in progress (timing.active()) or done: the choices, their timing, and what it came to.
  struct Tuner {
    std::vector<LoopChoice> choices;
    ChoiceTiming timing;
    TimeLoopTuning result;
  } tuner_;
};

}  // namespace lstmad
