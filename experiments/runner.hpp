// `lstmad run`: config -> plan -> ModelBatches on an engine -> per-cell predictions, scores and metrics
// -> the run folder (config.json, manifest.json, cells/, nab/, results.csv, nab_scores.json,
// nab_thresholds.json, table.md, log.txt). This file opens (or resumes) the folder and picks the cells;
// cell_execution.hpp runs them; run_folder.hpp writes what the cells add up to. rescore.hpp and merge.hpp
// make run folders from finished ones.
//
// Crash safety: each finished cell is one atomic file (cells/<id>.json, after its NAB-format scores), so
// a killed run loses at most the cells in flight and `--resume` reruns only what is missing. SIGINT or
// SIGTERM lets the cells in flight finish, writes the tables and returns; a second signal ends the
// process at once. Shards (--shard i/n, or Slurm array variables) run every n-th cell into their own
// folders, and merge_runs() (merge.hpp) combines them into one run equal to the unsharded one.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "experiments/config.hpp"
#include "lstm/engine.hpp"

namespace lstmad {

struct RunOptions {
  std::string config_path;             // shown in the manifest and messages
  std::string out_dir;                 // explicit run folder; empty: <run.out>/<timestamp>-<run.name>
  std::string resume_dir;              // resume this run folder (its config.json is the config)
  bool retry_failed = false;           // on resume, rerun cells that ended ERROR/NONFINITE/TIMEOUT too
  int threads = -1;                    // overrides run.threads when >= 0 (0: all cores)
  int shard_index = 0, shard_count = 1;
  std::vector<std::string> overrides;  // the --set assignments, recorded in the manifest (on a resume:
                                       // run.series_memory_mb alone, recorded in its leg)
  bool progress = true;                // live progress line on a terminal, periodic log lines elsewhere
};

struct RunOutcome {
  std::string run_dir;
  int cells = 0;      // cells of the plan (or of this shard)
  int ok = 0, failed = 0, skipped = 0, missing = 0;
  int unscored = 0;  // detectors whose NAB scoring failed although all their cells are OK (a damaged file)
  bool interrupted = false;
  json nab_scores;    // {detector: {profile: score}}
  std::string table;
};

RunOutcome run_experiment(const json& resolved, const RunOptions& options);

// The engine options a run of `resolved` uses (engine.*), with `threads` worker threads.
EngineOptions engine_options(const json& resolved, int threads);
// engine.fallback's engine on `device` (at engine.precision where it takes it, else fp32, with a logged
// warning); null when engine.fallback is empty.
std::unique_ptr<Engine> fallback_engine(const json& resolved, int threads, int device);

// Parses "i/n" (0 <= i < n); ConfigError otherwise.
void parse_shard(const std::string& text, int& index, int& count);

// Installs the SIGINT/SIGTERM handlers used by run_experiment (the CLI calls this once).
void install_stop_handlers();
// For tests and embedding: ask a running experiment to stop after the cells in flight.
void request_stop();

}  // namespace lstmad
