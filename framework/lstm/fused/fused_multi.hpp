// The multi-model training path of the fused engine: the models of a ModelBatch that share the minibatch
// size train in lockstep, every kernel launch covering all of them (kernels/lstm_multi.hpp); and the
// same for inference (predict_fused_multi).
//
// Per epoch the host shuffles each model's windows (its own Rng(seed) stream, as the CPU trainer does),
// uploads the orders and which models still run, and replays one captured step max over models of
// ceil(windows / B) times; a model whose epoch has fewer minibatches is skipped by the later steps. Then
// one validation pass the same way, one download of every model's epoch sums, and the host applies each
// model's early stopping, non-finite checks and best-epoch bookkeeping (training_loop.hpp's semantics).
// A model that has stopped is masked out of every later launch: it is never trained on.
//
// Determinism: a model's arithmetic depends only on its own data, options and B (lstm_multi.hpp), so it
// ends bit-identical whether it trains alone or among any other models on this engine.
#pragma once
#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/lstm_fused_plan.hpp"
#include "lstm/engine.hpp"
#include "lstm/fused/choice_timing.hpp"  // TimeLoopTuning: what a batch's autotuning did

namespace lstmad {

class MultiModelBlock;  // multi_model_block.hpp: the buffers and launches

// One multi-model batch on the current device: its buffers for the jobs given (same shape and window;
// min(batch, training windows) == B for each; parameters and windows already checked).
class FusedMultiBatch {
 public:
  // precision fp32 runs the FMA time loops and GEMMs; tf32 and bf16 the tensor-core ones
  // (kernels/lstm_fused_mma.hpp, H a multiple of 16 up to 256; lstm_multi_gemm.cu).
  FusedMultiBatch(const ModelShape& shape, int window, int B, const kernels::FusedLimits& limits,
                  std::vector<ModelJob*> jobs, cudaStream_t stream, bool graphs,
                  Precision precision = Precision::FP32);
  ~FusedMultiBatch();
  FusedMultiBatch(const FusedMultiBatch&) = delete;
  FusedMultiBatch& operator=(const FusedMultiBatch&) = delete;

  // Trains every job and stores its parameters and result. Its first training steps time the time
  // loops' choices that give the same bits (MultiModelBlock::begin_autotune); tuning() says what that did.
  void train();
  const TimeLoopTuning& tuning() const { return tuning_; }
  // For benchmarks: the same timing on bench steps (the parameters move: load_for_steps() after it).
  const TimeLoopTuning& autotune();
  // For benchmarks: loads the jobs with every model running; step() then enqueues one training step of
  // all of them on their first B windows (a graph replay from the third call on, when graphs are on).
  void load_for_steps();
  void step();
  // One step, eager, with the device time of each of its phases (MultiModelBlock::bench_step_phases).
  std::vector<std::pair<std::string, double>> step_phases();
  // Which time-loop kernels the batch runs (MultiModelBlock::time_loops).
  std::string time_loops() const;

 private:
  std::vector<ModelJob*> jobs_;
  std::unique_ptr<MultiModelBlock> block_;
  TimeLoopTuning tuning_;
};

// Trains `jobs` (same shape and window; min(batch, training windows) == B for each; parameters and
// windows already checked) on the current device on `stream`. `graphs`: replay the step as a CUDA graph.
void train_fused_multi(const ModelShape& shape, int window, int B, const kernels::FusedLimits& limits,
                       const std::vector<ModelJob*>& jobs, cudaStream_t stream, bool graphs,
                       Precision precision = Precision::FP32);

// Forecasts of `jobs` (same shape and window; starts checked; B rows per step, a size the time loops
// run) on the current device on `stream`: the windows of every job in steps of B, each launch covering
// all jobs (the validation pass's forward and head, without targets), each step's forecasts kept on the
// device at the job's place and downloaded once at the end. A job's forecasts do not depend on the
// other jobs, on their number or on B (per row, every sum runs in one fixed order). The first steps time
// the forward's choices that give the same bits, if it has any (MultiModelBlock::begin_autotune): what
// that did comes back.
TimeLoopTuning predict_fused_multi(const ModelShape& shape, int window, int B,
                                   const kernels::FusedLimits& limits,
                                   const std::vector<const PredictJob*>& jobs, cudaStream_t stream,
                                   bool graphs, Precision precision);

}  // namespace lstmad
