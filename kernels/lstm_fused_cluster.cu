// Cluster variants of the fused time loops (see lstm_fused_cluster.hpp), v2 candidate: fp32 FMA.
//
// Geometry: a cluster of C blocks owns BB batch rows (cluster index = blockIdx.x / C); block `rank` of the
// cluster owns hidden units u = rank * Hc + j, j < Hc = H / C, for those rows; thread (j, g) owns unit u
// of local rows g, g+G, ... as in the one-block kernels.
//   forward:  shared memory holds the block's R rows (the 4 gates of its Hc units, stored k-major as
//             rs[k][q * Hc + j]) and a full double-buffered copy of h (BB x H). After the cell update
//             each thread stores its h into the same slot of every block's copy (DSMEM), then one
//             cluster barrier: every block sees the whole h_t before step t+1.
//   backward: shared memory holds the block's R columns (rs[m][j] = R[m][u], m < 4H) and a full
//             double-buffered copy of the gate gradients (BB x 4H), exchanged the same way.
// The double buffers make one cluster barrier per step enough (the same argument as one block's). What a
// step reads from global memory (gx or x forward; dy, the gates and c_{t-1} backward) is loaded a step
// ahead, as in the one-block kernels (fused_rows.cuh).
// The last remote store of a kernel is followed by a cluster barrier, so no block exits while a peer
// can still write into its shared memory.
// Several models (ModelStrides, the multi-model path): blockIdx.y is the model, each pointer moves by its
// stride, and a cluster whose rows lie past the model's real ones (or whose model is skipped) leaves as a
// whole before its first barrier: every block of a cluster has the same model and rows. The forward takes
// the layer's input in place of gx (FusedInput) with the one-block kernel's chains. Each unit's dot product
// is the same k (or m) loop, in the same order, as in the one-block kernels: results are bitwise repeatable
// and should equal theirs.
#if !defined(LSTMAD_CUDA_EMULATION)
#include <cooperative_groups.h>
#endif

#include "kernels/fused_rows.cuh"
#include "kernels/launch.cuh"
#include "kernels/lstm_cell.hpp"
#include "kernels/lstm_fused_cluster.hpp"
#include "kernels/smem_limit.hpp"

#if defined(LSTMAD_CUDA_EMULATION)
namespace cg = ::lstmad::emu::cg;
#else
namespace cg = cooperative_groups;
#endif

namespace lstmad::kernels {

namespace {

template <int MAXR>
__global__ void __launch_bounds__(kFusedMaxThreads, 1)
    lstm_fused_fwd_cluster_kernel(const float* __restrict__ gx, FusedInput in, const float* __restrict__ Rg,
                                  const float* __restrict__ bW, const float* __restrict__ bR, int T, int B,
                                  int H, int BB, float* __restrict__ y, float* __restrict__ gates,
                                  float* __restrict__ c_out, float* __restrict__ hy, float* __restrict__ cy,
                                  const ModelStrides ms) {
  LSTMAD_DYNAMIC_SMEM(float4, smem4);  // float4: fused_rows.cuh reads 16-byte words
  float* const smem = reinterpret_cast<float*>(smem4);
  cg::cluster_group cluster = cg::this_cluster();
  const int C = static_cast<int>(cluster.num_blocks());
  const int model = blockIdx.y;
  const int nrows = model_rows(ms, model, B);
  if ((static_cast<int>(blockIdx.x) / C) * BB >= nrows) return;
  {
    const std::size_t m = model;
    in = model_input(in, ms, m);
    Rg += m * ms.param;
    forward_at_model(ms, m, gx, bW, bR, y, gates, c_out, hy, cy);
  }
  const int rank = static_cast<int>(cluster.block_rank());
  const int Hc = blockDim.x;
  const int j = threadIdx.x, g = threadIdx.y, G = blockDim.y;
  const int u = rank * Hc + j;
  const int H4 = 4 * H, Hc4 = 4 * Hc;
  const int nthreads = blockDim.x * blockDim.y, tid = g * blockDim.x + j;
  float* rs = smem;                                      // [H][4 Hc]
  float* hs = smem + static_cast<std::size_t>(H) * Hc4;  // [2][BB][H]
  for (int i = tid; i < H * Hc4; i += nthreads) {
    const int k = i / Hc4, col = i % Hc4, q = col / Hc, jj = col % Hc;
    rs[i] = Rg[static_cast<long long>(q * H + rank * Hc + jj) * H + k];
  }
  for (int i = tid; i < 2 * BB * H; i += nthreads) hs[i] = 0.f;

  const int row0 = (blockIdx.x / C) * BB;
  int lr[MAXR];
  bool valid[MAXR];
  long long grow[MAXR];
  own_rows<MAXR>(g, G, BB, row0, nrows, lr, valid, grow);
  float bias[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) bias[q] = bW[q * H + u] + bR[q * H + u];
  float c[MAXR], h[MAXR];
#pragma unroll
  for (int r = 0; r < MAXR; ++r) {
    c[r] = 0.f;
    h[r] = 0.f;
    if (valid[r]) y[grow[r] * H + u] = 0.f;  // h_0
  }
  // gx of the next step (or its x) is loaded while this step's product runs, as in the one-block kernel.
  float gxn[MAXR][4];
#pragma unroll
  for (int r = 0; r < MAXR; ++r) load_fwd_input(valid[r], grow[r], gx, in, H, u, gxn[r]);
  cluster.sync();  // every block's copy is initialised before any peer stores into it

  for (int t = 0; t < T; ++t) {
    const float* hp = hs + (t & 1) * BB * H;
    float* hn = hs + ((t + 1) & 1) * BB * H;
    float acc[MAXR][4];
#pragma unroll
    for (int r = 0; r < MAXR; ++r) {
      fwd_start_values(gxn[r], in, u, H, bias, acc[r]);
      load_fwd_input(valid[r] && t + 1 < T, static_cast<long long>(t + 1) * B + grow[r], gx, in, H, u,
                     gxn[r]);
    }
    add_recurrent_product<MAXR>(acc, rs, j, Hc4, Hc, hp, lr, H);
#pragma unroll
    for (int r = 0; r < MAXR; ++r) {
      if (!valid[r]) continue;
      float gt[4];
      h[r] = cell::forward(acc[r], gt, c[r]);
      for (int p = 0; p < C; ++p) cluster.map_shared_rank(hn, p)[lr[r] * H + u] = h[r];
      const long long tb = static_cast<long long>(t) * B + grow[r];
      y[(tb + B) * H + u] = h[r];
      if (gates != nullptr) {
        float* gr = gates + tb * H4 + u;
#pragma unroll
        for (int q = 0; q < 4; ++q) gr[q * H] = gt[q];
        c_out[tb * H + u] = c[r];
      }
    }
    cluster.sync();
  }
#pragma unroll
  for (int r = 0; r < MAXR; ++r) {
    if (!valid[r]) continue;
    if (hy != nullptr) hy[grow[r] * H + u] = h[r];
    if (cy != nullptr) cy[grow[r] * H + u] = c[r];
  }
}

template <int MAXR>
__global__ void __launch_bounds__(kFusedMaxThreads, 1)
    lstm_fused_bwd_cluster_kernel(const float* __restrict__ Rg, const float* __restrict__ gates,
                                  const float* __restrict__ cst, const float* __restrict__ dy,
                                  const float* __restrict__ dhy, int T, int B, int H, int BB,
                                  float* __restrict__ dgates, const ModelStrides ms) {
  LSTMAD_DYNAMIC_SMEM(float4, smem4);  // float4: fused_rows.cuh reads 16-byte words
  float* const smem = reinterpret_cast<float*>(smem4);
  cg::cluster_group cluster = cg::this_cluster();
  const int C = static_cast<int>(cluster.num_blocks());
  const int model = blockIdx.y;
  const int nrows = model_rows(ms, model, B);
  if ((static_cast<int>(blockIdx.x) / C) * BB >= nrows) return;
  {
    const std::size_t m = model;
    Rg += m * ms.param;
    backward_at_model(ms, m, gates, cst, dy, dhy, dgates);
  }
  const int rank = static_cast<int>(cluster.block_rank());
  const int Hc = blockDim.x;
  const int j = threadIdx.x, g = threadIdx.y, G = blockDim.y;
  const int u = rank * Hc + j;
  const int H4 = 4 * H;
  const int nthreads = blockDim.x * blockDim.y, tid = g * blockDim.x + j;
  float* rs = smem;                                      // [4H][Hc]
  float* ds = smem + static_cast<std::size_t>(H4) * Hc;  // [2][BB][4H]
  for (int i = tid; i < H4 * Hc; i += nthreads) {
    const int m = i / Hc, jj = i % Hc;
    rs[i] = Rg[static_cast<long long>(m) * H + rank * Hc + jj];
  }
  for (int i = tid; i < 2 * BB * H4; i += nthreads) ds[i] = 0.f;

  const int row0 = (blockIdx.x / C) * BB;
  int lr[MAXR];
  bool valid[MAXR];
  long long grow[MAXR];
  own_rows<MAXR>(g, G, BB, row0, nrows, lr, valid, grow);
  float dh_rec[MAXR], dc[MAXR], ct[MAXR];
#pragma unroll
  for (int r = 0; r < MAXR; ++r) {
    dh_rec[r] = 0.f;
    dc[r] = 0.f;
    ct[r] = valid[r] ? cst[(static_cast<long long>(T - 1) * B + grow[r]) * H + u] : 0.f;
  }
  // What step t reads from global memory is loaded one step ahead (BwdStepInputs).
  BwdStepInputs<MAXR> next;
  next.load(T - 1, B, H, u, valid, grow, dy, gates, cst);
  cluster.sync();

  for (int t = T - 1; t >= 0; --t) {
    float* dcur = ds + (t & 1) * BB * H4;
    const BwdStepInputs<MAXR> in = next;
    next.load(t - 1, B, H, u, valid, grow, dy, gates, cst);
#pragma unroll
    for (int r = 0; r < MAXR; ++r) {
      if (!valid[r]) continue;
      const long long tb = static_cast<long long>(t) * B + grow[r];
      float dh = dh_rec[r] + in.dy[r];
      if (t == T - 1 && dhy != nullptr) dh += dhy[grow[r] * H + u];
      float da[4];
      cell::backward(dh, in.g[r], ct[r], in.cp[r], dc[r], da);
      ct[r] = in.cp[r];
      float* dgr = dgates + tb * H4 + u;
#pragma unroll
      for (int q = 0; q < 4; ++q) dgr[q * H] = da[q];
      for (int p = 0; p < C; ++p) {
        float* dst = cluster.map_shared_rank(dcur, p) + lr[r] * H4 + u;
#pragma unroll
        for (int q = 0; q < 4; ++q) dst[q * H] = da[q];
      }
    }
    cluster.sync();
    if (t == 0) break;
    recurrent_gradient<MAXR>(dh_rec, rs, j, Hc, dcur, lr, H4);
  }
}

template <int MAXR>
cudaError_t configure_fwd(std::size_t smem) {
  return raise_dynamic_smem_limit(lstm_fused_fwd_cluster_kernel<MAXR>, smem);
}
template <int MAXR>
cudaError_t configure_bwd(std::size_t smem) {
  return raise_dynamic_smem_limit(lstm_fused_bwd_cluster_kernel<MAXR>, smem);
}

dim3 cluster_grid(const FusedLaunch& p, int models = 1) {
  return dim3(static_cast<unsigned>(p.grid), static_cast<unsigned>(models));
}
dim3 cluster_block(const FusedLaunch& p) {
  return dim3(static_cast<unsigned>(p.H / p.cluster), static_cast<unsigned>(p.groups));
}

template <int MAXR>
cudaError_t capacity(const FusedLaunch& p, int* clusters) {
  const unsigned C = static_cast<unsigned>(p.cluster);
  int fwd = 0, bwd = 0;
  cudaError_t e = max_active_clusters(lstm_fused_fwd_cluster_kernel<MAXR>, cluster_grid(p), cluster_block(p),
                                      p.smem_fwd, C, &fwd);
  if (e != cudaSuccess) return e;
  e = max_active_clusters(lstm_fused_bwd_cluster_kernel<MAXR>, cluster_grid(p), cluster_block(p), p.smem_bwd,
                          C, &bwd);
  if (e != cudaSuccess) return e;
  *clusters = fwd < bwd ? fwd : bwd;
  return cudaSuccess;
}

template <int MAXR>
cudaError_t launch_fwd(const FusedLaunch& p, const FusedFwdArgs& a, cudaStream_t stream) {
  cudaError_t e = configure_fwd<MAXR>(p.smem_fwd);
  if (e != cudaSuccess) return e;
  return launch_cluster_kernel(lstm_fused_fwd_cluster_kernel<MAXR>, cluster_grid(p, a.models.models),
                               cluster_block(p), p.smem_fwd, stream, static_cast<unsigned>(p.cluster), a.gx,
                               a.input, a.R, a.bW, a.bR, a.T, p.B, p.H, p.rows_per_block, a.y, a.gates, a.c,
                               a.hy, a.cy, a.models);
}

template <int MAXR>
cudaError_t launch_bwd(const FusedLaunch& p, const FusedBwdArgs& a, cudaStream_t stream) {
  cudaError_t e = configure_bwd<MAXR>(p.smem_bwd);
  if (e != cudaSuccess) return e;
  return launch_cluster_kernel(lstm_fused_bwd_cluster_kernel<MAXR>, cluster_grid(p, a.models.models),
                               cluster_block(p), p.smem_bwd, stream, static_cast<unsigned>(p.cluster), a.R,
                               a.gates, a.c, a.dy, a.dhy, a.T, p.B, p.H, p.rows_per_block, a.dgates,
                               a.models);
}

}  // namespace

cudaError_t launch_lstm_fused_forward_cluster(const FusedLaunch& plan, const FusedFwdArgs& args,
                                              cudaStream_t stream) {
  if (plan.grid <= 0 || args.T <= 0 || plan.cluster < 2 || args.models.models <= 0)
    return cudaErrorInvalidValue;
  return with_max_rows(plan.max_rows,
                       [&](auto rows) { return launch_fwd<decltype(rows)::value>(plan, args, stream); });
}

cudaError_t launch_lstm_fused_backward_cluster(const FusedLaunch& plan, const FusedBwdArgs& args,
                                               cudaStream_t stream) {
  if (plan.grid <= 0 || args.T <= 0 || plan.cluster < 2 || args.models.models <= 0)
    return cudaErrorInvalidValue;
  return with_max_rows(plan.max_rows,
                       [&](auto rows) { return launch_bwd<decltype(rows)::value>(plan, args, stream); });
}

cudaError_t prepare_lstm_fused_cluster(const FusedLaunch& plan) {
  if (plan.cluster < 2) return cudaSuccess;
  return with_max_rows(plan.max_rows, [&](auto rows) {
    constexpr int R = decltype(rows)::value;
    const cudaError_t e = configure_fwd<R>(plan.smem_fwd);
    return e != cudaSuccess ? e : configure_bwd<R>(plan.smem_bwd);
  });
}

cudaError_t lstm_fused_cluster_capacity(const FusedLaunch& plan, int* clusters) {
  *clusters = 0;
  if (plan.cluster < 2) return cudaErrorInvalidValue;
  return with_max_rows(plan.max_rows,
                       [&](auto rows) { return capacity<decltype(rows)::value>(plan, clusters); });
}

}  // namespace lstmad::kernels
