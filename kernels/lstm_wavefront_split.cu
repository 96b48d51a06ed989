// The two-layer wavefront with four threads per unit (lstm_wavefront.hpp, launch_wavefront_*_split).
//
// Why: the wavefront (lstm_wavefront.cu) gives each role of a batch row H threads, each running four
// chains of H FMAs (forward: the four gates of its unit; backward: the four quarters of its unit's
// recurrent gradient) from 4H shared loads a step. Where a block holds one row (B <= the SM count, the
// small batches of issue 5's misses) that is three warps at H = 32, which cannot hide one another's
// latencies. As version 4 does for the one-block kernels, a row here has 4H threads per role, thread
// (4j + q) running the one chain q of unit j: four times the warps, a quarter of the loads and FMAs each.
//
// The same bits as the wavefront: each chain is the wavefront's (from 0, k or m ascending; the input and
// bias added after the forward's chain; the backward's quarters folded as fold_quarters does), the cell
// is the same functions of the same values (cell::activate per gate, cell::update and cell::backward on
// the four gates shuffled together), and the schedule, buffers' parities and barriers are the wavefront's.
//
// Shared memory: the three matrices laid out for these threads, element (k, 4j + q) of a k-major 4H-wide
// row, so that the 32 lanes of a warp read 32 consecutive words for each k: forward M[qH + j][k] (R1,
// W2, R2 transposed), backward M[qH + k][j] (the quarter q of unit j's column). Then the step buffers:
// forward h1, h2 [2][BB][H] and gx2 [2][BB][4H] (by thread, 4j + q); backward dg1, dg2 [2][BB][4 (H + 1)]
// (quarter q at q (H + 1), padded so that the four quarters a warp reads at once fall in four banks) and
// dy1 [2][BB][H]. At H <= 32 each thread holds its H weights in registers instead (read once from global
// memory, no weights in shared memory): per iteration a warp then reads only the broadcasts of h or the
// gate gradients from shared memory (forward at H = 32: 96 warp-wide loads an iteration), where with the
// weights there the block's 12 warps would issue 480 (384 of them weights), as many as the wavefront's 3
// warps, which bounds the iteration by shared-memory issue rather than by the chain. At H = 64 the 768
// threads of a row leave 85 registers each, too few for 64 weights: the weights stay in shared memory there.
#include "kernels/launch.cuh"
#include "kernels/lstm_cell.hpp"
#include "kernels/lstm_wavefront.hpp"
#include "kernels/recurrent_order.hpp"
#include "kernels/smem_limit.hpp"
#include "kernels/split_lanes.cuh"

namespace lstmad::kernels {

namespace {

using split::kFullWarp;
using split::pick;
using split::with_hidden;

// Whether the split wavefront at H keeps its weights in registers (wavefront_split_weights_in_registers).
template <int H>
constexpr bool kRegs = wavefront_split_weights_in_registers(H);

// The three matrices into shared memory in the layout above, read in their stored order (coalesced).
// forward: dst (k, 4j + q) = M[qH + j][k]; backward: dst (k, 4j + q) = M[qH + k][j].
template <int H, bool kForward>
__device__ __forceinline__ void load_weights(const float* __restrict__ R1, const float* __restrict__ W2,
                                             const float* __restrict__ R2, float* smem, int tid,
                                             int nthreads) {
  constexpr int H4 = 4 * H, n = H4 * H;
  for (int e = tid; e < 3 * n; e += nthreads) {
    const int w = e / n, r = e % n, m = r / H, col = r % H, q = m / H, mm = m % H;
    const float* src = w == 0 ? R1 : (w == 1 ? W2 : R2);
    // forward: m = qH + j, col = k; backward: m = qH + k, col = j
    const int k = kForward ? col : mm, j = kForward ? mm : col;
    smem[w * n + k * H4 + 4 * j + q] = src[r];
  }
}

// blockDim = (4H BB, 3): threadIdx.y is the role, threadIdx.x = 4H lr + 4j + q.
template <int H>
__global__ void __launch_bounds__(wavefront_split_max_threads(H), 1)
    wavefront_split_fwd_kernel(const float* __restrict__ R1, const float* __restrict__ W2,
                               const float* __restrict__ R2, wavefront::FwdGlobal g, wavefront::Dims d) {
  constexpr int H4 = 4 * H;
  LSTMAD_DYNAMIC_SMEM(float4, smem4);  // float4: the broadcasts of h read 16-byte words
  float* const smem = reinterpret_cast<float*>(smem4);
  const int BB = d.BB, B = d.B, T = d.T;
  const int i = threadIdx.x, role = threadIdx.y;
  const int nthreads = blockDim.x * blockDim.y, tid = role * blockDim.x + i;
  if constexpr (!kRegs<H>) load_weights<H, true>(R1, W2, R2, smem, tid, nthreads);
  float* const h1 = smem + (kRegs<H> ? 0 : 3 * H4 * H);
  float* const h2 = h1 + 2 * BB * H;
  float* const gx2 = h2 + 2 * BB * H;
  for (int k = tid; k < 2 * BB * (2 * H + H4); k += nthreads) h1[k] = 0.f;
  const int lr = i / H4, u = i % H4, j = u >> 2, q = u & 3;
  const int base = (i & 31) & ~3;  // the lane of gate 0 of this unit (4H is a multiple of 32)
  const int row = blockIdx.x * BB + lr;
  const bool valid = row < B;
  const long long rowl = row;
  const int col = q * H + j;  // its gate's column of gx and the gates (its row of the role's matrix)
  // This thread's H weights, M[qH + j][k] for k < H: in registers, or its column of the shared layout.
  const float* const Wm = kRegs<H> ? nullptr : smem + role * H4 * H + u;
  float w[kRegs<H> ? H : 1] = {};
  if constexpr (kRegs<H>) {
    const float* src = (role == 0 ? R1 : role == 1 ? W2 : R2) + static_cast<long long>(col) * H;
#pragma unroll
    for (int k = 0; k < H; ++k) w[k] = src[k];
  }
  const auto weight = [&](int k) { return kRegs<H> ? w[k] : Wm[k * H4]; };
  const bool first = role == 0;
  const float bias = role == 1 ? 0.f : first ? g.b1W[col] + g.b1R[col] : g.b2W[col] + g.b2R[col];
  float* const hbuf = first ? h1 : h2;
  float* const y = first ? g.y1 : g.y2;
  float* const gates = first ? g.gates1 : g.gates2;
  float* const cst = first ? g.c1 : g.c2;
  // Layer 1's gx of a step, loaded an iteration ahead so that its global latency is off the chain.
  float gxn = first && valid ? g.gx1[rowl * H4 + col] : 0.f;
  float c = 0.f;
  __syncthreads();
  const int S = wavefront::iterations(T);
  for (int s = 0; s < S; ++s) {
    if (role == 1) {
      const int t = s - 1;
      if (t >= 0 && t < T) {
        const float* hp = h1 + ((s & 1) * BB + lr) * H;  // h1_t
        float p = 0.f;
#pragma unroll
        for (int k = 0; k < H; k += 4) {
          const float4 h4 = *reinterpret_cast<const float4*>(hp + k);
          p = fmaf(weight(k), h4.x, p);
          p = fmaf(weight(k + 1), h4.y, p);
          p = fmaf(weight(k + 2), h4.z, p);
          p = fmaf(weight(k + 3), h4.w, p);
        }
        gx2[((s & 1) * BB + lr) * H4 + u] = p;
      }
    } else {
      const int t = first ? s : s - 2;
      if (t >= 0 && t < T) {
        const float* hp = hbuf + ((s & 1) * BB + lr) * H;  // h_{t-1}
        float* hn = hbuf + (((s + 1) & 1) * BB + lr) * H;
        float in;
        if (first) {
          in = gxn + bias;
          gxn = valid && t + 1 < T ? g.gx1[(static_cast<long long>(t + 1) * B + rowl) * H4 + col] : 0.f;
        } else {
          in = gx2[(((s - 1) & 1) * BB + lr) * H4 + u] + bias;  // written in iteration s - 1
        }
        float acc = 0.f;
#pragma unroll
        for (int k = 0; k < H; k += 4) {
          const float4 h4 = *reinterpret_cast<const float4*>(hp + k);
          acc = fmaf(weight(k), h4.x, acc);
          acc = fmaf(weight(k + 1), h4.y, acc);
          acc = fmaf(weight(k + 2), h4.z, acc);
          acc = fmaf(weight(k + 3), h4.w, acc);
        }
        acc += in;
        // Each thread activates its own gate; the four meet through shuffles, and each of the four threads
        // updates c and h from them (cell::forward's functions of the same values).
        const float mine = cell::activate(q, acc);
        float gt[4];
#pragma unroll
        for (int k = 0; k < 4; ++k) gt[k] = __shfl_sync(kFullWarp, mine, base + k);
        const float h = cell::update(gt, c);
        if (!valid) {
          if (q == 0) hn[j] = 0.f;
        } else {
          const long long tb = static_cast<long long>(t) * B + rowl;
          if (q == 0) {
            hn[j] = h;
            if (t == 0) y[rowl * H + j] = 0.f;  // h_0
            y[(tb + B) * H + j] = h;
          }
          if (gates != nullptr) {
            gates[tb * H4 + col] = mine;
            if (q == 0) cst[tb * H + j] = c;
          }
          if (t == T - 1 && q == 0) {
            const long long at = (first ? 0 : static_cast<long long>(B) * H) + rowl * H + j;
            if (g.hy != nullptr) g.hy[at] = h;
            if (g.cy != nullptr) g.cy[at] = c;
          }
        }
      }
    }
    __syncthreads();
  }
}

// blockDim = (4H BB, 3): threadIdx.y is the role, threadIdx.x = 4H lr + 4j + p.
template <int H>
__global__ void __launch_bounds__(wavefront_split_max_threads(H), 1)
    wavefront_split_bwd_kernel(const float* __restrict__ R1, const float* __restrict__ W2,
                               const float* __restrict__ R2, wavefront::BwdGlobal g, wavefront::Dims d) {
  constexpr int H4 = 4 * H, DS = 4 * (H + 1);
  LSTMAD_DYNAMIC_SMEM(float, smem);
  const int BB = d.BB, B = d.B, T = d.T;
  const int i = threadIdx.x, role = threadIdx.y;
  const int nthreads = blockDim.x * blockDim.y, tid = role * blockDim.x + i;
  if constexpr (!kRegs<H>) load_weights<H, false>(R1, W2, R2, smem, tid, nthreads);
  float* const dg1 = smem + (kRegs<H> ? 0 : 3 * H4 * H);
  float* const dg2 = dg1 + 2 * BB * DS;
  float* const dy1 = dg2 + 2 * BB * DS;
  for (int k = tid; k < 2 * BB * (2 * DS + H); k += nthreads) dg1[k] = 0.f;
  const int lr = i / H4, u = i % H4, j = u >> 2, p = u & 3;
  const int base = (i & 31) & ~3;
  const int row = blockIdx.x * BB + lr;
  const bool valid = row < B;
  const long long rowl = row;
  // Quarter p of column j of the role's matrix, M[pH + k][j] for k < H: in registers, or in the shared
  // layout.
  const float* const Wm = kRegs<H> ? nullptr : smem + role * H4 * H + u;
  float w[kRegs<H> ? H : 1] = {};
  if constexpr (kRegs<H>) {
    const float* src = (role == 0 ? R1 : role == 1 ? W2 : R2) + static_cast<long long>(p) * H * H + j;
#pragma unroll
    for (int k = 0; k < H; ++k) w[k] = src[static_cast<long long>(k) * H];
  }
  const bool top = role == 2;
  float* const dgbuf = top ? dg2 : dg1;
  const float* const gates = top ? g.gates2 : g.gates1;
  const float* const cs = top ? g.c2 : g.c1;
  float* const dgates = top ? g.dgates2 : g.dgates1;
  // Quarter p of sum over m < 4H of M[m][j] v[m], folded in fold_quarters' order (the wavefront's
  // quarter_dot): every lane of the warp takes part.
  const auto quarter_sum = [&](const float* v) {
    const float* vq = v + p * (H + 1);
    float part = 0.f;
#pragma unroll
    for (int k = 0; k < H; ++k) part = fmaf(kRegs<H> ? w[k] : Wm[k * H4], vq[k], part);
    const float a0 = __shfl_sync(kFullWarp, part, base), a1 = __shfl_sync(kFullWarp, part, base + 1);
    const float a2 = __shfl_sync(kFullWarp, part, base + 2), a3 = __shfl_sync(kFullWarp, part, base + 3);
    return fold_quarters(a0, a1, a2, a3);
  };
  float dc = 0.f;
  __syncthreads();
  const int S = wavefront::iterations(T);
  for (int s = 0; s < S; ++s) {
    const int prev = (s - 1) & 1, cur = s & 1;
    if (role == 1) {
      const int t = T - s;  // the layer-2 step of iteration s - 1
      if (s >= 1 && t >= 0) {
        const float dy = quarter_sum(dg2 + (prev * BB + lr) * DS);
        if (p == 0) dy1[(cur * BB + lr) * H + j] = dy;
      }
    } else {
      const int t = top ? T - 1 - s : T + 1 - s;
      if (t >= 0 && t <= T - 1) {
        float* dcur = dgbuf + (cur * BB + lr) * DS + p * (H + 1) + j;
        const long long tb = static_cast<long long>(t) * B + rowl;
        // This step's gates (each thread its own, shuffled together) and cell states, loaded before the
        // dot product so that their latency overlaps it.
        const float own = valid ? gates[tb * H4 + p * H + j] : 0.f;
        const float ct = valid ? cs[tb * H + j] : 0.f;
        const float cp = valid && t > 0 ? cs[(tb - B) * H + j] : 0.f;
        float gate[4];
#pragma unroll
        for (int k = 0; k < 4; ++k) gate[k] = __shfl_sync(kFullWarp, own, base + k);
        float dh = 0.f;
        if (t < T - 1) dh = quarter_sum(dgbuf + (prev * BB + lr) * DS);  // from step t + 1
        if (!valid) {
          *dcur = 0.f;
        } else {
          if (top) {
            if (t == T - 1 && g.dhy != nullptr) dh += g.dhy[rowl * H + j];
          } else {
            dh += dy1[(prev * BB + lr) * H + j];  // dy1_t, from role 1 in iteration s - 1
          }
          float da[4];
          cell::backward(dh, gate, ct, cp, dc, da);
          const float mine = pick(da, p);
          dgates[tb * H4 + p * H + j] = mine;
          *dcur = mine;
        }
      }
    }
    __syncthreads();
  }
}

}  // namespace

cudaError_t prepare_wavefront_split(const WavefrontLaunch& plan) {
  if (plan.grid <= 0) return cudaSuccess;
  cudaError_t e = cudaSuccess;
  with_hidden(plan.H, [&](auto h) {
    constexpr int H = decltype(h)::value;
    e = raise_dynamic_smem_limit(wavefront_split_fwd_kernel<H>, plan.smem_fwd);
    if (e == cudaSuccess) e = raise_dynamic_smem_limit(wavefront_split_bwd_kernel<H>, plan.smem_bwd);
  });
  return e;
}

void launch_wavefront_forward_split(const WavefrontLaunch& plan, const WavefrontFwdArgs& args,
                                    cudaStream_t stream) {
  if (plan.grid <= 0 || args.T <= 0) return;
  with_hidden(plan.H, [&](auto h) {
    constexpr int H = decltype(h)::value;
    if (raise_dynamic_smem_limit(wavefront_split_fwd_kernel<H>, plan.smem_fwd) != cudaSuccess) return;
    launch_kernel(wavefront_split_fwd_kernel<H>, plan.grid, dim3(4 * H * plan.rows_per_block, 3),
                  plan.smem_fwd, stream, args.R1, args.W2, args.R2, args.g, wavefront_dims(plan, args.T));
  });
}

void launch_wavefront_backward_split(const WavefrontLaunch& plan, const WavefrontBwdArgs& args,
                                     cudaStream_t stream) {
  if (plan.grid <= 0 || args.T <= 0) return;
  with_hidden(plan.H, [&](auto h) {
    constexpr int H = decltype(h)::value;
    if (raise_dynamic_smem_limit(wavefront_split_bwd_kernel<H>, plan.smem_bwd) != cudaSuccess) return;
    launch_kernel(wavefront_split_bwd_kernel<H>, plan.grid, dim3(4 * H * plan.rows_per_block, 3),
                  plan.smem_bwd, stream, args.R1, args.W2, args.R2, args.g, wavefront_dims(plan, args.T));
  });
}

}  // namespace lstmad::kernels
