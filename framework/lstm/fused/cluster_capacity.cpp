#include "lstm/fused/cluster_capacity.hpp"

#include <cuda_runtime.h>

#include "core/gpu/check.hpp"
#include "core/log.hpp"
#include "kernels/lstm_fused_cluster.hpp"

namespace lstmad {

bool clusters_fit(const kernels::FusedLaunch& pc, const std::string& who, const std::string& what) {
  CUDA_CHECK(kernels::prepare_lstm_fused_cluster(pc));
  int clusters = 0;
  const cudaError_t asked = kernels::lstm_fused_cluster_capacity(pc, &clusters);
  if (asked != cudaSuccess) {
    cudaGetLastError();
    clusters = 0;
  }
  if (clusters > 0) return true;
  log::warn(who + ": this device cannot place a thread-block cluster of " + std::to_string(pc.cluster) +
            " blocks with " + std::to_string(pc.smem_bwd / 1024) + " KiB of shared memory each (" + what + ")" +
            (asked != cudaSuccess ? std::string(": cudaOccupancyMaxActiveClusters gave ") + cudaGetErrorName(asked)
                                  : std::string()) +
            "; the one-block kernels run, reading R from L2");
  return false;
}

}  // namespace lstmad
