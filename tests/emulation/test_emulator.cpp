// The host emulation of CUDA itself (tests/emulation): what docs/gpu.md says it models, each shown by a
// small kernel. Built only in the emulation build (cmake --preset emulation).
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/launch.cuh"
#include "tests/emulation/cuda_emulation.hpp"

namespace {

using lstmad::kernels::launch_cluster_kernel;
using lstmad::kernels::launch_kernel;

// Host-visible "device" memory from the emulated cudaMalloc.
template <typename T>
struct Buf {
  T* p = nullptr;
  std::size_t n;
  explicit Buf(std::size_t count) : n(count) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(T)), cudaSuccess);
  }
  ~Buf() { cudaFree(p); }
  std::vector<T> host() const { return std::vector<T>(p, p + n); }
};

// A failed kernel leaves a sticky error; each test starts clean.
class Emulator : public ::testing::Test {
 protected:
  void SetUp() override { cudaDeviceReset(); }
  void TearDown() override { cudaDeviceReset(); }
};

// Runs `launch`, whose kernel must fail (the sticky cudaErrorLaunchFailure), and returns what it printed.
template <class Launch>
std::string failed_launch_log(Launch&& launch) {
  testing::internal::CaptureStderr();
  launch();
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
  return log;
}

__global__ void rotate_kernel(const float* in, float* out, bool barrier) {
  LSTMAD_DYNAMIC_SMEM(float, s);
  const int t = threadIdx.x, n = blockDim.x;
  s[t] = in[blockIdx.x * n + t];
  if (barrier) __syncthreads();
  out[blockIdx.x * n + t] = s[(t + 1) % n];
}

TEST_F(Emulator, SharedMemoryIsSeenAfterTheBarrierAndNotBefore) {
  const int n = 64, blocks = 3;
  Buf<float> in(n * blocks), out(n * blocks);
  for (int i = 0; i < n * blocks; ++i) in.p[i] = static_cast<float>(i);
  launch_kernel(rotate_kernel, blocks, n, n * sizeof(float), nullptr, in.p, out.p, true);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < n; ++t) ASSERT_EQ(out.p[b * n + t], static_cast<float>(b * n + (t + 1) % n));
  // Without the barrier a thread reads its neighbour's slot before the neighbour wrote it: at least one
  // read (the first thread run in each pass reads a slot nobody wrote yet) is the poison (NaN).
  launch_kernel(rotate_kernel, blocks, n, n * sizeof(float), nullptr, in.p, out.p, false);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  int stale = 0;
  for (float v : out.host()) stale += std::isnan(v);
  EXPECT_GT(stale, 0);
}

// Lane 0 waits for lane 1 at __syncwarp while lane 1 (and the rest of the block) waits at __syncthreads.
__global__ void deadlock_kernel(float* out) {
  if (threadIdx.x == 0)
    __syncwarp(0x3u);
  else
    __syncthreads();
  out[threadIdx.x] = 1.f;
}

TEST_F(Emulator, BarriersThatCannotCompleteAreReportedAsADeadlock) {
  Buf<float> out(64);
  const std::string log =
      failed_launch_log([&] { launch_kernel(deadlock_kernel, 1, 64, 0, nullptr, out.p); });
  EXPECT_NE(log.find("deadlock"), std::string::npos) << log;
  EXPECT_NE(log.find("63 at __syncthreads, 1 at a warp collective"), std::string::npos) << log;
}

// Frames with arrays (redzones under AddressSanitizer) down to `depth`, then the deadlock above: the
// fibers are abandoned with those frames still on their stacks.
__attribute__((noinline)) void deep_frames(int depth, float* out) {
  volatile char frame[1024];
  frame[depth % 1024] = static_cast<char>(depth);
  if (depth > 0) {
    deep_frames(depth - 1, out);
  } else if (threadIdx.x == 0) {
    __syncwarp(0x3u);
  } else {
    __syncthreads();
  }
  out[threadIdx.x] += frame[depth % 1024];
}

__global__ void deep_deadlock_kernel(float* out) {
  deep_frames(48, out);
}

// Writes every byte of a frame larger than the frames above, on the stacks they were abandoned on.
__attribute__((noinline)) void fill_frame(float* out) {
  volatile char frame[128 * 1024];
  for (std::size_t i = 0; i < sizeof(frame); ++i) frame[i] = static_cast<char>(i);
  out[threadIdx.x] = static_cast<float>(frame[sizeof(frame) - 1]);
}

__global__ void fill_frame_kernel(float* out) {
  fill_frame(out);
}

// Stacks return to a pool for later launches; a fiber abandoned mid-kernel leaves its frames' redzones
// poisoned deep in its stack, and a later kernel using that memory must not be reported for it.
TEST_F(Emulator, StacksOfAbandonedFibersServeLaterKernels) {
  Buf<float> out(64);
  const std::string log =
      failed_launch_log([&] { launch_kernel(deep_deadlock_kernel, 1, 64, 0, nullptr, out.p); });
  EXPECT_NE(log.find("deadlock"), std::string::npos) << log;
  cudaDeviceReset();
  launch_kernel(fill_frame_kernel, 1, 64, 0, nullptr, out.p);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (float v : out.host()) EXPECT_EQ(v, static_cast<float>(static_cast<char>(128 * 1024 - 1)));
}

__global__ void exit_and_wait_kernel(float* out, int waiters) {
  if (static_cast<int>(threadIdx.x) >= waiters) return;
  __syncwarp(0xFFFFFFFFu);  // names lanes that have exited
  out[threadIdx.x] = 1.f;
}

TEST_F(Emulator, AWarpCollectiveNamingAnExitedLaneFails) {
  Buf<float> out(32);
  const std::string log =
      failed_launch_log([&] { launch_kernel(exit_and_wait_kernel, 1, 32, 0, nullptr, out.p, 20); });
  EXPECT_NE(log.find("has exited"), std::string::npos) << log;
  // And a sticky error stays until the reset.
  EXPECT_EQ(cudaStreamSynchronize(nullptr), cudaErrorLaunchFailure);
}

__global__ void cluster_barrier_in_one_block_kernel(float* out) {
  auto cluster = ::lstmad::emu::cg::this_cluster();
  if (cluster.block_rank() == 0) return;  // block 1 waits for a block that left: not a deadlock either
  cluster.sync();
  out[threadIdx.x] = 1.f;
}

__global__ void warp_sum_kernel(const float* in, float* out) {
  float v = in[threadIdx.x];
  for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xFFFFFFFFu, v, off);
  if (threadIdx.x % 32 == 0) out[threadIdx.x / 32] = v;
}

TEST_F(Emulator, ShuffleReducesAWarp) {
  Buf<float> in(64), out(2);
  for (int i = 0; i < 64; ++i) in.p[i] = static_cast<float>(i);
  launch_kernel(warp_sum_kernel, 1, 64, 0, nullptr, in.p, out.p);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(out.p[0], 496.f);   // 0 + ... + 31
  EXPECT_EQ(out.p[1], 1520.f);  // 32 + ... + 63
}

TEST_F(Emulator, AFullMaskInAPartialWarpFails) {
  Buf<float> in(40), out(2);
  for (int i = 0; i < 40; ++i) in.p[i] = 1.f;
  // The second warp has 8 lanes.
  const std::string log =
      failed_launch_log([&] { launch_kernel(warp_sum_kernel, 1, 40, 0, nullptr, in.p, out.p); });
  EXPECT_NE(log.find("does not have"), std::string::npos) << log;
}

// mma.sync m16n8k8 TF32 against the plain product, the fragments filled as the PTX ISA lays them out:
// D = sum over k < reps of ((k + 1) A) (s_k B), s_k = +1, -1, ..., one mma after another, with a shuffle
// after every other one: lanes run ahead into the next mma (the emulator's operands are double-buffered)
// or into another warp collective while the rest of the warp still reads this mma's operands.
__global__ void mma_kernel(const float* A, const float* B, float* D, int reps, float* shuffled) {
  const int lane = threadIdx.x, gid = lane / 4, tig = lane % 4;
  float d[4] = {0.f, 0.f, 0.f, 0.f};
  for (int k = 0; k < reps; ++k) {
    const float sa = static_cast<float>(k + 1), sb = k % 2 == 0 ? 1.f : -1.f;
    const uint32_t a[4] = {::lstmad::emu::tf32_rna(sa * A[gid * 8 + tig]),
                           ::lstmad::emu::tf32_rna(sa * A[(gid + 8) * 8 + tig]),
                           ::lstmad::emu::tf32_rna(sa * A[gid * 8 + tig + 4]),
                           ::lstmad::emu::tf32_rna(sa * A[(gid + 8) * 8 + tig + 4])};
    const uint32_t b0 = ::lstmad::emu::tf32_rna(sb * B[tig * 8 + gid]),
                   b1 = ::lstmad::emu::tf32_rna(sb * B[(tig + 4) * 8 + gid]);
    ::lstmad::emu::mma_tf32(d, a, b0, b1);
    if (k % 2 == 1) shuffled[k * 32 + lane] = __shfl_xor_sync(0xFFFFFFFFu, static_cast<float>(lane + k), 1);
  }
  for (int i = 0; i < 4; ++i) D[(i < 2 ? gid : gid + 8) * 8 + tig * 2 + (i & 1)] = d[i];
}

TEST_F(Emulator, MmaTf32IsTheMatrixProduct) {
  const int reps = 5;
  Buf<float> A(16 * 8), B(8 * 8), D(16 * 8), shuffled(32 * reps);
  for (int i = 0; i < 16 * 8; ++i) A.p[i] = static_cast<float>((i * 7) % 11 - 5) / 4.f;  // exact in TF32
  for (int i = 0; i < 8 * 8; ++i) B.p[i] = static_cast<float>((i * 5) % 9 - 4) / 2.f;
  // The thread order changes from launch to launch (forward and backward passes).
  for (int launch = 0; launch < 6; ++launch) {
    const int n = launch == 0 ? 1 : reps;
    launch_kernel(mma_kernel, 1, 32, 0, nullptr, A.p, B.p, D.p, n, shuffled.p);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    float scale = 0.f;  // sum of (k + 1) s_k
    for (int k = 0; k < n; ++k) scale += static_cast<float>(k + 1) * (k % 2 == 0 ? 1.f : -1.f);
    for (int r = 0; r < 16; ++r)
      for (int c = 0; c < 8; ++c) {
        float want = 0.f;
        for (int k = 0; k < 8; ++k) want += A.p[r * 8 + k] * B.p[k * 8 + c];
        ASSERT_EQ(D.p[r * 8 + c], scale * want) << "launch " << launch << ": " << r << "," << c;
      }
    for (int k = 1; k < n; k += 2)
      for (int lane = 0; lane < 32; ++lane)
        ASSERT_EQ(shuffled.p[k * 32 + lane], static_cast<float>((lane ^ 1) + k)) << k << " " << lane;
  }
}

TEST_F(Emulator, Tf32RoundsToNearestTiesAway) {
  const auto bits = [](float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return u;
  };
  const float one = 1.f, tie = 1.f + std::ldexp(1.f, -11), below = 1.f + std::ldexp(1.f, -12);
  EXPECT_EQ(::lstmad::emu::tf32_rna(one), bits(one));
  EXPECT_EQ(::lstmad::emu::tf32_rna(tie), bits(1.f + std::ldexp(1.f, -10)));  // half an ulp: away
  EXPECT_EQ(::lstmad::emu::tf32_rna(below), bits(one));
  EXPECT_EQ(::lstmad::emu::tf32_rna(-tie), bits(-(1.f + std::ldexp(1.f, -10))));
}

// Each block writes its rank into every peer's shared memory; after the cluster barrier each block sums.
__global__ void cluster_exchange_kernel(float* out) {
  LSTMAD_DYNAMIC_SMEM(float, s);
  auto cluster = ::lstmad::emu::cg::this_cluster();
  const int rank = static_cast<int>(cluster.block_rank()), C = static_cast<int>(cluster.num_blocks());
  if (threadIdx.x == 0)
    for (int p = 0; p < C; ++p) cluster.map_shared_rank(s, p)[rank] = static_cast<float>(rank + 1);
  cluster.sync();
  if (threadIdx.x == 0) {
    float sum = 0.f;
    for (int p = 0; p < C; ++p) sum += s[p];
    out[blockIdx.x] = sum;
  }
  cluster.sync();  // no block leaves while a peer may still write into it
}

TEST_F(Emulator, ClusterBlocksShareTheirSharedMemory) {
  Buf<float> out(8);
  ASSERT_EQ(launch_cluster_kernel(cluster_exchange_kernel, 8, 32, 4 * sizeof(float), nullptr, 4u, out.p),
            cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (int b = 0; b < 8; ++b) EXPECT_EQ(out.p[b], 10.f) << b;  // 1 + 2 + 3 + 4 in each cluster
}

TEST_F(Emulator, LaunchesBeyondTheH200sLimitsAreRefused) {
  Buf<float> out(2048);
  testing::internal::CaptureStderr();
  launch_kernel(warp_sum_kernel, 1, 1056, 0, nullptr, out.p, out.p);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  launch_kernel(rotate_kernel, 1, 32, 64 * 1024, nullptr, out.p, out.p, true);  // above 48 KiB, no attribute
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaFuncSetAttribute(reinterpret_cast<const void*>(rotate_kernel),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 240 * 1024),
            cudaErrorInvalidValue);  // above 227 KiB
  EXPECT_EQ(launch_cluster_kernel(cluster_exchange_kernel, 6, 32, 16, nullptr, 4u, out.p),
            cudaErrorInvalidValue);
  EXPECT_EQ(launch_cluster_kernel(cluster_exchange_kernel, 16, 32, 64, nullptr, 16u, out.p),
            cudaErrorInvalidClusterSize);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("cudaFuncSetAttribute was not called"), std::string::npos) << log;
  // Raised, the same launch runs.
  ASSERT_EQ(cudaFuncSetAttribute(reinterpret_cast<const void*>(rotate_kernel),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024),
            cudaSuccess);
  launch_kernel(rotate_kernel, 1, 32, 64 * 1024, nullptr, out.p, out.p + 32, true);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

__global__ void add_one_kernel(float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += 1.f;
}

TEST_F(Emulator, CapturedWorkRunsOnlyWhenTheGraphIsLaunched) {
  Buf<float> x(100);
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(x.p, 0, 100 * sizeof(float), s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  launch_kernel(add_one_kernel, 4, 32, 0, s, x.p, 100);
  EXPECT_EQ(cudaStreamSynchronize(s), cudaErrorStreamCaptureUnsupported);  // not while capturing
  cudaGraph_t g = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);  // the sync invalidated it
  EXPECT_EQ(x.p[0], 0.f);
  cudaGetLastError();
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  launch_kernel(add_one_kernel, 4, 32, 0, s, x.p, 100);
  ASSERT_EQ(cudaStreamEndCapture(s, &g), cudaSuccess);
  EXPECT_EQ(x.p[0], 0.f);  // recorded, not run
  cudaGraphExec_t e;
  ASSERT_EQ(cudaGraphInstantiate(&e, g, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(e, s), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(e, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  for (float v : x.host()) ASSERT_EQ(v, 2.f);
  cudaGraphExecDestroy(e);
  cudaGraphDestroy(g);
  cudaStreamDestroy(s);
}

// Two threads write one word between the same two barriers (a race): which one wins depends on the order,
// and the order changes from launch to launch, so repeated launches disagree.
__global__ void racy_kernel(int* out) {
  __shared__ int word;
  __syncthreads();
  word = static_cast<int>(threadIdx.x);
  __syncthreads();
  if (threadIdx.x == 0) out[blockIdx.x] = word;
}

TEST_F(Emulator, TheThreadOrderChangesBetweenLaunchesSoRacesShow) {
  Buf<int> out(1);
  std::vector<int> seen;
  for (int i = 0; i < 16; ++i) {
    launch_kernel(racy_kernel, 1, 64, 0, nullptr, out.p);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    seen.push_back(out.p[0]);
  }
  bool first = false, last = false;
  for (int v : seen) {
    first |= v == 0;
    last |= v == 63;
  }
  EXPECT_TRUE(first && last) << "16 launches all ran the threads in one order";
}

// One element past the end of the launch's dynamic shared memory and of a cudaMalloc'd buffer.
__global__ void past_the_end_kernel(float* out, int n, bool shared) {
  LSTMAD_DYNAMIC_SMEM(float, s);
  if (shared)
    s[n] = 1.f;
  else
    out[n] = 1.f;
}

TEST_F(Emulator, OutOfBoundsAccessesAreCaughtAsMemcheckWould) {
#if !defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "built without AddressSanitizer (cmake --preset emulation has it)";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto run = [](bool shared) {
    Buf<float> out(16);
    launch_kernel(past_the_end_kernel, 1, 1, 16 * sizeof(float), nullptr, out.p, 16, shared);
    cudaDeviceSynchronize();
  };
  EXPECT_DEATH(run(true), "heap-buffer-overflow");
  EXPECT_DEATH(run(false), "heap-buffer-overflow");
}

TEST_F(Emulator, ClusterBarrierWithAnExitedBlock) {
  Buf<float> out(32);
  ASSERT_EQ(launch_cluster_kernel(cluster_barrier_in_one_block_kernel, 2, 32, 0, nullptr, 2u, out.p),
            cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(out.p[0], 1.f);
}

// The emulated cuBLAS GEMM against a plain loop (fma over k in order, which it must equal exactly), for
// every transpose pair, padded leading dimensions, beta 0 over a NaN C (not read) and beta 1, and the
// TF32 compute type, whose operands lose their low 13 mantissa bits.
TEST_F(Emulator, CublasGemmIsThePlainProductForEveryTransposeAndComputeType) {
  const int m = 7, n = 5, k = 9, pad = 3;
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  const auto value = [](int i) { return 1.f + static_cast<float>((i * 37) % 23) / 7.f; };  // not TF32-exact
  const auto tf32 = [](float x) {
    const uint32_t u = ::lstmad::emu::tf32_rna(x);
    std::memcpy(&x, &u, 4);
    return x;
  };
  for (const bool fast : {false, true})
    for (const cublasOperation_t ta : {CUBLAS_OP_N, CUBLAS_OP_T})
      for (const cublasOperation_t tb : {CUBLAS_OP_N, CUBLAS_OP_T})
        for (const float beta : {0.f, 1.f}) {
          const int rows_a = ta == CUBLAS_OP_N ? m : k, cols_a = ta == CUBLAS_OP_N ? k : m;
          const int rows_b = tb == CUBLAS_OP_N ? k : n, cols_b = tb == CUBLAS_OP_N ? n : k;
          const int lda = rows_a + pad, ldb = rows_b + pad, ldc = m + pad;
          Buf<float> A(static_cast<std::size_t>(lda) * cols_a), B(static_cast<std::size_t>(ldb) * cols_b),
              C(static_cast<std::size_t>(ldc) * n);
          for (std::size_t i = 0; i < A.n; ++i) A.p[i] = value(static_cast<int>(i));
          for (std::size_t i = 0; i < B.n; ++i) B.p[i] = -value(static_cast<int>(i) + 5);
          for (std::size_t i = 0; i < C.n; ++i)
            C.p[i] = beta == 0.f ? std::nanf("") : value(static_cast<int>(i));
          const std::vector<float> c0 = C.host();
          const float alpha = 0.5f;
          ASSERT_EQ(
              cublasGemmEx(h, ta, tb, m, n, k, &alpha, A.p, CUDA_R_32F, lda, B.p, CUDA_R_32F, ldb, &beta, C.p,
                           CUDA_R_32F, ldc, fast ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
                           CUBLAS_GEMM_DEFAULT),
              CUBLAS_STATUS_SUCCESS);
          ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
          int rounded = 0;  // products where TF32 changed an operand
          for (int j = 0; j < n; ++j)
            for (int i = 0; i < m; ++i) {
              float acc = 0.f;
              for (int p = 0; p < k; ++p) {
                float a = ta == CUBLAS_OP_N ? A.p[i + p * lda] : A.p[p + i * lda];
                float b = tb == CUBLAS_OP_N ? B.p[p + j * ldb] : B.p[j + p * ldb];
                if (fast) {
                  rounded += tf32(a) != a || tf32(b) != b;
                  a = tf32(a);
                  b = tf32(b);
                }
                acc = std::fma(a, b, acc);
              }
              const std::size_t at = static_cast<std::size_t>(i) + static_cast<std::size_t>(j) * ldc;
              const float want = beta == 0.f ? alpha * acc : alpha * acc + beta * c0[at];
              ASSERT_EQ(C.p[at], want) << "fast " << fast << " ta " << ta << " tb " << tb << " beta " << beta
                                       << " at " << i << "," << j;
            }
          if (fast) {
            EXPECT_GT(rounded, 0);
          }
          for (int j = 0; j < n; ++j)  // the padding rows of C are left alone
            for (int i = m; i < ldc; ++i) {
              const std::size_t at = static_cast<std::size_t>(i) + static_cast<std::size_t>(j) * ldc;
              if (beta != 0.f)
                EXPECT_EQ(C.p[at], c0[at]);
              else
                EXPECT_TRUE(std::isnan(C.p[at]));
            }
        }
  cublasDestroy(h);
}

}  // namespace

// Streams run late and only as far as something waits for them, so that work on two streams with no event
// between them runs in the order that exposes the missing dependency.
TEST_F(Emulator, AnotherStreamsWorkIsSeenOnlyAfterAnEventWait) {
  Buf<int> x(1);
  cudaStream_t a, b;
  ASSERT_EQ(cudaStreamCreateWithFlags(&a, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(x.p, 0, sizeof(int), a), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(a), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(x.p, 1, sizeof(int), a), cudaSuccess);  // 0x01010101, still queued on a
  int seen = -1;
  ASSERT_EQ(cudaMemcpyAsync(&seen, x.p, sizeof(int), cudaMemcpyDeviceToHost, b), cudaSuccess);
  EXPECT_EQ(seen, 0) << "b does not wait for a without an event";
  ASSERT_EQ(cudaMemcpy(&seen, x.p, sizeof(int), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(seen, 0) << "nor does the legacy default stream wait for a non-blocking stream";
  cudaEvent_t done;
  ASSERT_EQ(cudaEventCreate(&done), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(done, a), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(b, done, 0), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(&seen, x.p, sizeof(int), cudaMemcpyDeviceToHost, b), cudaSuccess);
  EXPECT_EQ(seen, 0x01010101) << "after the event wait b sees a's work";
  cudaEventDestroy(done);
  cudaStreamDestroy(a);
  cudaStreamDestroy(b);
}

TEST_F(Emulator, HostCopiesAreStagedAndTimingsNeedTheStreamToReachTheirEvents) {
  Buf<int> x(1);
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  int host = 7;
  ASSERT_EQ(cudaMemcpyAsync(x.p, &host, sizeof(int), cudaMemcpyHostToDevice, s), cudaSuccess);
  host = 8;  // pageable memory: the bytes were taken at the call
  cudaEvent_t t0, t1;
  ASSERT_EQ(cudaEventCreate(&t0), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&t1), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(t0, s), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(t1, s), cudaSuccess);
  float ms = 0;
  EXPECT_EQ(cudaEventElapsedTime(&ms, t0, t1), cudaErrorNotReady) << "the stream has not reached the events";
  cudaGetLastError();
  ASSERT_EQ(cudaEventSynchronize(t1), cudaSuccess);
  EXPECT_EQ(cudaEventElapsedTime(&ms, t0, t1), cudaSuccess);
  EXPECT_GE(ms, 0.f);
  int back = 0;
  ASSERT_EQ(cudaMemcpyAsync(&back, x.p, sizeof(int), cudaMemcpyDeviceToHost, s), cudaSuccess);
  EXPECT_EQ(back, 7);
  // cudaFree waits for the work queued on the memory.
  int* y = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&y), sizeof(int)), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(y, 0, sizeof(int), s), cudaSuccess);
  ASSERT_EQ(cudaFree(y), cudaSuccess);
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
  cudaStreamDestroy(s);
}
