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
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = cluster;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  return cudaLaunchKernelEx(&cfg, kernel, static_cast<P>(std::forward<A>(args))...);
#endif
}

}  // namespace lstmad::kernels
