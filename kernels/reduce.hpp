// Device reductions used by training: sums of squares (the global gradient norm, the MSE loss) with CUB,
// accumulated in double; clipping by a device-resident factor; a scalar accumulator.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

namespace lstmad::kernels {

// Bytes of temporary storage launch_sum_squares needs for up to n elements.
std::size_t sum_squares_temp_bytes(std::size_t n);

// *out = sum_i x[i]^2 (double accumulation). Returns CUB's status (e.g. too little temporary storage). temp:
// device memory of sum_squares_temp_bytes(n) bytes.
cudaError_t launch_sum_squares(const float* x, std::size_t n, double* out, void* temp, std::size_t temp_bytes,
                               cudaStream_t stream);

// scale = min(1, clip / (sqrt(*norm_sq) + 1e-6)) (torch.nn.utils.clip_grad_norm_), written to *scale.
void launch_clip_factor(const double* norm_sq, float clip, float* scale, cudaStream_t stream);

// x[i] *= *scale for i < n.
void launch_scale(float* x, std::size_t n, const float* scale, cudaStream_t stream);

// *acc += *value (one thread; keeps per-epoch sums on the device between steps).
void launch_accumulate(double* acc, const double* value, cudaStream_t stream);

}  // namespace lstmad::kernels
