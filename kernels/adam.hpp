// Adam over one flat fp32 buffer (torch.optim.Adam semantics: bias-corrected moments, optional L2 weight
// decay added to the gradient, not AdamW), with global-norm gradient clipping folded in.
//
// Two launches per step, both reading their scalars from device memory so that a captured CUDA graph
// replays correctly for any model and step:
//   launch_adam_prepare: one thread; step += 1, the clip factor from the squared gradient norm and the
//                        bias corrections of this step;
//   launch_adam_update:  n elements; g = grad * grad_scale + wd * p; m, v updated; p -= step_size * m /
//                        (sqrt(v) / sqrt(1 - beta2^t) + eps).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

namespace lstmad::kernels {

// Per-model hyperparameters, uploaded once per model.
struct AdamHyper {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.f;
  float clip_norm = 0.f;  // <= 0: no clipping
};

// Per-step scalars written by launch_adam_prepare (zero-initialise `step` before the first step).
struct AdamStepState {
  int step = 0;
  float grad_scale = 1.f;    // min(1, clip / (||g|| + 1e-6)), torch.nn.utils.clip_grad_norm_'s factor
  float step_size = 0.f;     // lr / (1 - beta1^t)
  float inv_sqrt_bc2 = 1.f;  // 1 / sqrt(1 - beta2^t)
  double grad_norm = 0.0;    // ||g|| before clipping, for logging
};

// norm_sq: device pointer to the squared global gradient norm (launch_sum_squares); may be null when
// hyper->clip_norm <= 0.
void launch_adam_prepare(const AdamHyper* hyper, const double* norm_sq, AdamStepState* state,
                         cudaStream_t stream);

void launch_adam_update(float* params, const float* grad, float* m, float* v, std::size_t n,
                        const AdamHyper* hyper, const AdamStepState* state, cudaStream_t stream);

}  // namespace lstmad::kernels
