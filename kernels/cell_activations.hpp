// The LSTM cell's activations (lstm_cell.hpp) evaluated on the device, so that their error is measured on
// the hardware that runs them: the Fast activations' special-function units have documented bounds, not
// bits the host can reproduce, and the time loops' tests see them only through a whole recurrence.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

namespace lstmad::kernels {

// What launch_cell_activations writes per input, in this order.
enum CellActivation : int {
  kSigmoidPrecise = 0,
  kTanhPrecise = 1,
  kSigmoidFast = 2,
  kTanhFast = 3,
  kCellActivations = 4
};

// out[kCellActivations i + a] = activation a of x[i], for i < n (out: kCellActivations n floats).
cudaError_t launch_cell_activations(const float* x, std::size_t n, float* out, cudaStream_t stream);

}  // namespace lstmad::kernels
