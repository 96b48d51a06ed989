// The LSTM cell's pointwise math, host and device: every time-loop kernel (FMA, cluster, tensor-core,
// wavefront) calls these, so they cannot drift apart, and the wavefront's CPU test
// (tests/test_wavefront.cpp) runs them against LstmCpu<double>. Gates in the order i, f, g, o.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define LSTMAD_CELL_HD __host__ __device__ __forceinline__
#else
#define LSTMAD_CELL_HD inline
#endif

namespace lstmad::kernels::cell {

LSTMAD_CELL_HD float sigmoid(float x) {
  return 1.f / (1.f + expf(-x));
}

// Gate q's activation: tanh for g (q = 2), the sigmoid for i, f and o.
LSTMAD_CELL_HD float activate(int q, float pre) {
  return q == 2 ? tanhf(pre) : sigmoid(pre);
}

// The activated gates -> c_{t-1} -> c_t in place; returns h_t.
LSTMAD_CELL_HD float update(const float (&gate)[4], float& c) {
  c = fmaf(gate[1], c, gate[0] * gate[2]);
  return gate[3] * tanhf(c);
}

// Forward: the pre-activations -> the activated gates; c_{t-1} -> c_t in place; returns h_t. Kernels
// that spread a unit's gates over threads call activate() and update() apart, with the same results.
LSTMAD_CELL_HD float forward(const float (&pre)[4], float (&gate)[4], float& c) {
  gate[0] = activate(0, pre[0]);
  gate[1] = activate(1, pre[1]);
  gate[2] = activate(2, pre[2]);
  gate[3] = activate(3, pre[3]);
  return update(gate, c);
}

// Backward of one step: dh (dLoss/dh_t), the step's activated gates, c_t and c_{t-1}; dc carries
// dLoss/dc from step t+1 in and to step t-1 out; da receives dLoss/d(pre-activation) per gate.
LSTMAD_CELL_HD void backward(float dh, const float (&gate)[4], float ct, float cp, float& dc, float (&da)[4]) {
  const float ig = gate[0], fg = gate[1], gg = gate[2], og = gate[3];
  const float tc = tanhf(ct);
  const float dcv = fmaf(dh * og, 1.f - tc * tc, dc);
  da[0] = dcv * gg * ig * (1.f - ig);
  da[1] = dcv * cp * fg * (1.f - fg);
  da[2] = dcv * ig * (1.f - gg * gg);
  da[3] = dh * tc * og * (1.f - og);
  dc = dcv * fg;
}

}  // namespace lstmad::kernels::cell
