// The step ladders and the primitive latency probes (step_anatomy.hpp).
//
// The ladders' kernels are lstm_fused_fwd_kernel's and lstm_fused_bwd_kernel's loops at MAXR = 1 with R in
// shared memory and H the constant KH, written with their parts as compile-time switches: the same device
// functions (forward: load_fwd_input, fwd_start_values, add_recurrent_product, cell::forward; backward:
// BwdStepInputs, cell::backward, recurrent_gradient) in the same order, so that a top rung gives its
// kernel's bits (compiled with -fmad=false as they are, kernels/CMakeLists.txt) and a rung without a part
// differs from it by that part only. A part switched off leaves the step's dependence on the one before in
// place (step_anatomy.hpp), so every rung stays a chain of T dependent steps.
// They take the engine kernels' launch bounds too, so that ptxas allocates their registers alike.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/const_hidden.hpp"
#include "kernels/fused_rows.cuh"
#include "kernels/launch.cuh"
#include "kernels/lstm_cell.hpp"
#include "kernels/smem_limit.hpp"
#include "kernels/step_anatomy.hpp"

namespace lstmad::kernels::anatomy {

namespace {

// Nanoseconds of the device's global timer (%globaltimer); on the host emulation the host's clock.
__device__ __forceinline__ long long global_ns() {
#if defined(LSTMAD_CUDA_EMULATION)
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
#elif defined(__CUDA_ARCH__)
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return static_cast<long long>(t);
#else
  return 0;  // the host pass of a device function: never run
#endif
}

template <unsigned PARTS, int KH>
__global__ void __launch_bounds__(kFusedMaxThreads, 1) step_ladder_kernel(const LadderArgs a) {
  constexpr bool kP = (PARTS & kProduct) != 0, kC = (PARTS & kCell) != 0, kI = (PARTS & kInput) != 0,
                 kS = (PARTS & kStores) != 0;
  constexpr int H = KH, H4 = 4 * KH;
  LSTMAD_DYNAMIC_SMEM(float4, smem4);  // float4: add_recurrent_product reads h as 16-byte words
  float* const smem = reinterpret_cast<float*>(smem4);
  float* const rs = smem;                      // R^T, H x 4H (kProduct)
  float* const hs = smem + (kP ? H4 * H : 0);  // h, [2][H]
  const int j = threadIdx.x, row = blockIdx.x, B = a.B, T = a.T;
  if (kP)
    for (int i = j; i < H4 * H; i += H) rs[i] = a.Rt[i];
  hs[j] = 0.f;
  hs[H + j] = 0.f;
  float bias[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) bias[q] = a.bW[q * H + j] + a.bR[q * H + j];
  float c = 0.f;
  const FusedInput in{};
  const int lr[1] = {0};
  float gxn[4];
  if (kI) load_fwd_input(true, row, a.gx, in, H, j, gxn);
  __syncthreads();

  const long long t0 = clock64();
  for (int t = 0; t < T; ++t) {
    const float* hp = hs + (t & 1) * H;
    float* hn = hs + ((t + 1) & 1) * H;
    float acc[1][4];
    if constexpr (kI) {
      fwd_start_values(gxn, in, j, H, bias, acc[0]);
      load_fwd_input(t + 1 < T, static_cast<long long>(t + 1) * B + row, a.gx, in, H, j, gxn);
    } else {
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[0][q] = bias[q];
    }
    if constexpr (kP) {
      add_recurrent_product<1, KH>(acc, rs, j, H4, H, hp, lr, H);
    } else {
      const float hj = hp[j];
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[0][q] += hj;
    }
    float gt[4], h;
    if constexpr (kC) {
      h = cell::forward(acc[0], gt, c);
    } else {
#pragma unroll
      for (int q = 0; q < 4; ++q) gt[q] = acc[0][q];
      h = 0.25f * ((acc[0][0] + acc[0][1]) + (acc[0][2] + acc[0][3]));
      c = h;
    }
    hn[j] = h;
    if constexpr (kS) {
      const long long tb = static_cast<long long>(t) * B + row;
      a.y[(tb + B) * H + j] = h;
      float* gr = a.gates + tb * H4 + j;
#pragma unroll
      for (int q = 0; q < 4; ++q) gr[q * H] = gt[q];
      a.c[tb * H + j] = c;
    }
    __syncthreads();
  }
  const long long t1 = clock64();
  // Without the stores the last h still leaves the kernel, so that no rung's loop is dead code.
  if (!kS && T > 0) a.y[(static_cast<long long>(T) * B + row) * H + j] = hs[(T & 1) * H + j];
  if (j == 0) a.cycles[row] = t1 - t0;
}

template <unsigned PARTS, int KH>
__global__ void __launch_bounds__(kFusedMaxThreads, 1) step_ladder_bwd_kernel(const LadderArgs a) {
  constexpr bool kP = (PARTS & kProduct) != 0, kC = (PARTS & kCell) != 0, kI = (PARTS & kInput) != 0,
                 kS = (PARTS & kStores) != 0;
  constexpr int H = KH, H4 = 4 * KH;
  LSTMAD_DYNAMIC_SMEM(float4, smem4);  // float4: recurrent_gradient reads the gate gradients as 16-byte words
  float* const smem = reinterpret_cast<float*>(smem4);
  float* const rs = smem;                      // R as stored, 4H x H (kProduct)
  float* const ds = smem + (kP ? H4 * H : 0);  // the gate gradients, [2][4H]
  const int j = threadIdx.x, row = blockIdx.x, B = a.B, T = a.T;
  if (T <= 0) return;
  if (kP)
    for (int i = j; i < H4 * H; i += H) rs[i] = a.R[i];
  for (int i = j; i < 2 * H4; i += H) ds[i] = 0.f;
  const int lr[1] = {0};
  const bool valid[1] = {true};
  const long long grow[1] = {row};
  float dh_rec[1] = {0.f}, dc = 0.f;
  float ct = a.c[(static_cast<long long>(T - 1) * B + row) * H + j];
  BwdStepInputs<1> next;
  next.load(T - 1, B, H, j, valid, grow, a.dy, a.gates, a.c);
  __syncthreads();

  const long long t0 = clock64();
  for (int t = T - 1; t >= 0; --t) {
    float* dcur = ds + (t & 1) * H4;
    const BwdStepInputs<1> in = next;
    if constexpr (kI) next.load(t - 1, B, H, j, valid, grow, a.dy, a.gates, a.c);
    const float dh = dh_rec[0] + in.dy[0];
    float da[4];
    if constexpr (kC) {
      cell::backward(dh, in.g[0], ct, in.cp[0], dc, da);
      ct = in.cp[0];
    } else {
#pragma unroll
      for (int q = 0; q < 4; ++q) da[q] = 0.25f * dh;
    }
#pragma unroll
    for (int q = 0; q < 4; ++q) dcur[q * H + j] = da[q];
    if constexpr (kS) {
      float* dgr = a.dgates + (static_cast<long long>(t) * B + row) * H4 + j;
#pragma unroll
      for (int q = 0; q < 4; ++q) dgr[q * H] = da[q];
    }
    __syncthreads();
    if (t == 0) break;
    if constexpr (kP) {
      recurrent_gradient<1, KH>(dh_rec, rs, j, H, dcur, lr, H4);
    } else {
      dh_rec[0] = dcur[j];
    }
  }
  const long long t1 = clock64();
  // Without the stores what the loop carries still leaves the kernel, so that no rung's loop is dead code.
  if (!kS) a.dgates[static_cast<long long>(row) * H4 + j] = dh_rec[0] + dc;
  if (j == 0) a.cycles[row] = t1 - t0;
}

template <unsigned PARTS>
cudaError_t launch_rung(Direction d, const LadderArgs& a, cudaStream_t stream) {
  return with_const_hidden(a.H, [&](auto kh) -> cudaError_t {
    constexpr int KH = decltype(kh)::value;
    if constexpr (KH == 0) {
      return cudaErrorInvalidValue;
    } else {
      // R (either layout) when the product is on, and the step's double buffer: h forward, the gate
      // gradients backward.
      const std::size_t r = (PARTS & kProduct) != 0 ? 4 * KH * KH : 0;
      const std::size_t smem = (r + (d == Direction::Forward ? 2 * KH : 8 * KH)) * sizeof(float);
      const auto kernel =
          d == Direction::Forward ? step_ladder_kernel<PARTS, KH> : step_ladder_bwd_kernel<PARTS, KH>;
      const cudaError_t e = raise_dynamic_smem_limit(kernel, smem);
      if (e != cudaSuccess) return e;
      launch_kernel(kernel, dim3(a.B), dim3(KH), smem, stream, a);
      return cudaGetLastError();
    }
  });
}

constexpr int kChase = 1024;  // the shared-memory chase's ring (SharedLoad) and the exchange's buffers

template <Probe P>
__global__ void __launch_bounds__(1024)
    probe_kernel(int n, const int* __restrict__ chase, long long* __restrict__ out) {
  __shared__ int next_s[kChase];
  __shared__ float swap_s[2][kChase];
  const int tid = threadIdx.x, nt = blockDim.x;
  for (int i = tid; i < kChase; i += nt) next_s[i] = (i + 1) % kChase;
  float x = 0.5f + 1e-6f * static_cast<float>(tid);
  int i = tid;
  float c = 0.f;
  const float w[4] = {0.5f, -0.25f, 0.75f, 0.125f}, b[4] = {0.1f, 0.2f, -0.1f, 0.05f};
  __syncthreads();
  const long long c0 = clock64();
  const long long g0 = global_ns();
#pragma unroll 8
  for (int k = 0; k < n; ++k) {
    if constexpr (P == Probe::Fma) {
      x = fmaf(x, 0.999f, 1e-3f);
    } else if constexpr (P == Probe::SharedLoad) {
      i = next_s[i];
    } else if constexpr (P == Probe::L2Load) {
      i = __ldcg(chase + i);
    } else if constexpr (P == Probe::Expf) {
      x = expf(-x);
    } else if constexpr (P == Probe::Tanhf) {
      x = tanhf(x) + 1.f;
    } else if constexpr (P == Probe::Cell || P == Probe::CellFast) {
      constexpr auto A = P == Probe::Cell ? cell::Activations::Precise : cell::Activations::Fast;
      float pre[4], gt[4];
#pragma unroll
      for (int q = 0; q < 4; ++q) pre[q] = fmaf(x, w[q], b[q]);
      x = cell::forward<A>(pre, gt, c);
    } else if constexpr (P == Probe::Shuffle) {
      x = __shfl_xor_sync(0xffffffffu, x, 1);
    } else if constexpr (P == Probe::Exchange) {
      swap_s[k & 1][tid] = x;
      __syncthreads();
      x = swap_s[k & 1][tid + 1 < nt ? tid + 1 : 0];
    } else {  // WarpExchange
      swap_s[k & 1][tid] = x;
      __syncwarp();
      x = swap_s[k & 1][(tid & ~31) | ((tid + 1) & 31)];
    }
  }
  const long long g1 = global_ns();
  const long long c1 = clock64();
  if (tid == 0) {
    out[0] = c1 - c0;
    out[1] = g1 - g0;
    std::uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    out[2] = static_cast<long long>(bits) ^ i;
  }
}

// f(integral_constant<size_t, I>) for I = 0, 1, ... until one returns other than cudaErrorNotReady (the
// switch from a run-time rung or probe to its kernel); cudaErrorInvalidValue when none does.
template <class F, std::size_t... I>
cudaError_t first_match(std::index_sequence<I...>, F&& f) {
  cudaError_t e = cudaErrorNotReady;
  ((e = f(std::integral_constant<std::size_t, I>{}), e != cudaErrorNotReady) || ...);
  return e == cudaErrorNotReady ? cudaErrorInvalidValue : e;
}

}  // namespace

cudaError_t launch_step_ladder(Direction d, unsigned parts, const LadderArgs& a, cudaStream_t stream) {
  if (a.B < 1 || a.T < 0 || !ladder_hidden_supported(a.H)) return cudaErrorInvalidValue;
  return first_match(std::make_index_sequence<kLadderRungs>{}, [&](auto i) {
    constexpr unsigned kParts = kLadder[decltype(i)::value];
    return parts == kParts ? launch_rung<kParts>(d, a, stream) : cudaErrorNotReady;
  });
}

const char* probe_name(Probe p) {
  switch (p) {
    case Probe::Fma:
      return "fmaf";
    case Probe::SharedLoad:
      return "shared load";
    case Probe::L2Load:
      return "L2 load (ld.global.cg)";
    case Probe::Expf:
      return "expf";
    case Probe::Tanhf:
      return "tanhf";
    case Probe::Cell:
      return "cell, precise";
    case Probe::CellFast:
      return "cell, fast";
    case Probe::Shuffle:
      return "shfl.xor";
    case Probe::Exchange:
      return "write, barrier, read";
    case Probe::WarpExchange:
      return "write, syncwarp, read";
  }
  return "?";
}

cudaError_t launch_probe(Probe p, int threads, int n, const int* chase, long long* out, cudaStream_t stream) {
  if (threads < 32 || threads > 1024 || threads % 32 != 0 || n < 0) return cudaErrorInvalidValue;
  if (p == Probe::L2Load && chase == nullptr) return cudaErrorInvalidValue;
  const cudaError_t e = first_match(std::make_index_sequence<kProbeCount>{}, [&](auto i) {
    constexpr Probe kProbe = static_cast<Probe>(decltype(i)::value);
    if (p != kProbe) return cudaErrorNotReady;
    launch_kernel(probe_kernel<kProbe>, dim3(1), dim3(threads), 0, stream, n, chase, out);
    return cudaSuccess;
  });
  if (e != cudaSuccess) return e;
  return cudaGetLastError();
}

}  // namespace lstmad::kernels::anatomy
