// Adam and global-norm clipping over flat buffers (adam.hpp).
#include "train/adam.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.hpp"

namespace lstmad {

template <typename Real>
Adam<Real>::Adam(std::size_t n, const AdamOptions& options) : o_(options), m_(n, Real(0)), v_(n, Real(0)) {
  if (!(o_.lr > 0.0) || !(o_.beta1 >= 0.0 && o_.beta1 < 1.0) || !(o_.beta2 >= 0.0 && o_.beta2 < 1.0) ||
      !(o_.eps >= 0.0) || !(o_.weight_decay >= 0.0))
    throw Error("Adam: invalid hyperparameters (lr " + std::to_string(o_.lr) + ", betas " +
                std::to_string(o_.beta1) + "/" + std::to_string(o_.beta2) + ", eps " +
                std::to_string(o_.eps) + ", weight_decay " + std::to_string(o_.weight_decay) + ")");
}

template <typename Real>
void Adam<Real>::reset() {
  std::fill(m_.begin(), m_.end(), Real(0));
  std::fill(v_.begin(), v_.end(), Real(0));
  t_ = 0;
}

template <typename Real>
void Adam<Real>::step(Real* params, const Real* grad) {
  ++t_;
  // Scalars in double, as torch computes them in Python floats; the per-element math in Real.
  const double bc1 = 1.0 - std::pow(o_.beta1, t_);
  const double bc2 = 1.0 - std::pow(o_.beta2, t_);
  const Real step_size = static_cast<Real>(o_.lr / bc1);
  const Real sqrt_bc2 = static_cast<Real>(std::sqrt(bc2));
  const Real b1 = static_cast<Real>(o_.beta1), b2 = static_cast<Real>(o_.beta2);
  const Real one_b1 = static_cast<Real>(1.0 - o_.beta1), one_b2 = static_cast<Real>(1.0 - o_.beta2);
  const Real eps = static_cast<Real>(o_.eps), wd = static_cast<Real>(o_.weight_decay);
  Real* __restrict m = m_.data();
  Real* __restrict v = v_.data();
  const std::size_t n = m_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const Real g = grad[k] + wd * params[k];
    m[k] = b1 * m[k] + one_b1 * g;
    v[k] = b2 * v[k] + one_b2 * g * g;
    params[k] -= step_size * m[k] / (std::sqrt(v[k]) / sqrt_bc2 + eps);
  }
}

template <typename Real>
double grad_norm(const Real* grad, std::size_t n) {
  double s = 0.0;
  for (std::size_t k = 0; k < n; ++k) s += static_cast<double>(grad[k]) * static_cast<double>(grad[k]);
  return std::sqrt(s);
}

template <typename Real>
double clip_grad_norm(Real* grad, std::size_t n, double max_norm) {
  const double norm = grad_norm(grad, n);
  if (max_norm > 0.0 && std::isfinite(norm)) {
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
      const Real c = static_cast<Real>(coef);
      for (std::size_t k = 0; k < n; ++k) grad[k] *= c;
    }
  }
  return norm;
}

template class Adam<float>;
template class Adam<double>;
template double grad_norm<float>(const float*, std::size_t);
template double grad_norm<double>(const double*, std::size_t);
template double clip_grad_norm<float>(float*, std::size_t, double);
template double clip_grad_norm<double>(double*, std::size_t, double);

}  // namespace lstmad
