// Missing-value policies (see missing.hpp). Interpolation is by row index, not by timestamp: rows are the
// unit of everything downstream (windows, NAB scoring), and NAB files may repeat or reorder timestamps.
#include "data/missing.hpp"

#include <cmath>

#include "core/error.hpp"

namespace lstmad {
namespace {

struct Named {
  MissingPolicy policy;
  const char* name;
};
constexpr Named kPolicies[] = {
    {MissingPolicy::Interpolate, "interpolate"},
    {MissingPolicy::CarryForward, "carry_forward"},
    {MissingPolicy::Reject, "reject"},
};

std::string where(const Series& s) {
  return s.path.empty() ? s.name : s.path;
}

}  // namespace

MissingPolicy parse_missing_policy(const std::string& name) {
  std::string valid;
  for (const auto& p : kPolicies) {
    if (name == p.name) return p.policy;
    valid += (valid.empty() ? "" : ", ") + std::string(p.name);
  }
  throw ConfigError("unknown missing-value policy \"" + name + "\"; valid: " + valid);
}

std::string to_string(MissingPolicy policy) {
  for (const auto& p : kPolicies)
    if (p.policy == policy) return p.name;
  return "?";
}

std::vector<std::string> missing_policy_names() {
  std::vector<std::string> out;
  for (const auto& p : kPolicies) out.emplace_back(p.name);
  return out;
}

int count_missing(const Series& series) {
  int n = 0;
  for (double v : series.values) n += std::isnan(v) ? 1 : 0;
  return n;
}

int fill_missing(Series& series, MissingPolicy policy) {
  const int rows = series.rows();
  const int dims = series.dims;
  auto at = [&](int r, int c) -> double& { return series.values[static_cast<size_t>(r) * dims + c]; };

  for (int c = 0; c < dims; ++c) {
    int first_present = -1;
    for (int r = 0; r < rows && first_present < 0; ++r)
      if (!std::isnan(at(r, c))) first_present = r;
    if (first_present < 0)
      throw DataError(
          where(series), 0,
          "value column " + std::to_string(c + 1) + " has no values at all (every row is missing)");
  }
  if (policy == MissingPolicy::Reject) {
    // Row-major order finds the first missing value by file line, whatever its column.
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < dims; ++c)
        if (std::isnan(at(r, c)))
          throw DataError(where(series), r + 2,
                          "missing value (row " + std::to_string(r) + ", value column " +
                              std::to_string(c + 1) +
                              ") and the missing-value policy is \"reject\"; use \"interpolate\" or "
                              "\"carry_forward\" to fill it");
    return 0;
  }

  int filled = 0;
  for (int c = 0; c < dims; ++c) {
    int prev = -1;  // last present row
    for (int r = 0; r <= rows; ++r) {
      if (r < rows && std::isnan(at(r, c))) continue;
      // Rows prev+1 .. r-1 are a run of missing values (r == rows: a trailing run).
      for (int m = prev + 1; m < r; ++m) {
        double v;
        if (prev < 0) {
          v = at(r, c);  // leading run: both policies take the first present value
        } else if (r == rows || policy == MissingPolicy::CarryForward) {
          v = at(prev, c);
        } else {
          const double t = static_cast<double>(m - prev) / static_cast<double>(r - prev);
          v = at(prev, c) + t * (at(r, c) - at(prev, c));
        }
        at(m, c) = v;
        ++filled;
      }
      prev = r;
    }
  }
  return filled;
}

}  // namespace lstmad
