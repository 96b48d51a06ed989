// Gate activations of the CPU LSTM, written as branch-free scalar code so that the compiler vectorizes
// the fused gate loop around them (one pass over i, f, g, o, c, tanh(c), h per row).
//
// float: exp by range reduction (x = n ln2 + r, |r| <= ln2/2, ln2 split in two parts so r is exact to
// float rounding) and a degree-7 Taylor polynomial of e^r, scaled by 2^n through the exponent bits; about
// 1 ulp. sigmoid(x) = 1 / (1 + e^-x) keeps that relative accuracy for every x. tanh(|x|) = (1 - e)/(1 + e)
// with e = e^-2|x| loses digits to cancellation near 0, so below 0.25 an odd Taylor polynomial (to x^11,
// truncation under 1e-8 relative) takes over. Inputs beyond +-87 saturate (exp's range).
// double: the standard library (the accuracy reference must not approximate).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace lstmad::act {

inline float bits_to_float(std::int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

// a * b + c, fused where the target has FMA; elsewhere std::fma would be a library call per element and
// stop the loop from vectorizing, and the plain form is accurate enough (the test covers both).
inline float fmadd(float a, float b, float c) {
#if defined(__FMA__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

inline float exp_approx(float x) {
  // n comes from a clamped copy in which NaN becomes a finite bound; r keeps NaN, so NaN propagates (the
  // trainer detects non-finite data through the loss).
  const float xn = x > -87.0f ? (x < 87.0f ? x : 87.0f) : -87.0f;
  const float xr = std::min(std::max(x, -87.0f), 87.0f);
  // Round x / ln2 to the nearest integer by the 1.5 * 2^23 trick (exact for |x / ln2| < 2^22).
  const float shift = 12582912.0f;
  const float n = (xn * 1.44269504088896341f + shift) - shift;
  const float r = fmadd(-n, 1.428606765330187045e-06f, fmadd(-n, 0.693145751953125f, xr));
  float p = 1.0f / 5040.0f;
  p = fmadd(p, r, 1.0f / 720.0f);
  p = fmadd(p, r, 1.0f / 120.0f);
  p = fmadd(p, r, 1.0f / 24.0f);
  p = fmadd(p, r, 1.0f / 6.0f);
  p = fmadd(p, r, 0.5f);
  p = fmadd(p, r, 1.0f);
  p = fmadd(p, r, 1.0f);
  return p * bits_to_float((static_cast<std::int32_t>(n) + 127) << 23);
}

inline float sigmoid(float x) {
  return 1.0f / (1.0f + exp_approx(-x));
}

inline float tanh(float x) {
  const float ax = std::fabs(x);
  const float e = exp_approx(-2.0f * ax);
  const float big = (1.0f - e) / (1.0f + e);
  const float x2 = x * x;
  // tanh x = x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 - 1382x^11/155925 - ...
  float s = -1382.0f / 155925.0f;
  s = fmadd(s, x2, 62.0f / 2835.0f);
  s = fmadd(s, x2, -17.0f / 315.0f);
  s = fmadd(s, x2, 2.0f / 15.0f);
  s = fmadd(s, x2, -1.0f / 3.0f);
  const float small = fmadd(x * x2, s, x);
  return ax < 0.25f ? small : std::copysign(big, x);
}

inline double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}
inline double tanh(double x) {
  return std::tanh(x);
}

}  // namespace lstmad::act
