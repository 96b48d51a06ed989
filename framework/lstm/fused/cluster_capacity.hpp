// Whether the device can place the thread-block clusters of a fused launch plan (version 2,
// docs/kernels.md), asked once before any launch by both fused paths (FusedLstm, MultiModelBlock).
#pragma once
#include <string>

#include "kernels/lstm_fused_plan.hpp"

namespace lstmad {

// Prepares the cluster kernels for `pc` (their shared-memory limits) and asks the device how many of its
// clusters it can hold at once (cudaOccupancyMaxActiveClusters). A cluster whose blocks the device cannot
// co-schedule would fail at launch, inside a captured CUDA graph where nothing could fall back; a question
// the device refuses (a MIG slice, a cluster configuration it does not support) counts as no room, and its
// error is cleared for the next caller. Without room: a warning naming `who`, the cluster and `what` (the
// shape and batch), and false, so that the caller runs the one-block kernels, which read R from L2.
bool clusters_fit(const kernels::FusedLaunch& pc, const std::string& who, const std::string& what);

}  // namespace lstmad
