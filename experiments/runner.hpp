// `lstmad run`: config -> plan -> ModelBatches on an engine -> per-cell predictions, scores and metrics
// -> the run folder (config, manifest, cells/, nab/, results.csv, nab_scores.json, table.md, log.txt).
// One failing cell never stops the others; each finished cell is on disk before the next batch starts.
#pragma once
#include <string>
#include <vector>

#include "experiments/config.hpp"

namespace lstmad {

struct RunOptions {
  std::string config_path;             // shown in the manifest and messages
  std::string out_dir;                 // explicit run folder; empty: <run.out>/<timestamp>-<run.name>
  int threads = 0;                     // overrides run.threads when > 0
  std::vector<std::string> overrides;  // the --set assignments, recorded in the manifest
  bool print_table = true;
};

struct RunOutcome {
  std::string run_dir;
  int cells = 0, ok = 0, failed = 0;
  json nab_scores;  // {detector: {profile: score}}
  std::string table;
};

RunOutcome run_experiment(const json& resolved, const RunOptions& options);

}  // namespace lstmad
