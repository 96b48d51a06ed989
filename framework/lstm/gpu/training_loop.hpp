// The device-side training loop of the GPU engines (lstm/cudnn/cudnn_engine.cpp,
// lstm/fused/fused_engine.cpp), built only in CUDA builds.
//
// Both engines train the same way and differ only in the LSTM block that runs forward, head and backward
// (CudnnLstm on a cuDNN handle, FusedLstm on a cuBLAS handle), so the loop lives here once and takes the
// block through the GpuLstmBlock interface. Per worker thread: one CUDA stream, the engine's block (with
// the handle it runs on) and one slot holding every buffer a model's training needs, sized for the largest
// job. Jobs are taken from a shared counter, so `streams` models train at once. Each training step is
//   gather -> block forward -> head + MSE -> loss sum (CUB) -> block backward -> ||g||^2 (CUB) ->
//   Adam prepare (clip factor, bias corrections) -> Adam
// with every scalar (window cursor, step count, hyperparameters) read from device memory. That makes a
// full-batch step identical for every step, epoch and model of a slot, so it is captured once as a CUDA
// graph and replayed. The first step of each batch size runs eagerly after GpuLstmBlock::prepare (the
// block's lazy one-time setup must not happen during capture); the last, smaller minibatch of an epoch
// runs eagerly; a failed capture falls back to eager launches with a warning. Setting the engine's graphs
// variable (LSTMAD_CUDNN_GRAPHS, LSTMAD_FUSED_GRAPHS) to 0 turns graphs off.
//
// Training semantics (those of the CPU trainer, train/trainer.hpp):
// - each epoch shuffles the running order of the training windows with one Rng(seed) stream, then
//   takes minibatches of `batch` windows in that order (the last one may be smaller);
// - train_loss[e] is the MSE over all windows of epoch e (sum of squared errors / (windows * horizon)),
//   with the parameters each minibatch saw; val_loss[e] the MSE over the validation windows after it;
// - early stopping keeps the parameters of the best validation epoch (an improvement must exceed
//   min_delta) and stops after `patience` epochs without one; with no validation windows every epoch runs
//   and the last parameters are kept (best_epoch = -1);
// - a non-finite training loss, gradient or validation loss ends the job with status NonFinite, keeping
//   the best parameters so far (or the initial ones when there are none). The device checks once per
//   epoch, so the job stops at the end of the epoch where the CPU trainer stops at the minibatch.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/gpu/device.hpp"
#include "kernels/adam.hpp"
#include "lstm/engine.hpp"

namespace lstmad::gpu {

// What the training loop needs of an engine's LSTM block. Parameters live on the device in the block's
// own layout (theta); upload/download convert from and to the canonical layout of lstm/shape.hpp.
class GpuLstmBlock {
 public:
  virtual ~GpuLstmBlock() = default;
  virtual std::size_t theta_size() const = 0;
  virtual float* theta() = 0;
  virtual float* dtheta() = 0;
  virtual void upload_params(const float* canonical) = 0;
  virtual void download_params(float* canonical) = 0;
  virtual void forward(const float* theta, const float* x, int batch, bool training) = 0;
  virtual void head(const float* theta, int batch, float* yhat, const float* y, float* dyhat,
                    float* resid) = 0;
  virtual void backward(const float* theta, const float* x, int batch, const float* dyhat, float* dtheta,
                        float* dx) = 0;
  // One-time setup for `batch`, run eagerly before the first capture of that batch size.
  virtual void prepare(int batch) = 0;
  // Changes whenever the block's device buffers move; captured graphs of an older generation are stale.
  virtual unsigned generation() const = 0;
  // Autotuning of the block's kernels on its next training steps of `batch` rows (FusedLstm's; a block
  // without choices ignores it); while autotuning() is true the loop runs its steps eagerly, since the
  // kernels change from step to step.
  virtual void begin_autotune(int batch) { (void)batch; }
  virtual bool autotuning() const { return false; }
};

// Whether Lstm has FusedLstm's autotuning (begin_autotune, autotuning).
template <class Lstm, class = void>
struct HasAutotune : std::false_type {};
template <class Lstm>
struct HasAutotune<Lstm, std::void_t<decltype(std::declval<Lstm&>().begin_autotune(1)),
                                     decltype(std::declval<const Lstm&>().autotuning())>> : std::true_type {};

// A block made of a library handle and the LSTM running on it. The handle is declared first so that it
// outlives the LSTM, as the LSTM's destructor may still use it.
template <class Handle, class Lstm>
class OwningLstmBlock final : public GpuLstmBlock {
 public:
  // `lstm_args` are Lstm's constructor arguments after the raw handle.
  template <class... A>
  explicit OwningLstmBlock(Handle handle, A&&... lstm_args)
      : handle_(std::move(handle)), lstm_(handle_.get(), std::forward<A>(lstm_args)...) {}

  Lstm& lstm() { return lstm_; }
  std::size_t theta_size() const override { return lstm_.theta_size(); }
  float* theta() override { return lstm_.theta(); }
  float* dtheta() override { return lstm_.dtheta(); }
  void upload_params(const float* canonical) override { lstm_.upload_params(canonical); }
  void download_params(float* canonical) override { lstm_.download_params(canonical); }
  void forward(const float* theta, const float* x, int batch, bool training) override {
    lstm_.forward(theta, x, batch, training);
  }
  void head(const float* theta, int batch, float* yhat, const float* y, float* dyhat, float* resid) override {
    lstm_.head(theta, batch, yhat, y, dyhat, resid);
  }
  void backward(const float* theta, const float* x, int batch, const float* dyhat, float* dtheta,
                float* dx) override {
    lstm_.backward(theta, x, batch, dyhat, dtheta, dx);
  }
  void prepare(int batch) override { lstm_.prepare(batch); }
  unsigned generation() const override { return lstm_.generation(); }
  void begin_autotune(int batch) override {
    if constexpr (HasAutotune<Lstm>::value) lstm_.begin_autotune(batch);
  }
  bool autotuning() const override {
    if constexpr (HasAutotune<Lstm>::value) return lstm_.autotuning();
    return false;
  }

 private:
  Handle handle_;
  Lstm lstm_;
};

// The largest sizes over the jobs of one train() call; every worker's buffers are made this big.
struct SlotSizes {
  int max_batch = 1;
  int max_n = 1;
  int max_train = 1;
  int max_val = 1;
};

// How the loop names the engine in its messages and which variable turns its graphs off.
struct GpuTrainingNames {
  const char* engine;      // "cudnn": messages read "cudnn engine: ..." and "engine \"cudnn\" ..."
  const char* graphs_env;  // "LSTMAD_CUDNN_GRAPHS"
};

// A job's Adam and clipping settings as the device's Adam kernels read them (fp32).
kernels::AdamHyper adam_hyper(const TrainOptions& o);

// False when the variable `env` (LSTMAD_CUDNN_GRAPHS, LSTMAD_FUSED_GRAPHS) is "0": CUDA graphs are off.
bool graphs_enabled(const char* env);

// Checks that every job shares `window` and has batch >= 1 (Error otherwise) and returns the sizes the
// workers' buffers need.
SlotSizes gpu_slot_sizes(const char* engine, int window, const std::vector<ModelJob>& jobs);

// Makes the calling worker's block on its stream (called on the worker thread, with the device current).
using LstmBlockFactory = std::function<std::unique_ptr<GpuLstmBlock>(cudaStream_t stream)>;

// Trains every job on min(streams, jobs) worker threads and stores each job's parameters and result.
// The first exception of any worker stops the others after their current job and is rethrown.
void train_on_streams(const GpuTrainingNames& names, int device, int streams, const ModelShape& shape,
                      int window, const SlotSizes& sz, std::vector<ModelJob>& jobs,
                      const LstmBlockFactory& make_block);

}  // namespace lstmad::gpu
