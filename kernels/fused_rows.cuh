// What the FMA time-loop kernels (one block, forward and backward, and their cluster variants) share
// besides the cell math: which batch rows a thread owns, and the host's switch from the plan's rows per
// thread to the kernel instantiated for it.
#pragma once

#include <type_traits>

namespace lstmad::kernels {

// Thread row g of a block of G thread rows owns the block's local rows g, g + G, ..., MAXR slots.
// lr: the local row, clamped into the block so that shared reads stay in bounds; valid: a real batch row
// of this block (a clamped or past-the-end slot computes and writes nothing); grow: its row in the batch.
template <int MAXR>
__device__ __forceinline__ void own_rows(int g, int G, int BB, int row0, int nrows, int (&lr)[MAXR],
                                         bool (&valid)[MAXR], long long (&grow)[MAXR]) {
#pragma unroll
  for (int r = 0; r < MAXR; ++r) {
    const int l = g + G * r;
    valid[r] = l < BB && row0 + l < nrows;
    lr[r] = l < BB ? l : BB - 1;
    grow[r] = row0 + lr[r];
  }
}

// f(std::integral_constant<int, R>{}) for the instantiated rows per thread R (1, 2, or 4 for any other
// plan value, as lstm_fused_plan.hpp rounds max_rows up to one of them).
template <class F>
decltype(auto) with_max_rows(int max_rows, F&& f) {
  switch (max_rows) {
    case 1:
      return f(std::integral_constant<int, 1>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    default:
      return f(std::integral_constant<int, 4>{});
  }
}

}  // namespace lstmad::kernels
