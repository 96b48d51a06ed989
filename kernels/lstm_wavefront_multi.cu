// The two-layer wavefront for many models per launch, in the layers' order (lstm_wavefront.hpp,
// launch_wavefront_*_layers): the multi-model path's layer-by-layer bits with the wavefront's T + 2 (forward)
// and T + 5 (backward) dependent iterations in place of 2T, and neither layer 2's input GEMM nor its dX
// GEMM between the layers. Each iteration is one call of lstm_wavefront_step.hpp's *_layers step function
// per thread, then one barrier, as in lstm_wavefront.cu; blockIdx.y is the model.
#include "kernels/const_hidden.hpp"
#include "kernels/launch.cuh"
#include "kernels/lstm_wavefront.hpp"
#include "kernels/smem_limit.hpp"

namespace lstmad::kernels {

namespace {

// Model m's R1, W2, R2 transposed into out + m * out_batch (R1t | W2t | R2t, H x 4H each).
__global__ void wavefront_transpose_models_kernel(const float* __restrict__ R1, const float* __restrict__ W2,
                                                  const float* __restrict__ R2, long long p_batch, int H,
                                                  float* __restrict__ out, long long out_batch,
                                                  const unsigned char* __restrict__ active) {
  const long long model = blockIdx.y;
  if (active != nullptr && active[model] == 0) return;
  const long long n = 4LL * H * H, off = model * p_batch;
  float* o = out + model * out_batch;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < 3 * n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long which = i / n, e = i % n, m = e / H, k = e % H;
    const float* src = (which == 0 ? R1 : (which == 1 ? W2 : R2)) + off;
    o[which * n + k * 4 * H + m] = src[e];
  }
}

template <class P>
__device__ __forceinline__ void move(P& p, std::size_t by) {
  if (p != nullptr) p += by;
}

// blockDim = (role threads, 3), grid = (row blocks, models); kH as in lstm_wavefront.cu.
template <int kH>
__global__ void __launch_bounds__(1024, 1)
    wavefront_layers_fwd_kernel(const float* __restrict__ Rt3, wavefront::FwdGlobal g, wavefront::Dims d,
                                const ModelStrides ms) {
  const std::size_t model = blockIdx.y;
  const int nrows = model_rows(ms, static_cast<int>(model), d.B);
  const int row0 = blockIdx.x * d.BB;
  if (row0 >= nrows) return;  // the whole block, before any barrier
  LSTMAD_DYNAMIC_SMEM(float, smem);
  Rt3 += model * ms.rt;
  move(g.gx1, model * ms.gx);
  move(g.x, model * ms.x);
  move(g.W1, model * ms.param);
  g.b1W += model * ms.param;
  g.b1R += model * ms.param;
  g.b2W += model * ms.param;
  g.b2R += model * ms.param;
  g.y1 += model * ms.y;
  g.y2 += model * ms.y;
  move(g.gates1, model * ms.gates);
  move(g.gates2, model * ms.gates);
  move(g.c1, model * ms.seq);
  move(g.c2, model * ms.seq);
  move(g.hy, model * ms.state);
  move(g.cy, model * ms.state);
  const int H = d.H, BB = d.BB;
  const int i = threadIdx.x, role = threadIdx.y;
  const int nthreads = blockDim.x * blockDim.y, tid = role * blockDim.x + i;
  const wavefront::FwdShared m = wavefront::fwd_shared(smem, Rt3, H, BB, tid, nthreads);
  const bool works = i < H * BB;
  const int j = works ? i % H : 0, lr = works ? i / H : 0;
  wavefront::FwdThread st;
  if (works && role == 0 && row0 + lr < nrows) wavefront::fwd_load_input(d, g, 0, row0 + lr, j, st.next);
  __syncthreads();
  const int S = wavefront::iterations(d.T);
  for (int s = 0; s < S; ++s) {
    if (works) wavefront::fwd_iteration_layers<kH>(d, g, m, s, j, lr, row0, nrows, role, st);
    __syncthreads();
  }
}

template <int kH>
__global__ void __launch_bounds__(1024, 1)
    wavefront_layers_bwd_kernel(const float* __restrict__ R1, const float* __restrict__ W2,
                                const float* __restrict__ R2, wavefront::BwdGlobal g, wavefront::Dims d,
                                const ModelStrides ms) {
  const std::size_t model = blockIdx.y;
  const int nrows = model_rows(ms, static_cast<int>(model), d.B);
  const int row0 = blockIdx.x * d.BB;
  if (row0 >= nrows) return;
  LSTMAD_DYNAMIC_SMEM(float, smem);
  R1 += model * ms.param;
  W2 += model * ms.param;
  R2 += model * ms.param;
  g.gates1 += model * ms.gates;
  g.gates2 += model * ms.gates;
  g.c1 += model * ms.seq;
  g.c2 += model * ms.seq;
  move(g.dhy, model * ms.state);
  g.dgates1 += model * ms.gates;
  g.dgates2 += model * ms.gates;
  const int H = d.H, BB = d.BB;
  const int i = threadIdx.x, role = threadIdx.y;
  const int nthreads = blockDim.x * blockDim.y, tid = role * blockDim.x + i;
  const wavefront::BwdShared m =
      wavefront::bwd_shared(smem, R1, W2, R2, H, BB, wavefront::kLayersRing, tid, nthreads);
  __syncthreads();
  const bool works = i < H * BB;
  const int j = works ? i % H : 0, lr = works ? i / H : 0;
  wavefront::BwdThread st;
  const int S = wavefront::bwd_iterations_layers(d.T);
  for (int s = 0; s < S; ++s) {
    if (works) wavefront::bwd_iteration_layers<kH>(d, g, m, s, j, lr, row0, nrows, role, st);
    __syncthreads();
  }
}

}  // namespace

cudaError_t prepare_wavefront_layers(const WavefrontLaunch& plan) {
  if (plan.grid <= 0) return cudaSuccess;
  cudaError_t e = cudaSuccess;
  with_const_hidden(plan.H, [&](auto h) {
    constexpr int kH = decltype(h)::value;
    e = raise_dynamic_smem_limit(wavefront_layers_fwd_kernel<kH>, plan.smem_fwd);
    if (e == cudaSuccess) e = raise_dynamic_smem_limit(wavefront_layers_bwd_kernel<kH>, plan.smem_bwd);
  });
  return e;
}

void launch_wavefront_forward_layers(const WavefrontLaunch& plan, const WavefrontFwdArgs& args,
                                     float* workspace, const ModelStrides& ms, cudaStream_t stream) {
  if (plan.grid <= 0 || args.T <= 0 || ms.models <= 0) return;
  const long long n = 12LL * plan.H * plan.H;
  const int tgrid = static_cast<int>(n / 256 + 1 < 1024 ? n / 256 + 1 : 1024);
  launch_kernel(wavefront_transpose_models_kernel, dim3(tgrid, ms.models), 256, 0, stream, args.R1, args.W2,
                args.R2, static_cast<long long>(ms.param), plan.H, workspace, static_cast<long long>(ms.rt),
                ms.active);
  with_const_hidden(plan.H, [&](auto h) {
    constexpr int kH = decltype(h)::value;
    if (raise_dynamic_smem_limit(wavefront_layers_fwd_kernel<kH>, plan.smem_fwd) != cudaSuccess) return;
    launch_kernel(wavefront_layers_fwd_kernel<kH>, dim3(plan.grid, ms.models), dim3(plan.threads / 3, 3),
                  plan.smem_fwd, stream, workspace, args.g, wavefront_dims(plan, args.T), ms);
  });
}

void launch_wavefront_backward_layers(const WavefrontLaunch& plan, const WavefrontBwdArgs& args,
                                      const ModelStrides& ms, cudaStream_t stream) {
  if (plan.grid <= 0 || args.T <= 0 || ms.models <= 0) return;
  with_const_hidden(plan.H, [&](auto h) {
    constexpr int kH = decltype(h)::value;
    if (raise_dynamic_smem_limit(wavefront_layers_bwd_kernel<kH>, plan.smem_bwd) != cudaSuccess) return;
    launch_kernel(wavefront_layers_bwd_kernel<kH>, dim3(plan.grid, ms.models), dim3(plan.threads / 3, 3),
                  plan.smem_bwd, stream, args.R1, args.W2, args.R2, args.g, wavefront_dims(plan, args.T), ms);
  });
}

}  // namespace lstmad::kernels
