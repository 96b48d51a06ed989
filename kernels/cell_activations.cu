// See cell_activations.hpp: one thread per input, each activation through the same cell:: functions the
// time loops inline.
#include "kernels/cell_activations.hpp"
#include "kernels/launch.cuh"
#include "kernels/lstm_cell.hpp"

namespace lstmad::kernels {

namespace {

__global__ void cell_activations_kernel(const float* __restrict__ x, std::size_t n, float* __restrict__ out) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  using cell::Activations;
  const float v = x[i];
  float* o = out + i * kCellActivations;
  o[kSigmoidPrecise] = cell::sigmoid<Activations::Precise>(v);
  o[kTanhPrecise] = cell::tanh_act<Activations::Precise>(v);
  o[kSigmoidFast] = cell::sigmoid<Activations::Fast>(v);
  o[kTanhFast] = cell::tanh_act<Activations::Fast>(v);
}

}  // namespace

cudaError_t launch_cell_activations(const float* x, std::size_t n, float* out, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  const std::size_t blocks = (n + kThreads - 1) / kThreads;
  if (x == nullptr || out == nullptr || blocks > 0x7fffffffu) return cudaErrorInvalidValue;
  launch_kernel(cell_activations_kernel, dim3(static_cast<unsigned>(blocks)), dim3(kThreads), 0, stream, x, n,
                out);
  return cudaSuccess;
}

}  // namespace lstmad::kernels
