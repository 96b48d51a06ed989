// cuDNN 9 LSTM + linear head for one shape; see cudnn_lstm.hpp. Call order per training step follows
// cuDNN's rules: RNNForward(TRAINING) keeps the reserve space; BackwardData_v8 runs before
// BackwardWeights_v8 (it rewrites the reserve space); BackwardWeights accumulates, so dw is zeroed first.
#include "lstm/cudnn/cudnn_lstm.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "core/gpu/check.hpp"
#include "core/log.hpp"
#include "kernels/head.hpp"

namespace lstmad {

namespace {
// cuDNN's answer to a persistent algorithm, by configuration (algorithm, use, precision, shape, window,
// batch, device). A ModelBatch builds one block per model, and scoring one per call, all with the same
// answer: the first block of a configuration probes, the later ones take its verdict (accepted: they
// build the algorithm at once; refused: STANDARD, with a debug line where the first one warned). A batch
// of a thousand models pays one probe, not a thousand.
struct Verdict {
  bool accepted = false;
  std::string why;  // cuDNN's (or CUDA's) message, when refused
};

std::mutex g_verdicts_mutex;
std::map<std::string, Verdict> g_verdicts;

std::optional<Verdict> known_verdict(const std::string& config) {
  std::lock_guard<std::mutex> lock(g_verdicts_mutex);
  const auto it = g_verdicts.find(config);
  return it == g_verdicts.end() ? std::nullopt : std::optional<Verdict>(it->second);
}

// A failure to allocate device (or host) memory, by CUDA or by cuDNN.
bool out_of_memory(const DeviceError& e) {
  if (const auto* cuda = dynamic_cast<const gpu::CudaError*>(&e))
    return cuda->status() == cudaErrorMemoryAllocation;
  if (const auto* cudnn = dynamic_cast<const gpu::CudnnError*>(&e))
    return cudnn->status() == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED ||
           cudnn->status() == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
  return false;
}

// False when another block remembered this configuration first (two workers probing at once).
bool remember_verdict(const std::string& config, const Verdict& v) {
  std::lock_guard<std::mutex> lock(g_verdicts_mutex);
  return g_verdicts.emplace(config, v).second;
}
}  // namespace

RnnAlgo parse_rnn_algo(const std::string& s) {
  if (s == "standard") return RnnAlgo::Standard;
  if (s == "persist_static_small_h") return RnnAlgo::PersistStaticSmallH;
  throw ConfigError("unknown cuDNN algorithm \"" + s + "\": expected standard or persist_static_small_h");
}

std::string to_string(RnnAlgo a) {
  return a == RnnAlgo::Standard ? "standard" : "persist_static_small_h";
}

namespace {

std::size_t round_up(std::size_t x, std::size_t m) {
  return (x + m - 1) / m * m;
}

cudnnRNNAlgo_t cudnn_algo(RnnAlgo a) {
  return a == RnnAlgo::Standard ? CUDNN_RNN_ALGO_STANDARD : CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H;
}

// Where cuDNN put one rows x cols canonical block, from the tensor descriptor cudnnGetRNNWeightParams
// filled. cuDNN documents the matrices as rows = gate units, cols = inputs (PyTorch copies its row-major
// weights straight in), but we read the dimensions and strides rather than assume them.
WeightSegment locate(cudnnTensorDescriptor_t desc, const void* addr, const float* base, std::size_t canonical,
                     int rows, int cols, const char* what) {
  cudnnDataType_t dtype{};
  int nb = 0;
  int dims[8] = {0}, strides[8] = {0};
  CUDNN_CHECK(cudnnGetTensorNdDescriptor(desc, 8, &dtype, &nb, dims, strides));
  if (addr == nullptr)
    throw DeviceError(std::string("cudnnGetRNNWeightParams returned no address for ") + what);
  long long count = 1;
  for (int i = 0; i < nb; ++i) count *= dims[i];
  if (dtype != CUDNN_DATA_FLOAT || count != static_cast<long long>(rows) * cols)
    throw DeviceError(std::string("cuDNN weight block ") + what + " has " + std::to_string(count) +
                      " elements, expected " + std::to_string(static_cast<long long>(rows) * cols));
  WeightSegment s;
  s.canonical = canonical;
  s.theta = static_cast<std::size_t>(static_cast<const float*>(addr) - base);
  s.rows = rows;
  s.cols = cols;
  // Collapse to the two innermost non-unit dimensions.
  int r_dim = -1, c_dim = -1;
  for (int i = nb - 1; i >= 0; --i) {
    if (dims[i] == 1) continue;
    if (c_dim < 0)
      c_dim = i;
    else if (r_dim < 0)
      r_dim = i;
    else
      throw DeviceError(std::string("cuDNN weight block ") + what + " has more than two non-unit dimensions");
  }
  if (r_dim < 0 && c_dim < 0) {  // 1 x 1
    s.row_stride = s.col_stride = 1;
  } else if (r_dim < 0) {  // a vector: rows x 1 or 1 x cols
    s.row_stride = cols == 1 ? strides[c_dim] : 0;
    s.col_stride = cols == 1 ? 0 : strides[c_dim];
  } else if (dims[r_dim] == rows && dims[c_dim] == cols) {
    s.row_stride = strides[r_dim];
    s.col_stride = strides[c_dim];
  } else if (dims[r_dim] == cols && dims[c_dim] == rows) {  // stored transposed
    s.row_stride = strides[c_dim];
    s.col_stride = strides[r_dim];
  } else {
    throw DeviceError(std::string("cuDNN weight block ") + what + " has dimensions " +
                      std::to_string(dims[r_dim]) + " x " + std::to_string(dims[c_dim]) + ", expected " +
                      std::to_string(rows) + " x " + std::to_string(cols));
  }
  return s;
}

}  // namespace

struct CudnnLstm::BatchDescs {
  gpu::RnnDataDescriptor x, y;
  gpu::TensorDescriptor h;
  std::size_t work_train = 0, reserve = 0, work_infer = 0;
};

CudnnLstm::CudnnLstm(cudnnHandle_t handle, cudaStream_t stream, const ModelShape& shape, int window,
                     int max_batch, Precision precision, RnnAlgo algo, Use use)
    : handle_(handle),
      stream_(stream),
      shape_(shape),
      window_(window),
      max_batch_(max_batch),
      precision_(precision),
      algo_(algo),
      use_(use) {
  shape_.validate();
  if (window < 1 || max_batch < 1) throw Error("cudnn LSTM needs window >= 1 and batch >= 1");
  if (precision == Precision::FP64)
    throw UnsupportedError("the cudnn engine runs fp32 and tf32; for fp64 use engine \"cpu\"");
  if (precision == Precision::BF16)
    throw UnsupportedError("the cudnn engine runs fp32 and tf32; for bf16 use engine \"fused\"");
  // No dropout (p = 0 needs no state buffer), but cudnnSetRNNDescriptor_v8 wants a descriptor.
  CUDNN_CHECK(cudnnSetDropoutDescriptor(dropout_, handle_, 0.f, nullptr, 0, 0));
  if (algo == RnnAlgo::Standard) {
    build(algo);
    return;
  }
  // cuDNN may reject a persistent algorithm at descriptor time (cudnnSetRNNDescriptor_v8, the temp-space
  // sizes) or only at the first call, so build and probe one training step on zeros inside one try; fall
  // back to STANDARD (same weight layout) when either refuses.
  // Both ends of the batch range are probed: the full minibatch, and a last partial one of a single row;
  // and every mode the block runs: for training, a training step and the inference forward of validation
  // and scoring, whose temp space and kernels differ; for inference, that forward alone.
  const bool training = use_ == Use::Training;
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  const std::string config = to_string(algo) + (training ? "" : " inference") + " at " +
                             to_string(precision_) + " for " + shape_.str() +
                             " T=" + std::to_string(window_) + " B=" + std::to_string(max_batch_) +
                             " on device " + std::to_string(device);
  if (const auto known = known_verdict(config)) {
    log::debug("cuDNN algorithm " + config +
               (known->accepted ? " was accepted before"
                                : " was rejected before (" + known->why + "); using standard"));
    build(known->accepted ? algo : RnnAlgo::Standard);
    return;
  }
  try {
    build(algo);
    const int B = max_batch_;
    gpu::DeviceBuffer<float> x(static_cast<std::size_t>(B) * window_ * shape_.input);
    gpu::DeviceBuffer<float> dyhat(training ? static_cast<std::size_t>(B) * shape_.horizon : 0);
    x.zero_async(stream_);
    dyhat.zero_async(stream_);
    theta_.zero_async(stream_);
    for (const int b : {B, 1}) {
      if (training) {
        forward(theta_.data(), x.data(), b, true);
        backward(theta_.data(), x.data(), b, dyhat.data(), dtheta_.data(), nullptr);
      }
      forward(theta_.data(), x.data(), b, false);
      CUDA_CHECK(cudaStreamSynchronize(stream_));
      if (B == 1) break;
    }
    remember_verdict(config, Verdict{true, ""});
    log::debug("cuDNN algorithm " + config + " accepted");
  } catch (const DeviceError& e) {
    // A cuDNN status, or a CUDA error of the refused launch, or a weight map the algorithm lays out
    // otherwise (locate()): each means STANDARD, whose layout the tests check. Out of memory is the
    // device's state at that moment (other workers' blocks), not an answer about the configuration:
    // this block takes STANDARD, and the next one probes again.
    const std::string what =
        "cuDNN algorithm " + config + " rejected (" + e.what() + "); falling back to standard";
    if (out_of_memory(e))
      log::warn(what + " for this block (out of memory: not remembered, the next block probes again)");
    else if (remember_verdict(config, Verdict{false, e.what()}))
      log::warn(what);
    else
      log::debug(what);
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    cudaGetLastError();  // a refused persistent launch may leave a (non-sticky) error for a later check
    build(RnnAlgo::Standard);
  }
}

CudnnLstm::~CudnnLstm() = default;

void CudnnLstm::build(RnnAlgo algo) {
  algo_ = algo;
  ++generation_;
  descs_.clear();
  const cudnnMathType_t math = precision_ == Precision::TF32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
  CUDNN_CHECK(cudnnSetRNNDescriptor_v8(rnn_, cudnn_algo(algo), CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
                                       CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT,
                                       CUDNN_DATA_FLOAT, math, shape_.input, shape_.hidden, shape_.hidden,
                                       shape_.layers, dropout_, CUDNN_RNN_PADDED_IO_ENABLED));
  CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(handle_, rnn_, &ws_bytes_));
  const std::size_t H = static_cast<std::size_t>(shape_.hidden),
                    hz = static_cast<std::size_t>(shape_.horizon);
  head_off_ = round_up((ws_bytes_ + sizeof(float) - 1) / sizeof(float), 64);
  theta_size_ = round_up(head_off_ + hz * H + hz, 64);
  const bool training = use_ == Use::Training;
  theta_.resize(theta_size_);
  theta_.zero_async(stream_);
  if (training) {
    dtheta_.resize(theta_size_);
    dtheta_.zero_async(stream_);
  }
  map_weights();

  const std::size_t LBH = static_cast<std::size_t>(shape_.layers) * max_batch_ * H;
  const std::size_t BT = static_cast<std::size_t>(max_batch_) * window_;
  y_.resize(BT * H);
  hy_.resize(LBH);
  cy_.resize(LBH);
  if (training) {
    dy_zero_.resize(BT * H);
    dy_zero_.zero_async(stream_);  // the loss reads only the final h, so dy is zero at every step
    dhy_.resize(LBH);
    dx_scratch_.resize(BT * static_cast<std::size_t>(shape_.input));
  }
  std::vector<int> lens(static_cast<std::size_t>(max_batch_), window_);
  seq_lengths_.resize(lens.size());
  seq_lengths_.upload(lens.data(), lens.size(), stream_);
  descs(max_batch_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudnnLstm::map_weights() {
  segments_.clear();
  const ParamLayout layout(shape_);
  const int H = shape_.hidden;
  const float* base = theta_.data();
  std::vector<unsigned char> used(theta_size_, 0);
  for (int l = 0; l < shape_.layers; ++l) {
    const int Din = shape_.layer_input(l);
    for (int id = 0; id < 8; ++id) {
      gpu::TensorDescriptor m, b;
      void* m_addr = nullptr;
      void* b_addr = nullptr;
      CUDNN_CHECK(
          cudnnGetRNNWeightParams(handle_, rnn_, l, ws_bytes_, theta_.data(), id, m, &m_addr, b, &b_addr));
      const bool input = id < 4;
      const int gate = id % 4;  // cuDNN's linLayerID order within W and R is i, f, g, o, as is ours
      const std::size_t mat_off = input ? layout.layer[l].W + static_cast<std::size_t>(gate) * H * Din
                                        : layout.layer[l].R + static_cast<std::size_t>(gate) * H * H;
      const std::size_t bias_off =
          (input ? layout.layer[l].bW : layout.layer[l].bR) + static_cast<std::size_t>(gate) * H;
      const std::string tag = "layer " + std::to_string(l) + " id " + std::to_string(id);
      segments_.push_back(locate(m, m_addr, base, mat_off, H, input ? Din : H, (tag + " matrix").c_str()));
      segments_.push_back(locate(b, b_addr, base, bias_off, H, 1, (tag + " bias").c_str()));
    }
  }
  // The head follows the weight space in theta.
  WeightSegment wh{layout.head_W, head_off_, shape_.horizon, H, H, 1};
  WeightSegment bh{
      layout.head_b, head_off_ + static_cast<std::size_t>(shape_.horizon) * H, shape_.horizon, 1, 1, 0};
  segments_.push_back(wh);
  segments_.push_back(bh);
  // Every element must land inside theta and no two canonical elements may share a slot.
  for (const auto& s : segments_)
    for (int r = 0; r < s.rows; ++r)
      for (int c = 0; c < s.cols; ++c) {
        const long long t = static_cast<long long>(s.theta) + r * s.row_stride + c * s.col_stride;
        if (t < 0 || t >= static_cast<long long>(theta_size_) || used[static_cast<std::size_t>(t)])
          throw DeviceError("cuDNN weight map for " + shape_.str() + " is not one-to-one at theta[" +
                            std::to_string(t) + "]");
        used[static_cast<std::size_t>(t)] = 1;
      }
}

CudnnLstm::BatchDescs& CudnnLstm::descs(int batch) {
  if (batch < 1 || batch > max_batch_)
    throw Error("cudnn LSTM batch " + std::to_string(batch) + " outside [1, " + std::to_string(max_batch_) +
                "]");
  auto it = descs_.find(batch);
  if (it != descs_.end()) return *it->second;
  auto d = std::make_unique<BatchDescs>();
  std::vector<int> lens(static_cast<std::size_t>(batch), window_);
  float fill = 0.f;
  CUDNN_CHECK(cudnnSetRNNDataDescriptor(d->x, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED,
                                        window_, batch, shape_.input, lens.data(), &fill));
  CUDNN_CHECK(cudnnSetRNNDataDescriptor(d->y, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED,
                                        window_, batch, shape_.hidden, lens.data(), &fill));
  const int dims[3] = {shape_.layers, batch, shape_.hidden};
  const int strides[3] = {batch * shape_.hidden, shape_.hidden, 1};
  CUDNN_CHECK(cudnnSetTensorNdDescriptor(d->h, CUDNN_DATA_FLOAT, 3, dims, strides));
  if (use_ == Use::Training)
    CUDNN_CHECK(
        cudnnGetRNNTempSpaceSizes(handle_, rnn_, CUDNN_FWD_MODE_TRAINING, d->x, &d->work_train, &d->reserve));
  std::size_t unused = 0;
  CUDNN_CHECK(
      cudnnGetRNNTempSpaceSizes(handle_, rnn_, CUDNN_FWD_MODE_INFERENCE, d->x, &d->work_infer, &unused));
  // Growing frees the old buffers: wait for work queued on them first.
  if (std::max(d->work_train, d->work_infer) > work_.size() || d->reserve > reserve_.size()) {
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    ++generation_;
  }
  work_.reserve(std::max(d->work_train, d->work_infer));
  reserve_.reserve(d->reserve);
  auto& ref = *d;
  descs_.emplace(batch, std::move(d));
  return ref;
}

void CudnnLstm::canonical_to_theta(const float* canonical, float* theta) const {
  std::fill(theta, theta + theta_size_, 0.f);
  for (const auto& s : segments_)
    for (int r = 0; r < s.rows; ++r)
      for (int c = 0; c < s.cols; ++c)
        theta[s.theta + r * s.row_stride + c * s.col_stride] =
            canonical[s.canonical + static_cast<std::size_t>(r) * s.cols + c];
}

void CudnnLstm::theta_to_canonical(const float* theta, float* canonical) const {
  for (const auto& s : segments_)
    for (int r = 0; r < s.rows; ++r)
      for (int c = 0; c < s.cols; ++c)
        canonical[s.canonical + static_cast<std::size_t>(r) * s.cols + c] =
            theta[s.theta + r * s.row_stride + c * s.col_stride];
}

void CudnnLstm::upload_params(const float* canonical) {
  std::vector<float> host(theta_size_);
  canonical_to_theta(canonical, host.data());
  theta_.upload(host.data(), host.size(), stream_);
}

void CudnnLstm::download_params(float* canonical) {
  const auto host = theta_.to_host(stream_);
  theta_to_canonical(host.data(), canonical);
}

void CudnnLstm::require_training(const char* what) const {
  if (use_ != Use::Training)
    throw Error(std::string("cudnn LSTM ") + what + ": the block for " + shape_.str() +
                " was built for inference only");
}

void CudnnLstm::download_grad(float* canonical) {
  require_training("download_grad");
  const auto host = dtheta_.to_host(stream_);
  theta_to_canonical(host.data(), canonical);
}

void CudnnLstm::forward(const float* theta, const float* x, int batch, bool training) {
  if (training) require_training("training forward");
  BatchDescs& d = descs(batch);
  CUDNN_CHECK(cudnnRNNForward(handle_, rnn_, training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                              seq_lengths_.data(), d.x, x, d.y, y_.data(), d.h, nullptr, hy_.data(), d.h,
                              nullptr, cy_.data(), ws_bytes_, theta, training ? d.work_train : d.work_infer,
                              work_.data(), training ? d.reserve : 0, training ? reserve_.data() : nullptr));
}

void CudnnLstm::head(const float* theta, int batch, float* yhat, const float* y, float* dyhat, float* resid) {
  const int H = shape_.hidden, hz = shape_.horizon;
  const float* h_top = hy_.data() + static_cast<std::size_t>(shape_.layers - 1) * batch * H;
  const float* Wh = theta + head_off_;
  kernels::launch_head_forward(h_top, batch, H, hz, Wh, Wh + static_cast<std::size_t>(hz) * H, yhat, y, dyhat,
                               resid, stream_);
  KERNEL_CHECK("head_forward");
}

void CudnnLstm::backward(const float* theta, const float* x, int batch, const float* dyhat, float* dtheta,
                         float* dx) {
  require_training("backward");
  BatchDescs& d = descs(batch);
  const int H = shape_.hidden, hz = shape_.horizon;
  const std::size_t top = static_cast<std::size_t>(shape_.layers - 1) * batch * H;
  // dL/dhy: zero for the lower layers, the head's backward for the top one.
  if (shape_.layers > 1) CUDA_CHECK(cudaMemsetAsync(dhy_.data(), 0, top * sizeof(float), stream_));
  float* dWh = dtheta + head_off_;
  kernels::launch_head_backward(hy_.data() + top, dyhat, batch, H, hz, theta + head_off_, dWh,
                                dWh + static_cast<std::size_t>(hz) * H, dhy_.data() + top, stream_);
  KERNEL_CHECK("head_backward");
  CUDNN_CHECK(cudnnRNNBackwardData_v8(handle_, rnn_, seq_lengths_.data(), d.y, y_.data(), dy_zero_.data(),
                                      d.x, dx != nullptr ? dx : dx_scratch_.data(), d.h, nullptr, dhy_.data(),
                                      nullptr, d.h, nullptr, nullptr, nullptr, ws_bytes_, theta, d.work_train,
                                      work_.data(), d.reserve, reserve_.data()));
  // BackwardWeights adds into dw; the padding up to the head stays zero with it.
  CUDA_CHECK(cudaMemsetAsync(dtheta, 0, head_off_ * sizeof(float), stream_));
  CUDNN_CHECK(cudnnRNNBackwardWeights_v8(handle_, rnn_, CUDNN_WGRAD_MODE_ADD, seq_lengths_.data(), d.x, x,
                                         d.h, nullptr, d.y, y_.data(), ws_bytes_, dtheta, d.work_train,
                                         work_.data(), d.reserve, reserve_.data()));
}

}  // namespace lstmad
