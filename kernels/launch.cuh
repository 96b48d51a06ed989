// Kernel launches and dynamic shared memory, spelled once. Every kernel in kernels/ is launched through
// launch_kernel (or launch_cluster_kernel) and declares its dynamic shared memory with
// LSTMAD_DYNAMIC_SMEM, so that the same sources also build for the host emulation of the CUDA execution
// model (tests/emulation, LSTMAD_CUDA_EMULATION), which runs them on a machine without a GPU.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#if defined(LSTMAD_CUDA_EMULATION)
#include "tests/emulation/cuda_emulation.hpp"
#define LSTMAD_DYNAMIC_SMEM(T, name) T* const name = reinterpret_cast<T*>(::lstmad::emu::dynamic_smem())
#else
#define LSTMAD_DYNAMIC_SMEM(T, name) extern __shared__ T name[]
#endif

namespace lstmad::kernels {

// kernel<<<grid, block, smem, stream>>>(args...), the arguments converted to the kernel's parameter types.
template <typename... P, typename... A>
void launch_kernel(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t smem, cudaStream_t stream,
                   A&&... args) {
#if defined(LSTMAD_CUDA_EMULATION)
  ::lstmad::emu::launch_kernel(kernel, grid, block, smem, stream, dim3(1, 1, 1), std::forward<A>(args)...);
#else
  // clang-format off
  kernel<<<grid, block, smem, stream>>>(static_cast<P>(std::forward<A>(args))...);
  // clang-format on
#endif
}

#if !defined(LSTMAD_CUDA_EMULATION)
// A launch configuration with a cluster of `cluster` blocks along x; `attr` holds the attribute it points to.
inline cudaLaunchConfig_t cluster_config(dim3 grid, dim3 block, std::size_t smem, cudaStream_t stream,
                                         unsigned cluster, cudaLaunchAttribute* attr) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  attr->id = cudaLaunchAttributeClusterDimension;
  attr->val.clusterDim.x = cluster;
  attr->val.clusterDim.y = 1;
  attr->val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  return cfg;
}
#endif

// The same launch with a thread-block cluster of `cluster` blocks along x (sm_90); returns the launch's
// status (cudaLaunchKernelEx reports an unsupported cluster shape here, not at the next check).
template <typename... P, typename... A>
cudaError_t launch_cluster_kernel(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t smem,
                                  cudaStream_t stream, unsigned cluster, A&&... args) {
#if defined(LSTMAD_CUDA_EMULATION)
  ::lstmad::emu::launch_kernel(kernel, grid, block, smem, stream, dim3(cluster, 1, 1),
                               std::forward<A>(args)...);
  return cudaGetLastError();
#else
  cudaLaunchAttribute attr;
  const cudaLaunchConfig_t cfg = cluster_config(grid, block, smem, stream, cluster, &attr);
  return cudaLaunchKernelEx(&cfg, kernel, static_cast<P>(std::forward<A>(args))...);
#endif
}

// How many clusters of `cluster` blocks of this kernel the device can hold at once
// (cudaOccupancyMaxActiveClusters); 0 when such a cluster cannot be placed at all.
template <typename... P>
cudaError_t max_active_clusters(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t smem,
                                unsigned cluster, int* clusters) {
#if defined(LSTMAD_CUDA_EMULATION)
  return ::lstmad::emu::max_active_clusters(reinterpret_cast<const void*>(kernel), grid, block, smem, cluster,
                                            clusters);
#else
  cudaLaunchAttribute attr;
  const cudaLaunchConfig_t cfg = cluster_config(grid, block, smem, nullptr, cluster, &attr);
  return cudaOccupancyMaxActiveClusters(clusters, reinterpret_cast<const void*>(kernel), &cfg);
#endif
}

}  // namespace lstmad::kernels
