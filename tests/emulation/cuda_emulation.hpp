// Host emulation of the CUDA execution model, for running lstmad's own kernels on a machine without a GPU.
//
// The emulation build (cmake --preset emulation) compiles every kernels/*.cu as C++ with this header
// included first, and links the framework against tests/emulation's cudart and cuBLAS subsets instead of
// the real libraries. Each CUDA thread is a fiber (ucontext); a block's fibers run one at a time on one host
// thread and switch only at __syncthreads, the warp collectives (__shfl_*_sync, __syncwarp, mma.sync) and
// the cluster barrier. That makes the kernels' barriers real: a thread that reads shared memory another
// thread writes after the barrier reads the old value, exactly as a missing barrier would let it on the
// GPU; a barrier that not every thread reaches is reported as a deadlock that names the waiting threads;
// a warp collective whose mask names an exited or absent lane is an error. Blocks of one launch run on
// several host threads; the blocks of a thread-block cluster run together, with distributed shared memory.
// Launch limits are the H200's (threads per block, grid size, 48 KiB of dynamic shared memory unless
// cudaFuncSetAttribute raised it, at most 227 KiB; cluster size 8).
//
// Built with AddressSanitizer (the emulation preset), out-of-bounds reads and writes of global and dynamic
// shared memory are caught as compute-sanitizer memcheck would catch them. What this cannot show: speed,
// the hardware's own rounding of expf/tanhf, and races that only another interleaving would expose.
#pragma once

#include <cuda_runtime.h>
#include <math.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

// The CUDA execution-space keywords mean nothing to the host compiler here.
#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __launch_bounds__
#undef __forceinline__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// A block's static shared arrays: one copy per host thread, and a host thread runs one block at a time.
#define __shared__ static thread_local

namespace lstmad::emu {

// The identity of the running CUDA thread.
struct ThreadIdentity {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};

const ThreadIdentity& identity();

// Barriers and warp exchange.
void sync_block();
void sync_warp(unsigned mask);
void sync_cluster();
// This lane's 16 exchange words in its warp's buffer (valid between two sync_warp calls).
uint32_t* warp_words(int lane);
int lane_id();

// The running block's dynamic shared memory; and, for a cluster, the same offset in block `rank`'s.
unsigned char* dynamic_smem();
void* map_shared_rank(const void* local, int rank);
int cluster_block_rank();
int cluster_num_blocks();

// Runs `body` once per thread of the grid (blocks of a cluster together); errors in device code throw
// DeviceError out of the fiber and are reported by the launch.
struct LaunchShape {
  dim3 grid, block, cluster;
  std::size_t smem;
  const void* kernel;  // for the dynamic shared-memory attribute
};
void launch(cudaStream_t stream, const LaunchShape& shape, std::function<void()> body);

[[noreturn]] void device_fail(const char* what);

// False (with cudaErrorInvalidResourceHandle as the last error and a message) when `stream` belongs to a
// device other than the current one: the runtime refuses such a launch.
bool launch_stream_ok(cudaStream_t stream);
// False (with the sticky cudaErrorIllegalAddress and a message) when kernel argument `index` points into
// the memory of a device other than the current one: without peer access the kernel would fault.
bool pointer_argument_ok(const void* p, int index);
template <typename T>
bool argument_ok(const T& a, int index) {
  if constexpr (std::is_pointer_v<T>)
    return pointer_argument_ok(static_cast<const void*>(a), index);
  else
    return true;
}

// cudaOccupancyMaxActiveClusters for a launch of this shape (emu_runtime.cpp has the rule).
cudaError_t max_active_clusters(const void* kernel, dim3 grid, dim3 block, std::size_t smem, unsigned cluster,
                                int* clusters);

template <typename... P, typename... A>
void launch_kernel(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t smem, cudaStream_t stream,
                   dim3 cluster, A&&... args) {
  // The arguments are copied at launch, as the real launch copies them into the parameter buffer.
  auto params = std::make_shared<std::tuple<std::decay_t<P>...>>(static_cast<P>(std::forward<A>(args))...);
  if (!launch_stream_ok(stream)) return;
  int index = 0;
  bool ok = true;
  std::apply([&](const auto&... a) { ((ok = argument_ok(a, index++) && ok), ...); }, *params);
  if (!ok) return;
  LaunchShape shape{grid, block, cluster, smem, reinterpret_cast<const void*>(kernel)};
  launch(stream, shape, [kernel, params]() { std::apply(kernel, *params); });
}

// Warp exchange of one 32- or 64-bit value: each lane publishes, all read, then all leave.
template <typename T>
T shuffle(unsigned mask, T v, int src_lane) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a 4- or 8-byte value");
  const int lane = lane_id();
  std::memcpy(warp_words(lane), &v, sizeof(T));
  sync_warp(mask);
  T out = v;
  if (src_lane >= 0 && src_lane < 32 && ((mask >> src_lane) & 1u))
    std::memcpy(&out, warp_words(src_lane), sizeof(T));
  sync_warp(mask);
  return out;
}

// One warp's mma.sync (m16n8k8 TF32 or m16n8k16 BF16, fp32 accumulate), from the PTX ISA's fragment layout.
void mma_tf32(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
// cvt.rna.tf32.f32: round to nearest, ties away from zero, to a 10-bit mantissa.
uint32_t tf32_rna(float x);
// The same rounding as a float (what the tensor cores compute with).
inline float tf32_value(float x) {
  const uint32_t u = tf32_rna(x);
  float v;
  std::memcpy(&v, &u, 4);
  return v;
}

// Fault injection for tests: the next n cudaMalloc calls (of any thread) fail with
// cudaErrorMemoryAllocation, as a device that is full at that moment would answer.
void fail_next_device_allocations(int n);

}  // namespace lstmad::emu

#define threadIdx (::lstmad::emu::identity().thread_idx)
#define blockIdx (::lstmad::emu::identity().block_idx)
#define blockDim (::lstmad::emu::identity().block_dim)
#define gridDim (::lstmad::emu::identity().grid_dim)

inline void __syncthreads() {
  ::lstmad::emu::sync_block();
}
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  ::lstmad::emu::sync_warp(mask);
}
// The SM's cycle counter: here the host's clock in nanoseconds, which only keeps the device code that reads
// it (kernels/step_anatomy.cu) running; its counts mean nothing.
inline long long clock64() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
// ld.global.cg (cached in L2 only): a plain load here, where there is no cache to bypass.
template <typename T>
T __ldcg(const T* p) {
  return *p;
}
template <typename T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  const int lane = ::lstmad::emu::lane_id();
  return ::lstmad::emu::shuffle(mask, v, (lane & ~(width - 1)) + (src & (width - 1)));
}
template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = ::lstmad::emu::lane_id();
  const int src = lane + static_cast<int>(delta);
  const bool in = (src & ~(width - 1)) == (lane & ~(width - 1));
  return ::lstmad::emu::shuffle(mask, v, in ? src : lane);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  const int lane = ::lstmad::emu::lane_id();
  const int src = lane ^ lane_mask;
  const bool in = (src & ~(width - 1)) == (lane & ~(width - 1));
  return ::lstmad::emu::shuffle(mask, v, in ? src : lane);
}

// cooperative_groups' cluster API, as far as the cluster kernels use it.
namespace lstmad::emu::cg {
struct cluster_group {
  unsigned num_blocks() const { return static_cast<unsigned>(cluster_num_blocks()); }
  unsigned block_rank() const { return static_cast<unsigned>(cluster_block_rank()); }
  void sync() const { sync_cluster(); }
  template <typename T>
  T* map_shared_rank(T* p, unsigned rank) const {
    return static_cast<T*>(::lstmad::emu::map_shared_rank(p, static_cast<int>(rank)));
  }
};
inline cluster_group this_cluster() {
  return {};
}
}  // namespace lstmad::emu::cg
