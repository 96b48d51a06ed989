// What the fuzz targets compare results with: equal to the bit, NaN counting as equal to NaN.
#pragma once
#include <cmath>

namespace lstmad::fuzz {

inline bool same_bits(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

}  // namespace lstmad::fuzz
