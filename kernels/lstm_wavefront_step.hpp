// One iteration of the two-layer wavefront time loops (lstm_wavefront.hpp) for one thread, host and device.
//
// A block owns BB batch rows for all T steps; its threads are (unit j, local row lr, role). Forward,
// iteration s = 0 .. T+1, three roles side by side:
//   role 0  layer 1, step t = s:      G1 = gx1_t + b1 + R1 h1_{t-1}; cell update; h1_t
//   role 1  projection, t = s - 1:    gx2_t = W2 h1_t             (layer 2's input projection, in the loop)
//   role 2  layer 2, step t = s - 2:  G2 = gx2_t + b2 + R2 h2_{t-1}; cell update; h2_t
// Backward, iteration s = 0 .. T+1:
//   role 2  layer 2, step t = T-1-s:  dh2 = R2^T dG2_{t+1} (+ the head's dh at T-1); dG2_t
//   role 1  projection, t = T-s:      dy1_t = W2^T dG2_t              (layer 2's dx, in the loop)
//   role 0  layer 1, step t = T+1-s:  dh1 = R1^T dG1_{t+1} + dy1_t; dG1_t
// Each role's chain per iteration is one dot product (H long forward, 4H backward), so T + 2 iterations
// of one chain replace the 2T of two layers run one after the other, and the GEMM between them.
//
// Every value an iteration reads from the shared buffers was written in the iteration before (buffer
// parity (s-1) & 1, or s & 1 for h, which iteration s-1 wrote as (s-1+1) & 1), and every value it writes
// goes to the other parity: no thread reads in iteration s what another writes in iteration s. So one
// barrier per iteration suffices, and the host can run an iteration's threads one after the other and get
// the kernel's exact result (tests/test_wavefront.cpp does).
//
// Layouts as in lstm_fused_fwd.hpp / lstm_fused_bwd.hpp (time-major; y is (T+1) x B x H with y[0] = 0;
// hy, cy are L x B x H). Forward reads R1, W2, R2 transposed (H x 4H: element (k, m) at k * 4H + m) so that
// a warp's loads for a fixed k are consecutive; backward reads them as stored (4H x H, (m, j) at m H + j).
// Sums run in a fixed order (fmaf, k or m ascending): reruns are bit-identical.
//
// Two orders of those sums. The wavefront's own (fwd_iteration, bwd_iteration: FusedLstm's) starts each
// forward chain at 0 and adds gx + bias after it, and sums dy1 in quarters as the time loops do. The
// layers' order (fwd_iteration_layers, bwd_iteration_layers: the multi-model path) gives the bits of the
// multi-model path run layer by layer, so that the multi-model autotuning may pick either: each forward
// chain starts at gx + bias (fwd_start_values' order, the input projected in the loop for a few inputs as
// kernels::FusedInput does), and dy1 is one fmaf chain over m = 0..4H-1 as multi_gemm's dX. One chain of
// 4H would put 4H FMA latencies on every backward iteration, so role 1 runs it in four pieces of H over
// four iterations, each thread carrying four steps' partial sums (a quarter each), and layer 1 starts three
// iterations later: T + 5 backward iterations, layer 2's gate gradients kept in a ring of kLayersRing
// buffers until the last piece has read them.
#pragma once

#include <cmath>

#include "kernels/lstm_cell.hpp"
#include "kernels/recurrent_order.hpp"

#if defined(__CUDACC__)
#define LSTMAD_WF_HD __host__ __device__ __forceinline__
#else
#define LSTMAD_WF_HD inline
#endif
#if defined(__CUDA_ARCH__)  // the device pass: a loop of a constant trip count unrolls whole
#define LSTMAD_WF_UNROLL _Pragma("unroll")
// The forward's products by eight k: unrolled whole, the compiler hoists more loads than the 64 registers
// of a 1024-thread block hold, and spills (ptxas).
#define LSTMAD_WF_UNROLL_FWD _Pragma("unroll 8")
#else
#define LSTMAD_WF_UNROLL
#define LSTMAD_WF_UNROLL_FWD
#endif

namespace lstmad::kernels::wavefront {

struct Dims {
  int T = 0, B = 0, H = 0, BB = 0;
};

// The kernels are compiled for H = 16, 32 and 64 with H a constant (kH, kernels/const_hidden.hpp) and for
// any other H with kH = 0 (H = d.H); the step functions take kH.

// Iterations per direction: layer 2 ends two iterations after layer 1 (forward), layer 1 two after layer 2
// (backward).
LSTMAD_WF_HD int iterations(int T) {
  return T + 2;
}

// Threads per role, rounded up to whole warps so that no warp holds two roles (their chains would run one
// after the other). A role's thread i < H * BB is unit i % H of local row i / H; the rest only take part
// in the barriers.
LSTMAD_WF_HD int role_threads(int H, int BB) {
  return (H * BB + 31) / 32 * 32;
}

// Shared memory, in floats: the three weight matrices, then the step buffers. Forward: R1t | W2t | R2t |
// h1 [2][BB][H] | h2 [2][BB][H] | gx2 [2][BB][4H]. Backward: R1 | W2 | R2 | dg1 [2][BB][4H] |
// dg2 [2][BB][4H] | dy1 [2][BB][H].
LSTMAD_WF_HD long long weight_floats(int H) {
  return 12LL * H * H;
}
LSTMAD_WF_HD long long fwd_buffer_floats(int H, int BB) {
  return 2LL * BB * (2 * H + 4 * H);
}
// ring: the buffers of layer 2's gate gradients (2; kLayersRing in the layers' order).
LSTMAD_WF_HD long long bwd_buffer_floats(int H, int BB, int ring = 2) {
  return static_cast<long long>(BB) * ((2 + ring) * 4 * H + 2 * H);
}

struct FwdGlobal {
  const float* gx1 = nullptr;  // T x B x 4H: x W1^T, no bias
  // The layers' order only: layer 1's input x (T x B x D, D <= 4) and W1 (4H x D) in place of gx1.
  const float *x = nullptr, *W1 = nullptr;
  int D = 0;
  const float *b1W = nullptr, *b1R = nullptr, *b2W = nullptr, *b2R = nullptr;  // 4H each
  float *y1 = nullptr, *y2 = nullptr;                                          // (T+1) x B x H
  float *gates1 = nullptr, *gates2 = nullptr;  // T x B x 4H, null for inference (with c1, c2)
  float *c1 = nullptr, *c2 = nullptr;          // T x B x H
  float *hy = nullptr, *cy = nullptr;          // 2 x B x H, either may be null
};

// One block's shared memory (device) or its host image.
struct FwdShared {
  const float *R1t = nullptr, *W2t = nullptr, *R2t = nullptr;  // H x 4H each
  float *h1 = nullptr, *h2 = nullptr;                           // [2][BB][H]
  float* gx2 = nullptr;                                         // [2][BB][4H]
};

// Role 1 of forward iteration s, in both orders: layer 2's gx of step s - 1, one fmaf chain over k from 0
// per gate (multi_gemm's chain), into the gx2 buffer of parity s & 1.
template <int kH>
LSTMAD_WF_HD void fwd_projection(const Dims& d, const FwdShared& m, int s, int j, int lr) {
  const int H = kH > 0 ? kH : d.H, H4 = 4 * H;
  const int t = s - 1;
  if (t < 0 || t >= d.T) return;
  const float* hp = m.h1 + ((s & 1) * d.BB + lr) * H;  // h1_t
  float p[4] = {0.f, 0.f, 0.f, 0.f};
  LSTMAD_WF_UNROLL_FWD
  for (int k = 0; k < H; ++k) {
    const float* w = m.W2t + static_cast<long long>(k) * H4 + j;
    const float hk = hp[k];
    for (int q = 0; q < 4; ++q) p[q] = fmaf(w[q * H], hk, p[q]);
  }
  float* out = m.gx2 + ((s & 1) * d.BB + lr) * H4 + j;
  for (int q = 0; q < 4; ++q) out[q * H] = p[q];
}

// acc[q] += sum over k < H of Rt[k][qH + j] hp[k], k ascending with fmaf (Rt: H x 4H).
template <int kH>
LSTMAD_WF_HD void fwd_product(const float* Rt, const float* hp, int h, int j, float (&acc)[4]) {
  const int H = kH > 0 ? kH : h;
  LSTMAD_WF_UNROLL_FWD
  for (int k = 0; k < H; ++k) {
    const float* r = Rt + static_cast<long long>(k) * 4 * H + j;
    const float hk = hp[k];
    for (int q = 0; q < 4; ++q) acc[q] = fmaf(r[q * H], hk, acc[q]);
  }
}

// The cell of unit j, row `row`, step t of layer 1 (first) or 2 from its pre-activations, and what it
// writes: h into the next h buffer hn and y, the gates and c (training), the final h and c.
LSTMAD_WF_HD void fwd_cell(const Dims& d, const FwdGlobal& g, bool first, int t, long long row, int j,
                           const float (&acc)[4], float& c, float* hn) {
  const int H = d.H, H4 = 4 * H, B = d.B;
  float gt[4];
  const float h = cell::forward(acc, gt, c);
  hn[j] = h;
  float* y = first ? g.y1 : g.y2;
  const long long tb = static_cast<long long>(t) * B + row;
  if (t == 0) y[row * H + j] = 0.f;  // h_0
  y[(tb + B) * H + j] = h;
  float* gates = first ? g.gates1 : g.gates2;
  if (gates != nullptr) {
    float* gr = gates + tb * H4 + j;
    for (int q = 0; q < 4; ++q) gr[q * H] = gt[q];
    (first ? g.c1 : g.c2)[tb * H + j] = c;
  }
  if (t == d.T - 1) {
    const long long at = (first ? 0 : static_cast<long long>(B) * H) + row * H + j;
    if (g.hy != nullptr) g.hy[at] = h;
    if (g.cy != nullptr) g.cy[at] = c;
  }
}

// What a cell thread (role 0: layer 1, role 2: layer 2) of forward iteration s works on, in both orders:
// its layer's step t, its row, h_{t-1} (hp) and the slot of h_t (hn) in shared memory, the layer's biases.
struct FwdCellSlot {
  bool first = true;  // layer 1
  int t = 0;
  long long row = 0;
  const float* hp = nullptr;
  float* hn = nullptr;
  const float *bW = nullptr, *bR = nullptr;
};

// Fills `o`; false where the thread has no cell this iteration: t outside the sequence, or a padded row
// (whose slot of h_t it zeroes, so that the block's products read zeros for it).
template <int kH>
LSTMAD_WF_HD bool fwd_cell_slot(const Dims& d, const FwdGlobal& g, const FwdShared& m, int s, int j, int lr,
                                int row0, int nrows, bool first, FwdCellSlot& o) {
  const int H = kH > 0 ? kH : d.H;
  const int t = first ? s : s - 2;
  if (t < 0 || t >= d.T) return false;
  float* hbuf = first ? m.h1 : m.h2;
  o.hn = hbuf + (((s + 1) & 1) * d.BB + lr) * H;
  if (row0 + lr >= nrows) {
    o.hn[j] = 0.f;
    return false;
  }
  o.first = first;
  o.t = t;
  o.row = row0 + lr;
  o.hp = hbuf + ((s & 1) * d.BB + lr) * H;
  o.bW = first ? g.b1W : g.b2W;
  o.bR = first ? g.b1R : g.b2R;
  return true;
}

// Thread (j, lr, role) of the block whose first row is row0; c: the thread's cell state (roles 0 and 2).
template <int kH = 0>
LSTMAD_WF_HD void fwd_iteration(const Dims& d, const FwdGlobal& g, const FwdShared& m, int s, int j, int lr,
                                int row0, int nrows, int role, float& c) {
  const int H = kH > 0 ? kH : d.H, H4 = 4 * H;
  if (role == 1) {
    fwd_projection<kH>(d, m, s, j, lr);
    return;
  }
  FwdCellSlot o;
  if (!fwd_cell_slot<kH>(d, g, m, s, j, lr, row0, nrows, role == 0, o)) return;
  // gx + bias is loaded first and added after the dot product, so that the global load of gx1 overlaps
  // the H-long chain instead of starting it.
  const float* gx = o.first ? g.gx1 + (static_cast<long long>(o.t) * d.B + o.row) * H4 + j
                            : m.gx2 + ((((s - 1) & 1) * d.BB) + lr) * H4 + j;  // written in iteration s - 1
  float in[4];
  for (int q = 0; q < 4; ++q) in[q] = gx[q * H] + (o.bW[q * H + j] + o.bR[q * H + j]);
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  fwd_product<kH>(o.first ? m.R1t : m.R2t, o.hp, H, j, acc);
  for (int q = 0; q < 4; ++q) acc[q] += in[q];
  fwd_cell(d, g, o.first, o.t, o.row, j, acc, c, o.hn);
}

// ---- the layers' order (see the top of this file) ----

// Per-thread state carried from iteration to iteration.
struct FwdThread {
  float c = 0.f;                         // the cell state (roles 0 and 2)
  float next[4] = {0.f, 0.f, 0.f, 0.f};  // role 0: the next step's gx1 (or x), loaded an iteration ahead
};

// Role 0's input of step t for row `row`: gx1's four gate columns of unit j, or x's D values.
LSTMAD_WF_HD void fwd_load_input(const Dims& d, const FwdGlobal& g, int t, long long row, int j,
                                 float (&out)[4]) {
  for (int q = 0; q < 4; ++q) out[q] = 0.f;
  if (t < 0 || t >= d.T) return;
  const long long tb = static_cast<long long>(t) * d.B + row;
  if (g.x != nullptr) {
    for (int k = 0; k < 4; ++k) out[k] = k < g.D ? g.x[tb * g.D + k] : 0.f;
  } else {
    for (int q = 0; q < 4; ++q) out[q] = g.gx1[tb * 4 * d.H + q * d.H + j];
  }
}

// The forward of the layers' order. Before iteration 0 each role-0 thread of a real row loads step 0's
// input into st.next (fwd_load_input).
template <int kH = 0>
LSTMAD_WF_HD void fwd_iteration_layers(const Dims& d, const FwdGlobal& g, const FwdShared& m, int s, int j,
                                       int lr, int row0, int nrows, int role, FwdThread& st) {
  const int H = kH > 0 ? kH : d.H, H4 = 4 * H;
  if (role == 1) {
    fwd_projection<kH>(d, m, s, j, lr);
    return;
  }
  FwdCellSlot o;
  if (!fwd_cell_slot<kH>(d, g, m, s, j, lr, row0, nrows, role == 0, o)) return;
  const float *bW = o.bW, *bR = o.bR;
  // The chains' starting values, gx + bias (the time loops' fwd_start_values).
  float acc[4];
  if (o.first) {
    float pre[4];
    if (g.x != nullptr) {  // kernels::input_projection's chain over d
      for (int q = 0; q < 4; ++q) pre[q] = 0.f;
      for (int k = 0; k < 4 && k < g.D; ++k)
        for (int q = 0; q < 4; ++q)
          pre[q] = fmaf(st.next[k], g.W1[static_cast<long long>(q * H + j) * g.D + k], pre[q]);
    } else {
      for (int q = 0; q < 4; ++q) pre[q] = st.next[q];
    }
    for (int q = 0; q < 4; ++q) acc[q] = pre[q] + (bW[q * H + j] + bR[q * H + j]);
    fwd_load_input(d, g, o.t + 1, o.row, j, st.next);  // a step ahead: off the next iteration's chain
  } else {
    const float* gx = m.gx2 + ((((s - 1) & 1) * d.BB) + lr) * H4 + j;  // written in iteration s - 1
    for (int q = 0; q < 4; ++q) acc[q] = gx[q * H] + (bW[q * H + j] + bR[q * H + j]);
  }
  fwd_product<kH>(o.first ? m.R1t : m.R2t, o.hp, H, j, acc);
  fwd_cell(d, g, o.first, o.t, o.row, j, acc, st.c, o.hn);
}

struct BwdGlobal {
  const float *gates1 = nullptr, *gates2 = nullptr;  // T x B x 4H (the training forward's)
  const float *c1 = nullptr, *c2 = nullptr;          // T x B x H
  const float* dhy = nullptr;                        // B x H: dLoss/dh2_T (the head's), may be null
  float *dgates1 = nullptr, *dgates2 = nullptr;      // T x B x 4H out
};

struct BwdShared {
  const float *R1 = nullptr, *W2 = nullptr, *R2 = nullptr;  // 4H x H each, as stored
  float *dg1 = nullptr, *dg2 = nullptr;                      // [2][BB][4H]
  float* dy1 = nullptr;                                      // [2][BB][H]
};

// Layer 2's gate-gradient buffers in the layers' order: written in iteration s, read by role 1 up to
// iteration s + 4.
constexpr int kLayersRing = 5;

LSTMAD_WF_HD int bwd_iterations_layers(int T) {
  return T + 5;
}
// Shared floats after the weights in the layers' order: dg1 [2][BB][4H] | dg2 [kLayersRing][BB][4H] |
// dy1 [2][BB][H].
LSTMAD_WF_HD long long bwd_buffer_floats_layers(int H, int BB) {
  return bwd_buffer_floats(H, BB, kLayersRing);
}

// A block's shared memory carved as the kernels use it (and the host test builds it): the weights, then
// the step buffers, zeroed, each thread of the block (tid of nthreads) doing its part; the caller then
// waits at a barrier. Forward: Rt3 is R1t | W2t | R2t (H x 4H each). Backward: R1, W2, R2 as stored, and
// `ring` buffers of layer 2's gate gradients (2, or kLayersRing in the layers' order).
LSTMAD_WF_HD FwdShared fwd_shared(float* smem, const float* Rt3, int H, int BB, int tid, int nthreads) {
  const long long wn = weight_floats(H);
  for (long long k = tid; k < wn; k += nthreads) smem[k] = Rt3[k];
  float* buf = smem + wn;
  for (long long k = tid; k < fwd_buffer_floats(H, BB); k += nthreads) buf[k] = 0.f;
  FwdShared m;
  m.R1t = smem;
  m.W2t = smem + 4LL * H * H;
  m.R2t = smem + 8LL * H * H;
  m.h1 = buf;
  m.h2 = buf + 2LL * BB * H;
  m.gx2 = buf + 4LL * BB * H;
  return m;
}
LSTMAD_WF_HD BwdShared bwd_shared(float* smem, const float* R1, const float* W2, const float* R2, int H,
                                  int BB, int ring, int tid, int nthreads) {
  const long long n = 4LL * H * H;
  for (long long k = tid; k < n; k += nthreads) {
    smem[k] = R1[k];
    smem[n + k] = W2[k];
    smem[2 * n + k] = R2[k];
  }
  float* buf = smem + weight_floats(H);
  for (long long k = tid; k < bwd_buffer_floats(H, BB, ring); k += nthreads) buf[k] = 0.f;
  BwdShared m;
  m.R1 = smem;
  m.W2 = smem + n;
  m.R2 = smem + 2 * n;
  m.dg1 = buf;
  m.dg2 = buf + 2LL * BB * 4 * H;
  m.dy1 = buf + (2LL + ring) * BB * 4 * H;
  return m;
}

// What a backward cell of unit j, step t (row position tb = t B + row) of layer 2 (top) or 1 reads from
// global memory: its four gates, c_t and c_{t-1}. Loaded before the step's dot product, so that their
// latency overlaps it.
struct BwdCellInputs {
  float gate[4], ct, cp;
};
LSTMAD_WF_HD BwdCellInputs bwd_cell_inputs(const Dims& d, const BwdGlobal& g, bool top, int t, long long tb,
                                           int j) {
  const int H = d.H;
  const float* gr = (top ? g.gates2 : g.gates1) + tb * 4 * H + j;
  const float* cs = top ? g.c2 : g.c1;
  BwdCellInputs in;
  for (int q = 0; q < 4; ++q) in.gate[q] = gr[q * H];
  in.ct = cs[tb * H + j];
  in.cp = t > 0 ? cs[(tb - d.B) * H + j] : 0.f;
  return in;
}
// The cell's gate gradients from dh, into dgates and the block's buffer dcur (unit j's column); dc carried.
LSTMAD_WF_HD void bwd_cell(const Dims& d, const BwdGlobal& g, bool top, long long tb, int j, float dh,
                           const BwdCellInputs& in, float& dc, float* dcur) {
  const int H = d.H;
  float da[4];
  cell::backward(dh, in.gate, in.ct, in.cp, dc, da);
  float* dgr = (top ? g.dgates2 : g.dgates1) + tb * 4 * H + j;
  for (int q = 0; q < 4; ++q) {
    dgr[q * H] = da[q];
    dcur[q * H] = da[q];
  }
}

// sum over m < 4H of w[m * H + j] v[m] in the FMA backward kernels' order (recurrent_order.hpp): four
// dependent chains of H where one over 4H would put 4H FMA latencies on each step.
template <int kH = 0>
LSTMAD_WF_HD float quarter_dot(const float* w, int h, int j, const float* v) {
  const int H = kH > 0 ? kH : h;
  float a[4] = {0.f, 0.f, 0.f, 0.f};
  LSTMAD_WF_UNROLL
  for (int k = 0; k < H; ++k)
    for (int p = 0; p < 4; ++p) a[p] = fmaf(w[static_cast<long long>(p * H + k) * H + j], v[p * H + k], a[p]);
  return fold_quarters(a[0], a[1], a[2], a[3]);
}

// dc: the thread's cell-state gradient carried to the step before (roles 0 and 2).
template <int kH = 0>
LSTMAD_WF_HD void bwd_iteration(const Dims& d, const BwdGlobal& g, const BwdShared& m, int s, int j, int lr,
                                int row0, int nrows, int role, float& dc) {
  const int H = kH > 0 ? kH : d.H, H4 = 4 * H, B = d.B, T = d.T;
  const int row = row0 + lr;
  const bool valid = row < nrows;
  const long long rowl = row;
  const int prev = (s - 1) & 1, cur = s & 1;
  if (role == 1) {
    const int t = T - s;  // the layer-2 step of iteration s - 1
    if (s < 1 || t < 0) return;
    const float* dgp = m.dg2 + (prev * d.BB + lr) * H4;
    m.dy1[(cur * d.BB + lr) * H + j] = quarter_dot<kH>(m.W2, H, j, dgp);
    return;
  }
  const bool top = role == 2;
  const int t = top ? T - 1 - s : T + 1 - s;
  if (t < 0 || t > T - 1) return;
  float* dgbuf = top ? m.dg2 : m.dg1;
  float* dcur = dgbuf + (cur * d.BB + lr) * H4 + j;
  if (!valid) {
    for (int q = 0; q < 4; ++q) dcur[q * H] = 0.f;
    return;
  }
  // This step's gates and cell states are loaded before the 4H-term dot product, so that their global
  // latency overlaps it.
  const long long tb = static_cast<long long>(t) * B + rowl;
  const BwdCellInputs in = bwd_cell_inputs(d, g, top, t, tb, j);
  float dh = 0.f;
  if (t < T - 1) {  // the recurrence from step t + 1, written in iteration s - 1
    const float* R = top ? m.R2 : m.R1;
    const float* dgp = dgbuf + (prev * d.BB + lr) * H4;
    dh = quarter_dot<kH>(R, H, j, dgp);
  }
  if (top) {
    if (t == T - 1 && g.dhy != nullptr) dh += g.dhy[rowl * H + j];
  } else {
    dh += m.dy1[(prev * d.BB + lr) * H + j];  // dy1_t, from role 1 in iteration s - 1
  }
  bwd_cell(d, g, top, tb, j, dh, in, dc, dcur);
}

struct BwdThread {
  float dc = 0.f;                        // roles 0 and 2: the cell-state gradient
  float part[4] = {0.f, 0.f, 0.f, 0.f};  // role 1: the partial sums of dy1 of four steps
};

// The backward of the layers' order; bwd_iterations_layers(T) iterations, m.dg2 holding kLayersRing
// buffers.
//   role 2  layer 2, step t = T-1-s (as in the wavefront's order)
//   role 1  piece p = 0..3 of dy1_t = sum over m < 4H of W2[m][j] dG2_t[m] for t = T-s+p: m in [pH, pH+H),
//           continuing the chain piece p - 1 left in the iteration before (from 0 for p = 0); after
//           piece 3, dy1 of step T-s+3 is whole
//   role 0  layer 1, step t = T+4-s: dh1 = R1^T dG1_{t+1} + dy1_t
template <int kH = 0>
LSTMAD_WF_HD void bwd_iteration_layers(const Dims& d, const BwdGlobal& g, const BwdShared& m, int s, int j,
                                       int lr, int row0, int nrows, int role, BwdThread& st) {
  const int H = kH > 0 ? kH : d.H, H4 = 4 * H, B = d.B, T = d.T;
  const int row = row0 + lr;
  const bool valid = row < nrows;
  const long long rowl = row;
  const int prev = (s - 1) & 1, cur = s & 1;
  const auto ring = [](int k) { return ((k % kLayersRing) + kLayersRing) % kLayersRing; };
  if (role == 1) {
    // The four pieces side by side (four independent chains in one loop, as quarter_dot's). A piece of a
    // step outside 0..T-1 sums what its buffer holds and is never used: its step's other pieces are
    // outside too.
    float part[4];
    const float* dgp[4];
    for (int p = 0; p < 4; ++p) {
      part[p] = p == 0 ? 0.f : st.part[p - 1];
      dgp[p] = m.dg2 + (ring(s - 1 - p) * d.BB + lr) * H4 + p * H;  // step T-s+p, written in s - 1 - p
    }
    const float* w = m.W2 + j;
    LSTMAD_WF_UNROLL
    for (int k = 0; k < H; ++k)
      for (int p = 0; p < 4; ++p)
        part[p] = fmaf(w[static_cast<long long>(p * H + k) * H], dgp[p][k], part[p]);
    for (int p = 0; p < 4; ++p) st.part[p] = part[p];
    const int t = T - s + 3;
    if (t >= 0 && t <= T - 1) m.dy1[(cur * d.BB + lr) * H + j] = part[3];
    return;
  }
  const bool top = role == 2;
  const int t = top ? T - 1 - s : T + 4 - s;
  if (t < 0 || t > T - 1) return;
  float* dcur = top ? m.dg2 + (ring(s) * d.BB + lr) * H4 + j : m.dg1 + (cur * d.BB + lr) * H4 + j;
  if (!valid) {
    for (int q = 0; q < 4; ++q) dcur[q * H] = 0.f;
    return;
  }
  const long long tb = static_cast<long long>(t) * B + rowl;
  const BwdCellInputs in = bwd_cell_inputs(d, g, top, t, tb, j);
  // The time loops' dh = dh_rec + dy (+ dhy at T-1), dh_rec = 0 at T-1 and dy = 0 for the top layer.
  float dh = 0.f;
  if (t < T - 1) {
    const float* R = top ? m.R2 : m.R1;
    const float* dgp = top ? m.dg2 + (ring(s - 1) * d.BB + lr) * H4 : m.dg1 + (prev * d.BB + lr) * H4;
    dh = quarter_dot<kH>(R, H, j, dgp);
  }
  if (top) {
    dh = dh + 0.f;
    if (t == T - 1 && g.dhy != nullptr) dh += g.dhy[rowl * H + j];
  } else {
    dh = dh + m.dy1[(prev * d.BB + lr) * H + j];  // dy1_t, from role 1 in iteration s - 1
  }
  bwd_cell(d, g, top, tb, j, dh, in, st.dc, dcur);
}

}  // namespace lstmad::kernels::wavefront
