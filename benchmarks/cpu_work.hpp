// Work counts of one LSTM training step and one forward pass, shared by the CPU benchmarks.
//
// Only the GEMMs are counted (2 M N K flops each), which is where nearly all the arithmetic is; the gate
// math, clipping and Adam are left out, so a FLOP/s computed from these is a lower bound of the arithmetic
// done. Per layer l with input D_l and G = 4H:
//   forward:  2 T B D_l G (input projection) + 2 (T-1) B H G (recurrence)
//   backward: 2 (T-1) B G H (dh) + 2 T B G D_l (dW) + 2 (T-1) B G H (dR) + 2 T B G D_l (dx, layers > 0)
//   head:     2 B H horizon forward, twice that backward.
#pragma once
#include "lstm/shape.hpp"

namespace lstmad::bench {

inline double forward_flops(const ModelShape& s, int T, int B) {
  const double G = 4.0 * s.hidden, H = s.hidden;
  double f = 2.0 * B * H * s.horizon;
  for (int l = 0; l < s.layers; ++l) f += 2.0 * T * B * s.layer_input(l) * G + 2.0 * (T - 1) * B * H * G;
  return f;
}

inline double backward_flops(const ModelShape& s, int T, int B) {
  const double G = 4.0 * s.hidden, H = s.hidden;
  double f = 4.0 * B * H * s.horizon;
  for (int l = 0; l < s.layers; ++l) {
    const double Din = s.layer_input(l);
    f += 4.0 * (T - 1) * B * G * H + 2.0 * T * B * G * Din;
    if (l > 0) f += 2.0 * T * B * G * Din;
  }
  return f;
}

inline double train_step_flops(const ModelShape& s, int T, int B) {
  return forward_flops(s, T, B) + backward_flops(s, T, B);
}

}  // namespace lstmad::bench
