// Shared helpers for the GPU tests: the device gate (skip with a reason, or fail under
// LSTMAD_STRICT_GPU=1), seeded random data, and error measures with messages that name the shape.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "core/gpu/device.hpp"
#include "core/rng.hpp"

namespace lstmad::test {

inline bool strict_gpu() {
  const char* v = std::getenv("LSTMAD_STRICT_GPU");
  return v != nullptr && std::string(v) == "1";
}

inline bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::string(v) == "1";
}

// Uniform in [lo, hi), seeded.
inline std::vector<float> random_vector(std::size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.uniform(lo, hi));
  return v;
}

struct ErrorStats {
  double rel_frobenius = 0.0;  // ||a - ref|| / ||ref||
  double max_abs = 0.0;
  double ref_norm = 0.0;
  bool finite = true;
  std::string str() const {
    std::ostringstream os;
    os << "rel Frobenius " << rel_frobenius << ", max |diff| " << max_abs << ", ||ref|| " << ref_norm
       << (finite ? "" : ", NON-FINITE values");
    return os.str();
  }
};

template <typename A, typename B>
ErrorStats compare(const A* a, const B* ref, std::size_t n) {
  ErrorStats s;
  double diff2 = 0.0, ref2 = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(a[i]), r = static_cast<double>(ref[i]);
    if (!std::isfinite(x)) s.finite = false;
    const double d = x - r;
    diff2 += d * d;
    ref2 += r * r;
    s.max_abs = std::max(s.max_abs, std::fabs(d));
  }
  s.ref_norm = std::sqrt(ref2);
  s.rel_frobenius = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
  return s;
}

// 0 == 0 checks nothing: every compared output must be finite and not all zero.
template <typename T>
bool finite_and_nonzero(const T* a, std::size_t n) {
  bool nonzero = false;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(static_cast<double>(a[i]))) return false;
    if (a[i] != T(0)) nonzero = true;
  }
  return nonzero;
}

}  // namespace lstmad::test

// First statement of every GPU test.
#define LSTMAD_REQUIRE_GPU()                                                        \
  do {                                                                              \
    std::string lstmad_gpu_reason_;                                                 \
    if (!::lstmad::gpu::device_available(0, &lstmad_gpu_reason_)) {                 \
      if (::lstmad::test::strict_gpu()) {                                           \
        FAIL() << "no CUDA device and LSTMAD_STRICT_GPU=1: " << lstmad_gpu_reason_; \
      } else {                                                                      \
        GTEST_SKIP() << "no CUDA device: " << lstmad_gpu_reason_;                   \
      }                                                                             \
    }                                                                               \
  } while (0)
