// cuDNN 9's RNN API (the v8 calls), as far as lstmad calls it, on the emulated device: handles, tensor,
// dropout, RNN and RNN-data descriptors, the weight space and its parameter addresses, the temp-space
// sizes, cudnnRNNForward, cudnnRNNBackwardData_v8 and cudnnRNNBackwardWeights_v8, declared by the
// toolkit's own cudnn.h. The work runs in stream order (captured into CUDA graphs like any other work).
//
// What it models, so that the cudnn engine's use of the API is exercised without a GPU:
// - The LSTM of specs/lstm-gpu.md 1.5 (gates i, f, g, o; double bias), padded I/O in both unpacked
//   layouts, per-sequence lengths (padding filled in y, zero in dx, final states at each sequence's last
//   step), null initial states and null state gradients meaning zero.
// - An opaque weight space. Its layout is this emulator's own and unlike lstmad's canonical one (every
//   bias first, then per layer the recurrent matrices before the input ones, each block 32-byte aligned),
//   so a caller that assumed an order instead of asking cudnnGetRNNWeightParams gets wrong results.
// - The reserve space carries the forward's activations to BackwardData, which overwrites them with the
//   gate gradients that BackwardWeights reads: BackwardWeights before BackwardData, or backward on a
//   reserve no training forward filled, fails the stream (as reading garbage would on the GPU, only
//   loudly). BackwardWeights supports only CUDNN_WGRAD_MODE_ADD, as cuDNN 9 documents.
// - Math: CUDNN_FMA_MATH computes in fp32 with fma; CUDNN_DEFAULT_MATH and CUDNN_TENSOR_OP_MATH round the
//   GEMM operands to TF32 (as cuDNN may on the tensor cores) and accumulate in fp32.
// - PERSIST_STATIC_SMALL_H within PyTorch's limits (forward H <= 192, backward H <= 128, every length the
//   maximum), NOT_SUPPORTED outside them; the other persistent algorithms are not emulated.
// - Every buffer the calls read or write must be device memory (cudaMalloc) of the handle's stream's device,
//   of the size its descriptor implies, else the stream fails with cudaErrorIllegalAddress; sizes below
//   those the size queries gave are CUDNN_STATUS_BAD_PARAM with a reason in cudnnGetLastErrorString.
// Not modelled: speed, cuDNN's own rounding and summation order (the results meet the tests' tolerances
// against fp64, as cuDNN's must, but are not cuDNN's bits), which configurations the real library accepts,
// its lazy setup, projection, bidirectional and non-LSTM cells, dropout with p > 0.
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tests/emulation/cuda_emulation.hpp"
#include "tests/emulation/emu_internal.hpp"

struct cudnnContext {
  cudaStream_t stream = nullptr;
};
struct cudnnTensorStruct {
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int nb = 0;
  int dims[8] = {0}, strides[8] = {0};
};
struct cudnnDropoutStruct {
  bool set = false;
};
struct cudnnRNNStruct {
  bool set = false;
  cudnnRNNAlgo_t algo = CUDNN_RNN_ALGO_STANDARD;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  int input = 0, hidden = 0, layers = 0;
  unsigned aux = 0;
};
struct cudnnRNNDataStruct {
  bool set = false;
  cudnnRNNDataLayout_t layout = CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED;
  int max_t = 0, batch = 0, vec = 0;
  std::vector<int> lens;
  float fill = 0.f;
};

namespace {

thread_local std::string t_last_error;

cudnnStatus_t fail(cudnnStatus_t s, const std::string& why) {
  t_last_error = why;
  return s;
}

// A failure while the work runs: the stream's context is left unusable, as after a failed kernel.
void device_failure(cudaError_t e, const std::string& why) {
  lstmad::emu::device_fault(e, "cuDNN: " + why);
}

// ---- the weight space ----
// Every bias vector first (layer by layer, linLayerID 0..7), then per layer the recurrent matrices
// (IDs 4..7) and the input ones (0..3), each H x in row-major; every block starts at a multiple of 8 floats.
constexpr std::size_t kAlign = 8;
std::size_t align_up(std::size_t n) {
  return (n + kAlign - 1) / kAlign * kAlign;
}
struct WeightLayout {
  int L, D, H;
  explicit WeightLayout(const cudnnRNNStruct& r) : L(r.layers), D(r.input), H(r.hidden) {}
  int in(int l) const { return l == 0 ? D : H; }
  std::size_t bias(int l, int id) const { return (static_cast<std::size_t>(l) * 8 + id) * align_up(H); }
  std::size_t matrices_begin() const { return static_cast<std::size_t>(L) * 8 * align_up(H); }
  std::size_t layer_matrices(int l) const {
    return 4 * align_up(static_cast<std::size_t>(H) * H) + 4 * align_up(static_cast<std::size_t>(H) * in(l));
  }
  std::size_t matrix(int l, int id) const {
    std::size_t o = matrices_begin();
    for (int k = 0; k < l; ++k) o += layer_matrices(k);
    const std::size_t rr = align_up(static_cast<std::size_t>(H) * H);
    if (id >= 4) return o + static_cast<std::size_t>(id - 4) * rr;
    return o + 4 * rr + static_cast<std::size_t>(id) * align_up(static_cast<std::size_t>(H) * in(l));
  }
  std::size_t floats() const {
    std::size_t n = matrices_begin();
    for (int l = 0; l < L; ++l) n += layer_matrices(l);
    return n;
  }
};

// ---- temp spaces (floats) ----
// Reserve: a header, then per layer the activations (i, f, g, o; after BackwardData the gate
// gradients), c and h of every (sequence, step). Workspace: two B x T x H sequences (a layer's input
// and output in inference; the gradients flowing down in BackwardData).
constexpr std::size_t kHeader = 16;
constexpr uint32_t kMagic = 0x6c73746dU;
enum ReserveState : uint32_t { kForward = 1, kBackwardData = 2 };
struct ReserveHeader {
  uint32_t magic, state;
  int32_t batch, max_t, layers, hidden;
};
std::size_t per_layer(int B, int T, int H) {
  return static_cast<std::size_t>(B) * T * 6 * H;
}
std::size_t reserve_floats(const cudnnRNNStruct& r, int B, int T) {
  return kHeader + static_cast<std::size_t>(r.layers) * per_layer(B, T, r.hidden);
}
std::size_t work_floats(const cudnnRNNStruct& r, int B, int T) {
  return 2 * static_cast<std::size_t>(B) * T * r.hidden;
}

using lstmad::emu::tf32_value;
bool uses_tf32(const cudnnRNNStruct& r) {
  return r.math == CUDNN_DEFAULT_MATH || r.math == CUDNN_TENSOR_OP_MATH;
}
float sigmoid(float x) {
  return 1.f / (1.f + std::exp(-x));
}

// Where vector (b, t) of a padded sequence tensor starts.
std::size_t row(const cudnnRNNDataStruct& d, int b, int t) {
  const std::size_t i = d.layout == CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED
                            ? static_cast<std::size_t>(b) * d.max_t + t
                            : static_cast<std::size_t>(t) * d.batch + b;
  return i * static_cast<std::size_t>(d.vec);
}
std::size_t seq_bytes(const cudnnRNNDataStruct& d) {
  return static_cast<std::size_t>(d.batch) * d.max_t * d.vec * sizeof(float);
}

// Every pointer a call touches, checked when the work runs (cudaErrorIllegalAddress if not device memory).
struct Access {
  const void* p;
  std::size_t bytes;
  const char* what;
};
bool accessible(const char* call, int device, std::initializer_list<Access> list) {
  for (const Access& a : list) {
    if (a.p == nullptr) continue;
    const int d = lstmad::emu::device_of(a.p, a.bytes);
    if (d != device) {
      device_failure(cudaErrorIllegalAddress, std::string(call) + ": " + a.what + " is not " +
                                                  std::to_string(a.bytes) + " bytes of device memory" +
                                                  (d >= 0 ? " of device " + std::to_string(device) +
                                                                " (it is device " + std::to_string(d) + "'s)"
                                                          : ""));
      return false;
    }
  }
  return true;
}

// A layer's parameters as the computation reads them (rounded to TF32 where the math type asks): W is
// 4H x in and R 4H x H, gate-major rows; b = bW + bR is applied as bW then bR.
struct LayerParams {
  std::vector<float> W, R, bW, bR;
};
LayerParams layer_params(const cudnnRNNStruct& r, const float* w, int l) {
  const WeightLayout lay(r);
  const int H = r.hidden, in = lay.in(l);
  const bool t = uses_tf32(r);
  LayerParams p;
  p.W.resize(static_cast<std::size_t>(4) * H * in);
  p.R.resize(static_cast<std::size_t>(4) * H * H);
  p.bW.resize(4 * static_cast<std::size_t>(H));
  p.bR.resize(4 * static_cast<std::size_t>(H));
  for (int g = 0; g < 4; ++g) {
    const float* Wg = w + lay.matrix(l, g);
    const float* Rg = w + lay.matrix(l, g + 4);
    for (std::size_t i = 0; i < static_cast<std::size_t>(H) * in; ++i)
      p.W[g * static_cast<std::size_t>(H) * in + i] = t ? tf32_value(Wg[i]) : Wg[i];
    for (std::size_t i = 0; i < static_cast<std::size_t>(H) * H; ++i)
      p.R[g * static_cast<std::size_t>(H) * H + i] = t ? tf32_value(Rg[i]) : Rg[i];
    std::copy_n(w + lay.bias(l, g), H, p.bW.begin() + g * H);
    std::copy_n(w + lay.bias(l, g + 4), H, p.bR.begin() + g * H);
  }
  return p;
}

// The per-layer blocks of the reserve space.
struct LayerReserve {
  float *act, *c, *h;  // [b][t][4H], [b][t][H], [b][t][H]
};
LayerReserve layer_reserve(float* reserve, int l, int B, int T, int H) {
  float* base = reserve + kHeader + static_cast<std::size_t>(l) * per_layer(B, T, H);
  const std::size_t n = static_cast<std::size_t>(B) * T * H;
  return {base, base + 4 * n, base + 5 * n};
}

// ---- the three calls' work ----

struct ForwardArgs {
  cudnnRNNStruct r;
  cudnnRNNDataStruct xd, yd;
  bool training;
  const int* dev_lens;
  const float *x, *hx, *cx, *w;
  float *y, *hy, *cy, *work, *reserve;
  int device = 0;  // the stream's
};

bool lengths_match(const char* call, const int* dev_lens, const cudnnRNNDataStruct& d) {
  if (dev_lens == nullptr) return true;
  for (int b = 0; b < d.batch; ++b)
    if (dev_lens[b] != d.lens[static_cast<std::size_t>(b)]) {
      device_failure(cudaErrorLaunchFailure, std::string(call) + ": devSeqLengths[" + std::to_string(b) +
                                                 "] = " + std::to_string(dev_lens[b]) +
                                                 " but the data descriptor says " +
                                                 std::to_string(d.lens[static_cast<std::size_t>(b)]));
      return false;
    }
  return true;
}

void run_forward(const ForwardArgs& a) {
  const cudnnRNNStruct& r = a.r;
  const int L = r.layers, H = r.hidden, B = a.xd.batch, T = a.xd.max_t, G = 4 * H;
  const std::size_t hbytes = static_cast<std::size_t>(L) * B * H * sizeof(float);
  const WeightLayout lay(r);
  if (!accessible("cudnnRNNForward", a.device,
                  {{a.dev_lens, B * sizeof(int), "devSeqLengths"},
                   {a.x, seq_bytes(a.xd), "x"},
                   {a.y, seq_bytes(a.yd), "y"},
                   {a.hx, hbytes, "hx"},
                   {a.cx, hbytes, "cx"},
                   {a.hy, hbytes, "hy"},
                   {a.cy, hbytes, "cy"},
                   {a.w, lay.floats() * sizeof(float), "weightSpace"},
                   {a.work, work_floats(r, B, T) * sizeof(float), "workSpace"},
                   {a.reserve, a.training ? reserve_floats(r, B, T) * sizeof(float) : 0, "reserveSpace"}}) ||
      !lengths_match("cudnnRNNForward", a.dev_lens, a.xd))
    return;
  const bool t32 = uses_tf32(r);
  const std::size_t seq = static_cast<std::size_t>(B) * T * H;
  float* in_buf = a.work;         // inference: the layer below's output ...
  float* out_buf = a.work + seq;  // ... and this layer's
  std::vector<float> h(H), c(H), hr(H), xin, gate(G);
  for (int l = 0; l < L; ++l) {
    const LayerParams p = layer_params(r, a.w, l);
    const int in = lay.in(l);
    xin.resize(static_cast<std::size_t>(in));
    LayerReserve res{};
    if (a.training) res = layer_reserve(a.reserve, l, B, T, H);
    const float* below = a.training && l > 0 ? layer_reserve(a.reserve, l - 1, B, T, H).h : in_buf;
    for (int b = 0; b < B; ++b) {
      const std::size_t hb = (static_cast<std::size_t>(l) * B + b) * H;
      for (int j = 0; j < H; ++j) {
        h[j] = a.hx != nullptr ? a.hx[hb + j] : 0.f;
        c[j] = a.cx != nullptr ? a.cx[hb + j] : 0.f;
      }
      const int len = a.xd.lens[static_cast<std::size_t>(b)];
      for (int t = 0; t < len; ++t) {
        const std::size_t bt = static_cast<std::size_t>(b) * T + t;
        const float* xs = l == 0 ? a.x + row(a.xd, b, t) : below + bt * H;
        for (int k = 0; k < in; ++k) xin[k] = t32 ? tf32_value(xs[k]) : xs[k];
        for (int k = 0; k < H; ++k) hr[k] = t32 ? tf32_value(h[k]) : h[k];
        for (int g = 0; g < G; ++g) {
          float u = p.bW[g], v = p.bR[g];
          const float* wr = p.W.data() + static_cast<std::size_t>(g) * in;
          const float* rr = p.R.data() + static_cast<std::size_t>(g) * H;
          for (int k = 0; k < in; ++k) u = std::fma(wr[k], xin[k], u);
          for (int k = 0; k < H; ++k) v = std::fma(rr[k], hr[k], v);
          gate[g] = u + v;
        }
        for (int j = 0; j < H; ++j) {
          const float i = sigmoid(gate[j]), f = sigmoid(gate[H + j]), gg = std::tanh(gate[2 * H + j]),
                      o = sigmoid(gate[3 * H + j]);
          c[j] = f * c[j] + i * gg;
          h[j] = o * std::tanh(c[j]);
          if (a.training) {
            float* act = res.act + bt * G;
            act[j] = i;
            act[H + j] = f;
            act[2 * H + j] = gg;
            act[3 * H + j] = o;
          }
        }
        float* hs = a.training ? res.h + bt * H : (l + 1 < L ? out_buf + bt * H : nullptr);
        if (a.training) std::copy(c.begin(), c.end(), res.c + bt * H);
        if (hs != nullptr) std::copy(h.begin(), h.end(), hs);
        if (l + 1 == L) std::copy(h.begin(), h.end(), a.y + row(a.yd, b, t));
      }
      if (l + 1 == L)
        for (int t = len; t < T; ++t) std::fill_n(a.y + row(a.yd, b, t), H, a.yd.fill);
      if (a.hy != nullptr) std::copy(h.begin(), h.end(), a.hy + hb);
      if (a.cy != nullptr) std::copy(c.begin(), c.end(), a.cy + hb);
    }
    std::swap(in_buf, out_buf);
  }
  if (a.training) {
    ReserveHeader hdr{kMagic, kForward, B, T, L, H};
    std::memcpy(a.reserve, &hdr, sizeof hdr);
  }
}

// The reserve's header must say that a training forward of this shape (and, for BackwardWeights,
// BackwardData after it) filled it.
bool reserve_holds(const char* call, const float* reserve, const cudnnRNNStruct& r, int B, int T,
                   ReserveState want) {
  ReserveHeader hdr;
  std::memcpy(&hdr, reserve, sizeof hdr);
  std::string why;
  if (hdr.magic != kMagic || hdr.batch != B || hdr.max_t != T || hdr.layers != r.layers ||
      hdr.hidden != r.hidden)
    why = "the reserve space was not filled by a training cudnnRNNForward of this shape";
  else if (hdr.state != want)
    why = want == kBackwardData
              ? "the reserve space holds the forward's activations, not the gate gradients: "
                "cudnnRNNBackwardData_v8 must run before cudnnRNNBackwardWeights_v8"
              : "the reserve space was already consumed by cudnnRNNBackwardData_v8; run the forward again";
  if (why.empty()) return true;
  device_failure(cudaErrorLaunchFailure, std::string(call) + ": " + why);
  return false;
}

struct BackwardDataArgs {
  cudnnRNNStruct r;
  cudnnRNNDataStruct xd, yd;
  const int* dev_lens;
  const float *y, *dy, *hx, *dhy, *cx, *dcy, *w;
  float *dx, *dhx, *dcx, *work, *reserve;
  int device = 0;
};

void run_backward_data(const BackwardDataArgs& a) {
  const cudnnRNNStruct& r = a.r;
  const int L = r.layers, H = r.hidden, B = a.xd.batch, T = a.xd.max_t, G = 4 * H;
  const std::size_t hbytes = static_cast<std::size_t>(L) * B * H * sizeof(float);
  const WeightLayout lay(r);
  const char* call = "cudnnRNNBackwardData_v8";
  if (!accessible(call, a.device,
                  {{a.dev_lens, B * sizeof(int), "devSeqLengths"},
                   {a.y, seq_bytes(a.yd), "y"},
                   {a.dy, seq_bytes(a.yd), "dy"},
                   {a.dx, seq_bytes(a.xd), "dx"},
                   {a.hx, hbytes, "hx"},
                   {a.dhy, hbytes, "dhy"},
                   {a.dhx, hbytes, "dhx"},
                   {a.cx, hbytes, "cx"},
                   {a.dcy, hbytes, "dcy"},
                   {a.dcx, hbytes, "dcx"},
                   {a.w, lay.floats() * sizeof(float), "weightSpace"},
                   {a.work, work_floats(r, B, T) * sizeof(float), "workSpace"},
                   {a.reserve, reserve_floats(r, B, T) * sizeof(float), "reserveSpace"}}) ||
      !lengths_match(call, a.dev_lens, a.xd) || !reserve_holds(call, a.reserve, r, B, T, kForward))
    return;
  const bool t32 = uses_tf32(r);
  const std::size_t seq = static_cast<std::size_t>(B) * T * H;
  float* dout_buf = a.work;       // dLoss/d(this layer's h), from the layer above
  float* din_buf = a.work + seq;  // dLoss/d(this layer's input), for the layer below
  std::vector<float> dh(H), dc(H), da(G), dar(G), acc;
  for (int l = L - 1; l >= 0; --l) {
    const LayerParams p = layer_params(r, a.w, l);
    const int in = lay.in(l);
    const LayerReserve res = layer_reserve(a.reserve, l, B, T, H);
    acc.resize(static_cast<std::size_t>(std::max(in, H)));
    for (int b = 0; b < B; ++b) {
      const std::size_t hb = (static_cast<std::size_t>(l) * B + b) * H;
      for (int j = 0; j < H; ++j) {
        dh[j] = a.dhy != nullptr ? a.dhy[hb + j] : 0.f;
        dc[j] = a.dcy != nullptr ? a.dcy[hb + j] : 0.f;
      }
      const int len = a.xd.lens[static_cast<std::size_t>(b)];
      for (int t = len - 1; t >= 0; --t) {
        const std::size_t bt = static_cast<std::size_t>(b) * T + t;
        const float* dout = l + 1 == L ? a.dy + row(a.yd, b, t) : dout_buf + bt * H;
        float* act = res.act + bt * G;
        const float* cc = res.c + bt * H;
        for (int j = 0; j < H; ++j) {
          const float i = act[j], f = act[H + j], g = act[2 * H + j], o = act[3 * H + j];
          const float cp = t > 0 ? res.c[(bt - 1) * H + j] : (a.cx != nullptr ? a.cx[hb + j] : 0.f);
          const float tc = std::tanh(cc[j]);
          const float d = dout[j] + dh[j];
          const float dcj = dc[j] + d * o * (1.f - tc * tc);
          da[j] = dcj * g * i * (1.f - i);
          da[H + j] = dcj * cp * f * (1.f - f);
          da[2 * H + j] = dcj * i * (1.f - g * g);
          da[3 * H + j] = d * tc * o * (1.f - o);
          dc[j] = dcj * f;
        }
        std::copy(da.begin(), da.end(), act);  // BackwardWeights reads the gate gradients here
        for (int g = 0; g < G; ++g) dar[g] = t32 ? tf32_value(da[g]) : da[g];
        // dh_{t-1} = R^T da and d(input) = W^T da, summed over the 4H gate rows in order.
        std::fill_n(acc.begin(), H, 0.f);
        for (int g = 0; g < G; ++g) {
          const float* rr = p.R.data() + static_cast<std::size_t>(g) * H;
          for (int k = 0; k < H; ++k) acc[k] = std::fma(rr[k], dar[g], acc[k]);
        }
        std::copy_n(acc.begin(), H, dh.begin());
        float* din = l == 0 ? a.dx + row(a.xd, b, t) : din_buf + bt * H;
        std::fill_n(acc.begin(), in, 0.f);
        for (int g = 0; g < G; ++g) {
          const float* wr = p.W.data() + static_cast<std::size_t>(g) * in;
          for (int k = 0; k < in; ++k) acc[k] = std::fma(wr[k], dar[g], acc[k]);
        }
        std::copy_n(acc.begin(), in, din);
      }
      for (int t = len; t < T; ++t)
        std::fill_n(l == 0 ? a.dx + row(a.xd, b, t) : din_buf + (static_cast<std::size_t>(b) * T + t) * H, in,
                    0.f);
      if (a.dhx != nullptr) std::copy(dh.begin(), dh.end(), a.dhx + hb);
      if (a.dcx != nullptr) std::copy(dc.begin(), dc.end(), a.dcx + hb);
    }
    std::swap(dout_buf, din_buf);
  }
  ReserveHeader hdr;
  std::memcpy(&hdr, a.reserve, sizeof hdr);
  hdr.state = kBackwardData;
  std::memcpy(a.reserve, &hdr, sizeof hdr);
}

struct BackwardWeightsArgs {
  cudnnRNNStruct r;
  cudnnRNNDataStruct xd, yd;
  const int* dev_lens;
  const float *x, *hx, *y;
  float *dw, *work, *reserve;
  int device = 0;
};

void run_backward_weights(const BackwardWeightsArgs& a) {
  const cudnnRNNStruct& r = a.r;
  const int L = r.layers, H = r.hidden, B = a.xd.batch, T = a.xd.max_t, G = 4 * H;
  const WeightLayout lay(r);
  const char* call = "cudnnRNNBackwardWeights_v8";
  if (!accessible(call, a.device,
                  {{a.dev_lens, B * sizeof(int), "devSeqLengths"},
                   {a.x, seq_bytes(a.xd), "x"},
                   {a.hx, static_cast<std::size_t>(L) * B * H * sizeof(float), "hx"},
                   {a.y, seq_bytes(a.yd), "y"},
                   {a.dw, lay.floats() * sizeof(float), "dweightSpace"},
                   {a.work, work_floats(r, B, T) * sizeof(float), "workSpace"},
                   {a.reserve, reserve_floats(r, B, T) * sizeof(float), "reserveSpace"}}) ||
      !lengths_match(call, a.dev_lens, a.xd) || !reserve_holds(call, a.reserve, r, B, T, kBackwardData))
    return;
  const bool t32 = uses_tf32(r);
  auto op = [t32](float v) { return t32 ? tf32_value(v) : v; };
  std::vector<float> zero(H, 0.f);
  for (int l = 0; l < L; ++l) {
    const int in = lay.in(l);
    const LayerReserve res = layer_reserve(a.reserve, l, B, T, H);
    const float* below = l > 0 ? layer_reserve(a.reserve, l - 1, B, T, H).h : nullptr;
    std::vector<float> dW(static_cast<std::size_t>(G) * in, 0.f), dR(static_cast<std::size_t>(G) * H, 0.f),
        db(G, 0.f), xin(in), hp(H), dar(G);
    // Summed over sequences b, then steps t, in order.
    for (int b = 0; b < B; ++b) {
      const std::size_t hb = (static_cast<std::size_t>(l) * B + b) * H;
      const int len = a.xd.lens[static_cast<std::size_t>(b)];
      for (int t = 0; t < len; ++t) {
        const std::size_t bt = static_cast<std::size_t>(b) * T + t;
        const float* xs = l == 0 ? a.x + row(a.xd, b, t) : below + bt * H;
        const float* hs = t > 0 ? res.h + (bt - 1) * H : (a.hx != nullptr ? a.hx + hb : zero.data());
        for (int k = 0; k < in; ++k) xin[k] = op(xs[k]);
        for (int k = 0; k < H; ++k) hp[k] = op(hs[k]);
        const float* da = res.act + bt * G;
        for (int g = 0; g < G; ++g) {
          dar[g] = op(da[g]);
          db[g] += da[g];
          float* wr = dW.data() + static_cast<std::size_t>(g) * in;
          float* rr = dR.data() + static_cast<std::size_t>(g) * H;
          for (int k = 0; k < in; ++k) wr[k] = std::fma(dar[g], xin[k], wr[k]);
          for (int k = 0; k < H; ++k) rr[k] = std::fma(dar[g], hp[k], rr[k]);
        }
      }
    }
    // CUDNN_WGRAD_MODE_ADD: added to what dw holds. With double bias both bias gradients are the sum.
    for (int g = 0; g < 4; ++g) {
      float* Wg = a.dw + lay.matrix(l, g);
      float* Rg = a.dw + lay.matrix(l, g + 4);
      for (std::size_t i = 0; i < static_cast<std::size_t>(H) * in; ++i)
        Wg[i] += dW[g * static_cast<std::size_t>(H) * in + i];
      for (std::size_t i = 0; i < static_cast<std::size_t>(H) * H; ++i)
        Rg[i] += dR[g * static_cast<std::size_t>(H) * H + i];
      for (int j = 0; j < H; ++j) {
        a.dw[lay.bias(l, g) + j] += db[g * H + j];
        a.dw[lay.bias(l, g + 4) + j] += db[g * H + j];
      }
    }
  }
}

// ---- call-time checks ----

bool dims_are(const cudnnTensorStruct* d, int a, int b, int c) {
  return d != nullptr && d->nb == 3 && d->type == CUDNN_DATA_FLOAT && d->dims[0] == a && d->dims[1] == b &&
         d->dims[2] == c && d->strides[0] == b * c && d->strides[1] == c && d->strides[2] == 1;
}

cudnnStatus_t check_rnn(cudnnHandle_t h, const cudnnRNNStruct* r) {
  if (h == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "null handle");
  if (r == nullptr || !r->set) return fail(CUDNN_STATUS_BAD_PARAM, "RNN descriptor not set");
  return CUDNN_STATUS_SUCCESS;
}

// The data descriptors (x, y), the state descriptors, the sizes given against those asked for, and the
// algorithm's limits for this call (`backward`: the persistent small-H kernel's lower limit applies).
cudnnStatus_t check_call(const cudnnRNNStruct& r, const cudnnRNNDataStruct* xd, const cudnnRNNDataStruct* yd,
                         const cudnnTensorStruct* hd, const cudnnTensorStruct* cd, bool states_used,
                         std::size_t w_bytes, const void* w, std::size_t work_bytes,
                         std::size_t reserve_bytes, bool need_reserve, bool backward) {
  if (xd == nullptr || !xd->set || yd == nullptr || !yd->set)
    return fail(CUDNN_STATUS_BAD_PARAM, "x or y data descriptor not set");
  if (xd->vec != r.input) return fail(CUDNN_STATUS_BAD_PARAM, "xDesc vectorSize != inputSize");
  if (yd->vec != r.hidden) return fail(CUDNN_STATUS_BAD_PARAM, "yDesc vectorSize != hiddenSize");
  if (xd->layout != yd->layout || xd->batch != yd->batch || xd->max_t != yd->max_t || xd->lens != yd->lens)
    return fail(CUDNN_STATUS_BAD_PARAM, "xDesc and yDesc differ in layout, batch, maxSeqLength or lengths");
  if (!(r.aux & CUDNN_RNN_PADDED_IO_ENABLED))
    return fail(CUDNN_STATUS_BAD_PARAM, "unpacked layouts need CUDNN_RNN_PADDED_IO_ENABLED");
  if (states_used) {
    if (!dims_are(hd, r.layers, xd->batch, r.hidden))
      return fail(CUDNN_STATUS_BAD_PARAM, "hDesc is not a packed fp32 [numLayers, batch, hiddenSize] tensor");
    if (!dims_are(cd, r.layers, xd->batch, r.hidden))
      return fail(CUDNN_STATUS_BAD_PARAM, "cDesc is not a packed fp32 [numLayers, batch, hiddenSize] tensor");
  }
  if (w == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "null weight space");
  const std::size_t need_w = WeightLayout(r).floats() * sizeof(float);
  if (w_bytes < need_w)
    return fail(CUDNN_STATUS_BAD_PARAM,
                "weightSpaceSize " + std::to_string(w_bytes) + " < " + std::to_string(need_w));
  const std::size_t need_work = work_floats(r, xd->batch, xd->max_t) * sizeof(float);
  if (work_bytes < need_work)
    return fail(CUDNN_STATUS_BAD_PARAM, "workSpaceSize " + std::to_string(work_bytes) + " < " +
                                            std::to_string(need_work) + " (cudnnGetRNNTempSpaceSizes)");
  const std::size_t need_reserve_bytes = reserve_floats(r, xd->batch, xd->max_t) * sizeof(float);
  if (need_reserve && reserve_bytes < need_reserve_bytes)
    return fail(CUDNN_STATUS_BAD_PARAM, "reserveSpaceSize " + std::to_string(reserve_bytes) + " < " +
                                            std::to_string(need_reserve_bytes) +
                                            " (cudnnGetRNNTempSpaceSizes)");
  if (r.algo == CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H) {
    if (r.hidden > (backward ? 128 : 192))
      return fail(CUDNN_STATUS_NOT_SUPPORTED, std::string("PERSIST_STATIC_SMALL_H LSTM ") +
                                                  (backward ? "backward" : "forward") +
                                                  " needs hiddenSize <= " + (backward ? "128" : "192"));
    for (int len : xd->lens)
      if (len != xd->max_t)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, "PERSIST_STATIC_SMALL_H takes no variable sequence lengths");
  }
  return CUDNN_STATUS_SUCCESS;
}

cudaStream_t stream_of(cudnnHandle_t h) {
  return h->stream;
}

}  // namespace

extern "C" {

size_t cudnnGetVersion(void) {
  return CUDNN_VERSION;
}

const char* cudnnGetErrorString(cudnnStatus_t s) {
  switch (s) {
    case CUDNN_STATUS_SUCCESS:
      return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_BAD_PARAM:
      return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_NOT_SUPPORTED:
      return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_INTERNAL_ERROR:
      return "CUDNN_STATUS_INTERNAL_ERROR";
    case CUDNN_STATUS_EXECUTION_FAILED:
      return "CUDNN_STATUS_EXECUTION_FAILED";
    default:
      return "CUDNN_STATUS_UNKNOWN";
  }
}

void cudnnGetLastErrorString(char* message, size_t max_size) {
  if (message == nullptr || max_size == 0) return;
  std::snprintf(message, max_size, "%s", t_last_error.c_str());
  t_last_error.clear();
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* h) {
  if (h == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "null handle pointer");
  *h = new cudnnContext;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroy(cudnnHandle_t h) {
  delete h;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t s) {
  if (h == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "null handle");
  h->stream = s;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) {
  *d = new cudnnTensorStruct;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) {
  delete d;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetTensorNdDescriptor(cudnnTensorDescriptor_t d, cudnnDataType_t type, int nb,
                                         const int dims[], const int strides[]) {
  if (d == nullptr || nb < 1 || nb > 8 || dims == nullptr || strides == nullptr)
    return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetTensorNdDescriptor: bad descriptor, nbDims or arrays");
  for (int i = 0; i < nb; ++i)
    if (dims[i] < 1 || strides[i] < 1)
      return fail(CUDNN_STATUS_BAD_PARAM,
                  "cudnnSetTensorNdDescriptor: dimensions and strides must be positive");
  d->type = type;
  d->nb = nb;
  std::copy_n(dims, nb, d->dims);
  std::copy_n(strides, nb, d->strides);
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetTensorNdDescriptor(const cudnnTensorDescriptor_t d, int requested,
                                         cudnnDataType_t* type, int* nb, int dims[], int strides[]) {
  if (d == nullptr || d->nb == 0) return fail(CUDNN_STATUS_BAD_PARAM, "tensor descriptor not set");
  *type = d->type;
  *nb = d->nb;
  for (int i = 0; i < std::min(requested, d->nb); ++i) {
    dims[i] = d->dims[i];
    strides[i] = d->strides[i];
  }
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateDropoutDescriptor(cudnnDropoutDescriptor_t* d) {
  *d = new cudnnDropoutStruct;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyDropoutDescriptor(cudnnDropoutDescriptor_t d) {
  delete d;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetDropoutDescriptor(cudnnDropoutDescriptor_t d, cudnnHandle_t h, float p, void*, size_t,
                                        unsigned long long) {
  if (d == nullptr || h == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "null dropout descriptor or handle");
  if (p < 0.f || p >= 1.f) return fail(CUDNN_STATUS_BAD_PARAM, "dropout probability outside [0, 1)");
  if (p > 0.f) return fail(CUDNN_STATUS_NOT_SUPPORTED, "dropout p > 0 is not emulated");
  d->set = true;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateRNNDescriptor(cudnnRNNDescriptor_t* d) {
  *d = new cudnnRNNStruct;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyRNNDescriptor(cudnnRNNDescriptor_t d) {
  delete d;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetRNNDescriptor_v8(cudnnRNNDescriptor_t d, cudnnRNNAlgo_t algo, cudnnRNNMode_t cell,
                                       cudnnRNNBiasMode_t bias, cudnnDirectionMode_t dir,
                                       cudnnRNNInputMode_t input_mode, cudnnDataType_t data,
                                       cudnnDataType_t math_prec, cudnnMathType_t math, int32_t input,
                                       int32_t hidden, int32_t proj, int32_t layers,
                                       cudnnDropoutDescriptor_t dropout, uint32_t aux) {
  if (d == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "null RNN descriptor");
  if (input < 1 || hidden < 1 || layers < 1 || proj < 1 || proj > hidden)
    return fail(CUDNN_STATUS_BAD_PARAM,
                "inputSize, hiddenSize, projSize and numLayers must be positive, "
                "projSize <= hiddenSize");
  if (dropout == nullptr || !dropout->set) return fail(CUDNN_STATUS_BAD_PARAM, "dropout descriptor not set");
  if (math_prec != data) return fail(CUDNN_STATUS_BAD_PARAM, "fp32 data needs fp32 math precision");
  if (math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, "CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION is not emulated");
  if (cell != CUDNN_LSTM || bias != CUDNN_RNN_DOUBLE_BIAS || dir != CUDNN_UNIDIRECTIONAL ||
      input_mode != CUDNN_LINEAR_INPUT || data != CUDNN_DATA_FLOAT || proj != hidden)
    return fail(CUDNN_STATUS_NOT_SUPPORTED,
                "only a unidirectional fp32 LSTM with double bias, linear input "
                "and no projection is emulated");
  if (algo != CUDNN_RNN_ALGO_STANDARD && algo != CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H)
    return fail(CUDNN_STATUS_NOT_SUPPORTED,
                "only the STANDARD and PERSIST_STATIC_SMALL_H algorithms are emulated");
  d->set = true;
  d->algo = algo;
  d->math = math;
  d->input = input;
  d->hidden = hidden;
  d->layers = layers;
  d->aux = aux;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateRNNDataDescriptor(cudnnRNNDataDescriptor_t* d) {
  *d = new cudnnRNNDataStruct;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyRNNDataDescriptor(cudnnRNNDataDescriptor_t d) {
  delete d;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetRNNDataDescriptor(cudnnRNNDataDescriptor_t d, cudnnDataType_t type,
                                        cudnnRNNDataLayout_t layout, int max_t, int batch, int vec,
                                        const int lens[], void* fill) {
  if (d == nullptr || lens == nullptr || max_t < 1 || batch < 1 || vec < 1)
    return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetRNNDataDescriptor: bad sizes or null lengths");
  if (type != CUDNN_DATA_FLOAT) return fail(CUDNN_STATUS_NOT_SUPPORTED, "only fp32 RNN data is emulated");
  if (layout == CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, "the packed layout is not emulated");
  if (layout != CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED &&
      layout != CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED)
    return fail(CUDNN_STATUS_BAD_PARAM, "unknown RNN data layout");
  for (int b = 0; b < batch; ++b)
    if (lens[b] < 1 || lens[b] > max_t)
      return fail(CUDNN_STATUS_BAD_PARAM, "sequence length " + std::to_string(lens[b]) + " at " +
                                              std::to_string(b) + " outside [1, maxSeqLength]");
  d->set = true;
  d->layout = layout;
  d->max_t = max_t;
  d->batch = batch;
  d->vec = vec;
  d->lens.assign(lens, lens + batch);
  d->fill = fill != nullptr ? *static_cast<const float*>(fill) : 0.f;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetRNNWeightSpaceSize(cudnnHandle_t h, cudnnRNNDescriptor_t r, size_t* bytes) {
  if (const cudnnStatus_t s = check_rnn(h, r); s != CUDNN_STATUS_SUCCESS) return s;
  *bytes = WeightLayout(*r).floats() * sizeof(float);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetRNNWeightParams(cudnnHandle_t h, cudnnRNNDescriptor_t r, int32_t layer, size_t ws_bytes,
                                      const void* ws, int32_t id, cudnnTensorDescriptor_t m, void** m_addr,
                                      cudnnTensorDescriptor_t b, void** b_addr) {
  if (const cudnnStatus_t s = check_rnn(h, r); s != CUDNN_STATUS_SUCCESS) return s;
  const WeightLayout lay(*r);
  if (layer < 0 || layer >= r->layers) return fail(CUDNN_STATUS_BAD_PARAM, "pseudoLayer out of range");
  if (id < 0 || id > 7) return fail(CUDNN_STATUS_BAD_PARAM, "linLayerID out of range for an LSTM");
  if (ws_bytes < lay.floats() * sizeof(float))
    return fail(CUDNN_STATUS_BAD_PARAM, "weightSpaceSize smaller than cudnnGetRNNWeightSpaceSize");
  const int H = r->hidden, in = id < 4 ? lay.in(layer) : H;
  const float* base = static_cast<const float*>(ws);
  if (m != nullptr) {
    const int dims[3] = {1, H, in}, strides[3] = {H * in, in, 1};
    cudnnSetTensorNdDescriptor(m, CUDNN_DATA_FLOAT, 3, dims, strides);
  }
  if (b != nullptr) {
    const int dims[3] = {1, H, 1}, strides[3] = {H, 1, 1};
    cudnnSetTensorNdDescriptor(b, CUDNN_DATA_FLOAT, 3, dims, strides);
  }
  if (m_addr != nullptr)
    *m_addr = base != nullptr ? const_cast<float*>(base + lay.matrix(layer, id)) : nullptr;
  if (b_addr != nullptr) *b_addr = base != nullptr ? const_cast<float*>(base + lay.bias(layer, id)) : nullptr;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetRNNTempSpaceSizes(cudnnHandle_t h, cudnnRNNDescriptor_t r, cudnnForwardMode_t mode,
                                        cudnnRNNDataDescriptor_t x, size_t* work, size_t* reserve) {
  if (const cudnnStatus_t s = check_rnn(h, r); s != CUDNN_STATUS_SUCCESS) return s;
  if (x == nullptr || !x->set) return fail(CUDNN_STATUS_BAD_PARAM, "x data descriptor not set");
  if (work != nullptr) *work = work_floats(*r, x->batch, x->max_t) * sizeof(float);
  if (reserve != nullptr)
    *reserve = mode == CUDNN_FWD_MODE_TRAINING ? reserve_floats(*r, x->batch, x->max_t) * sizeof(float) : 0;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnRNNForward(cudnnHandle_t h, cudnnRNNDescriptor_t r, cudnnForwardMode_t mode,
                              const int32_t dev_lens[], cudnnRNNDataDescriptor_t xd, const void* x,
                              cudnnRNNDataDescriptor_t yd, void* y, cudnnTensorDescriptor_t hd,
                              const void* hx, void* hy, cudnnTensorDescriptor_t cd, const void* cx, void* cy,
                              size_t w_bytes, const void* w, size_t work_bytes, void* work,
                              size_t reserve_bytes, void* reserve) {
  if (const cudnnStatus_t s = check_rnn(h, r); s != CUDNN_STATUS_SUCCESS) return s;
  const bool training = mode == CUDNN_FWD_MODE_TRAINING;
  if (x == nullptr || y == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "null x or y");
  if (training && reserve == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "training needs a reserve space");
  const bool states = hx || hy || cx || cy;
  if (const cudnnStatus_t s =
          check_call(*r, xd, yd, hd, cd, states, w_bytes, w, work_bytes, reserve_bytes, training, false);
      s != CUDNN_STATUS_SUCCESS)
    return s;
  ForwardArgs a{*r,
                *xd,
                *yd,
                training,
                dev_lens,
                static_cast<const float*>(x),
                static_cast<const float*>(hx),
                static_cast<const float*>(cx),
                static_cast<const float*>(w),
                static_cast<float*>(y),
                static_cast<float*>(hy),
                static_cast<float*>(cy),
                static_cast<float*>(work),
                static_cast<float*>(reserve)};
  a.device = lstmad::emu::stream_device(stream_of(h));
  lstmad::emu::submit(stream_of(h), [a]() { run_forward(a); });
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnRNNBackwardData_v8(cudnnHandle_t h, cudnnRNNDescriptor_t r, const int32_t dev_lens[],
                                      cudnnRNNDataDescriptor_t yd, const void* y, const void* dy,
                                      cudnnRNNDataDescriptor_t xd, void* dx, cudnnTensorDescriptor_t hd,
                                      const void* hx, const void* dhy, void* dhx, cudnnTensorDescriptor_t cd,
                                      const void* cx, const void* dcy, void* dcx, size_t w_bytes,
                                      const void* w, size_t work_bytes, void* work, size_t reserve_bytes,
                                      void* reserve) {
  if (const cudnnStatus_t s = check_rnn(h, r); s != CUDNN_STATUS_SUCCESS) return s;
  if (y == nullptr || dy == nullptr || dx == nullptr || reserve == nullptr)
    return fail(CUDNN_STATUS_BAD_PARAM, "null y, dy, dx or reserve space");
  const bool states = hx || dhy || dhx || cx || dcy || dcx;
  if (const cudnnStatus_t s =
          check_call(*r, xd, yd, hd, cd, states, w_bytes, w, work_bytes, reserve_bytes, true, true);
      s != CUDNN_STATUS_SUCCESS)
    return s;
  BackwardDataArgs a{*r,
                     *xd,
                     *yd,
                     dev_lens,
                     static_cast<const float*>(y),
                     static_cast<const float*>(dy),
                     static_cast<const float*>(hx),
                     static_cast<const float*>(dhy),
                     static_cast<const float*>(cx),
                     static_cast<const float*>(dcy),
                     static_cast<const float*>(w),
                     static_cast<float*>(dx),
                     static_cast<float*>(dhx),
                     static_cast<float*>(dcx),
                     static_cast<float*>(work),
                     static_cast<float*>(reserve)};
  a.device = lstmad::emu::stream_device(stream_of(h));
  lstmad::emu::submit(stream_of(h), [a]() { run_backward_data(a); });
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnRNNBackwardWeights_v8(cudnnHandle_t h, cudnnRNNDescriptor_t r, cudnnWgradMode_t mode,
                                         const int32_t dev_lens[], cudnnRNNDataDescriptor_t xd, const void* x,
                                         cudnnTensorDescriptor_t hd, const void* hx,
                                         cudnnRNNDataDescriptor_t yd, const void* y, size_t w_bytes, void* dw,
                                         size_t work_bytes, void* work, size_t reserve_bytes, void* reserve) {
  if (const cudnnStatus_t s = check_rnn(h, r); s != CUDNN_STATUS_SUCCESS) return s;
  if (mode != CUDNN_WGRAD_MODE_ADD)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnRNNBackwardWeights_v8 supports only CUDNN_WGRAD_MODE_ADD");
  if (x == nullptr || y == nullptr || reserve == nullptr)
    return fail(CUDNN_STATUS_BAD_PARAM, "null x, y or reserve space");
  if (const cudnnStatus_t s =
          check_call(*r, xd, yd, hd, hd, hx != nullptr, w_bytes, dw, work_bytes, reserve_bytes, true, true);
      s != CUDNN_STATUS_SUCCESS)
    return s;
  BackwardWeightsArgs a{*r,
                        *xd,
                        *yd,
                        dev_lens,
                        static_cast<const float*>(x),
                        static_cast<const float*>(hx),
                        static_cast<const float*>(y),
                        static_cast<float*>(dw),
                        static_cast<float*>(work),
                        static_cast<float*>(reserve)};
  a.device = lstmad::emu::stream_device(stream_of(h));
  lstmad::emu::submit(stream_of(h), [a]() { run_backward_weights(a); });
  return CUDNN_STATUS_SUCCESS;
}

}  // extern "C"
