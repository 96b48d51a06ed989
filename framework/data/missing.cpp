// Missing-value policies (see missing.hpp). Interpolation is by row index, not by timestamp: rows are the
// unit of everything downstream (windows, NAB scoring), and NAB files may repeat or reorder timestamps.
#include "data/missing.hpp"

#include <cmath>

#include "core/error.hpp"

namespace lstmad {
namespace {

struct PolicyName {
  MissingPolicy policy;
  const char* name;
};
constexpr PolicyName kPolicies[] = {
    {MissingPolicy::Interpolate, "interpolate"},
    {MissingPolicy::CarryForward, "carry_forward"},
    {MissingPolicy::Reject, "reject"},
};

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

namespace {

// Fills the NaN rows of column c among rows [0, end) from the present rows among them only.
int fill_column(Series& series, int c, int end, MissingPolicy policy) {
  const int dims = series.dims;
  auto at = [&](int r) -> double& { return series.values[static_cast<size_t>(r) * dims + c]; };
  int filled = 0;
  int prev = -1;  // last present row
  for (int r = 0; r <= end; ++r) {
    if (r < end && std::isnan(at(r))) continue;
    // Rows prev+1 .. r-1 are a run of missing values (r == end: a trailing run).
    for (int m = prev + 1; m < r; ++m) {
      double v;
      if (prev < 0) {
        v = at(r);  // leading run: both policies take the first present value
      } else if (r == end || policy == MissingPolicy::CarryForward) {
        v = at(prev);
      } else {
        const double t = static_cast<double>(m - prev) / static_cast<double>(r - prev);
        v = at(prev) + t * (at(r) - at(prev));
      }
      at(m) = v;
      ++filled;
    }
    prev = r;
  }
  return filled;
}

bool has_value(const Series& series, int c, int end) {
  for (int r = 0; r < end; ++r)
    if (!std::isnan(series.value(r, c))) return true;
  return false;
}

}  // namespace

int fill_missing(Series& series, MissingPolicy policy, int train_rows) {
  const int rows = series.rows();
  const int dims = series.dims;
  const bool split = train_rows > 0 && train_rows < rows;

  for (int c = 0; c < dims; ++c) {
    if (!has_value(series, c, rows))
      throw DataError(
          series.source(), 0,
          "value column " + std::to_string(c + 1) + " has no values at all (every row is missing)");
    if (split && policy != MissingPolicy::Reject && !has_value(series, c, train_rows))
      throw DataError(series.source(), 0,
                      "value column " + std::to_string(c + 1) + " has no value in the " +
                          std::to_string(train_rows) +
                          " training rows: filling them would copy values of the scored part into training");
  }
  if (policy == MissingPolicy::Reject) {
    // Row-major order finds the first missing value by file line, whatever its column.
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < dims; ++c)
        if (std::isnan(series.value(r, c)))
          throw DataError(series.source(), series.line_of(r),
                          "missing value (row " + std::to_string(r) + ", value column " +
                              std::to_string(c + 1) +
                              ") and the missing-value policy is \"reject\"; use \"interpolate\" or "
                              "\"carry_forward\" to fill it");
    return 0;
  }

  int filled = 0;
  for (int c = 0; c < dims; ++c) {
    // The training rows first, from themselves alone; then the rest, whose left neighbours are now all
    // present, so nothing of the scored part reaches the training rows.
    if (split) filled += fill_column(series, c, train_rows, policy);
    filled += fill_column(series, c, rows, policy);
  }
  return filled;
}

}  // namespace lstmad
