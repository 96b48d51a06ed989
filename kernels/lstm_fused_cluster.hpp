// Forward and backward time loops of one LSTM layer for H where R (16 H^2 bytes) does not fit one block's
// shared memory: a thread-block cluster of C blocks (sm_90) shares one group of batch rows, block r of the
// cluster holding the R slice of hidden units [r H/C, (r+1) H/C) on chip. Plain C++ header.
//
// Same arguments, shapes and results as lstm_fused_fwd.hpp / lstm_fused_bwd.hpp; `plan` comes from
// plan_fused_cluster (plan.cluster > 1). Per step each block computes its units, writes its slice of h
// (forward) or of the gate gradients (backward) into every block of the cluster through distributed
// shared memory, and one cluster barrier replaces the block barrier.
#pragma once
#include <cuda_runtime.h>

#include "kernels/lstm_fused_bwd.hpp"
#include "kernels/lstm_fused_fwd.hpp"

namespace lstmad::kernels {

// Each returns the launch's status.
cudaError_t launch_lstm_fused_forward_cluster(const FusedLaunch& plan, const FusedFwdArgs& args,
                                              cudaStream_t stream);
cudaError_t launch_lstm_fused_backward_cluster(const FusedLaunch& plan, const FusedBwdArgs& args,
                                               cudaStream_t stream);
// Raises the kernels' dynamic shared memory limits for `plan`; call before CUDA graph capture.
cudaError_t prepare_lstm_fused_cluster(const FusedLaunch& plan);
// How many clusters of `plan` the device can hold at once (cudaOccupancyMaxActiveClusters), the smaller of
// the forward and backward kernels' counts, in *clusters. 0 means the launch would fail: a partitioned GPU
// (MIG) or a GPC with fewer free SMs than the cluster has blocks. Call after prepare_lstm_fused_cluster.
cudaError_t lstm_fused_cluster_capacity(const FusedLaunch& plan, int* clusters);

}  // namespace lstmad::kernels
