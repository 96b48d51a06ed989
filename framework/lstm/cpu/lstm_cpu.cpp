// LstmCpu<Real>: forward and full-BPTT backward of one LSTM stack plus its linear head (lstm_cpu.hpp).
//
// Internal buffers are time-major so that every step's B rows are one contiguous block and the products
// over many steps (a backward chunk's) are single (steps*B) x K GEMMs:
//   xt    T x B x D        layer 0's input, transposed from the caller's B x T x D
//   act   T x B x 4H       per layer: the input projection x_t W^T, then h_{t-1} R^T added, then the
//   activated
//                          gates i|f|g|o (what backward needs)
//   h, c  (T+1) x B x H    per layer: slot 0 is the zero initial state, slot t+1 the state after step t;
//                          h slots 1..T are the next layer's input
//   dg    rows x 4H        pre-activation gate gradients of one backward chunk's rows and of the step
//                          after it; in fp32 each row is padded to 4H + 16 floats (ldg): at 4H = 2^k
//                          floats, the rows that one GEMM tile reads together would all fall in the
//                          same few L1 sets
//   dxin  T x B x H (x2)   gradient w.r.t. a layer's input, handed down to the layer below
// Gradients are written straight into the caller's flat buffer (canonical layout, lstm/shape.hpp).
// In fp32 every product whose output width is a multiple of small_gemm's 32-column panel runs on
// small_gemm.hpp's register-tiled kernel: the per-step products (x_t W^T and h_{t-1} R^T forward, dg_t R
// backward) with W and R packed once per layer, and the products over a backward chunk's rows (dx, and
// the weight gradients dW and dR as dG^T times the inputs); the rest (the head, D = 1's dW, odd H) are
// Eigen GEMMs. Backward runs in chunks of about 256 (step, window) rows, latest first, so that the gate
// gradients dg of a chunk stay in L2 until the chunk's dW, dR and dx products have used them.
// The gate math is one vectorized loop per row (activations.hpp). fp64, the accuracy reference, keeps
// Eigen and the standard library throughout.
#include "lstm/cpu/lstm_cpu.hpp"

// GCC 12 reports Eigen's AVX-512 transposes (inlined into the GEMM packing) as maybe-uninitialized
// (_mm512_undefined_pd); a false positive in a system header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Eigen's GEMM takes its packing blocks from the stack up to this size and from malloc above it. Its
// default (128 KiB) sends the per-step products of H >= 128 and the all-steps products to malloc on every
// call; 1 MiB covers the blocks of fp32 up to H = 256 and fp64 up to H = 128 at B <= 128 (measured), so
// forward and backward stay allocation-free there, at up to 2 MiB of stack per product. This is the only file
// that includes Eigen.
#define EIGEN_STACK_ALLOCATION_LIMIT 1048576
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/error.hpp"
#include "lstm/cpu/activations.hpp"
#include "lstm/cpu/small_gemm.hpp"

namespace lstmad {

namespace {

template <typename Real>
using MatR = Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename Real>
using MapM = Eigen::Map<MatR<Real>>;
template <typename Real>
using MapCM = Eigen::Map<const MatR<Real>>;
template <typename Real>
using RowV = Eigen::Matrix<Real, 1, Eigen::Dynamic>;
template <typename Real>
using MapRow = Eigen::Map<RowV<Real>>;
template <typename Real>
using MapCRow = Eigen::Map<const RowV<Real>>;
template <typename Real>
using MapStrided = Eigen::Map<const MatR<Real>, Eigen::Unaligned, Eigen::OuterStride<>>;

// One step of one row: pre-activations a (4H, gates i|f|g|o, bias not yet added) become the activated
// gates in place; c = f c_prev + i g, h = o tanh(c). One loop, so the compiler vectorizes it. Backward
// recomputes tanh(c) from the stored c (the same function of the same float, so the same value) rather
// than keeping T B H more floats per layer: memory, not the transcendental, limits two models at once.
template <typename Real>
inline void gate_row(Real* a, const Real* bias, const Real* cprev, Real* c, Real* h, int H) {
  Real* ai = a;
  Real* af = a + H;
  Real* ag = a + 2 * H;
  Real* ao = a + 3 * H;
  const Real* bi = bias;
  const Real* bf = bias + H;
  const Real* bg = bias + 2 * H;
  const Real* bo = bias + 3 * H;
  // Distinct buffers: the gate row, the bias, and the c, tanh(c), h rows never overlap.
#pragma GCC ivdep
  for (int j = 0; j < H; ++j) {
    const Real i = act::sigmoid(ai[j] + bi[j]);
    const Real f = act::sigmoid(af[j] + bf[j]);
    const Real g = act::tanh(ag[j] + bg[j]);
    const Real o = act::sigmoid(ao[j] + bo[j]);
    ai[j] = i;
    af[j] = f;
    ag[j] = g;
    ao[j] = o;
    const Real cj = f * cprev[j] + i * g;
    const Real t = act::tanh(cj);
    c[j] = cj;
    h[j] = o * t;
  }
}

// dh = dy W_head for the top layer's last step (dy: B x horizon, W_head: horizon x H, both row-major), each
// element summed over the horizon in order: fixed bits wherever the buffers lie (see backward).
template <typename Real>
void head_dh(const Real* dy, const Real* head_w, int B, int hz, int H, Real* dh) {
  for (int b = 0; b < B; ++b) {
    Real* row = dh + static_cast<std::size_t>(b) * H;
    std::fill(row, row + H, Real(0));
    for (int q = 0; q < hz; ++q) {
      const Real d = dy[static_cast<std::size_t>(b) * hz + q];
      const Real* w = head_w + static_cast<std::size_t>(q) * H;
      for (int k = 0; k < H; ++k) row[k] += d * w[k];
    }
  }
}

// y = h W_head^T + b_head for the top layer's last step (h: B x H, W_head: horizon x H, y: B x horizon),
// each output summed in one fixed order (eight running sums over k, then combined pairwise), so that a
// window's forecast has the same bits whatever windows share its call: a general GEMM picks its kernel
// for a row by the row's place in the block and the block's size, and a series with rows appended, whose
// last call holds more windows, would otherwise forecast its earlier windows a rounding apart.
template <typename Real>
void head_forward(const Real* h, const Real* head_w, const Real* head_b, int B, int hz, int H, Real* y) {
  for (int b = 0; b < B; ++b) {
    const Real* hr = h + static_cast<std::size_t>(b) * H;
    for (int q = 0; q < hz; ++q) {
      const Real* w = head_w + static_cast<std::size_t>(q) * H;
      Real acc[8] = {};
      int k = 0;
      for (; k + 8 <= H; k += 8)
        for (int l = 0; l < 8; ++l) acc[l] += hr[k + l] * w[k + l];
      Real sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; k < H; ++k) sum += hr[k] * w[k];
      y[static_cast<std::size_t>(b) * hz + q] = sum + head_b[q];
    }
  }
}

}  // namespace

template <typename Real>
struct LstmCpu<Real>::Impl {
  struct Layer {
    std::vector<Real> act, h, c;
  };

  Impl(const ModelShape& s, int window, int max_batch)
      : shape(s), T(window), maxB(max_batch), layout(s), H(s.hidden), G(4 * s.hidden) {
    if (T < 1) throw Error("LstmCpu: window must be at least 1, got " + std::to_string(T));
    if (maxB < 1) throw Error("LstmCpu: max_batch must be at least 1, got " + std::to_string(maxB));
    const std::size_t TB = static_cast<std::size_t>(T) * maxB;
    const std::size_t Hs = static_cast<std::size_t>(H), Gs = static_cast<std::size_t>(G);
    xt.assign(TB * static_cast<std::size_t>(s.input), Real(0));
    layers.resize(static_cast<std::size_t>(s.layers));
    for (auto& l : layers) {
      l.act.assign(TB * Gs, Real(0));
      l.h.assign((TB + maxB) * Hs, Real(0));
      l.c.assign((TB + maxB) * Hs, Real(0));
    }
    bias.assign(static_cast<std::size_t>(s.layers) * Gs, Real(0));
    // Chunks of chunk_steps() steps plus the step after them (dg_next); chunk_steps() * B <= kChunkRows + B.
    const std::size_t chunk_max = std::min(TB, static_cast<std::size_t>(kChunkRows + maxB));
    dg.assign((chunk_max + static_cast<std::size_t>(maxB)) * static_cast<std::size_t>(ldg), Real(0));
    dxin[0].assign(TB * Hs, Real(0));
    dxin[1].assign(TB * Hs, Real(0));
    dx0.assign(TB * static_cast<std::size_t>(s.input), Real(0));
    dh.assign(static_cast<std::size_t>(maxB) * Hs, Real(0));
    dc.assign(static_cast<std::size_t>(maxB) * Hs, Real(0));
    yhat.assign(static_cast<std::size_t>(maxB) * s.horizon, Real(0));
    dyhat.assign(static_cast<std::size_t>(maxB) * s.horizon, Real(0));
    if (packed_fwd) pack_fwd.assign(Gs * Hs, 0.0f);
    if (packed_bwd) pack_bwd.assign(Gs * Hs, 0.0f);
    // W^T of any layer in forward, W of a layer above the first in backward.
    if (packed_fwd || (packed_bwd && s.layers > 1))
      pack_w.assign(Gs * static_cast<std::size_t>(std::max(s.input, H)), 0.0f);
    if (kFloat && (H % small_gemm::kPanel == 0 || s.input % small_gemm::kPanel == 0))
      at_work.assign(small_gemm::at_b_workspace(G), 0.0f);
  }

  // act_t (B x 4H) += h_{t-1} (B x H) R^T.
  void recur_forward(Real* at, const Real* hprev, const MapCM<Real>& R) {
    if constexpr (kFloat) {
      if (packed_fwd) {
        small_gemm::multiply_add(B, G, H, hprev, H, pack_fwd.data(), at, G);
        return;
      }
    }
    MapM<Real>(at, B, G).noalias() += MapCM<Real>(hprev, B, H) * R.transpose();
  }

  // dh (B x H) += dg_{t+1} (B x 4H) R.
  void recur_backward(Real* dhp, const Real* dgnext, const MapCM<Real>& R) {
    if constexpr (kFloat) {
      if (packed_bwd) {
        small_gemm::multiply_add(B, H, G, dgnext, ldg, pack_bwd.data(), dhp, H);
        return;
      }
    }
    MapM<Real>(dhp, B, H).noalias() += MapStrided<Real>(dgnext, B, G, Eigen::OuterStride<>(ldg)) * R;
  }

  // act_t (B x 4H) = in_t (B x Din) W^T, step t's input projection (bias added in the gate loop). Per
  // step rather than for all steps at once, so that act_t is first written here, in cache, right before
  // the recurrent product and the gate loop use it, instead of T B 4H floats written ahead and read back
  // from L3.
  void input_projection(Real* at, const Real* in, int Din, const MapCM<Real>& W) {
    if constexpr (kFloat) {
      if (packed_fwd) {
        small_gemm::multiply<false>(B, G, Din, in, Din, pack_w.data(), at, G);
        return;
      }
    }
    MapM<Real>(at, B, G).noalias() = MapCM<Real>(in, B, Din) * W.transpose();
  }

  // The layer's weight gradients over the `rows` (step, window) rows of the dg chunk, added to dW and dR
  // with `accumulate` (the later chunks, already summed), written without:
  //   dW (4H x Din) += dg^T in,  dR (4H x H) += dg^T h_prev,
  // in and h_prev being the chunk's rows of the layer's input and of its h slots 0..T-1 (slot 0, the zero
  // initial state, adds nothing at t = 0, so both products run over the same rows and share one packing
  // of dg in small_gemm::multiply_at_b).
  void weight_gradients(Real* dW, const Real* in, int Din, Real* dR, const Real* hprev, int rows,
                        bool accumulate) {
    bool w_done = false, r_done = false;
    if constexpr (kFloat) {
      small_gemm::AtB products[2];
      int count = 0;
      if (Din % small_gemm::kPanel == 0) {
        products[count++] = {in, Din, Din, dW, Din};
        w_done = true;
      }
      if (H % small_gemm::kPanel == 0) {
        products[count++] = {hprev, H, H, dR, H};
        r_done = true;
      }
      if (count > 0)
        small_gemm::multiply_at_b(G, rows, dg.data(), ldg, products, count, at_work.data(), accumulate);
    }
    MapStrided<Real> dG(dg.data(), rows, G, Eigen::OuterStride<>(ldg));
    const auto update = [&](Real* dst, const Real* src, int n) {
      MapM<Real> d(dst, G, n);
      if (accumulate)
        d.noalias() += dG.transpose() * MapCM<Real>(src, rows, n);
      else
        d.noalias() = dG.transpose() * MapCM<Real>(src, rows, n);
    };
    if (!w_done) update(dW, in, Din);
    if (!r_done) update(dR, hprev, H);
  }

  // Steps per backward chunk at the current batch: about kChunkRows rows of dg, so that the chunk stays in
  // L2 between the gate loop that writes it and the weight-gradient and dx products that read it; with
  // dg kept for all T steps, its T B 4H floats (3.3 MB at the reference shape) went through L3, and two
  // models training side by side no longer fitted in L3 together.
  int chunk_steps() const { return std::max(1, std::min(T, kChunkRows / B)); }

  void check_batch(int batch) const {
    if (batch < 1 || batch > maxB)
      throw Error("LstmCpu: batch " + std::to_string(batch) + " outside [1, " + std::to_string(maxB) + "]");
  }

  // With `keep`, every step's gates and c stay for backward(). Without (inference), one gate buffer and
  // two c slots are reused across the steps: the same arithmetic on the same values, so the same yhat bit
  // for bit, but the step's B x 4H gates stay in L1/L2 instead of T B 4H floats streaming through L3.
  void forward(const Real* params, const Real* x, int batch, Real* out, bool keep = true) {
    check_batch(batch);
    B = batch;
    const int D = shape.input;
    const std::size_t BH = static_cast<std::size_t>(B) * H;
    // B x T x D -> T x B x D.
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t)
        std::memcpy(&xt[(static_cast<std::size_t>(t) * B + b) * D],
                    &x[(static_cast<std::size_t>(b) * T + t) * D],
                    sizeof(Real) * static_cast<std::size_t>(D));

    for (int l = 0; l < shape.layers; ++l) {
      Layer& L = layers[static_cast<std::size_t>(l)];
      const LayerOffsets& o = layout.layer[static_cast<std::size_t>(l)];
      const int Din = shape.layer_input(l);
      const Real* in = l == 0 ? xt.data() : layers[static_cast<std::size_t>(l) - 1].h.data() + BH;
      MapCM<Real> W(params + o.W, G, Din);
      MapCM<Real> R(params + o.R, G, H);
      if constexpr (kFloat)
        if (packed_fwd) {  // R^T (H x 4H): element (k, n) = R[n][k]; W^T (Din x 4H) likewise
          small_gemm::pack_cols(
              H, G, [&](int k, int n) { return params[o.R + static_cast<std::size_t>(n) * H + k]; },
              pack_fwd.data());
          small_gemm::pack_cols(
              Din, G, [&](int k, int n) { return params[o.W + static_cast<std::size_t>(n) * Din + k]; },
              pack_w.data());
        }
      Real* bsum = bias.data() + static_cast<std::size_t>(l) * G;
      for (int j = 0; j < G; ++j) bsum[j] = params[o.bW + j] + params[o.bR + j];

      std::fill(L.h.begin(), L.h.begin() + static_cast<std::ptrdiff_t>(BH), Real(0));
      std::fill(L.c.begin(), L.c.begin() + static_cast<std::ptrdiff_t>(BH), Real(0));

      for (int t = 0; t < T; ++t) {
        Real* at = L.act.data() + (keep ? static_cast<std::size_t>(t) * B * G : 0);
        const Real* hprev = L.h.data() + static_cast<std::size_t>(t) * BH;
        // Inference alternates c between slots 0 and 1 (slot 0 holds the zero initial state at t = 0).
        const int c_in = keep ? t : t % 2, c_out = keep ? t + 1 : (t + 1) % 2;
        const Real* cprev = L.c.data() + static_cast<std::size_t>(c_in) * BH;
        Real* hnext = L.h.data() + static_cast<std::size_t>(t + 1) * BH;
        Real* cnext = L.c.data() + static_cast<std::size_t>(c_out) * BH;
        input_projection(at, in + static_cast<std::size_t>(t) * B * Din, Din, W);
        if (t > 0) recur_forward(at, hprev, R);
        for (int b = 0; b < B; ++b) {
          const std::size_t r = static_cast<std::size_t>(b) * H;
          gate_row(at + static_cast<std::size_t>(b) * G, bsum, cprev + r, cnext + r, hnext + r, H);
        }
      }
    }
    // Head on the top layer's last hidden state.
    head_forward(layers.back().h.data() + static_cast<std::size_t>(T) * BH, params + layout.head_W,
                 params + layout.head_b, B, shape.horizon, H, out);
    have_forward = keep;
    final_c_slot = keep ? T : T % 2;
  }

  // With `accumulate`, the gradients of this batch are added to grad instead of overwriting it (the later
  // parts of a split minibatch, see loss_and_grad).
  void backward(const Real* params, const Real* dy, Real* grad, Real* dx, bool accumulate = false) {
    if (!have_forward) throw Error("LstmCpu::backward called before forward");
    const int D = shape.input, hz = shape.horizon;
    const std::size_t BH = static_cast<std::size_t>(B) * H;
    const Layer& top = layers.back();
    MapCM<Real> dY(dy, B, hz);
    MapCM<Real> hT(top.h.data() + static_cast<std::size_t>(T) * BH, B, H);
    MapM<Real> dHeadW(grad + layout.head_W, hz, H);
    MapRow<Real> dHeadB(grad + layout.head_b, hz);
    if (!accumulate) {
      dHeadW.setZero();
      dHeadB.setZero();
    }
    dHeadW.noalias() += dY.transpose() * hT;
    // The head bias's gradient (and, below, the top layer's dh from the head) are summed in plain loops, in
    // a fixed order: Eigen vectorises such small reductions from the first aligned element on, so their
    // order, and the last bits of the result, would follow where the buffers happen to lie in memory, and
    // a model trained in a ModelBatch, or at another -j, would differ from the same model trained alone.
    for (int q = 0; q < hz; ++q) {
      Real sum = 0;
      for (int b = 0; b < B; ++b) sum += dy[static_cast<std::size_t>(b) * hz + q];
      dHeadB[q] += sum;
    }

    // dxin[cur] holds the gradient w.r.t. the current layer's outputs h_1..h_T (from the layer above);
    // the top layer only receives the head's gradient at its last step, kept in dtop.
    int cur = 0;
    for (int l = shape.layers - 1; l >= 0; --l) {
      const Layer& L = layers[static_cast<std::size_t>(l)];
      const LayerOffsets& o = layout.layer[static_cast<std::size_t>(l)];
      const int Din = shape.layer_input(l);
      const bool is_top = l == shape.layers - 1;
      MapCM<Real> W(params + o.W, G, Din);
      MapCM<Real> R(params + o.R, G, H);
      if constexpr (kFloat)
        if (packed_bwd)  // R (4H x H) as it is
          small_gemm::pack_cols(
              G, H, [&](int k, int n) { return params[o.R + static_cast<std::size_t>(k) * H + n]; },
              pack_bwd.data());
      const Real* above = dxin[static_cast<std::size_t>(cur)].data();
      Real* dbias = grad + o.bW;  // bW's and bR's gradients are equal: summed here, copied to bR at the end
      if (!accumulate) std::fill(dbias, dbias + G, Real(0));
      std::fill(dc.begin(), dc.begin() + static_cast<std::ptrdiff_t>(BH), Real(0));
      const Real* in = l == 0 ? xt.data() : layers[static_cast<std::size_t>(l) - 1].h.data() + BH;
      Real* dxl = l > 0 ? dxin[static_cast<std::size_t>(cur ^ 1)].data() : dx ? dx0.data() : nullptr;
      const int Dl = l > 0 ? H : D;  // width of dxl's rows
      bool packed_dx = false;
      if constexpr (kFloat)
        if (l > 0 && packed_bwd) {  // W (4H x H) as it is, for dx = dg W
          small_gemm::pack_cols(
              G, H, [&](int k, int n) { return params[o.W + static_cast<std::size_t>(k) * H + n]; },
              pack_w.data());
          packed_dx = true;
        }

      // Steps t0..t1-1 at a time, latest first (see chunk_steps); dg_next holds dg of step t1 for the
      // recurrence of step t1 - 1.
      const int Tc = chunk_steps();
      Real* dg_next = dg.data() + static_cast<std::size_t>(Tc) * B * ldg;
      for (int t1 = T; t1 > 0; t1 -= Tc) {
        const int t0 = std::max(0, t1 - Tc);
        for (int t = t1 - 1; t >= t0; --t) {
          MapM<Real> dH(dh.data(), B, H);
          if (t == T - 1) {
            if (is_top)
              head_dh(dy, params + layout.head_W, B, hz, H, dh.data());
            else
              dH = MapCM<Real>(above + static_cast<std::size_t>(t) * BH, B, H);
          } else {
            if (is_top)
              dH.setZero();
            else
              dH = MapCM<Real>(above + static_cast<std::size_t>(t) * BH, B, H);
            const Real* dg_after =
                t + 1 == t1 ? dg_next : dg.data() + static_cast<std::size_t>(t + 1 - t0) * B * ldg;
            recur_backward(dh.data(), dg_after, R);
          }
          const Real* at = L.act.data() + static_cast<std::size_t>(t) * B * G;
          const Real* cprev = L.c.data() + static_cast<std::size_t>(t) * BH;
          const Real* cnow = L.c.data() + static_cast<std::size_t>(t + 1) * BH;
          Real* dgt = dg.data() + static_cast<std::size_t>(t - t0) * B * ldg;
          for (int b = 0; b < B; ++b) {
            const Real* gi = at + static_cast<std::size_t>(b) * G;
            const Real* gf = gi + H;
            const Real* gg = gi + 2 * H;
            const Real* go = gi + 3 * H;
            const std::size_t r = static_cast<std::size_t>(b) * H;
            const Real* cp = cprev + r;
            const Real* cn = cnow + r;
            const Real* dhr = dh.data() + r;
            Real* dcr = dc.data() + r;
            Real* di = dgt + static_cast<std::size_t>(b) * ldg;
            Real* df = di + H;
            Real* dgg = di + 2 * H;
            Real* dout = di + 3 * H;
            // No aliasing: the gate gradients, the activations and the state rows are distinct buffers.
#pragma GCC ivdep
            for (int j = 0; j < H; ++j) {
              const Real i = gi[j], f = gf[j], g = gg[j], og = go[j], tcj = act::tanh(cn[j]), dhj = dhr[j];
              const Real dcj = dcr[j] + dhj * og * (Real(1) - tcj * tcj);
              di[j] = dcj * g * i * (Real(1) - i);
              df[j] = dcj * cp[j] * f * (Real(1) - f);
              dgg[j] = dcj * i * (Real(1) - g * g);
              dout[j] = dhj * tcj * og * (Real(1) - og);
              dcr[j] = dcj * f;
            }
            for (int j = 0; j < G; ++j) dbias[j] += di[j];
          }
        }

        // The chunk's share of the weight gradients and of dx = dg W (rows t0 B .. t1 B - 1).
        const int rows = (t1 - t0) * B;
        const std::size_t row0 = static_cast<std::size_t>(t0) * B;
        weight_gradients(grad + o.W, in + row0 * static_cast<std::size_t>(Din), Din, grad + o.R,
                         L.h.data() + row0 * static_cast<std::size_t>(H), rows, accumulate || t1 != T);
        if (dxl) {
          Real* dst = dxl + row0 * static_cast<std::size_t>(Dl);
          bool done = false;
          if constexpr (kFloat)
            if (packed_dx) {
              small_gemm::multiply<false>(rows, H, G, dg.data(), ldg, pack_w.data(), dst, H);
              done = true;
            }
          if (!done)
            MapM<Real>(dst, rows, Dl).noalias() =
                MapStrided<Real>(dg.data(), rows, G, Eigen::OuterStride<>(ldg)) * W;
        }
        if (t0 > 0) std::memcpy(dg_next, dg.data(), sizeof(Real) * static_cast<std::size_t>(B) * ldg);
      }
      std::memcpy(grad + o.bR, dbias, sizeof(Real) * static_cast<std::size_t>(G));

      if (l > 0) {
        cur ^= 1;
      } else if (dx) {
        for (int b = 0; b < B; ++b)
          for (int t = 0; t < T; ++t)
            std::memcpy(&dx[(static_cast<std::size_t>(b) * T + t) * D],
                        &dx0[(static_cast<std::size_t>(t) * B + b) * D],
                        sizeof(Real) * static_cast<std::size_t>(D));
      }
    }
  }

  // Activations forward keeps per window: T steps of 4H gates and the h and c rows of every layer.
  std::size_t activation_bytes_per_window() const {
    return sizeof(Real) * static_cast<std::size_t>(T) * static_cast<std::size_t>(shape.layers) * 6 *
           static_cast<std::size_t>(H);
  }

  // Windows per forward/backward pass of loss_and_grad: the whole minibatch while its activations fit
  // kActivationBudget, else the fewest equal parts that do, of at least kMinPart windows. Two models
  // training side by side share the 32 MiB L3 (and the host's other guests share it too); at 10-13 MB of
  // activations each (L = 1, H = 64, T = 100, B = 64) each step ran 10-15 % slower beside the other
  // model, at half that not measurably. The per-step GEMMs keep their efficiency down to 32 rows.
  int part_size(int batch) const {
    const std::size_t per = activation_bytes_per_window();
    if (static_cast<std::size_t>(batch) * per <= kActivationBudget || batch <= kMinPart) return batch;
    const std::size_t fit = std::max<std::size_t>(1, kActivationBudget / per);
    int parts = static_cast<int>((static_cast<std::size_t>(batch) + fit - 1) / fit);
    parts = std::min(parts, (batch + kMinPart - 1) / kMinPart);
    return (batch + parts - 1) / parts;
  }

  // MSE over the minibatch; its gradient is the sum of the parts' gradients (each part's dyhat scaled by
  // the whole minibatch's count), accumulated into grad part after part.
  Real loss_and_grad(const Real* params, const Real* x, const Real* y, int batch, Real* grad) {
    check_batch(batch);
    const int hz = shape.horizon;
    const std::size_t n = static_cast<std::size_t>(batch) * hz;
    const Real scale = Real(2) / static_cast<Real>(n);
    const int part = part_size(batch);
    double sum = 0.0;
    for (int b0 = 0; b0 < batch; b0 += part) {
      const int b = std::min(part, batch - b0);
      forward(params, x + static_cast<std::size_t>(b0) * T * shape.input, b, yhat.data());
      const Real* yp = y + static_cast<std::size_t>(b0) * hz;
      for (std::size_t k = 0; k < static_cast<std::size_t>(b) * hz; ++k) {
        const Real e = yhat[k] - yp[k];
        sum += static_cast<double>(e) * static_cast<double>(e);
        dyhat[k] = scale * e;
      }
      backward(params, dyhat.data(), grad, nullptr, b0 > 0);
    }
    return static_cast<Real>(sum / static_cast<double>(n));
  }

  ModelShape shape;
  int T, maxB;
  ParamLayout layout;
  int H, G;
  int B = 0;
  bool have_forward = false;
  int final_c_slot = 0;  // c slot of the last step: T after forward(), T % 2 after infer()
  std::vector<Real> xt;
  std::vector<Layer> layers;
  std::vector<Real> bias, dg, dx0, dh, dc, yhat, dyhat;
  std::vector<Real> dxin[2];
  // fp32 whose product width is a multiple of small_gemm's panel: the per-step products use small_gemm
  // with R packed once per layer (fp64 stays on Eigen: the reference keeps one well-tested path).
  static constexpr bool kFloat = std::is_same_v<Real, float>;
  const bool packed_fwd = kFloat && G % small_gemm::kPanel == 0;
  const bool packed_bwd = kFloat && H % small_gemm::kPanel == 0;
  const int ldg = kFloat ? G + 16 : G;    // dg's row stride (see the top of the file)
  static constexpr int kChunkRows = 256;  // one pass of small_gemm::multiply_at_b (kDepth)
  static constexpr std::size_t kActivationBudget = std::size_t(6) << 20;  // see part_size
  static constexpr int kMinPart = 32;
  std::vector<float> pack_fwd, pack_bwd;  // R^T and R in small_gemm's panel layout, 4H x H each
  std::vector<float> pack_w;              // the layer's W^T (forward) or W (backward), same layout
  std::vector<float> at_work;             // small_gemm::multiply_at_b's packing of dG^T
};

template <typename Real>
LstmCpu<Real>::LstmCpu(const ModelShape& shape, int window, int max_batch)
    : impl_(std::make_unique<Impl>(shape, window, max_batch)) {}
template <typename Real>
LstmCpu<Real>::~LstmCpu() = default;
template <typename Real>
LstmCpu<Real>::LstmCpu(LstmCpu&&) noexcept = default;
template <typename Real>
LstmCpu<Real>& LstmCpu<Real>::operator=(LstmCpu&&) noexcept = default;

template <typename Real>
const ModelShape& LstmCpu<Real>::shape() const {
  return impl_->shape;
}
template <typename Real>
int LstmCpu<Real>::window() const {
  return impl_->T;
}
template <typename Real>
int LstmCpu<Real>::max_batch() const {
  return impl_->maxB;
}
template <typename Real>
bool LstmCpu<Real>::rows_independent() const {
  return impl_->packed_fwd;
}
template <typename Real>
void LstmCpu<Real>::forward(const Real* params, const Real* x, int batch, Real* yhat) {
  impl_->forward(params, x, batch, yhat);
}

template <typename Real>
void LstmCpu<Real>::infer(const Real* params, const Real* x, int batch, Real* yhat) {
  impl_->forward(params, x, batch, yhat, false);
}
template <typename Real>
void LstmCpu<Real>::backward(const Real* params, const Real* dyhat, Real* grad, Real* dx) {
  impl_->backward(params, dyhat, grad, dx);
}
template <typename Real>
Real LstmCpu<Real>::loss_and_grad(const Real* params, const Real* x, const Real* y, int batch, Real* grad) {
  return impl_->loss_and_grad(params, x, y, batch, grad);
}
template <typename Real>
int LstmCpu<Real>::part_size(int batch) const {
  return impl_->part_size(batch);
}
template <typename Real>
const Real* LstmCpu<Real>::final_h(int layer) const {
  LSTMAD_CHECK(layer >= 0 && layer < impl_->shape.layers, "LstmCpu::final_h: layer out of range");
  return impl_->layers[static_cast<std::size_t>(layer)].h.data() +
         static_cast<std::size_t>(impl_->T) * impl_->B * impl_->H;
}
template <typename Real>
const Real* LstmCpu<Real>::final_c(int layer) const {
  LSTMAD_CHECK(layer >= 0 && layer < impl_->shape.layers, "LstmCpu::final_c: layer out of range");
  return impl_->layers[static_cast<std::size_t>(layer)].c.data() +
         static_cast<std::size_t>(impl_->final_c_slot) * impl_->B * impl_->H;
}

template class LstmCpu<float>;
template class LstmCpu<double>;

}  // namespace lstmad
