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

// How the sigmoid and tanh are computed.
//   Precise: expf, tanhf and a correctly rounded division, each within 2 ulp (the CUDA math library's
//     bounds): the fp32 path, held to design.md's 1e-5 against the fp64 CPU engine.
//   Fast: the special-function units' 2^x and reciprocal (__expf, __fdividef: ex2.approx and rcp.approx),
//     tanh(x) = 2 sigmoid(2x) - 1: a few instructions where expf, tanhf and the IEEE division take some
//     twenty more each (the tensor-core forward kernels shrank by about 90 per cell), within 1e-6 (sigmoid)
//     and 2e-6 (tanh) absolute everywhere (tests/gpu/test_gpu_kernels.cpp holds the device to these). The
//     tensor-core precisions take it: their operands are rounded with a relative error of up to 2^-11
//     (TF32) or 2^-8 (BF16) before every product, so an activation's 1e-6 is lost in what they accept.
enum class Activations { Precise, Fast };

inline constexpr float kLog2e = 1.4426950408889634f;

// 1 / (1 + e^-x) on the special-function units. Saturates to exactly 0 and 1 (e^-x past 2^126 gives the
// reciprocal 0). On the host (the CUDA emulation, CPU tests) 2^x and the division are the host's, with
// the device's argument rounding (x log2(e) in fp32) that dominates __expf's error at large |x|.
LSTMAD_CELL_HD float fast_sigmoid(float x) {
#if defined(__CUDA_ARCH__)
  return __fdividef(1.f, 1.f + __expf(-x));
#else
  return 1.f / (1.f + exp2f(-x * kLog2e));
#endif
}

LSTMAD_CELL_HD float fast_tanh(float x) {
  return 2.f * fast_sigmoid(2.f * x) - 1.f;
}

template <Activations A = Activations::Precise>
LSTMAD_CELL_HD float sigmoid(float x) {
  if constexpr (A == Activations::Fast) {
    return fast_sigmoid(x);
  } else {
    return 1.f / (1.f + expf(-x));
  }
}

template <Activations A = Activations::Precise>
LSTMAD_CELL_HD float tanh_act(float x) {
  if constexpr (A == Activations::Fast) {
    return fast_tanh(x);
  } else {
    return tanhf(x);
  }
}

// Gate q's activation: tanh for g (q = 2), the sigmoid for i, f and o.
template <Activations A = Activations::Precise>
LSTMAD_CELL_HD float activate(int q, float pre) {
  return q == 2 ? tanh_act<A>(pre) : sigmoid<A>(pre);
}

// The activated gates -> c_{t-1} -> c_t in place; returns h_t.
template <Activations A = Activations::Precise>
LSTMAD_CELL_HD float update(const float (&gate)[4], float& c) {
  c = fmaf(gate[1], c, gate[0] * gate[2]);
  return gate[3] * tanh_act<A>(c);
}

// Forward: the pre-activations -> the activated gates; c_{t-1} -> c_t in place; returns h_t. Kernels
// that spread a unit's gates over threads call activate() and update() apart, with the same results.
template <Activations A = Activations::Precise>
LSTMAD_CELL_HD float forward(const float (&pre)[4], float (&gate)[4], float& c) {
  gate[0] = activate<A>(0, pre[0]);
  gate[1] = activate<A>(1, pre[1]);
  gate[2] = activate<A>(2, pre[2]);
  gate[3] = activate<A>(3, pre[3]);
  return update<A>(gate, c);
}

// Backward of one step: dh (dLoss/dh_t), the step's activated gates, c_t and c_{t-1}; dc carries
// dLoss/dc from step t+1 in and to step t-1 out; da receives dLoss/d(pre-activation) per gate.
template <Activations A = Activations::Precise>
LSTMAD_CELL_HD void backward(float dh, const float (&gate)[4], float ct, float cp, float& dc,
                             float (&da)[4]) {
  const float ig = gate[0], fg = gate[1], gg = gate[2], og = gate[3];
  const float tc = tanh_act<A>(ct);
  const float dcv = fmaf(dh * og, 1.f - tc * tc, dc);
  da[0] = dcv * gg * ig * (1.f - ig);
  da[1] = dcv * cp * fg * (1.f - fg);
  da[2] = dcv * ig * (1.f - gg * gg);
  da[3] = dh * tc * og * (1.f - og);
  dc = dcv * fg;
}

}  // namespace lstmad::kernels::cell
