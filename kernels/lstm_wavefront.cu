// The two-layer wavefront kernels (lstm_wavefront.hpp). Each iteration is one call of the step function of
// lstm_wavefront_step.hpp per thread, then one barrier; the step function is also what the host test runs.
#include "kernels/const_hidden.hpp"
#include "kernels/launch.cuh"
#include "kernels/lstm_wavefront.hpp"
#include "kernels/smem_limit.hpp"

namespace lstmad::kernels {

namespace {

// Rt[k][m] = R[m][k] for the three 4H x H matrices at once: out holds R1t, W2t, R2t.
__global__ void wavefront_transpose_kernel(const float* __restrict__ R1, const float* __restrict__ W2,
                                           const float* __restrict__ R2, int H, float* __restrict__ out) {
  const long long n = 4LL * H * H;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < 3 * n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long which = i / n, e = i % n, m = e / H, k = e % H;
    const float* src = which == 0 ? R1 : (which == 1 ? W2 : R2);
    out[which * n + k * 4 * H + m] = src[e];
  }
}

// blockDim = (role threads, 3): threadIdx.y is the role, threadIdx.x < H * BB the (unit, row) it serves.
// kH: H as a constant, or 0 (kernels/const_hidden.hpp).
template <int kH>
__global__ void __launch_bounds__(1024, 1)
    wavefront_fwd_kernel(const float* __restrict__ Rt3, wavefront::FwdGlobal g, wavefront::Dims d) {
  LSTMAD_DYNAMIC_SMEM(float, smem);
  const int H = d.H, BB = d.BB;
  const int i = threadIdx.x, role = threadIdx.y;
  const int nthreads = blockDim.x * blockDim.y, tid = role * blockDim.x + i;
  const wavefront::FwdShared m = wavefront::fwd_shared(smem, Rt3, H, BB, tid, nthreads);
  __syncthreads();
  const bool works = i < H * BB;
  const int j = works ? i % H : 0, lr = works ? i / H : 0;
  const int row0 = blockIdx.x * BB;
  float c = 0.f;
  const int S = wavefront::iterations(d.T);
  for (int s = 0; s < S; ++s) {
    if (works) wavefront::fwd_iteration<kH>(d, g, m, s, j, lr, row0, d.B, role, c);
    __syncthreads();
  }
}

template <int kH>
__global__ void __launch_bounds__(1024, 1)
    wavefront_bwd_kernel(const float* __restrict__ R1, const float* __restrict__ W2,
                         const float* __restrict__ R2, wavefront::BwdGlobal g, wavefront::Dims d) {
  LSTMAD_DYNAMIC_SMEM(float, smem);
  const int H = d.H, BB = d.BB;
  const int i = threadIdx.x, role = threadIdx.y;
  const int nthreads = blockDim.x * blockDim.y, tid = role * blockDim.x + i;
  const wavefront::BwdShared m = wavefront::bwd_shared(smem, R1, W2, R2, H, BB, 2, tid, nthreads);
  __syncthreads();
  const bool works = i < H * BB;
  const int j = works ? i % H : 0, lr = works ? i / H : 0;
  const int row0 = blockIdx.x * BB;
  float dc = 0.f;
  const int S = wavefront::iterations(d.T);
  for (int s = 0; s < S; ++s) {
    if (works) wavefront::bwd_iteration<kH>(d, g, m, s, j, lr, row0, d.B, role, dc);
    __syncthreads();
  }
}

}  // namespace

cudaError_t prepare_wavefront(const WavefrontLaunch& plan) {
  if (plan.grid <= 0) return cudaSuccess;
  cudaError_t e = cudaSuccess;
  with_const_hidden(plan.H, [&](auto h) {
    constexpr int kH = decltype(h)::value;
    e = raise_dynamic_smem_limit(wavefront_fwd_kernel<kH>, plan.smem_fwd);
    if (e == cudaSuccess) e = raise_dynamic_smem_limit(wavefront_bwd_kernel<kH>, plan.smem_bwd);
  });
  return e;
}

void launch_wavefront_forward(const WavefrontLaunch& plan, const WavefrontFwdArgs& args, float* workspace,
                              cudaStream_t stream) {
  if (plan.grid <= 0 || args.T <= 0) return;
  const long long n = 12LL * plan.H * plan.H;
  const int tgrid = static_cast<int>(n / 256 + 1 < 4096 ? n / 256 + 1 : 4096);
  launch_kernel(wavefront_transpose_kernel, tgrid, 256, 0, stream, args.R1, args.W2, args.R2, plan.H,
                workspace);
  const dim3 block(plan.threads / 3, 3);
  with_const_hidden(plan.H, [&](auto h) {
    constexpr int kH = decltype(h)::value;
    if (raise_dynamic_smem_limit(wavefront_fwd_kernel<kH>, plan.smem_fwd) != cudaSuccess)
      return;  // launch check
    launch_kernel(wavefront_fwd_kernel<kH>, plan.grid, block, plan.smem_fwd, stream, workspace, args.g,
                  wavefront_dims(plan, args.T));
  });
}

void launch_wavefront_backward(const WavefrontLaunch& plan, const WavefrontBwdArgs& args,
                               cudaStream_t stream) {
  if (plan.grid <= 0 || args.T <= 0) return;
  const dim3 block(plan.threads / 3, 3);
  with_const_hidden(plan.H, [&](auto h) {
    constexpr int kH = decltype(h)::value;
    if (raise_dynamic_smem_limit(wavefront_bwd_kernel<kH>, plan.smem_bwd) != cudaSuccess) return;
    launch_kernel(wavefront_bwd_kernel<kH>, plan.grid, block, plan.smem_bwd, stream, args.R1, args.W2,
                  args.R2, args.g, wavefront_dims(plan, args.T));
  });
}

}  // namespace lstmad::kernels
