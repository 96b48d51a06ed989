// Missing values (NaN in Series::values, as the CSV reader marks empty/"nan"/"NA" fields) and the
// configured policy that fills them before normalization. Each value column is handled on its own.
//   interpolate    linear in the row index between the nearest present neighbours; a leading or trailing
//                  run takes the nearest present value
//   carry_forward  the last present value; a leading run takes the first present value
//   reject         DataError naming the file and the 1-based file line (row + 2: the header is line 1) of
//                  the first missing value
// A column with no present value at all is a DataError under every policy.
#pragma once
#include <string>
#include <vector>

#include "data/series.hpp"

namespace lstmad {

enum class MissingPolicy { Interpolate, CarryForward, Reject };

// "interpolate" | "carry_forward" | "reject"; anything else is a ConfigError listing the valid names.
MissingPolicy parse_missing_policy(const std::string& name);
std::string to_string(MissingPolicy policy);
std::vector<std::string> missing_policy_names();

// Number of NaN values in the series.
int count_missing(const Series& series);

// Fills every NaN of `series` in place by `policy`; returns how many values were filled.
int fill_missing(Series& series, MissingPolicy policy);

}  // namespace lstmad
