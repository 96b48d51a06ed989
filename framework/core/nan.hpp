#pragma once
// The quiet NaN that marks an undefined value throughout the detectors and metrics (a score before the
// first full window, a metric without positives), one definition for the files that use it.
#include <limits>

namespace lstmad {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace lstmad
