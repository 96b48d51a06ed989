// The hidden sizes some time-loop kernels are also compiled for with H a template constant: 16, 32 and 64.
// With H known at compile time the compiler unrolls each dot product whole and may issue a step's shared
// loads ahead of the FMAs that consume them; with H known only at run time each group of k waits for its
// own loads, and a block of one row (one to three warps at these H) has no other warps to hide that
// behind. The constant changes no sum's order, so the instantiations give the generic kernels' bits.
// Plain C++ (host and device).
#pragma once
#include <type_traits>

namespace lstmad::kernels {

// f(std::integral_constant<int, H>{}) for H = 16, 32, 64; f(std::integral_constant<int, 0>{}) otherwise
// (the generic kernels, H read at run time).
template <class F>
decltype(auto) with_const_hidden(int H, F&& f) {
  switch (H) {
    case 16:
      return f(std::integral_constant<int, 16>{});
    case 32:
      return f(std::integral_constant<int, 32>{});
    case 64:
      return f(std::integral_constant<int, 64>{});
    default:
      return f(std::integral_constant<int, 0>{});
  }
}

}  // namespace lstmad::kernels
