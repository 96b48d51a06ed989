// `lstmad merge`: shard run folders of one config combined into the run the unsharded config would make.
#pragma once
#include <string>
#include <vector>

#include "experiments/runner.hpp"

namespace lstmad {

// Combines shard run folders (same config) into `out_dir`, then writes results.csv, the NAB scores and
// the table over all cells.
RunOutcome merge_runs(const std::vector<std::string>& shard_dirs, const std::string& out_dir);

// The file a merge keeps in its output folder until it has finished: a folder with it is an unfinished
// merge, which the same merge command finishes and `run --resume` refuses.
std::string merge_marker(const std::string& out_dir);
// Throws IoError when `dir` holds an unfinished merge (its marker): the same merge must finish it
// before `then` (e.g. ", then rescore"; empty for none) can read the folder.
void refuse_unfinished_merge(const std::string& dir, const std::string& then = "");

}  // namespace lstmad
