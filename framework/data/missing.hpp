// Missing values (NaN in Series::values, as the CSV reader marks empty/"nan"/"NA" fields) and the
// configured policy that fills them before normalization. Each value column is handled on its own.
//   interpolate    linear in the row index between the nearest present neighbours; a leading or trailing
//                  run takes the nearest present value
//   carry_forward  the last present value; a leading run takes the first present value
//   reject         DataError naming the file and the file line (Series::line_of) of the first missing value
// A column with no present value at all is a DataError under every policy.
// Given the training part's length P, rows [0, P) are filled from rows [0, P) alone (a trailing run there
// takes the last training value), so that no value of the scored part reaches training or the
// normalization's statistics; a column with no value in [0, P) is then a DataError. The scored rows are
// filled after them: carry_forward stays causal there, interpolate looks ahead to the next present value.
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

// Fills every NaN of `series` in place by `policy`; returns how many values were filled. train_rows > 0
// (and below the row count) fills the training part from itself first, as above.
int fill_missing(Series& series, MissingPolicy policy, int train_rows = 0);

}  // namespace lstmad
