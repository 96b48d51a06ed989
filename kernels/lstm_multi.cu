// The multi-model step kernels (lstm_multi.hpp) except the GEMM (lstm_multi_gemm.cu). Every kernel takes
// the model from blockIdx.y (or one thread per model) and leaves a skipped model alone. Sums run in a
// fixed order that depends on the model's own sizes only.
#include <cmath>

#include "kernels/launch.cuh"
#include "kernels/lstm_multi.hpp"

namespace lstmad::kernels {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ bool skipped(const unsigned char* active, int m) {
  return active != nullptr && active[m] == 0;
}

int blocks_for(long long n, int threads, int most = 1024) {
  const long long b = (n + threads - 1) / threads;
  return static_cast<int>(b < most ? (b > 0 ? b : 1) : most);
}

__global__ void step_prepare_kernel(const unsigned char* __restrict__ running, const int* __restrict__ count,
                                    int B, int* __restrict__ cursor, int* __restrict__ start,
                                    int* __restrict__ rows, unsigned char* __restrict__ active, int models) {
  const int m = blockIdx.x * blockDim.x + threadIdx.x;
  if (m >= models) return;
  const int c = cursor[m], n = count[m];
  const bool on = running[m] != 0 && c < n;
  active[m] = on ? 1 : 0;
  const int r = on ? (n - c < B ? n - c : B) : 0;
  rows[m] = r;
  start[m] = c;
  cursor[m] = c + r;
}

__global__ void gather_kernel(const float* __restrict__ xs, const float* __restrict__ ys,
                              const long long* __restrict__ xs_offset, int D, const int* __restrict__ list,
                              long long list_stride, const int* __restrict__ start,
                              const int* __restrict__ rows, const unsigned char* __restrict__ active, int B,
                              int T, int horizon, float* __restrict__ xt, float* __restrict__ yb) {
  const int m = blockIdx.y;
  if (skipped(active, m)) return;
  const int nr = rows[m];
  const long long nx = static_cast<long long>(B) * T * D, ny = static_cast<long long>(B) * horizon;
  const long long off = xs_offset[m];
  const int* lm = list + m * list_stride + start[m];
  float* xo = xt + m * nx;
  float* yo = yb != nullptr ? yb + m * ny : nullptr;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < nx + ny;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    if (i < nx) {  // i = (t * B + k) * D + d
      const int d = static_cast<int>(i % D);
      const long long tk = i / D;
      const int k = static_cast<int>(tk % B), t = static_cast<int>(tk / B);
      if (k >= nr) continue;
      xo[i] = xs[(off + lm[k] + t) * D + d];
    } else if (yo != nullptr) {  // i - nx = k * horizon + j
      const long long r = i - nx;
      const int k = static_cast<int>(r / horizon), j = static_cast<int>(r % horizon);
      if (k >= nr) continue;
      yo[r] = ys[off + lm[k] + T + j];
    }
  }
}

__global__ void store_rows_kernel(const float* __restrict__ src, long long src_batch, int width,
                                  const int* __restrict__ start, const int* __restrict__ rows,
                                  const unsigned char* __restrict__ active, float* __restrict__ dst,
                                  const long long* __restrict__ dst_offset) {
  const int m = blockIdx.y;
  if (skipped(active, m)) return;
  const long long n = static_cast<long long>(rows[m]) * width;
  const float* sm = src + m * src_batch;
  float* dm = dst + dst_offset[m] + static_cast<long long>(start[m]) * width;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    dm[i] = sm[i];
}

__global__ void zero_rows_kernel(float* __restrict__ buf, int T, int B, int width,
                                 const int* __restrict__ rows, const unsigned char* __restrict__ active) {
  const int m = blockIdx.y;
  if (skipped(active, m)) return;
  const int nr = rows[m];
  if (nr >= B) return;
  float* bm = buf + static_cast<long long>(m) * T * B * width;
  const long long n = static_cast<long long>(T) * B;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    if (static_cast<int>(i % B) < nr) continue;
    float* r = bm + i * width;
    for (int w = 0; w < width; ++w) r[w] = 0.f;
  }
}

// One warp per (row, output), as kernels/head.cu.
__global__ void head_forward_kernel(const float* __restrict__ h, long long h_batch,
                                    const float* __restrict__ theta, long long p_batch, std::size_t head_W,
                                    std::size_t head_b, int B, int H, int horizon,
                                    const int* __restrict__ rows, const unsigned char* __restrict__ active,
                                    float* __restrict__ yhat, const float* __restrict__ y,
                                    float* __restrict__ dyhat, float* __restrict__ resid) {
  const int m = blockIdx.y;
  if (skipped(active, m)) return;
  const int nr = rows != nullptr ? rows[m] : B;
  const int warp = static_cast<int>((blockIdx.x * blockDim.x + threadIdx.x) / 32);
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (warp >= nr * horizon) return;
  const int b = warp / horizon, j = warp % horizon;
  const float* pm = theta + m * p_batch;
  const float* hb = h + m * h_batch + static_cast<long long>(b) * H;
  const float* wj = pm + head_W + static_cast<long long>(j) * H;
  float acc = 0.f;
  for (int k = lane; k < H; k += 32) acc = fmaf(wj[k], hb[k], acc);
  for (int off = 16; off > 0; off /= 2) acc += __shfl_down_sync(0xffffffffu, acc, off);
  if (lane == 0) {
    const long long o = static_cast<long long>(m) * B * horizon + warp;
    const float out = acc + pm[head_b + j];
    yhat[o] = out;
    if (y != nullptr) {
      const float diff = out - y[o];
      if (resid != nullptr) resid[o] = diff;
      const float dscale = 2.f / static_cast<float>(static_cast<long long>(nr) * horizon);
      if (dyhat != nullptr) dyhat[o] = dscale * diff;
    }
  }
}

// Threads [0, horizon*H): dWh; the next horizon: dbh; the next B*H: dh (as kernels/head.cu).
__global__ void head_backward_kernel(const float* __restrict__ h, long long h_batch,
                                     const float* __restrict__ dyhat, const float* __restrict__ theta,
                                     float* __restrict__ dtheta, long long p_batch, std::size_t head_W,
                                     std::size_t head_b, int B, int H, int horizon,
                                     const int* __restrict__ rows, const unsigned char* __restrict__ active,
                                     float* __restrict__ dh, long long dh_batch) {
  const int m = blockIdx.y;
  if (skipped(active, m)) return;
  const int nr = rows != nullptr ? rows[m] : B;
  const float* hm = h + m * h_batch;
  const float* dym = dyhat + static_cast<long long>(m) * B * horizon;
  const float* Wh = theta + m * p_batch + head_W;
  float* dpm = dtheta + m * p_batch;
  long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  const long long nW = static_cast<long long>(horizon) * H;
  if (t < nW) {
    const int j = static_cast<int>(t / H), k = static_cast<int>(t % H);
    float acc = 0.f;
    for (int b = 0; b < nr; ++b) acc = fmaf(dym[b * horizon + j], hm[static_cast<long long>(b) * H + k], acc);
    dpm[head_W + t] = acc;
    return;
  }
  t -= nW;
  if (t < horizon) {
    float acc = 0.f;
    for (int b = 0; b < nr; ++b) acc += dym[b * horizon + t];
    dpm[head_b + t] = acc;
    return;
  }
  t -= horizon;
  if (t < static_cast<long long>(nr) * H) {
    const int b = static_cast<int>(t / H), k = static_cast<int>(t % H);
    float acc = 0.f;
    for (int j = 0; j < horizon; ++j)
      acc = fmaf(dym[b * horizon + j], Wh[static_cast<long long>(j) * H + k], acc);
    dh[m * dh_batch + t] = acc;
  }
}

// One block of kThreads per model: thread i sums elements i, i + kThreads, ... in order, then a fixed
// tree over the threads.
__global__ void __launch_bounds__(kThreads)
    sum_squares_kernel(const float* __restrict__ x, long long x_batch, const int* __restrict__ rows,
                       long long row_len, double* __restrict__ out, double* __restrict__ acc,
                       const unsigned char* __restrict__ active) {
  __shared__ double part[kThreads];
  const int m = blockIdx.x;
  if (skipped(active, m)) return;
  const long long n = rows != nullptr ? rows[m] * row_len : row_len;
  const float* xm = x + m * x_batch;
  double s = 0.0;
  for (long long i = threadIdx.x; i < n; i += kThreads) {
    const double d = static_cast<double>(xm[i]);
    s += d * d;
  }
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    out[m] = part[0];
    if (acc != nullptr) acc[m] += part[0];
  }
}

__global__ void reset_kernel(double* __restrict__ acc, const unsigned char* __restrict__ running,
                             int models) {
  const int m = blockIdx.x * blockDim.x + threadIdx.x;
  if (m < models && (running == nullptr || running[m] != 0)) acc[m] = 0.0;
}

// adam.cu's prepare, one thread per model.
__global__ void adam_prepare_kernel(const AdamHyper* __restrict__ hyper, const double* __restrict__ norm_sq,
                                    AdamStepState* __restrict__ state,
                                    const unsigned char* __restrict__ active, int models) {
  const int m = blockIdx.x * blockDim.x + threadIdx.x;
  if (m >= models || skipped(active, m)) return;
  const AdamHyper h = hyper[m];
  AdamStepState& st = state[m];
  const int t = st.step + 1;
  st.step = t;
  double scale = 1.0;
  const double norm = norm_sq != nullptr ? sqrt(norm_sq[m]) : 0.0;
  if (h.clip_norm > 0.f && norm_sq != nullptr) {
    const double coef = static_cast<double>(h.clip_norm) / (norm + 1e-6);  // NaN stays NaN (adam.cu)
    scale = coef >= 1.0 ? 1.0 : coef;
  }
  const double bc1 = 1.0 - pow(static_cast<double>(h.beta1), t);
  const double bc2 = 1.0 - pow(static_cast<double>(h.beta2), t);
  st.grad_scale = static_cast<float>(scale);
  st.step_size = static_cast<float>(h.lr / bc1);
  st.inv_sqrt_bc2 = static_cast<float>(1.0 / sqrt(bc2));
  st.grad_norm = norm;
}

__global__ void adam_update_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ mo,
                                   float* __restrict__ v, std::size_t n, long long p_batch,
                                   const AdamHyper* __restrict__ hyper,
                                   const AdamStepState* __restrict__ state,
                                   const unsigned char* __restrict__ active) {
  const int m = blockIdx.y;
  if (skipped(active, m)) return;
  const AdamHyper& h = hyper[m];
  const AdamStepState& st = state[m];
  const float b1 = h.beta1, b2 = h.beta2, eps = h.eps, wd = h.weight_decay;
  const float scale = st.grad_scale, step_size = st.step_size, inv_sqrt_bc2 = st.inv_sqrt_bc2;
  const long long o = m * p_batch;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float pi = p[o + i];
    const float gi = fmaf(wd, pi, g[o + i] * scale);
    const float mi = fmaf(b1, mo[o + i], (1.f - b1) * gi);
    const float vi = fmaf(b2, v[o + i], (1.f - b2) * gi * gi);
    mo[o + i] = mi;
    v[o + i] = vi;
    p[o + i] = pi - step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
  }
}

__global__ void copy_kernel(float* __restrict__ dst, const float* __restrict__ src, std::size_t n,
                            long long p_batch, const unsigned char* __restrict__ flag) {
  const int m = blockIdx.y;
  if (flag[m] == 0) return;
  const long long o = m * p_batch;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dst[o + i] = src[o + i];
}

}  // namespace

void launch_multi_step_prepare(const unsigned char* running, const int* count, int B, int* cursor, int* start,
                               int* rows, unsigned char* active, int models, cudaStream_t stream) {
  if (models <= 0) return;
  launch_kernel(step_prepare_kernel, blocks_for(models, kThreads, 1 << 20), kThreads, 0, stream, running,
                count, B, cursor, start, rows, active, models);
}

void launch_multi_gather(const float* xs, const float* ys, const long long* xs_offset, int D, const int* list,
                         long long list_stride, const int* start, const int* rows,
                         const unsigned char* active, int B, int T, int horizon, float* xt, float* yb,
                         int models, cudaStream_t stream) {
  if (models <= 0) return;
  const long long n = static_cast<long long>(B) * T * D + static_cast<long long>(B) * horizon;
  const dim3 grid(blocks_for(n, kThreads, 256), models);
  launch_kernel(gather_kernel, grid, kThreads, 0, stream, xs, ys, xs_offset, D, list, list_stride, start,
                rows, active, B, T, horizon, xt, yb);
}

void launch_multi_store_rows(const float* src, long long src_batch, int width, const int* start, const int* rows,
                             const unsigned char* active, float* dst, const long long* dst_offset, int B,
                             int models, cudaStream_t stream) {
  if (models <= 0 || width <= 0) return;
  const dim3 grid(blocks_for(static_cast<long long>(B) * width, kThreads, 64), models);
  launch_kernel(store_rows_kernel, grid, kThreads, 0, stream, src, src_batch, width, start, rows, active, dst,
                dst_offset);
}

void launch_multi_zero_rows(float* buf, int T, int B, int width, const int* rows, const unsigned char* active,
                            int models, cudaStream_t stream) {
  if (models <= 0) return;
  const dim3 grid(blocks_for(static_cast<long long>(T) * B, kThreads, 64), models);
  launch_kernel(zero_rows_kernel, grid, kThreads, 0, stream, buf, T, B, width, rows, active);
}

void launch_multi_head_forward(const float* h, long long h_batch, const float* theta, long long p_batch,
                               std::size_t head_W, std::size_t head_b, int B, int H, int horizon,
                               const int* rows, const unsigned char* active, float* yhat, const float* y,
                               float* dyhat, float* resid, int models, cudaStream_t stream) {
  const long long threads = static_cast<long long>(B) * horizon * 32;
  if (threads == 0 || models <= 0) return;
  const dim3 grid(static_cast<int>((threads + kThreads - 1) / kThreads), models);
  launch_kernel(head_forward_kernel, grid, kThreads, 0, stream, h, h_batch, theta, p_batch, head_W, head_b, B,
                H, horizon, rows, active, yhat, y, dyhat, resid);
}

void launch_multi_head_backward(const float* h, long long h_batch, const float* dyhat, const float* theta,
                                float* dtheta, long long p_batch, std::size_t head_W, std::size_t head_b,
                                int B, int H, int horizon, const int* rows, const unsigned char* active,
                                float* dh, long long dh_batch, int models, cudaStream_t stream) {
  const long long total = static_cast<long long>(horizon) * H + horizon + static_cast<long long>(B) * H;
  if (total == 0 || models <= 0) return;
  const dim3 grid(static_cast<int>((total + kThreads - 1) / kThreads), models);
  launch_kernel(head_backward_kernel, grid, kThreads, 0, stream, h, h_batch, dyhat, theta, dtheta, p_batch,
                head_W, head_b, B, H, horizon, rows, active, dh, dh_batch);
}

void launch_multi_sum_squares(const float* x, long long x_batch, const int* rows, long long row_len,
                              double* out, double* acc, const unsigned char* active, int models,
                              cudaStream_t stream) {
  if (models <= 0) return;
  launch_kernel(sum_squares_kernel, models, kThreads, 0, stream, x, x_batch, rows, row_len, out, acc, active);
}

void launch_multi_reset(double* acc, const unsigned char* running, int models, cudaStream_t stream) {
  if (models <= 0) return;
  launch_kernel(reset_kernel, blocks_for(models, kThreads, 1 << 20), kThreads, 0, stream, acc, running,
                models);
}

void launch_multi_adam_prepare(const AdamHyper* hyper, const double* norm_sq, AdamStepState* state,
                               const unsigned char* active, int models, cudaStream_t stream) {
  if (models <= 0) return;
  launch_kernel(adam_prepare_kernel, blocks_for(models, kThreads, 1 << 20), kThreads, 0, stream, hyper,
                norm_sq, state, active, models);
}

void launch_multi_adam_update(float* params, const float* grad, float* m, float* v, std::size_t n,
                              long long p_batch, const AdamHyper* hyper, const AdamStepState* state,
                              const unsigned char* active, int models, cudaStream_t stream) {
  if (n == 0 || models <= 0) return;
  const dim3 grid(blocks_for(static_cast<long long>(n), kThreads, 64), models);
  launch_kernel(adam_update_kernel, grid, kThreads, 0, stream, params, grad, m, v, n, p_batch, hyper, state,
                active);
}

void launch_multi_copy(float* dst, const float* src, std::size_t n, long long p_batch,
                       const unsigned char* flag, int models, cudaStream_t stream) {
  if (n == 0 || models <= 0) return;
  const dim3 grid(blocks_for(static_cast<long long>(n), kThreads, 64), models);
  launch_kernel(copy_kernel, grid, kThreads, 0, stream, dst, src, n, p_batch, flag);
}

}  // namespace lstmad::kernels
