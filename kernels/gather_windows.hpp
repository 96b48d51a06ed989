// Gathers training windows from a series that lives on the device (uploaded once per series).
// Series: xs is n x D (row-major), ys is n. A window starting at row s gives
//   xb[b] = xs[s .. s+T-1] (T x D, so xb is B x T x D, batch-major as cuDNN's BATCH_MAJOR_UNPACKED wants)
//   yb[b] = ys[s+T .. s+T+horizon-1]                     (yb is B x horizon)
// The starts of minibatch k are starts[cursor + b] where cursor = *d_cursor (0 when d_cursor is null):
// reading the cursor on the device lets one captured CUDA graph serve every minibatch of an epoch.
#pragma once
#include <cuda_runtime.h>

namespace lstmad::kernels {

// yb may be null (inference: only inputs are gathered). The caller guarantees s + T + horizon <= n.
void launch_gather_windows(const float* xs, const float* ys, int D, const int* starts, const int* d_cursor,
                           int B, int T, int horizon, float* xb, float* yb, cudaStream_t stream);

// *d_cursor += by (one thread): moves the window cursor to the next minibatch.
void launch_advance_cursor(int* d_cursor, int by, cudaStream_t stream);

}  // namespace lstmad::kernels
