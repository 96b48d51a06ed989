// One LSTM stack + linear head on cuDNN 9 (v8 RNN API) for a fixed shape, window T and maximum batch:
// the building block of the cudnn engine, also used directly by tests and benchmarks.
//
// Parameters live on the device in one flat fp32 vector `theta`:
//   [ cuDNN weight space (cudnnGetRNNWeightSpaceSize bytes) | pad to 64 floats | Wh (horizon x H) | bh ]
// so that Adam, the gradient norm and clipping each run as one launch over theta/dtheta. The canonical
// layout of lstm/shape.hpp is mapped to the weight space block by block through cudnnGetRNNWeightParams
// (never assuming cuDNN's internal order); segments() exposes that map.
//
// Data: x is B x T x D (BATCH_MAJOR_UNPACKED, padded I/O with every length = T), y is B x T x H,
// hx/cx are zero (null), hy/cy are L x B x H. The head reads the top layer's hy.
#pragma once
#include <cuda_runtime.h>
#include <cudnn.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/gpu/device_buffer.hpp"
#include "lstm/cudnn/cudnn_check.hpp"
#include "lstm/engine.hpp"
#include "lstm/shape.hpp"

namespace lstmad {

enum class RnnAlgo { Standard, PersistStaticSmallH };
RnnAlgo parse_rnn_algo(
    const std::string& s);  // "standard" | "persist_static_small_h" (ConfigError otherwise)
std::string to_string(RnnAlgo a);

// One block of the canonical layout and where cuDNN keeps it: canonical[canonical + r * cols + c] (a
// row-major rows x cols block) <-> theta[theta + r * row_stride + c * col_stride].
struct WeightSegment {
  std::size_t canonical = 0;
  std::size_t theta = 0;
  int rows = 0, cols = 0;
  long long row_stride = 0, col_stride = 0;
};

class CudnnLstm {
 public:
  // Training: forward in both modes and backward. Inference: forward(training = false) and the head only,
  // without the gradient buffers, the reserve space and the training temp space; a persistent algorithm
  // is then probed for the inference forward alone (cuDNN's small-H forward reaches H = 192, its
  // backward H = 128).
  enum class Use { Training, Inference };

  // Uses `handle` on `stream` (the caller has set the handle's stream). Throws UnsupportedError for a
  // precision cuDNN's fp32 path cannot give (FP64, BF16). For PersistStaticSmallH, probes what `use`
  // runs (a training step, or an inference forward) and falls back to Standard (with a logged warning)
  // when cuDNN rejects the configuration.
  CudnnLstm(cudnnHandle_t handle, cudaStream_t stream, const ModelShape& shape, int window, int max_batch,
            Precision precision, RnnAlgo algo, Use use = Use::Training);
  ~CudnnLstm();
  CudnnLstm(const CudnnLstm&) = delete;
  CudnnLstm& operator=(const CudnnLstm&) = delete;

  const ModelShape& shape() const { return shape_; }
  int window() const { return window_; }
  int max_batch() const { return max_batch_; }
  RnnAlgo algo() const { return algo_; }
  Use use() const { return use_; }
  cudaStream_t stream() const { return stream_; }

  std::size_t theta_size() const { return theta_size_; }
  std::size_t weight_space_bytes() const { return ws_bytes_; }
  std::size_t head_offset() const { return head_off_; }  // theta index of Wh; bh follows Wh
  const std::vector<WeightSegment>& segments() const { return segments_; }

  // Host-side layout maps. canonical_to_theta zero-fills theta's padding (theta: theta_size() floats).
  void canonical_to_theta(const float* canonical, float* theta) const;
  void theta_to_canonical(const float* theta, float* canonical) const;

  // The device parameter and gradient vectors (theta_size() floats each).
  float* theta() { return theta_.data(); }
  float* dtheta() { return dtheta_.data(); }
  // Synchronous host <-> device copies of the parameters, in the canonical layout.
  void upload_params(const float* canonical);
  void download_params(float* canonical);
  void download_grad(float* canonical);

  // Runs the LSTM stack on x (device, batch x T x D). training=true keeps cuDNN's reserve space for
  // backward() (an Error on an inference block). Asynchronous on stream().
  void forward(const float* theta, const float* x, int batch, bool training);
  // The head on the top layer's final h; with targets y (batch x horizon) also writes resid and dyhat (the
  // mean-MSE gradient), any of which may be null.
  void head(const float* theta, int batch, float* yhat, const float* y, float* dyhat, float* resid);
  // Backward of the last training forward() (same x, batch): dtheta (all of it) is overwritten with
  // dLoss/dtheta given dyhat; dx (batch x T x D) receives dLoss/dx when not null. Training blocks only.
  void backward(const float* theta, const float* x, int batch, const float* dyhat, float* dtheta, float* dx);

  // Creates the descriptors and temporary buffers for `batch` now (forward() does it on first use), so
  // that a CUDA graph capture of a step never allocates.
  void prepare(int batch) { descs(batch); }
  // Changes whenever an internal device buffer is reallocated (a new, larger batch size): a CUDA graph
  // captured before then refers to freed memory and must be recaptured.
  unsigned generation() const { return generation_; }

  // Final states of the last forward(): L x batch x H on the device.
  const float* hy() const { return hy_.data(); }
  const float* cy() const { return cy_.data(); }

 private:
  struct BatchDescs;
  void build(RnnAlgo algo);
  void require_training(const char* what) const;
  BatchDescs& descs(int batch);
  void map_weights();

  cudnnHandle_t handle_;
  cudaStream_t stream_;
  ModelShape shape_;
  int window_, max_batch_;
  Precision precision_;
  RnnAlgo algo_;
  Use use_;
  gpu::DropoutDescriptor dropout_;
  gpu::RnnDescriptor rnn_;
  std::map<int, std::unique_ptr<BatchDescs>> descs_;
  std::size_t ws_bytes_ = 0, head_off_ = 0, theta_size_ = 0;
  unsigned generation_ = 0;
  std::vector<WeightSegment> segments_;
  gpu::DeviceBuffer<float> theta_, dtheta_;
  gpu::DeviceBuffer<float> y_, dy_zero_, dhy_, dx_scratch_, hy_, cy_;
  gpu::DeviceBuffer<int> seq_lengths_;
  gpu::DeviceBuffer<unsigned char> work_, reserve_;
};

}  // namespace lstmad
