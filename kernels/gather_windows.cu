// Window gather; see gather_windows.hpp. A window's inputs are one contiguous run of T*D floats in the
// series, so each block copies one window with coalesced loads and stores.
#include "kernels/gather_windows.hpp"
#include "kernels/launch.cuh"

namespace lstmad::kernels {

namespace {

__global__ void gather_windows_kernel(const float* __restrict__ xs, const float* __restrict__ ys, int D,
                                      const int* __restrict__ starts, const int* __restrict__ d_cursor, int T,
                                      int horizon, float* __restrict__ xb, float* __restrict__ yb) {
  const int b = blockIdx.x;
  const int cursor = d_cursor != nullptr ? *d_cursor : 0;
  const long long s = starts[cursor + b];
  const long long len = static_cast<long long>(T) * D;
  const float* src = xs + s * D;
  float* dst = xb + static_cast<long long>(b) * len;
  for (long long i = threadIdx.x; i < len; i += blockDim.x) dst[i] = src[i];
  if (yb != nullptr)
    for (int j = threadIdx.x; j < horizon; j += blockDim.x) yb[b * horizon + j] = ys[s + T + j];
}

__global__ void advance_cursor_kernel(int* d_cursor, int by) {
  *d_cursor += by;
}

}  // namespace

void launch_gather_windows(const float* xs, const float* ys, int D, const int* starts, const int* d_cursor,
                           int B, int T, int horizon, float* xb, float* yb, cudaStream_t stream) {
  if (B <= 0) return;
  const long long len = static_cast<long long>(T) * D;
  const int threads = len >= 256 ? 256 : (len >= 64 ? 128 : 32);
  launch_kernel(gather_windows_kernel, B, threads, 0, stream, xs, ys, D, starts, d_cursor, T, horizon, xb,
                yb);
}

void launch_advance_cursor(int* d_cursor, int by, cudaStream_t stream) {
  launch_kernel(advance_cursor_kernel, 1, 1, 0, stream, d_cursor, by);
}

}  // namespace lstmad::kernels
