// predict() and loss_and_grad() of the GPU engines on an LSTM block the engine has built (CudnnLstm,
// FusedLstm: both have the same device-side interface), so both engines run the same launches.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/gpu/check.hpp"
#include "core/gpu/device_buffer.hpp"
#include "kernels/gather_windows.hpp"
#include "kernels/reduce.hpp"
#include "lstm/shape.hpp"

namespace lstmad::gpu {

// The batch a predict() block is built for: every window at once, up to 1024.
inline int predict_max_batch(const std::vector<int>& starts) {
  return std::min<int>(static_cast<int>(starts.size()), 1024);
}

// Uploads `params` into `lstm` (built for predict_max_batch(starts)) and writes the forecasts of every
// window to out (starts.size() x horizon).
template <class Lstm>
void predict_windows(Lstm& lstm, cudaStream_t stream, const ModelShape& shape, int window, int max_batch,
                     const std::vector<float>& params, const float* x, int n, const std::vector<int>& starts,
                     float* out) {
  lstm.upload_params(params.data());
  const int hz = shape.horizon;
  DeviceBuffer<float> xs(static_cast<std::size_t>(n) * shape.input);
  DeviceBuffer<float> xb(static_cast<std::size_t>(max_batch) * window * shape.input);
  DeviceBuffer<float> yhat(starts.size() * static_cast<std::size_t>(hz));
  DeviceBuffer<int> st(starts.size());
  xs.upload(x, xs.size(), stream);
  st.upload(starts.data(), starts.size(), stream);
  for (int k = 0; k < static_cast<int>(starts.size()); k += max_batch) {
    const int b = std::min<int>(max_batch, static_cast<int>(starts.size()) - k);
    kernels::launch_gather_windows(xs.data(), nullptr, shape.input, st.data() + k, nullptr, b, window, hz,
                                   xb.data(), nullptr, stream);
    KERNEL_CHECK("gather_windows(predict)");
    lstm.forward(lstm.theta(), xb.data(), b, false);
    lstm.head(lstm.theta(), b, yhat.data() + static_cast<std::size_t>(k) * hz, nullptr, nullptr, nullptr);
  }
  yhat.download(out, yhat.size(), stream);
}

// MSE of one batch and its gradient (canonical layout) with `lstm` built for `batch`.
template <class Lstm>
double batch_loss_and_grad(Lstm& lstm, cudaStream_t stream, const ModelShape& shape, int window,
                           const float* params, const float* xb, const float* yb, int batch, float* grad) {
  lstm.upload_params(params);
  const int hz = shape.horizon;
  const std::size_t BH = static_cast<std::size_t>(batch) * hz;
  DeviceBuffer<float> x(static_cast<std::size_t>(batch) * window * shape.input), y(BH), yhat(BH), dyhat(BH),
      resid(BH);
  DeviceBuffer<double> loss(1);
  DeviceBuffer<unsigned char> temp(std::max<std::size_t>(kernels::sum_squares_temp_bytes(BH), 1));
  x.upload(xb, x.size(), stream);
  y.upload(yb, BH, stream);
  lstm.forward(lstm.theta(), x.data(), batch, true);
  lstm.head(lstm.theta(), batch, yhat.data(), y.data(), dyhat.data(), resid.data());
  CUDA_CHECK(kernels::launch_sum_squares(resid.data(), BH, loss.data(), temp.data(), temp.size(), stream));
  KERNEL_CHECK("sum_squares(loss)");
  lstm.backward(lstm.theta(), x.data(), batch, dyhat.data(), lstm.dtheta(), nullptr);
  lstm.download_grad(grad);
  double sum = 0.0;
  loss.download(&sum, 1, stream);
  return sum / static_cast<double>(BH);
}

}  // namespace lstmad::gpu
