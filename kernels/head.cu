// Linear head forward (+ MSE and its gradient) and backward; see head.hpp. The head is tiny next to the
// LSTM (horizon x H), so the kernels favour fixed-order sums over speed: one warp per output in forward
// (a dot product of length H), one thread per output in backward (a loop over B or horizon).
#include "kernels/head.hpp"
#include "kernels/launch.cuh"

namespace lstmad::kernels {

namespace {

constexpr int kThreads = 256;

__global__ void head_forward_kernel(const float* __restrict__ h, int B, int H, int horizon,
                                    const float* __restrict__ Wh, const float* __restrict__ bh,
                                    float* __restrict__ yhat, const float* __restrict__ y,
                                    float* __restrict__ dyhat, float* __restrict__ resid, float dscale) {
  const int warp = static_cast<int>((blockIdx.x * blockDim.x + threadIdx.x) / 32);
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (warp >= B * horizon) return;
  const int b = warp / horizon, j = warp % horizon;
  const float* hb = h + static_cast<long long>(b) * H;
  const float* wj = Wh + static_cast<long long>(j) * H;
  float acc = 0.f;
  for (int k = lane; k < H; k += 32) acc = fmaf(wj[k], hb[k], acc);
  for (int off = 16; off > 0; off /= 2) acc += __shfl_down_sync(0xffffffffu, acc, off);
  if (lane == 0) {
    const float out = acc + bh[j];
    yhat[warp] = out;
    if (y != nullptr) {
      const float diff = out - y[warp];
      if (resid != nullptr) resid[warp] = diff;
      if (dyhat != nullptr) dyhat[warp] = dscale * diff;
    }
  }
}

// Threads [0, horizon*H) compute dWh, the next `horizon` compute dbh, the next B*H compute dh.
__global__ void head_backward_kernel(const float* __restrict__ h, const float* __restrict__ dyhat, int B,
                                     int H, int horizon, const float* __restrict__ Wh,
                                     float* __restrict__ dWh, float* __restrict__ dbh,
                                     float* __restrict__ dh) {
  long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  const long long nW = static_cast<long long>(horizon) * H;
  if (t < nW) {
    const int j = static_cast<int>(t / H), k = static_cast<int>(t % H);
    float acc = 0.f;
    for (int b = 0; b < B; ++b) acc = fmaf(dyhat[b * horizon + j], h[static_cast<long long>(b) * H + k], acc);
    dWh[t] = acc;
    return;
  }
  t -= nW;
  if (t < horizon) {
    float acc = 0.f;
    for (int b = 0; b < B; ++b) acc += dyhat[b * horizon + t];
    dbh[t] = acc;
    return;
  }
  t -= horizon;
  if (t < static_cast<long long>(B) * H) {
    const int b = static_cast<int>(t / H), k = static_cast<int>(t % H);
    float acc = 0.f;
    for (int j = 0; j < horizon; ++j)
      acc = fmaf(dyhat[b * horizon + j], Wh[static_cast<long long>(j) * H + k], acc);
    dh[t] = acc;
  }
}

}  // namespace

void launch_head_forward(const float* h, int B, int H, int horizon, const float* Wh, const float* bh,
                         float* yhat, const float* y, float* dyhat, float* resid, cudaStream_t stream) {
  const long long threads = static_cast<long long>(B) * horizon * 32;
  if (threads == 0) return;
  const int blocks = static_cast<int>((threads + kThreads - 1) / kThreads);
  const float dscale = 2.f / static_cast<float>(static_cast<long long>(B) * horizon);
  launch_kernel(head_forward_kernel, blocks, kThreads, 0, stream, h, B, H, horizon, Wh, bh, yhat, y, dyhat,
                resid, dscale);
}

void launch_head_backward(const float* h, const float* dyhat, int B, int H, int horizon, const float* Wh,
                          float* dWh, float* dbh, float* dh, cudaStream_t stream) {
  const long long total = static_cast<long long>(horizon) * H + horizon + static_cast<long long>(B) * H;
  if (total == 0) return;
  const int blocks = static_cast<int>((total + kThreads - 1) / kThreads);
  launch_kernel(head_backward_kernel, blocks, kThreads, 0, stream, h, dyhat, B, H, horizon, Wh, dWh, dbh, dh);
}

}  // namespace lstmad::kernels
