// The order every FMA backward time loop sums a unit's recurrent gradient in (version 1.5): sum over
// m < 4H of R[m][j] dg[m] as four chains, one per gate quarter p (m = p H + k, k < H, in k order, each from
// 0 with fmaf), folded as ((q0 + q1) + q2) + q3. Four chains of H instead of one of 4H: at one row per
// thread (the small batches of one model, where rows spread over the SMs) the step's dependent FMAs fall
// from 4H to H (H = 64: about 1000 cycles of FMA latency to about 250). The one-block (untiled and tiled),
// cluster, split and wavefront kernels all sum so, which makes the first four of them the same bits. Host
// and device: the wavefront's step functions also run on the host in its test.
#pragma once

#if defined(__CUDACC__)
#define LSTMAD_ORDER_HD __host__ __device__ __forceinline__
#else
#define LSTMAD_ORDER_HD inline
#endif

namespace lstmad::kernels {

// The fold after quarter p's chain: fold_quarter applied for p = 0, 1, 2, 3 in turn gives fold_quarters,
// for kernels that run the quarters one after another.
LSTMAD_ORDER_HD float fold_quarter(float sum, float q, int p) {
  return p == 0 ? q : sum + q;
}
LSTMAD_ORDER_HD float fold_quarters(float q0, float q1, float q2, float q3) {
  return ((q0 + q1) + q2) + q3;
}

}  // namespace lstmad::kernels
