// An executable CUDA graph (move-only owner) and the capture of one step's launches into it. Both GPU
// training loops (the per-model loop of lstm/gpu and the multi-model fused engine) replay a captured
// step instead of paying its launches again.
#pragma once
#include <cuda_runtime.h>

#include <utility>

#include "core/gpu/check.hpp"

namespace lstmad::gpu {

class GraphExec {
 public:
  GraphExec() = default;
  explicit GraphExec(cudaGraphExec_t e) : e_(e) {}
  ~GraphExec() {
    if (e_) cudaGraphExecDestroy(e_);
  }
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  GraphExec(GraphExec&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  GraphExec& operator=(GraphExec&& o) noexcept {
    if (this != &o) {
      if (e_) cudaGraphExecDestroy(e_);
      e_ = std::exchange(o.e_, nullptr);
    }
    return *this;
  }
  cudaGraphExec_t get() const { return e_; }
  explicit operator bool() const { return e_ != nullptr; }
  void launch(cudaStream_t stream) const { CUDA_CHECK(cudaGraphLaunch(e_, stream)); }

 private:
  cudaGraphExec_t e_ = nullptr;
};

// Captures what `enqueue()` puts on `stream` (thread-local capture mode) and instantiates it. Nothing of
// the captured work runs. A failure throws (DeviceError from the CUDA calls, or whatever enqueue throws)
// and leaves no capture open and no graph behind; capture errors are not sticky, but the caller should
// clear them with cudaGetLastError before going on eagerly.
template <class Enqueue>
GraphExec capture_graph(cudaStream_t stream, Enqueue&& enqueue) {
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue();
  } catch (...) {
    cudaStreamEndCapture(stream, &graph);
    if (graph) cudaGraphDestroy(graph);
    throw;
  }
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  CUDA_CHECK(instantiated);
  return GraphExec(exec);
}

}  // namespace lstmad::gpu
