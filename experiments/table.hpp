// `lstmad table`: our detectors' NAB scores beside NAB's scoreboard (results/final_results.json), for the
// three standard profiles, with the engine and the runtime. Several runs of one config (different run
// seeds) are combined per detector: the mean is the claimed score, the spread (min..max, sample standard
// deviation) is shown beside it.
#pragma once
#include <string>
#include <vector>

namespace lstmad {

// nab_root: the NAB folder with results/final_results.json ("" = look for it as `lstmad run` does).
std::string nab_table_markdown(const std::vector<std::string>& run_dirs, const std::string& nab_root);

}  // namespace lstmad
