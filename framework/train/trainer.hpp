// The per-model training loop of the CPU engine: epochs of shuffled minibatches, Adam with global-norm
// clipping, validation loss, early stopping that keeps the best validation epoch, non-finite detection.
//
// Semantics (the same as the cudnn engine's, see train/options.hpp):
// - each epoch shuffles the order of the training window starts with one Rng(options.seed) stream and
//   takes minibatches of B = min(batch, #train) windows in that order; the last one may be smaller;
// - train_loss[e] is the MSE over every window of epoch e (each minibatch's loss with the parameters it
//   saw); val_loss[e] the MSE over the validation windows after the epoch;
// - with validation windows the parameters of the best epoch are kept (an improvement must exceed
//   min_delta) and training stops after `patience` epochs without one (patience 0: never stops early);
//   without them every epoch runs and the last parameters are kept (best_epoch = -1);
// - a non-finite loss or gradient stops the job with TrainStatus::NonFinite and a message naming the
//   epoch; the parameters are the best ones so far, or the initial ones when there are none;
// - with options.max_seconds, an epoch after the first does not start once the training has taken
//   longer: TrainStatus::Timeout (past_time_limit in train/options.hpp), the parameters as for NonFinite.
// Minibatch buffers are B x T x D (inputs) and B x horizon (targets), batch-major, in Real.
#pragma once
#include <vector>

#include "lstm/engine.hpp"
#include "lstm/shape.hpp"
#include "train/options.hpp"

namespace lstmad {

// What the trainer fits: a model of fixed shape and window that runs minibatches of up to max_batch()
// windows. Parameters live outside (a flat buffer in the canonical layout).
template <typename Real>
class TrainableModel {
 public:
  virtual ~TrainableModel() = default;
  virtual const ModelShape& shape() const = 0;
  virtual int window() const = 0;
  virtual int max_batch() const = 0;
  // Whether a window's forward() output is the same, bit for bit, whatever windows share the call. Where
  // it is not, predict_windows always calls forward() with max_batch() windows (padding the last call), so
  // that a window's forecast depends on its place in the call alone.
  virtual bool rows_independent() const { return false; }
  // xb: batch x window x D; yhat: batch x horizon.
  virtual void forward(const Real* params, const Real* xb, int batch, Real* yhat) = 0;
  // Mean MSE over batch x horizon; grad (param_count) overwritten with its gradient.
  virtual Real loss_and_grad(const Real* params, const Real* xb, const Real* yb, int batch, Real* grad) = 0;
};


// Copies `count` windows: xb[k] = x[starts[k] .. starts[k] + window - 1] (each row D values) and, when yb
// is not null, yb[k] = y[starts[k] + window .. starts[k] + window + horizon - 1].
template <typename Real>
void gather_windows(const float* x, const float* y, int D, int window, int horizon, const int* starts,
                    int count, Real* xb, Real* yb);

// Trains `params` (param_count(model.shape()) values, in and out) on `data` with `options`. The model's
// max_batch() must be at least min(options.batch, #train windows).
template <typename Real>
TrainResult train_model(TrainableModel<Real>& model, std::vector<Real>& params, const WindowSource& data,
                        const TrainOptions& options);

// MSE over batch x horizon of the windows at `starts`, in minibatches of model.max_batch().
template <typename Real>
double windows_loss(TrainableModel<Real>& model, const Real* params, const WindowSource& data,
                    const std::vector<int>& starts);

// out[k * horizon + j]: the j-th value predicted after the window starting at starts[k]; x is n x D.
template <typename Real>
void predict_windows(TrainableModel<Real>& model, const Real* params, const float* x, int n,
                     const std::vector<int>& starts, float* out);

}  // namespace lstmad
