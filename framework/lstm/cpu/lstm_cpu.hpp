// The CPU LSTM: forward and full-BPTT backward of one model on one minibatch, templated on float (the fast
// engine) and double (the accuracy reference for every other engine).
//
// Shapes: L layers, input D, hidden H, window T, batch B (<= max_batch), head of `horizon` outputs.
// x is B x T x D (batch-major); yhat and dyhat are B x horizon. Parameters and gradients use the canonical
// flat layout of lstm/shape.hpp, in Real.
//
// All workspaces are sized in the constructor: forward/backward never allocate. Per layer and step, the
// input projection x_t W^T and h_{t-1} R^T (B x 4H GEMMs) are followed by the gate math in one fused pass;
// backward mirrors it (one dG_t R GEMM per step), with dW, dR and dx as GEMMs over chunks of about 256
// (step, window) rows, latest first (lstm_cpu.cpp). Single-threaded by design: parallelism is across
// models.
#pragma once
#include <memory>
#include <vector>

#include "lstm/shape.hpp"

namespace lstmad {

template <typename Real>
class LstmCpu {
 public:
  LstmCpu(const ModelShape& shape, int window, int max_batch);
  ~LstmCpu();
  LstmCpu(LstmCpu&&) noexcept;
  LstmCpu& operator=(LstmCpu&&) noexcept;

  const ModelShape& shape() const;
  int window() const;
  int max_batch() const;
  // Whether each window's yhat has the same bits whatever windows share its forward() or infer() call:
  // fp32 whose products all run on small_gemm (4H a multiple of its panel), which sums every output in
  // one order for any row count, and the fixed-order head. Eigen's GEMMs (fp64, other widths) choose
  // their kernel per block of rows, so there a window's bits depend on its place and the call's size.
  bool rows_independent() const;

  // Forward pass over `batch` windows; keeps the activations for backward().
  void forward(const Real* params, const Real* x, int batch, Real* yhat);
  // The same yhat as forward(), bit for bit, without keeping what backward() needs (prediction and
  // validation: no backward follows); backward() after it throws.
  void infer(const Real* params, const Real* x, int batch, Real* yhat);
  // Backward of the last forward(): grad (param_count entries) is overwritten with dLoss/dparams given
  // dyhat = dLoss/dyhat; dx (B x T x D), when not null, receives dLoss/dx.
  void backward(const Real* params, const Real* dyhat, Real* grad, Real* dx = nullptr);
  // MSE over batch x horizon (mean), its gradient written into grad; returns the loss. A minibatch whose
  // activations would not fit in cache runs as several forward/backward passes of part_size(batch)
  // windows, their gradients summed: the same gradient up to rounding.
  Real loss_and_grad(const Real* params, const Real* x, const Real* y, int batch, Real* grad);
  int part_size(int batch) const;

  // Final hidden and cell state of layer l after the last forward() or infer(): B x H, row-major.
  const Real* final_h(int layer) const;
  const Real* final_c(int layer) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class LstmCpu<float>;
extern template class LstmCpu<double>;

}  // namespace lstmad
