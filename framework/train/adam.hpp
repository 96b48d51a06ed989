// Adam over one flat parameter buffer of n values, with torch.optim.Adam's semantics: L2 weight decay
// added to the gradient (not AdamW), bias-corrected moments, eps added after the bias-corrected square
// root. And torch.nn.utils.clip_grad_norm_'s global-norm clipping.
//
// Everything is sequential over the buffer (norms accumulate in double), so a step is bit-identical on
// every run and thread count.
#pragma once
#include <cstddef>
#include <vector>

#include "train/options.hpp"

namespace lstmad {

template <typename Real>
class Adam {
 public:
  Adam(std::size_t n, const AdamOptions& options);
  // Zero moments and step count (a fresh optimizer for the same buffer size).
  void reset();
  // One update of params (n values) from grad (n values, already clipped). Weight decay reads params
  // before the update, as torch does.
  void step(Real* params, const Real* grad);
  int steps() const { return t_; }
  std::size_t size() const { return m_.size(); }
  const AdamOptions& options() const { return o_; }

 private:
  AdamOptions o_;
  std::vector<Real> m_, v_;
  int t_ = 0;
};

// Euclidean norm of n values, accumulated in double in index order. Non-finite when any value is.
template <typename Real>
double grad_norm(const Real* grad, std::size_t n);

// Scales grad in place so that its global norm is at most max_norm (factor max_norm / (norm + 1e-6) when
// that is below 1, as torch does); max_norm <= 0 disables clipping. Returns the norm before clipping; a
// non-finite norm leaves grad unchanged.
template <typename Real>
double clip_grad_norm(Real* grad, std::size_t n, double max_norm);

extern template class Adam<float>;
extern template class Adam<double>;

}  // namespace lstmad
