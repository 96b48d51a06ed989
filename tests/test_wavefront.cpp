// The two-layer wavefront (kernels/lstm_wavefront_step.hpp, lstm_wavefront.hpp) on the host: the kernels'
// own per-thread step functions run iteration by iteration, every thread of a block in turn, once in each
// order (a step reading what another thread writes in the same iteration would change bits between the
// two), with the block's shared memory as host arrays. The GEMMs around the loops (layer 1's input projection before,
// the weight gradients after) and the head are written out here as plain sums. Final h and c, the
// prediction, every parameter gradient and dx must match LstmCpu<double> (fp32 arithmetic: 2e-5 relative).
// What this cannot check (the barrier, shared-memory races, the device) is left to the GPU tests.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "kernels/lstm_wavefront_plan.hpp"
#include "kernels/lstm_wavefront_step.hpp"
#include "lstm/cpu/lstm_cpu.hpp"
#include "lstm/init.hpp"
#include "lstm/shape.hpp"

namespace lstmad {
namespace {

namespace wf = kernels::wavefront;

double rel_err(const std::vector<float>& got, const double* ref, std::size_t n) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < n; ++i) {
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

struct Run {
  std::vector<float> hy, cy, yhat, grad, dx;
};

// One training step's forward and backward through the wavefront, the surrounding sums as FusedLstm
// orders them.
// `reverse`: the threads of an iteration run in the opposite order (roles, rows and units), which must not
// change a single bit: no thread may read what another writes in the same iteration. `layers`: the layers'
// order (the multi-model path's step functions, layer 1's input projected in the loop).
Run run_wavefront(const ModelShape& shape, int T, int B, int BB, const std::vector<float>& p,
                  const std::vector<float>& x, const std::vector<float>& dyhat, bool reverse = false,
                  bool layers = false) {
  const int H = shape.hidden, H4 = 4 * H, D = shape.input, hz = shape.horizon;
  const ParamLayout lay(shape);
  const LayerOffsets &o1 = lay.layer[0], &o2 = lay.layer[1];
  const std::size_t TB = static_cast<std::size_t>(T) * B;
  std::vector<float> xt(TB * D);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int d = 0; d < D; ++d) xt[(static_cast<std::size_t>(t) * B + b) * D + d] = x[(b * T + t) * D + d];
  std::vector<float> gx1(TB * H4, 0.f);
  for (std::size_t r = 0; r < TB; ++r)
    for (int m = 0; m < H4; ++m) {
      double s = 0;
      for (int d = 0; d < D; ++d) s += double(xt[r * D + d]) * p[o1.W + m * D + d];
      gx1[r * H4 + m] = static_cast<float>(s);
    }
  std::vector<float> y1((TB + B) * H, NAN), y2((TB + B) * H, NAN), g1(TB * H4), g2(TB * H4), c1(TB * H),
      c2(TB * H), hy(2ull * B * H, NAN), cy(2ull * B * H, NAN);
  auto transpose = [&](std::size_t off) {
    std::vector<float> t(static_cast<std::size_t>(H4) * H);
    for (int m = 0; m < H4; ++m)
      for (int k = 0; k < H; ++k) t[static_cast<std::size_t>(k) * H4 + m] = p[off + m * H + k];
    return t;
  };
  const std::vector<float> R1t = transpose(o1.R), W2t = transpose(o2.W), R2t = transpose(o2.R);
  wf::Dims d;
  d.T = T;
  d.B = B;
  d.H = H;
  d.BB = BB;
  wf::FwdGlobal fg;
  fg.gx1 = gx1.data();
  fg.b1W = p.data() + o1.bW;
  fg.b1R = p.data() + o1.bR;
  fg.b2W = p.data() + o2.bW;
  fg.b2R = p.data() + o2.bR;
  fg.y1 = y1.data();
  fg.y2 = y2.data();
  fg.gates1 = g1.data();
  fg.gates2 = g2.data();
  fg.c1 = c1.data();
  fg.c2 = c2.data();
  fg.hy = hy.data();
  fg.cy = cy.data();
  if (layers) {
    fg.gx1 = nullptr;
    fg.x = xt.data();
    fg.W1 = p.data() + o1.W;
    fg.D = D;
  }
  const int grid = (B + BB - 1) / BB;
  for (int blk = 0; blk < grid; ++blk) {
    // The kernel's shared-memory carving: h1, h2, gx2 one after the other (wavefront::fwd_buffer_floats).
    std::vector<float> bufs(static_cast<std::size_t>(wf::fwd_buffer_floats(H, BB)), 0.f);
    wf::FwdShared m;
    m.R1t = R1t.data();
    m.W2t = W2t.data();
    m.R2t = R2t.data();
    m.h1 = bufs.data();
    m.h2 = bufs.data() + 2 * BB * H;
    m.gx2 = bufs.data() + 4 * BB * H;
    std::vector<float> c(3ull * BB * H, 0.f);  // per thread
    const int n = 3 * BB * H;
    std::vector<wf::FwdThread> st(static_cast<std::size_t>(n));
    for (int id = 0; id < BB * H; ++id)  // role 0: step 0's input, before the loop
      if (blk * BB + id / H < B) wf::fwd_load_input(d, fg, 0, blk * BB + id / H, id % H, st[id].next);
    for (int s = 0; s < wf::iterations(T); ++s)
      for (int i = 0; i < n; ++i) {
        const int id = reverse ? n - 1 - i : i, role = id / (BB * H), lr = id / H % BB, j = id % H;
        if (layers)
          wf::fwd_iteration_layers(d, fg, m, s, j, lr, blk * BB, B, role, st[id]);
        else
          wf::fwd_iteration(d, fg, m, s, j, lr, blk * BB, B, role, c[id]);
      }
  }
  Run r;
  r.hy = hy;
  r.cy = cy;
  // Head on h2_T.
  const float* Wh = p.data() + lay.head_W;
  const float* bh = p.data() + lay.head_b;
  r.yhat.resize(static_cast<std::size_t>(B) * hz);
  std::vector<float> dhy(static_cast<std::size_t>(B) * H, 0.f);
  r.grad.assign(p.size(), 0.f);
  for (int b = 0; b < B; ++b)
    for (int q = 0; q < hz; ++q) {
      double s = bh[q];
      for (int j = 0; j < H; ++j) s += double(Wh[q * H + j]) * hy[static_cast<std::size_t>(B + b) * H + j];
      r.yhat[b * hz + q] = static_cast<float>(s);
      for (int j = 0; j < H; ++j) {
        dhy[b * H + j] += Wh[q * H + j] * dyhat[b * hz + q];
        r.grad[lay.head_W + q * H + j] += dyhat[b * hz + q] * hy[static_cast<std::size_t>(B + b) * H + j];
      }
      r.grad[lay.head_b + q] += dyhat[b * hz + q];
    }
  // Backward loops.
  std::vector<float> dg1(TB * H4, NAN), dg2(TB * H4, NAN);
  wf::BwdGlobal bg;
  bg.gates1 = g1.data();
  bg.gates2 = g2.data();
  bg.c1 = c1.data();
  bg.c2 = c2.data();
  bg.dhy = dhy.data();
  bg.dgates1 = dg1.data();
  bg.dgates2 = dg2.data();
  for (int blk = 0; blk < grid; ++blk) {
    // The kernels' carving: dg1, dg2 (two buffers, or the layers' order's ring), dy1.
    const int ring = layers ? wf::kLayersRing : 2;
    std::vector<float> bufs(
        static_cast<std::size_t>(layers ? wf::bwd_buffer_floats_layers(H, BB) : wf::bwd_buffer_floats(H, BB)),
        0.f);
    wf::BwdShared m;
    m.R1 = p.data() + o1.R;
    m.W2 = p.data() + o2.W;
    m.R2 = p.data() + o2.R;
    m.dg1 = bufs.data();
    m.dg2 = bufs.data() + 2 * BB * H4;
    m.dy1 = bufs.data() + (2 + ring) * BB * H4;
    std::vector<float> dc(3ull * BB * H, 0.f);
    const int n = 3 * BB * H;
    std::vector<wf::BwdThread> st(static_cast<std::size_t>(n));
    const int S = layers ? wf::bwd_iterations_layers(T) : wf::iterations(T);
    for (int s = 0; s < S; ++s)
      for (int i = 0; i < n; ++i) {
        const int id = reverse ? n - 1 - i : i, role = id / (BB * H), lr = id / H % BB, j = id % H;
        if (layers)
          wf::bwd_iteration_layers(d, bg, m, s, j, lr, blk * BB, B, role, st[id]);
        else
          wf::bwd_iteration(d, bg, m, s, j, lr, blk * BB, B, role, dc[id]);
      }
  }
  // Weight gradients as GEMMs over all (t, b): dW = dG^T in, dR = dG^T h_{t-1}, dbW = dbR = sum dG.
  auto weights = [&](const std::vector<float>& dG, const LayerOffsets& o, const float* in, int Din,
                     std::size_t in_row_stride, const std::vector<float>& y) {
    for (int m = 0; m < H4; ++m) {
      for (int k = 0; k < Din; ++k) {
        double s = 0;
        for (std::size_t rr = 0; rr < TB; ++rr) s += double(dG[rr * H4 + m]) * in[rr * in_row_stride + k];
        r.grad[o.W + m * Din + k] = static_cast<float>(s);
      }
      for (int k = 0; k < H; ++k) {
        double s = 0;
        for (std::size_t rr = 0; rr < TB; ++rr) s += double(dG[rr * H4 + m]) * y[rr * H + k];
        r.grad[o.R + m * H + k] = static_cast<float>(s);
      }
      double s = 0;
      for (std::size_t rr = 0; rr < TB; ++rr) s += dG[rr * H4 + m];
      r.grad[o.bW + m] = r.grad[o.bR + m] = static_cast<float>(s);
    }
  };
  weights(dg2, o2, y1.data() + static_cast<std::size_t>(B) * H, H, H, y2);
  weights(dg1, o1, xt.data(), D, D, y1);
  r.dx.assign(x.size(), 0.f);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int dd = 0; dd < D; ++dd) {
        double s = 0;
        for (int m = 0; m < H4; ++m)
          s += double(dg1[(static_cast<std::size_t>(t) * B + b) * H4 + m]) * p[o1.W + m * D + dd];
        r.dx[(b * T + t) * D + dd] = static_cast<float>(s);
      }
  return r;
}

void expect_matches_fp64(const ModelShape& shape, int T, int B, int BB, bool layers = false) {
  const auto params = init_params(shape, 91 + B);
  Rng rng(7 + T);
  std::vector<float> x(static_cast<std::size_t>(B) * T * shape.input), dyhat(static_cast<std::size_t>(B) * shape.horizon);
  for (auto& v : x) v = static_cast<float>(rng.uniform(-1, 1));
  for (auto& v : dyhat) v = static_cast<float>(rng.uniform(-1, 1));
  const Run w = run_wavefront(shape, T, B, BB, params, x, dyhat, false, layers);
  const Run v = run_wavefront(shape, T, B, BB, params, x, dyhat, /*reverse=*/true, layers);
  EXPECT_EQ(w.hy, v.hy) << "the order of an iteration's threads changed final h";
  EXPECT_EQ(w.grad, v.grad) << "the order of an iteration's threads changed the gradient";
  EXPECT_EQ(w.dx, v.dx) << "the order of an iteration's threads changed dx";

  LstmCpu<double> cpu(shape, T, B);
  const std::vector<double> p(params.begin(), params.end()), xd(x.begin(), x.end()), dy(dyhat.begin(), dyhat.end());
  std::vector<double> yhat(dyhat.size()), grad(params.size()), dx(x.size());
  cpu.forward(p.data(), xd.data(), B, yhat.data());
  const std::size_t BH = static_cast<std::size_t>(B) * shape.hidden;
  const std::string tag = std::string(layers ? "layers' order " : "") + shape.str() +
                          " T=" + std::to_string(T) + " B=" + std::to_string(B) + " BB=" + std::to_string(BB);
  for (int l = 0; l < 2; ++l) {
    const std::vector<float> h(w.hy.begin() + l * BH, w.hy.begin() + (l + 1) * BH),
        c(w.cy.begin() + l * BH, w.cy.begin() + (l + 1) * BH);
    EXPECT_LT(rel_err(h, cpu.final_h(l), BH), 2e-5) << tag << " final h of layer " << l + 1;
    EXPECT_LT(rel_err(c, cpu.final_c(l), BH), 2e-5) << tag << " final c of layer " << l + 1;
  }
  EXPECT_LT(rel_err(w.yhat, yhat.data(), yhat.size()), 2e-5) << tag << " yhat";
  cpu.backward(p.data(), dy.data(), grad.data(), dx.data());
  const ParamLayout lay(shape);
  const int H4 = 4 * shape.hidden;
  for (int l = 0; l < 2; ++l) {
    const LayerOffsets& o = lay.layer[static_cast<std::size_t>(l)];
    const int Din = shape.layer_input(l);
    auto block = [&](std::size_t off, std::size_t n, const char* name) {
      const std::vector<float> g(w.grad.begin() + off, w.grad.begin() + off + n);
      EXPECT_LT(rel_err(g, grad.data() + off, n), 2e-5) << tag << " d" << name << l + 1;
    };
    block(o.W, static_cast<std::size_t>(H4) * Din, "W");
    block(o.R, static_cast<std::size_t>(H4) * shape.hidden, "R");
    block(o.bW, H4, "bW");
    block(o.bR, H4, "bR");
  }
  EXPECT_LT(rel_err(w.dx, dx.data(), dx.size()), 2e-5) << tag << " dx";
}

TEST(Wavefront, TheKernelsStepFunctionsGiveTheTwoLayerLstmAndItsGradients) {
  expect_matches_fp64(ModelShape{2, 2, 8, 1}, 7, 5, 2);    // a padded last block
  expect_matches_fp64(ModelShape{2, 1, 5, 2}, 1, 3, 3);    // one step
  expect_matches_fp64(ModelShape{2, 3, 16, 1}, 12, 4, 1);  // one row per block
}

// The layers' order (the multi-model path's): the chains from gx + bias with layer 1's input projected in
// the loop, and dy1 as one chain over four iterations (kLayersRing buffers of layer 2's gate gradients).
// The bits against the multi-model path run layer by layer are the GPU tests' (FusedMulti).
TEST(Wavefront, TheLayersOrderGivesTheTwoLayerLstmAndItsGradients) {
  expect_matches_fp64(ModelShape{2, 2, 8, 1}, 7, 5, 2, true);
  expect_matches_fp64(ModelShape{2, 1, 5, 2}, 1, 3, 3, true);
  expect_matches_fp64(ModelShape{2, 3, 16, 1}, 12, 4, 1, true);
  expect_matches_fp64(ModelShape{2, 1, 8, 1}, 2, 2, 1, true);  // fewer steps than the pipeline is deep
}

TEST(Wavefront, PlanFitsTheWeightsAndBuffersAndSpreadsRowsOverTheSms) {
  kernels::FusedLimits lim;
  lim.sm_count = 132;
  lim.smem_optin = 232448;
  lim.max_threads = 1024;
  for (int H : {8, 32, 64})
    for (int B : {1, 64, 256, 1000}) {
      const kernels::WavefrontLaunch p = kernels::plan_wavefront(H, B, lim);
      const std::string tag = "H=" + std::to_string(H) + " B=" + std::to_string(B);
      ASSERT_GT(p.grid, 0) << tag;
      EXPECT_GE(static_cast<long long>(p.grid) * p.rows_per_block, B) << tag;
      EXPECT_LT(static_cast<long long>(p.grid - 1) * p.rows_per_block, B) << tag;
      // Whole warps per role, every (unit, row) served, within the device's thread limit.
      EXPECT_EQ(p.threads, 3 * kernels::wavefront::role_threads(H, p.rows_per_block)) << tag;
      EXPECT_EQ(p.threads % 96, 0) << tag;
      EXPECT_GE(p.threads / 3, H * p.rows_per_block) << tag;
      EXPECT_LE(p.threads, lim.max_threads) << tag;
      // The sizes are the kernels' carving: weights, then the step buffers.
      EXPECT_EQ(p.smem_fwd, 4 * static_cast<std::size_t>(kernels::wavefront::weight_floats(H) +
                                                        kernels::wavefront::fwd_buffer_floats(H, p.rows_per_block)))
          << tag;
      EXPECT_EQ(p.smem_bwd, 4 * static_cast<std::size_t>(kernels::wavefront::weight_floats(H) +
                                                        kernels::wavefront::bwd_buffer_floats(H, p.rows_per_block)))
          << tag;
      EXPECT_LE(p.smem_bwd, static_cast<std::size_t>(lim.smem_optin)) << tag;
      EXPECT_LE(p.smem_fwd, p.smem_bwd) << tag;
      if (B <= lim.sm_count) {
        EXPECT_EQ(p.rows_per_block, 1) << tag;
      }
    }
  // R1, W2 and R2 take 48 H^2 bytes: up to H = 68 they fit the H200's 227 KB with one row's buffers.
  EXPECT_GT(kernels::plan_wavefront(64, 64, lim).grid, 0);
  EXPECT_GT(kernels::plan_wavefront(68, 256, lim).grid, 0);
  EXPECT_EQ(kernels::plan_wavefront(69, 64, lim).grid, 0);
  // The layers' order (the multi-model path): the backward's ring of five gate-gradient buffers, 30 H floats
  // a row, in the plan's size; at H = 64 four rows a block where the wavefront's own order takes five, and
  // the same largest H.
  for (int H : {8, 32, 64, 68}) {
    const kernels::WavefrontLaunch p = kernels::plan_wavefront(H, 256, lim, /*layers=*/true);
    ASSERT_GT(p.grid, 0) << "H=" << H;
    EXPECT_EQ(p.smem_bwd,
              4 * static_cast<std::size_t>(kernels::wavefront::weight_floats(H) +
                                           kernels::wavefront::bwd_buffer_floats_layers(H, p.rows_per_block)))
        << "H=" << H;
    EXPECT_EQ(kernels::wavefront::bwd_buffer_floats_layers(H, 1), 30LL * H);
    EXPECT_LE(p.smem_bwd, static_cast<std::size_t>(lim.smem_optin)) << "H=" << H;
  }
  kernels::FusedLimits one_sm = lim;
  one_sm.sm_count = 1;
  EXPECT_EQ(kernels::plan_wavefront(64, 64, one_sm).rows_per_block, 5);
  EXPECT_EQ(kernels::plan_wavefront(64, 64, one_sm, /*layers=*/true).rows_per_block, 4);
  EXPECT_EQ(kernels::plan_wavefront(69, 64, lim, /*layers=*/true).grid, 0);
  EXPECT_NE(kernels::wavefront_unsupported_reason(2, 72, 64, lim).find("shared memory"), std::string::npos);
  EXPECT_NE(kernels::wavefront_unsupported_reason(1, 32, 64, lim).find("two-layer"), std::string::npos);
  EXPECT_EQ(kernels::wavefront_unsupported_reason(2, 32, 64, lim), "");
}

}  // namespace
}  // namespace lstmad
