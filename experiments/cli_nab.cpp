// `lstmad nab score` and `lstmad nab optimize`: NAB v1.1 scoring of detectors' result folders in NAB's
// layout. stdout carries only the JSON result; progress and per-detector errors go to stderr.
#include <iostream>
#include <memory>

#include "core/files.hpp"
#include "eval/nab_corpus.hpp"
#include "experiments/cli.hpp"
#include "experiments/cli_common.hpp"

namespace lstmad::cli {
namespace {

struct NabArgs {
  NabBatchOptions batch;
  std::string out;
};

void add_common(CLI::App* sub, NabArgs& a) {
  sub->add_option("--nab", a.batch.nab_root, "NAB root: data/, labels/, config/")
      ->required()
      ->check(CLI::ExistingDirectory)
      ->type_name("NAB_ROOT");
  sub->add_option(
         "--results", a.batch.results_dir,
         "Results folder in NAB's layout: <detector>/<category>/<detector>_<name>.csv, one folder per "
         "detector; each file needs an anomaly_score column and one row per data row")
      ->required()
      ->check(CLI::ExistingDirectory)
      ->type_name("RESULTS_DIR");
  sub->add_option("--out", a.out, "Also write the JSON printed on stdout to FILE")->type_name("FILE");
  sub->add_option(
         "--write-scores", a.batch.write_scores_dir,
         "Write NAB's summary files DIR/<detector>/<detector>_<profile>_scores.csv (per-file threshold, "
         "score and TP/TN/FP/FN rows, then Totals)")
      ->type_name("DIR");
  sub->add_option(
         "--windows", a.batch.windows_path,
         "Label windows file; its keys are the files scored (default NAB_ROOT/labels/combined_windows.json)")
      ->check(CLI::ExistingFile)
      ->type_name("WINDOWS_JSON");
  sub->add_option(
         "--profiles", a.batch.profiles_path,
         "Profiles file in profiles.json's format (default NAB_ROOT/config/profiles.json, else NAB's "
         "standard, reward_low_FP_rate and reward_low_FN_rate)")
      ->check(CLI::ExistingFile)
      ->type_name("PROFILES_JSON");
  sub->add_option("--detector", a.batch.detectors,
                  "Score only this detector folder (repeatable; default: all)")
      ->type_name("NAME");
}

// --out opened before the scoring (a folder is refused at once), or none; --write-scores' folder made
// (a file there is refused at once, not once per detector).
std::unique_ptr<files::OutputFile> open_out(const NabArgs& a) {
  if (!a.batch.write_scores_dir.empty()) files::make_dirs(a.batch.write_scores_dir);
  return a.out.empty() ? nullptr : std::make_unique<files::OutputFile>(a.out, "--out");
}

int finish(files::OutputFile* out, const std::vector<NabDetectorReport>& reports, const std::string& json) {
  if (out) {
    out->write(json.data(), json.size());
    out->commit();
  }
  std::cout << json << std::flush;
  int failed = 0;
  for (const auto& r : reports)
    if (!r.ok()) {
      std::cerr << "lstmad: detector " << r.detector << " was not scored: " << r.error << "\n";
      ++failed;
    }
  return failed ? kFailed : kOk;
}

}  // namespace

void add_nab_commands(CLI::App& app, Registry& reg) {
  auto* nab = app.add_subcommand("nab", "Score detectors' NAB result files exactly as NAB v1.1 does");
  nab->require_subcommand(1);

  auto score_args = std::make_shared<NabArgs>();
  auto* score = nab->add_subcommand(
      "score",
      "Score every detector of RESULTS_DIR at given thresholds; print final_results.json-style scores");
  score->footer(
      "Scores every detector folder of RESULTS_DIR at the thresholds given per detector and profile in "
      "THRESHOLDS_JSON (NAB's config/thresholds.json format), as NAB's scoring step does, and prints the "
      "normalized 0-100 scores as JSON shaped like NAB's results/final_results.json: {detector: {profile: "
      "score}}. A detector whose files cannot be scored is reported on stderr and left out; the exit code is "
      "then 1.\n\nExample:\n  lstmad nab score --nab ../shared/nab --results nab-results "
      "--thresholds ../shared/nab/config/thresholds.json --write-scores nab-results");
  add_common(score, *score_args);
  score
      ->add_option("--thresholds", score_args->batch.thresholds_path,
                   "Thresholds file: {detector: {profile: {\"threshold\": t, ...}}}")
      ->required()
      ->check(CLI::ExistingFile)
      ->type_name("THRESHOLDS_JSON");
  reg.add(score, [score_args] {
    const auto out = open_out(*score_args);
    auto reports = nab_score_results(score_args->batch);
    return finish(out.get(), reports, nab_results_json(reports));
  });

  auto opt_args = std::make_shared<NabArgs>();
  auto* optimize = nab->add_subcommand(
      "optimize",
      "Find every detector's best threshold per profile (NAB's exhaustive sweep); print them as JSON");
  optimize->footer(
      "Finds each detector's best threshold per profile by NAB's exhaustive sweep over every distinct "
      "anomaly "
      "score of the whole corpus (ties go to the highest threshold), the number a new detector gets on NAB's "
      "scoreboard, and prints {detector: {profile: {\"threshold\": t, \"score\": raw corpus score, "
      "\"normalized\": 0-100 score}}}, which is also a valid THRESHOLDS_JSON for `nab score`. --write-scores "
      "writes the summary files at those thresholds.\n\nExample:\n  lstmad nab optimize --nab ../shared/nab "
      "--results nab-results --detector numenta");
  add_common(optimize, *opt_args);
  reg.add(optimize, [opt_args] {
    const auto out = open_out(*opt_args);
    auto reports = nab_optimize_results(opt_args->batch);
    return finish(out.get(), reports, nab_thresholds_json(reports));
  });
}

}  // namespace lstmad::cli
