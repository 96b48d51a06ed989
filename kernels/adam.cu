// Adam over a flat fp32 buffer; see adam.hpp. The update is memory-bound (4 reads, 3 writes of 4 bytes
// per element), so a grid-stride loop of plain loads is enough; bias corrections are computed once per
// step in double by the prepare kernel rather than by every thread.
#include <cmath>

#include "kernels/adam.hpp"
#include "kernels/launch.cuh"

namespace lstmad::kernels {

namespace {

__global__ void adam_prepare_kernel(const AdamHyper* __restrict__ hyper, const double* __restrict__ norm_sq,
                                    AdamStepState* __restrict__ state) {
  const AdamHyper h = *hyper;
  const int t = state->step + 1;
  state->step = t;
  double scale = 1.0;
  double norm = 0.0;
  if (norm_sq != nullptr) norm = sqrt(*norm_sq);
  if (h.clip_norm > 0.f && norm_sq != nullptr) {
    // torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1. A NaN norm gives a NaN factor on
    // purpose: the non-finite step then shows up in the loss instead of being silently skipped.
    const double coef = static_cast<double>(h.clip_norm) / (norm + 1e-6);
    scale = coef >= 1.0 ? 1.0 : coef;
  }
  const double bc1 = 1.0 - pow(static_cast<double>(h.beta1), t);
  const double bc2 = 1.0 - pow(static_cast<double>(h.beta2), t);
  state->grad_scale = static_cast<float>(scale);
  state->step_size = static_cast<float>(h.lr / bc1);
  state->inv_sqrt_bc2 = static_cast<float>(1.0 / sqrt(bc2));
  state->grad_norm = norm;
}

__global__ void adam_update_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                                   float* __restrict__ v, std::size_t n, const AdamHyper* __restrict__ hyper,
                                   const AdamStepState* __restrict__ state) {
  const float b1 = hyper->beta1, b2 = hyper->beta2, eps = hyper->eps, wd = hyper->weight_decay;
  const float scale = state->grad_scale, step_size = state->step_size, inv_sqrt_bc2 = state->inv_sqrt_bc2;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float pi = p[i];
    const float gi = fmaf(wd, pi, g[i] * scale);
    const float mi = fmaf(b1, m[i], (1.f - b1) * gi);
    const float vi = fmaf(b2, v[i], (1.f - b2) * gi * gi);
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
  }
}

}  // namespace

void launch_adam_prepare(const AdamHyper* hyper, const double* norm_sq, AdamStepState* state,
                         cudaStream_t stream) {
  launch_kernel(adam_prepare_kernel, 1, 1, 0, stream, hyper, norm_sq, state);
}

void launch_adam_update(float* params, const float* grad, float* m, float* v, std::size_t n,
                        const AdamHyper* hyper, const AdamStepState* state, cudaStream_t stream) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  // Enough blocks to fill an H200 several times over; the grid-stride loop covers larger buffers.
  const std::size_t want = (n + kThreads - 1) / kThreads;
  const int blocks = static_cast<int>(want < 4096 ? want : 4096);
  launch_kernel(adam_update_kernel, blocks, kThreads, 0, stream, params, grad, m, v, n, hyper, state);
}

}  // namespace lstmad::kernels
