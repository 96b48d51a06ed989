// The linear head and its MSE loss. Shapes: h is B x H (row-major, the top layer's last hidden state),
// Wh is horizon x H, bh is horizon, yhat / y / dyhat are B x horizon.
//   forward:  yhat[b,j] = bh[j] + sum_k Wh[j,k] h[b,k]; with targets y also
//             resid[b,j] = yhat - y (the loss is the mean of its squares: launch_sum_squares) and
//             dyhat[b,j] = 2 (yhat - y) / (B * horizon)  (d mean-MSE / d yhat)
//   backward: dWh[j,k] = sum_b dyhat[b,j] h[b,k]; dbh[j] = sum_b dyhat[b,j]; dh[b,k] = sum_j dyhat[b,j]
//   Wh[j,k]
// Sums run in a fixed order (no atomics), so results are bitwise repeatable.
#pragma once
#include <cuda_runtime.h>

namespace lstmad::kernels {

// y, dyhat and resid may be null (inference: only yhat is written).
void launch_head_forward(const float* h, int B, int H, int horizon, const float* Wh, const float* bh,
                         float* yhat, const float* y, float* dyhat, float* resid, cudaStream_t stream);

// dWh, dbh are overwritten (not accumulated); dh (B x H) is overwritten.
void launch_head_backward(const float* h, const float* dyhat, int B, int H, int horizon, const float* Wh,
                          float* dWh, float* dbh, float* dh, cudaStream_t stream);

}  // namespace lstmad::kernels
