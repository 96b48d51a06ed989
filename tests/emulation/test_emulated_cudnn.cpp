// The emulated cuDNN RNN calls (tests/emulation/emu_cudnn.cpp): the parts of the API that the cudnn
// engine's tests do not reach (initial and final states and their gradients, per-sequence lengths, the
// sequence-major layout) checked against finite differences and against each sequence run alone, and
// the misuses it reports as cuDNN would or louder. Built only in the emulation build with cudnn.h.
#include <cudnn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/emulation/cuda_emulation.hpp"

namespace {

#define OK(call) ASSERT_EQ((call), CUDNN_STATUS_SUCCESS) << last_error()

std::string last_error() {
  char m[512] = {0};
  cudnnGetLastErrorString(m, sizeof m);
  return m;
}

// Device memory from the emulated cudaMalloc (host-addressable here).
struct Dev {
  float* p = nullptr;
  std::size_t n = 0;
  explicit Dev(std::size_t count, float v = 0.f) : n(count) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&p), std::max<std::size_t>(n, 1) * sizeof(float)),
              cudaSuccess);
    std::fill(p, p + n, v);
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  std::vector<float> host() const { return std::vector<float>(p, p + n); }
};

struct Config {
  int L = 2, D = 2, H = 3, B = 3, T = 5;
  std::vector<int> lens{5, 2, 4};
  cudnnRNNDataLayout_t layout = CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED;
  cudnnRNNAlgo_t algo = CUDNN_RNN_ALGO_STANDARD;
  float fill = -7.f;
};

// One LSTM stack set up through the API as lstmad's engine does it, with every state buffer in use.
class Rnn {
 public:
  explicit Rnn(const Config& c) : c_(c) {
    cudnnCreate(&handle_);
    cudnnCreateDropoutDescriptor(&drop_);
    cudnnCreateRNNDescriptor(&rnn_);
    cudnnCreateRNNDataDescriptor(&xd_);
    cudnnCreateRNNDataDescriptor(&yd_);
    cudnnCreateTensorDescriptor(&hd_);
    cudnnSetDropoutDescriptor(drop_, handle_, 0.f, nullptr, 0, 0);
    status_ = cudnnSetRNNDescriptor_v8(rnn_, c.algo, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS, CUDNN_UNIDIRECTIONAL,
                                       CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH,
                                       c.D, c.H, c.H, c.L, drop_, CUDNN_RNN_PADDED_IO_ENABLED);
    float fill = c.fill;
    cudnnSetRNNDataDescriptor(xd_, CUDNN_DATA_FLOAT, c.layout, c.T, c.B, c.D, c.lens.data(), &fill);
    cudnnSetRNNDataDescriptor(yd_, CUDNN_DATA_FLOAT, c.layout, c.T, c.B, c.H, c.lens.data(), &fill);
    const int dims[3] = {c.L, c.B, c.H}, strides[3] = {c.B * c.H, c.H, 1};
    cudnnSetTensorNdDescriptor(hd_, CUDNN_DATA_FLOAT, 3, dims, strides);
    cudnnGetRNNWeightSpaceSize(handle_, rnn_, &w_bytes);
    cudnnGetRNNTempSpaceSizes(handle_, rnn_, CUDNN_FWD_MODE_TRAINING, xd_, &work_bytes, &reserve_bytes);
    const std::size_t seq = static_cast<std::size_t>(c.B) * c.T,
                      st = static_cast<std::size_t>(c.L) * c.B * c.H;
    w = std::make_unique<Dev>(w_bytes / 4);
    dw = std::make_unique<Dev>(w_bytes / 4);
    work = std::make_unique<Dev>(work_bytes / 4);
    reserve = std::make_unique<Dev>(reserve_bytes / 4);
    x = std::make_unique<Dev>(seq * c.D);
    y = std::make_unique<Dev>(seq * c.H);
    dx = std::make_unique<Dev>(seq * c.D);
    dy = std::make_unique<Dev>(seq * c.H);
    for (auto* s : {&hx, &cx, &hy, &cy, &dhy, &dcy, &dhx, &dcx}) *s = std::make_unique<Dev>(st);
  }
  ~Rnn() {
    cudnnDestroyTensorDescriptor(hd_);
    cudnnDestroyRNNDataDescriptor(yd_);
    cudnnDestroyRNNDataDescriptor(xd_);
    cudnnDestroyRNNDescriptor(rnn_);
    cudnnDestroyDropoutDescriptor(drop_);
    cudnnDestroy(handle_);
  }
  cudnnStatus_t status() const { return status_; }
  cudnnStatus_t forward(bool training = true) {
    return cudnnRNNForward(handle_, rnn_, training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                           nullptr, xd_, x->p, yd_, y->p, hd_, hx->p, hy->p, hd_, cx->p, cy->p, w_bytes, w->p,
                           work_bytes, work->p, training ? reserve_bytes : 0,
                           training ? reserve->p : nullptr);
  }
  cudnnStatus_t backward_data(const int* dev_lens = nullptr) {
    return cudnnRNNBackwardData_v8(handle_, rnn_, dev_lens, yd_, y->p, dy->p, xd_, dx->p, hd_, hx->p, dhy->p,
                                   dhx->p, hd_, cx->p, dcy->p, dcx->p, w_bytes, w->p, work_bytes, work->p,
                                   reserve_bytes, reserve->p);
  }
  cudnnStatus_t backward_weights(cudnnWgradMode_t mode = CUDNN_WGRAD_MODE_ADD, std::size_t work_size = 0) {
    return cudnnRNNBackwardWeights_v8(handle_, rnn_, mode, nullptr, xd_, x->p, hd_, hx->p, yd_, y->p, w_bytes,
                                      dw->p, work_size != 0 ? work_size : work_bytes, work->p, reserve_bytes,
                                      reserve->p);
  }
  void set_stream(cudaStream_t s) { cudnnSetStream(handle_, s); }
  // The weight space's parameter blocks (matrix, bias) for every layer and linLayerID.
  struct Block {
    float* p;
    int dims[3], strides[3];
  };
  std::vector<Block> blocks() {
    std::vector<Block> out;
    cudnnTensorDescriptor_t m, b;
    cudnnCreateTensorDescriptor(&m);
    cudnnCreateTensorDescriptor(&b);
    for (int l = 0; l < c_.L; ++l)
      for (int id = 0; id < 8; ++id) {
        void *ma = nullptr, *ba = nullptr;
        EXPECT_EQ(cudnnGetRNNWeightParams(handle_, rnn_, l, w_bytes, w->p, id, m, &ma, b, &ba),
                  CUDNN_STATUS_SUCCESS);
        for (auto [desc, addr] : {std::pair{m, ma}, std::pair{b, ba}}) {
          Block blk{static_cast<float*>(addr), {}, {}};
          cudnnDataType_t t;
          int nb = 0;
          cudnnGetTensorNdDescriptor(desc, 3, &t, &nb, blk.dims, blk.strides);
          EXPECT_EQ(nb, 3);
          out.push_back(blk);
        }
      }
    cudnnDestroyTensorDescriptor(m);
    cudnnDestroyTensorDescriptor(b);
    return out;
  }

  std::size_t w_bytes = 0, work_bytes = 0, reserve_bytes = 0;
  std::unique_ptr<Dev> w, dw, work, reserve, x, y, dx, dy, hx, cx, hy, cy, dhy, dcy, dhx, dcx;

 private:
  Config c_;
  cudnnStatus_t status_;
  cudnnHandle_t handle_ = nullptr;
  cudnnDropoutDescriptor_t drop_ = nullptr;
  cudnnRNNDescriptor_t rnn_ = nullptr;
  cudnnRNNDataDescriptor_t xd_ = nullptr, yd_ = nullptr;
  cudnnTensorDescriptor_t hd_ = nullptr;
};

void randomize(Dev& d, uint32_t seed, float scale = 0.5f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  for (std::size_t i = 0; i < d.n; ++i) d.p[i] = u(g);
}

// Random weights in every parameter block (the weight space's alignment padding stays zero), inputs,
// initial states and output gradients.
void randomize_all(Rnn& r, uint32_t seed) {
  std::fill(r.w->p, r.w->p + r.w->n, 0.f);
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  for (const auto& b : r.blocks())
    for (int i = 0; i < b.dims[1] * b.dims[2]; ++i) b.p[i] = u(g);
  uint32_t s = seed;
  for (Dev* d : {r.x.get(), r.hx.get(), r.cx.get(), r.dy.get(), r.dhy.get(), r.dcy.get()}) randomize(*d, ++s);
}

class EmulatedCudnn : public ::testing::Test {
 protected:
  void SetUp() override { cudaDeviceReset(); }
  void TearDown() override { cudaDeviceReset(); }
};

TEST_F(EmulatedCudnn, WeightParamsTileTheWeightSpaceOnceAsRowMajorGateBlocks) {
  Config c;
  Rnn r(c);
  ASSERT_EQ(r.status(), CUDNN_STATUS_SUCCESS);
  std::vector<int> owner(r.w->n, -1);
  const auto blocks = r.blocks();
  ASSERT_EQ(blocks.size(), 32u);
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    const auto& b = blocks[k];
    const int l = static_cast<int>(k / 16), id = static_cast<int>(k % 16) / 2;
    const bool matrix = k % 2 == 0;
    const int cols = !matrix ? 1 : (id >= 4 || l > 0 ? c.H : c.D);
    EXPECT_EQ(b.dims[0], 1);
    EXPECT_EQ(b.dims[1], c.H);
    EXPECT_EQ(b.dims[2], cols) << "layer " << l << " id " << id;
    EXPECT_EQ(b.strides[1], cols);
    EXPECT_EQ(b.strides[2], 1);
    for (int i = 0; i < c.H * cols; ++i) {
      const std::ptrdiff_t at = b.p + i - r.w->p;
      ASSERT_GE(at, 0);
      ASSERT_LT(at, static_cast<std::ptrdiff_t>(r.w->n));
      EXPECT_EQ(owner[static_cast<std::size_t>(at)], -1) << "two blocks share weight-space float " << at;
      owner[static_cast<std::size_t>(at)] = static_cast<int>(k);
    }
  }
  // Not lstmad's canonical order: a bias comes before the first matrix.
  EXPECT_LT(blocks[1].p, blocks[0].p);
}

// The output and final states of each sequence of a batch with mixed lengths equal that sequence run
// alone (bit for bit: each sequence is computed the same way); y past a sequence's end is the padding
// fill; the sequence-major layout gives the same numbers transposed.
TEST_F(EmulatedCudnn, EachSequenceEndsAtItsOwnLengthInBothLayouts) {
  Config c;
  Rnn batch(c);
  randomize_all(batch, 11);
  ASSERT_EQ(batch.forward(false), CUDNN_STATUS_SUCCESS) << last_error();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const auto blocks = batch.blocks();
  for (int b = 0; b < c.B; ++b) {
    Config one = c;
    one.B = 1;
    one.T = c.lens[b];
    one.lens = {c.lens[b]};
    Rnn alone(one);
    std::copy(batch.w->p, batch.w->p + batch.w->n, alone.w->p);
    for (int t = 0; t < one.T; ++t)
      std::copy_n(batch.x->p + (static_cast<std::size_t>(b) * c.T + t) * c.D, c.D, alone.x->p + t * c.D);
    for (int l = 0; l < c.L; ++l) {
      std::copy_n(batch.hx->p + (l * c.B + b) * c.H, c.H, alone.hx->p + l * c.H);
      std::copy_n(batch.cx->p + (l * c.B + b) * c.H, c.H, alone.cx->p + l * c.H);
    }
    ASSERT_EQ(alone.forward(false), CUDNN_STATUS_SUCCESS) << last_error();
    for (int l = 0; l < c.L; ++l)
      for (int j = 0; j < c.H; ++j) {
        EXPECT_EQ(batch.hy->p[(l * c.B + b) * c.H + j], alone.hy->p[l * c.H + j]) << b << " " << l;
        EXPECT_EQ(batch.cy->p[(l * c.B + b) * c.H + j], alone.cy->p[l * c.H + j]) << b << " " << l;
      }
    for (int t = 0; t < c.T; ++t)
      for (int j = 0; j < c.H; ++j) {
        const float got = batch.y->p[(static_cast<std::size_t>(b) * c.T + t) * c.H + j];
        EXPECT_EQ(got, t < c.lens[b] ? alone.y->p[t * c.H + j] : c.fill) << "b " << b << " t " << t;
      }
  }
  Config sm = c;
  sm.layout = CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED;
  Rnn seq(sm);
  std::copy(batch.w->p, batch.w->p + batch.w->n, seq.w->p);
  std::copy(batch.hx->p, batch.hx->p + batch.hx->n, seq.hx->p);
  std::copy(batch.cx->p, batch.cx->p + batch.cx->n, seq.cx->p);
  for (int b = 0; b < c.B; ++b)
    for (int t = 0; t < c.T; ++t)
      std::copy_n(batch.x->p + (static_cast<std::size_t>(b) * c.T + t) * c.D, c.D,
                  seq.x->p + (static_cast<std::size_t>(t) * c.B + b) * c.D);
  ASSERT_EQ(seq.forward(false), CUDNN_STATUS_SUCCESS) << last_error();
  for (int b = 0; b < c.B; ++b)
    for (int t = 0; t < c.T; ++t)
      for (int j = 0; j < c.H; ++j)
        EXPECT_EQ(seq.y->p[(static_cast<std::size_t>(t) * c.B + b) * c.H + j],
                  batch.y->p[(static_cast<std::size_t>(b) * c.T + t) * c.H + j]);
  EXPECT_EQ(seq.hy->host(), batch.hy->host());
  EXPECT_EQ(seq.cy->host(), batch.cy->host());
}

// Every gradient BackwardData and BackwardWeights give (dx, dhx, dcx, every weight) against central
// differences of L = sum(y dy) + sum(hy dhy) + sum(cy dcy), with mixed lengths and initial states.
TEST_F(EmulatedCudnn, GradientsMatchFiniteDifferences) {
  Config c;
  Rnn r(c);
  randomize_all(r, 23);
  auto loss = [&]() {
    EXPECT_EQ(r.forward(false), CUDNN_STATUS_SUCCESS) << last_error();
    double s = 0;
    for (int b = 0; b < c.B; ++b)
      for (int t = 0; t < c.lens[b]; ++t)
        for (int j = 0; j < c.H; ++j) {
          const std::size_t i = (static_cast<std::size_t>(b) * c.T + t) * c.H + j;
          s += static_cast<double>(r.y->p[i]) * r.dy->p[i];
        }
    for (std::size_t i = 0; i < r.hy->n; ++i)
      s += static_cast<double>(r.hy->p[i]) * r.dhy->p[i] + static_cast<double>(r.cy->p[i]) * r.dcy->p[i];
    return s;
  };
  std::fill(r.dw->p, r.dw->p + r.dw->n, 0.f);
  ASSERT_EQ(r.forward(true), CUDNN_STATUS_SUCCESS) << last_error();
  ASSERT_EQ(r.backward_data(), CUDNN_STATUS_SUCCESS) << last_error();
  ASSERT_EQ(r.backward_weights(), CUDNN_STATUS_SUCCESS) << last_error();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const auto dx = r.dx->host(), dhx = r.dhx->host(), dcx = r.dcx->host(), dw = r.dw->host();
  int checked = 0;
  auto check = [&](Dev& v, const std::vector<float>& grad, const char* what) {
    const float eps = 1e-2f;
    for (std::size_t i = 0; i < v.n; ++i) {
      const float keep = v.p[i];
      v.p[i] = keep + eps;
      const double up = loss();
      v.p[i] = keep - eps;
      const double down = loss();
      v.p[i] = keep;
      const double fd = (up - down) / (2.0 * eps);
      EXPECT_NEAR(grad[i], fd, 2e-3 + 2e-3 * std::fabs(fd)) << what << "[" << i << "]";
      ++checked;
    }
  };
  check(*r.x, dx, "dx");
  check(*r.hx, dhx, "dhx");
  check(*r.cx, dcx, "dcx");
  check(*r.w, dw, "dw");
  EXPECT_GT(checked, 200);
  // Past each sequence's end dx is zero.
  for (int b = 0; b < c.B; ++b)
    for (int t = c.lens[b]; t < c.T; ++t)
      for (int k = 0; k < c.D; ++k) EXPECT_EQ(dx[(static_cast<std::size_t>(b) * c.T + t) * c.D + k], 0.f);
}

// BackwardWeights adds to dw (the only mode cuDNN 9 supports), so a second call doubles it.
TEST_F(EmulatedCudnn, BackwardWeightsAddsAndRefusesSetMode) {
  Config c;
  Rnn r(c);
  randomize_all(r, 5);
  std::fill(r.dw->p, r.dw->p + r.dw->n, 0.f);
  OK(r.forward());
  OK(r.backward_data());
  OK(r.backward_weights());
  const auto once = r.dw->host();
  OK(r.backward_weights());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  int nonzero = 0;
  for (std::size_t i = 0; i < once.size(); ++i) {
    EXPECT_EQ(r.dw->p[i], 2.f * once[i]);
    nonzero += once[i] != 0.f;
  }
  EXPECT_GT(nonzero, 100);
  EXPECT_EQ(r.backward_weights(CUDNN_WGRAD_MODE_SET), CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_NE(last_error().find("CUDNN_WGRAD_MODE_ADD"), std::string::npos);
}

// Misuse of the reserve space fails the stream, as a failed kernel would, with a message that says why.
TEST_F(EmulatedCudnn, BackwardWeightsBeforeBackwardDataFailsTheStream) {
  Config c;
  Rnn r(c);
  randomize_all(r, 7);
  OK(r.forward());
  testing::internal::CaptureStderr();
  OK(r.backward_weights());
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
  EXPECT_NE(log.find("cudnnRNNBackwardData_v8 must run before cudnnRNNBackwardWeights_v8"), std::string::npos)
      << log;
}

TEST_F(EmulatedCudnn, BackwardWithoutATrainingForwardFailsTheStream) {
  Config c;
  Rnn r(c);
  randomize_all(r, 8);
  OK(r.forward(false));  // inference keeps nothing for backward
  testing::internal::CaptureStderr();
  OK(r.backward_data());
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
  EXPECT_NE(log.find("not filled by a training cudnnRNNForward"), std::string::npos) << log;
}

TEST_F(EmulatedCudnn, HostMemoryAndWrongDeviceLengthsFailTheStream) {
  Config c;
  Rnn r(c);
  randomize_all(r, 9);
  // y in host memory: cuDNN's kernels would fault on it.
  std::vector<float> host_y(r.y->n);
  float* device_y = r.y->p;
  r.y->p = host_y.data();
  testing::internal::CaptureStderr();
  OK(r.forward(false));
  std::string log = testing::internal::GetCapturedStderr();
  r.y->p = device_y;
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorIllegalAddress);
  EXPECT_NE(log.find("cudnnRNNForward: y is not"), std::string::npos) << log;
  cudaDeviceReset();
  // devSeqLengths in device memory, but not the lengths the descriptor holds.
  int* lens = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&lens), c.B * sizeof(int)), cudaSuccess);
  for (int b = 0; b < c.B; ++b) lens[b] = c.T;
  OK(r.forward());
  testing::internal::CaptureStderr();
  OK(r.backward_data(lens));
  log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
  EXPECT_NE(log.find("devSeqLengths[1] = 5 but the data descriptor says 2"), std::string::npos) << log;
  cudaFree(lens);
}

TEST_F(EmulatedCudnn, TooSmallTempSpacesAreBadParamsWithTheReason) {
  Config c;
  Rnn r(c);
  randomize_all(r, 10);
  OK(r.forward());
  OK(r.backward_data());
  EXPECT_EQ(r.backward_weights(CUDNN_WGRAD_MODE_ADD, r.work_bytes - 4), CUDNN_STATUS_BAD_PARAM);
  EXPECT_NE(last_error().find("workSpaceSize"), std::string::npos);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

// PERSIST_STATIC_SMALL_H within PyTorch's limits only: backward H <= 128, forward H <= 192, and every
// sequence at the full length.
TEST_F(EmulatedCudnn, SmallHAlgorithmRefusesWhatItCannotRun) {
  Config c;
  c.algo = CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H;
  {
    Rnn mixed(c);
    randomize_all(mixed, 12);
    EXPECT_EQ(mixed.forward(), CUDNN_STATUS_NOT_SUPPORTED);
    EXPECT_NE(last_error().find("variable sequence lengths"), std::string::npos);
  }
  c.lens = {c.T, c.T, c.T};
  c.L = 1;
  c.H = 160;
  Rnn wide(c);
  randomize_all(wide, 13);
  OK(wide.forward());
  EXPECT_EQ(wide.backward_data(), CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_NE(last_error().find("backward needs hiddenSize <= 128"), std::string::npos);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

// Captured into a CUDA graph, the calls run when the graph is launched, on the buffers' contents then.
TEST_F(EmulatedCudnn, CapturedCallsRunWhenTheGraphIsLaunched) {
  Config c;
  Rnn r(c);
  randomize_all(r, 14);
  OK(r.forward(false));
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const auto first = r.hy->host();
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  r.set_stream(s);
  cudaGraph_t g;
  cudaGraphExec_t e;
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  OK(r.forward(false));
  ASSERT_EQ(cudaStreamEndCapture(s, &g), cudaSuccess);
  ASSERT_EQ(cudaGraphInstantiate(&e, g, 0), cudaSuccess);
  std::fill(r.hy->p, r.hy->p + r.hy->n, 0.f);
  for (std::size_t i = 0; i < r.x->n; ++i) r.x->p[i] *= 2.f;  // the replay reads the new input
  EXPECT_EQ(r.hy->host(), std::vector<float>(r.hy->n, 0.f)) << "captured work ran at capture";
  ASSERT_EQ(cudaGraphLaunch(e, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_NE(r.hy->host(), first);
  for (std::size_t i = 0; i < r.x->n; ++i) r.x->p[i] /= 2.f;
  ASSERT_EQ(cudaGraphLaunch(e, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(r.hy->host(), first);
  cudaGraphExecDestroy(e);
  cudaGraphDestroy(g);
  cudaStreamDestroy(s);
}

}  // namespace
