// What the kernels with four threads per hidden unit share (lstm_fused_split.cu, lstm_wavefront_split.cu):
// the full-warp mask of their shuffles, a register picked by lane without a local-memory array, and the
// dispatch to the hidden sizes they are instantiated for.
#pragma once
#include "kernels/const_hidden.hpp"

namespace lstmad::kernels::split {

constexpr unsigned kFullWarp = 0xffffffffu;

// v[i] for a lane-dependent i in 0..3 without indexing a register array at run time (which would move it
// to local memory).
__device__ __forceinline__ float pick(const float (&v)[4], int i) {
  return i == 0 ? v[0] : i == 1 ? v[1] : i == 2 ? v[2] : v[3];
}

// f(std::integral_constant<int, H>{}) for H = 16, 32, 64 (kernels/const_hidden.hpp's sizes); nothing for
// another H (the split plans give grid 0 there).
template <class F>
void with_hidden(int H, F&& f) {
  with_const_hidden(H, [&](auto h) {
    if constexpr (decltype(h)::value > 0) f(h);
  });
}

}  // namespace lstmad::kernels::split
