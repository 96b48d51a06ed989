// CUB-based sums of squares and the small kernels around them; see reduce.hpp. The square is applied by
// a transform iterator so no squared copy is written; accumulation is in double so that the norm of
// ~10^6 gradients does not lose the small ones.
#if !defined(LSTMAD_CUDA_EMULATION)
#include <thrust/iterator/transform_iterator.h>

#include <cub/device/device_reduce.cuh>
#endif

#include "kernels/launch.cuh"
#include "kernels/lstm_multi.hpp"
#include "kernels/reduce.hpp"

namespace lstmad::kernels {

namespace {

#if !defined(LSTMAD_CUDA_EMULATION)
struct SquareToDouble {
  __host__ __device__ double operator()(float x) const {
    const double d = static_cast<double>(x);
    return d * d;
  }
};
#endif

__global__ void clip_factor_kernel(const double* __restrict__ norm_sq, float clip,
                                   float* __restrict__ scale) {
  const double coef = static_cast<double>(clip) / (sqrt(*norm_sq) + 1e-6);
  *scale = static_cast<float>(coef >= 1.0 ? 1.0 : coef);  // NaN stays NaN
}

__global__ void scale_kernel(float* __restrict__ x, std::size_t n, const float* __restrict__ scale) {
  const float s = *scale;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    x[i] *= s;
}

__global__ void accumulate_kernel(double* __restrict__ acc, const double* __restrict__ value) {
  *acc += *value;
}

}  // namespace

#if !defined(LSTMAD_CUDA_EMULATION)
std::size_t sum_squares_temp_bytes(std::size_t n) {
  std::size_t bytes = 0;
  auto it = thrust::make_transform_iterator(static_cast<const float*>(nullptr), SquareToDouble{});
  cub::DeviceReduce::Sum(nullptr, bytes, it, static_cast<double*>(nullptr), static_cast<long long>(n));
  return bytes;
}

cudaError_t launch_sum_squares(const float* x, std::size_t n, double* out, void* temp, std::size_t temp_bytes,
                               cudaStream_t stream) {
  auto it = thrust::make_transform_iterator(x, SquareToDouble{});
  return cub::DeviceReduce::Sum(temp, temp_bytes, it, out, static_cast<long long>(n), stream);
}
#else
// The host emulation (tests/emulation) has no CUB: the multi-model sum of squares (double, fixed order)
// for one model of n values.
std::size_t sum_squares_temp_bytes(std::size_t) {
  return sizeof(double);
}

cudaError_t launch_sum_squares(const float* x, std::size_t n, double* out, void*, std::size_t,
                               cudaStream_t stream) {
  launch_multi_sum_squares(x, 0, nullptr, static_cast<long long>(n), out, nullptr, nullptr, 1, stream);
  return cudaGetLastError();
}
#endif

void launch_clip_factor(const double* norm_sq, float clip, float* scale, cudaStream_t stream) {
  launch_kernel(clip_factor_kernel, 1, 1, 0, stream, norm_sq, clip, scale);
}

void launch_scale(float* x, std::size_t n, const float* scale, cudaStream_t stream) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  const std::size_t want = (n + kThreads - 1) / kThreads;
  launch_kernel(scale_kernel, static_cast<int>(want < 4096 ? want : 4096), kThreads, 0, stream, x, n, scale);
}

void launch_accumulate(double* acc, const double* value, cudaStream_t stream) {
  launch_kernel(accumulate_kernel, 1, 1, 0, stream, acc, value);
}

}  // namespace lstmad::kernels
