// Evaluation of a run: the field's metrics per series (cell), NAB's corpus-wide scoring per detector
// (one detector = one setting over every series), and the summary table printed at the end of a run.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "eval/nab_scorer.hpp"
#include "experiments/config.hpp"
#include "experiments/corpus.hpp"
#include "experiments/plan.hpp"
#include "experiments/prepare.hpp"
#include "experiments/results.hpp"

namespace lstmad {

// Metrics of one series' scores against its labels, over the rows after p.score_begin.
std::vector<std::pair<std::string, double>> series_metrics(const PreparedSeries& p, const std::vector<double>& scores,
                                                           const json& config);

struct CorpusEvaluation {
  json nab_scores = json::object();      // {detector: {profile: normalized score}} (final_results.json shape)
  json nab_thresholds = json::object();  // {detector: {profile: {"threshold": t, "score": raw}}}
  std::map<std::string, std::string> skipped;  // detector -> why it has no NAB score
  // Detectors whose cells all finished OK but whose scoring failed (a result file missing or damaged, bad
  // windows): unlike a failed or missing cell, nothing else counts these.
  int failed = 0;
};

// The NAB profiles that eval.profiles names (NAB's three when it is empty), read and checked; ConfigError
// naming eval.profiles and the file otherwise. `run`, `rescore` and `validate` call it before anything is
// trained or written, so that a wrong path fails at once rather than after the last cell.
std::vector<NabProfile> eval_profiles(const json& config);

// NAB optimisation per detector over the corpus (needs every cell of the detector OK); writes
// nab_scores.json, nab_thresholds.json and nab/<detector>/<detector>_<profile>_scores.csv into the run.
// `windows` holds each series' label windows as rows (from the prepared series); any labeled corpus is
// scored, NAB's own or another (its windows taken as they are). Without a window anywhere, nothing is.
CorpusEvaluation evaluate_corpus(const Plan& plan, const std::vector<CellResult>& cells,
                                 const std::map<std::string, std::vector<LabelWindow>>& windows,
                                 const json& config, const ResultsStore& store);

// Markdown: one row per detector (setting) with its grid values, cells OK/failed, NAB scores per profile,
// mean per-series metrics, and timings.
std::string summary_table(const Plan& plan, const std::vector<CellResult>& cells, const CorpusEvaluation& ev,
                          const json& config, double seconds);

}  // namespace lstmad
