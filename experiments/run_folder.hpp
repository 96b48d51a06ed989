// What every command that writes a run folder shares (`run`, `rescore`, `merge`): the manifest, the
// series loaded and prepared once per run, and the closing step that turns the cell files into
// results.csv, the NAB scores, table.md, summary.json and report.html.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "experiments/config.hpp"
#include "experiments/corpus.hpp"
#include "experiments/plan.hpp"
#include "experiments/prepare.hpp"
#include "experiments/results.hpp"
#include "experiments/run_series.hpp"
#include "experiments/runner.hpp"

namespace lstmad {

using Clock = std::chrono::steady_clock;
// Seconds since `t0`.
double since(Clock::time_point t0);
// "12.3 s": a phase's time as the log gives it.
std::string seconds_text(double seconds);

// The UTC time now, formatted by strftime's `fmt`.
std::string utc_stamp(const char* fmt);

// This machine's host name (the manifest's, and each resume's: a requeued job may resume elsewhere).
std::string host_name();

// One lstmad process's claim on a run folder while it writes there (run, resume, rescore, merge): a second
// process that would write the same folder is refused, instead of interleaving its cells, manifest and
// tables with the first's (or removing the first's unfinished writes as a killed run's). An flock on
// DIR/.lock, which the kernel releases when the process ends however it ends: a killed run leaves no
// claim to clear by hand. The folder must exist.
class RunFolderLock {
 public:
  explicit RunFolderLock(const std::string& dir);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

 private:
  int fd_ = -1;
};

// Whether folder `dir` holds an lstmad run, its own or another's: its config.json beside the claim file
// (.lock) of the command that writes it or its cells/ (a data set's own config.json, or one beside a
// manifest.json, is not enough). Such a folder's files are outputs, never
// series: a corpus listed from a root above it leaves it out (a run whose --out lies in its own data would
// otherwise read its results.csv and score files as series when resumed, and so would every later run).
bool holds_run(const std::string& dir);

// Removes the temporary files (files::write_atomic's NAME.tmp.PID.N) of writes that a killed process left
// unfinished in folder `dir`: never renamed, so never results. Only lstmad's own (in its subfolders, and
// at the top the files it writes there), whose writer has ended: in a user's existing --out folder
// nothing else is touched, so any command may call it once it holds the folder's RunFolderLock.
// Returns how many went.
int remove_unfinished_writes(const std::string& dir);

// The build that ran a run's last leg (its last resume, else the first leg), as its manifest recorded it;
// hash empty where the manifest does not say or the commit was unknown.
struct LegBuild {
  std::string version, hash;
  std::string text() const { return "lstmad " + (version.empty() ? "" : version + " ") + "(" + hash + ")"; }
};
LegBuild last_leg_build(const json& manifest);

// manifest.json of a run: version, git hash, host, devices, engine, seed, shard, corpus and the SHA-256 of
// every input file.
json manifest_json(const json& cfg, const RunOptions& ro, const Corpus& corpus, const Plan& plan,
                   int threads);

// results.csv, the corpus evaluation (NAB scores, thresholds), table.md, summary.json and report.html, from
// every cell result on disk plus those in memory. A nonempty `partial_reason` (an interrupted run, one
// shard) skips the corpus evaluation and says why in the table.
RunOutcome finalize(const std::string& dir, const json& cfg, const Plan& plan, const RunSeries& series,
                    std::vector<CellResult> in_memory, const ResultsStore& store, double seconds,
                    const std::string& partial_reason);

// Places a cell's result in the plan it is part of: its index, setting, series and that setting's
// detector (a resumed run's series may sort differently, a rescore's settings differ from its source's).
void place_in_plan(CellResult& r, const Plan& plan, const Cell& c);

// Gives a cell's result the identity its plan gives the cell (id, seed) and its place (place_in_plan).
void identify_cell(CellResult& r, const Plan& plan, const Cell& c);

// The wall time a finished run recorded in its summary.json (0 when it has none).
double recorded_wall_seconds(const std::string& dir);

}  // namespace lstmad
