// The two-layer wavefront's arguments (kernels/lstm_wavefront.hpp) from a stack's parameters and its
// per-layer buffers. One model (FusedLstm) and many (MultiModelBlock) keep the same buffers, y, gates and c
// per layer, and the parameters in ParamLayout's order, so the pointers are taken in one place; what
// differs between them (layer 1's input: gx or x in the loop; where layer 2's gate gradients go) stays
// with the caller.
#pragma once
#include <vector>

#include "core/gpu/device_buffer.hpp"
#include "kernels/lstm_wavefront.hpp"
#include "lstm/shape.hpp"

namespace lstmad {

using LayerBuffers = std::vector<gpu::DeviceBuffer<float>>;  // one per layer

// R1, W2, R2 (both directions read them as stored) and the time steps.
template <class Args>
void set_wavefront_weights(Args& a, const float* theta, const ParamLayout& layout, int T) {
  a.R1 = theta + layout.layer[0].R;
  a.W2 = theta + layout.layer[1].W;
  a.R2 = theta + layout.layer[1].R;
  a.T = T;
}

// The weights, the biases, the outputs y of both layers and the final states; with `training`, the gates
// and cells the backward reads (inference leaves them null, and the kernels store neither). Layer 1's input
// (g.gx1, or g.x, g.W1 and g.D) is the caller's.
inline kernels::WavefrontFwdArgs wavefront_forward_args(const float* theta, const ParamLayout& layout, int T,
                                                        LayerBuffers& y, LayerBuffers& gates, LayerBuffers& c,
                                                        bool training, float* hy, float* cy) {
  const LayerOffsets &o1 = layout.layer[0], &o2 = layout.layer[1];
  kernels::WavefrontFwdArgs a;
  set_wavefront_weights(a, theta, layout, T);
  kernels::wavefront::FwdGlobal& g = a.g;
  g.b1W = theta + o1.bW;
  g.b1R = theta + o1.bR;
  g.b2W = theta + o2.bW;
  g.b2R = theta + o2.bR;
  g.y1 = y[0].data();
  g.y2 = y[1].data();
  if (training) {
    g.gates1 = gates[0].data();
    g.gates2 = gates[1].data();
    g.c1 = c[0].data();
    g.c2 = c[1].data();
  }
  g.hy = hy;
  g.cy = cy;
  return a;
}

// The weights, the forward's gates and cells, the head's dLoss/dh2_T, and where each layer's gate
// gradients go.
inline kernels::WavefrontBwdArgs wavefront_backward_args(const float* theta, const ParamLayout& layout, int T,
                                                         LayerBuffers& gates, LayerBuffers& c,
                                                         const float* dhy, float* dgates1, float* dgates2) {
  kernels::WavefrontBwdArgs a;
  set_wavefront_weights(a, theta, layout, T);
  a.g.gates1 = gates[0].data();
  a.g.gates2 = gates[1].data();
  a.g.c1 = c[0].data();
  a.g.c2 = c[1].data();
  a.g.dhy = dhy;
  a.g.dgates1 = dgates1;
  a.g.dgates2 = dgates2;
  return a;
}

}  // namespace lstmad
