// `lstmad rescore`: score a finished run again with other detector settings, without training.
#pragma once
#include <string>
#include <vector>

#include "experiments/runner.hpp"

namespace lstmad {

// Scores a finished run again with other detector.* / eval.* settings (lists and grids allowed), reusing
// its trained models' prediction errors (the raw_score column of its NAB-format files): no training.
// With `members` (other finished runs over the same series, one model per series each, e.g. another
// window), each row's error is the mean of the source's and the members' errors (NaN where any of them
// has none): an ensemble of their models, scored by the detector. summary.json's wall_seconds then
// include the source's and the members' own.
RunOutcome rescore_run(const std::string& src_dir, const std::vector<std::string>& overrides,
                       const std::string& out_dir, int threads = 0,
                       const std::vector<std::string>& members = {});

}  // namespace lstmad
