// Normalization fitted on the training rows (see normalize.hpp). Statistics are accumulated in double;
// the mean and variance use two passes, which is exact enough for the 1e6-row series we expect.
#include "data/normalize.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.hpp"

namespace lstmad {
namespace {

struct NormName {
  NormKind kind;
  const char* name;
};
constexpr NormName kNormKinds[] = {
    {NormKind::MinMax, "minmax"}, {NormKind::ZScore, "zscore"}, {NormKind::None, "none"}};

}  // namespace

NormKind parse_norm_kind(const std::string& name) {
  std::string valid;
  for (const auto& k : kNormKinds) {
    if (name == k.name) return k.kind;
    valid += (valid.empty() ? "" : ", ") + std::string(k.name);
  }
  throw ConfigError("unknown normalization \"" + name + "\"; valid: " + valid);
}

std::string to_string(NormKind kind) {
  for (const auto& k : kNormKinds)
    if (k.kind == kind) return k.name;
  return "?";
}

std::vector<std::string> norm_kind_names() {
  std::vector<std::string> out;
  for (const auto& k : kNormKinds) out.emplace_back(k.name);
  return out;
}

Normalizer fit_normalizer(const Series& series, NormKind kind, int fit_rows) {
  const int rows = series.rows();
  if (fit_rows < 1 || fit_rows > rows)
    throw DataError(
        series.source(), 0,
        "normalization needs 1.." + std::to_string(rows) + " training rows, got " + std::to_string(fit_rows));
  Normalizer nz;
  nz.kind = kind;
  nz.fit_rows = fit_rows;
  const int dims = series.dims;
  for (int c = 0; c < dims; ++c) {
    double lo = 0.0, hi = 0.0, sum = 0.0;
    long count = 0;
    for (int r = 0; r < fit_rows; ++r) {
      const double x = series.value(r, c);
      if (!std::isfinite(x)) continue;
      if (count == 0) lo = hi = x;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      sum += x;
      ++count;
    }
    if (count == 0)
      throw DataError(series.source(), 0,
                      "value column " + std::to_string(c + 1) + " has no finite value in the " +
                          std::to_string(fit_rows) + " training rows; fill missing values first");
    double offset = 0.0, scale = 1.0;
    if (kind == NormKind::MinMax) {
      offset = lo;
      scale = hi - lo;
    } else if (kind == NormKind::ZScore) {
      const double n = static_cast<double>(count);
      offset = sum / n;
      double ss = 0.0;
      for (int r = 0; r < fit_rows; ++r) {
        const double x = series.value(r, c);
        if (std::isfinite(x)) ss += (x - offset) * (x - offset);
      }
      scale = std::sqrt(ss / n);
      // Values beyond about 1e154 overflow the squares (and beyond 1e308 / n the sum) though their mean
      // and deviation are doubles: then both are taken again over values divided by the largest one.
      // Only then, so that every other series keeps its statistics to the last bit.
      if ((!std::isfinite(offset) || !std::isfinite(scale)) && std::isfinite(hi - lo)) {
        const double m0 = std::max(std::fabs(lo), std::fabs(hi));
        double scaled_sum = 0.0;
        for (int r = 0; r < fit_rows; ++r)
          if (const double x = series.value(r, c); std::isfinite(x)) scaled_sum += x / m0;
        offset = m0 * (scaled_sum / n);
        const double m1 = std::max(std::fabs(lo - offset), std::fabs(hi - offset));
        double scaled_ss = 0.0;
        for (int r = 0; r < fit_rows; ++r)
          if (const double x = series.value(r, c); std::isfinite(x))
            scaled_ss += ((x - offset) / m1) * ((x - offset) / m1);
        scale = m1 > 0 ? m1 * std::sqrt(scaled_ss / n) : 0.0;
      }
    }
    // Values near the double range (1e308 and -1e308) are finite, but the distance between them is not:
    // every normalized value (x - offset) / scale would be NaN or infinite, the model would only ever see
    // those and the cell end NONFINITE without saying why.
    if ((kind != NormKind::None && !std::isfinite(hi - lo)) || !std::isfinite(scale) ||
        !std::isfinite(offset)) {
      std::ostringstream os;
      os << "value column " << c + 1 << ": the training rows run from " << lo << " to " << hi
         << ", too wide to normalize (the distance between them overflows a double)";
      throw DataError(series.source(), 0, os.str());
    }
    // Relative test: a column at 1e6 with rounding noise of 1e-10 is constant for our purposes.
    const bool constant = kind != NormKind::None && !(scale > 1e-12 * std::max(1.0, std::fabs(offset)));
    if (constant) scale = 1.0;
    nz.offset.push_back(offset);
    nz.scale.push_back(scale);
    nz.constant.push_back(constant);
  }
  return nz;
}

namespace {
// Applies f(value, column) to every value of a series fitted with the same column count.
template <typename F>
void map_values(const Normalizer& nz, Series& series, F f) {
  LSTMAD_CHECK(static_cast<size_t>(series.dims) == nz.offset.size(),
               "normalizer fitted on " + std::to_string(nz.offset.size()) + " columns applied to " +
                   std::to_string(series.dims));
  const int rows = series.rows();
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < series.dims; ++c) {
      double& x = series.values[static_cast<size_t>(r) * series.dims + c];
      x = f(x, c);
    }
}
}  // namespace

void Normalizer::apply(Series& series) const {
  map_values(*this, series, [this](double x, int c) { return forward(x, c); });
}

void Normalizer::invert(Series& series) const {
  map_values(*this, series, [this](double x, int c) { return inverse(x, c); });
}

std::vector<double> Normalizer::inverse_column(const std::vector<double>& z, int col) const {
  std::vector<double> out(z.size());
  for (size_t i = 0; i < z.size(); ++i) out[i] = inverse(z[i], col);
  return out;
}

}  // namespace lstmad
