// `lstmad detect`: score a series with a finished run's saved models (experiments/detect.hpp).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>

#include "core/files.hpp"
#include "core/log.hpp"
#include "experiments/cli.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/detect.hpp"

namespace lstmad::cli {

void add_detect_command(CLI::App& app, Registry& reg) {
  static DetectOptions o;
  static std::string out;
  static bool list = false;
  auto* det = app.add_subcommand(
      "detect",
      "Score a series (or the series with new rows appended) with a run's saved models (run.save_models)");
  det->add_option("run", o.run_dir, "Finished run folder whose config had run.save_models true")
      ->required()
      ->check(CLI::ExistingDirectory);
  det->add_option("--detector", o.detector,
                  "Detector (a setting) whose models score (default: the only one)");
  det->add_option(
      "--series", o.series,
      "Corpus id of the series whose models score, e.g. realKnownCause/nyc_taxi.csv (default: the "
      "only one)");
  det->add_option("--file", o.file,
                  "CSV to score, in the corpus' layout: the series with rows appended, or another series "
                  "(default: the series as the corpus holds it)")
      ->check(CLI::ExistingFile);
  det->add_option("--out", out, "Write the CSV here (default: standard output)");
  det->add_option("--engine", o.engine, "Engine that runs the models (default: the run's engine.name)");
  auto* profile = det->add_option(
      "--profile", o.profile, "NAB profile whose corpus-optimal threshold makes alarms (default: standard)");
  det->add_option("--threshold", o.threshold, "Alarm threshold on the anomaly score (instead of --profile's)")
      ->check(finite_number)
      ->excludes(profile);
  det->add_option("--from-row", o.from_row,
                  "Write the rows from this one on (0-based; negative: that many rows from the end), e.g. "
                  "the rows just appended; every row is still scored, from the first")
      ->type_name("ROW");
  det->add_option("--data-root", o.data_root,
                  "Where the run's corpus is now (overrides its data.root: a run moved, or its corpus)")
      ->type_name("DIR");
  det->add_option("--missing", o.missing,
                  "How gaps in the rows are filled (overrides the run's data.missing: interpolate, "
                  "carry_forward, reject)")
      ->type_name("POLICY");
  det->add_option("-j,--jobs", o.threads, "Worker threads (0 = every CPU this process may use)")
      ->check(thread_count);
  det->add_flag("--list", list, "Print the detectors and series whose models the run saved, and exit");
  det->footer(
      "Output (standard output or --out): timestamp,value,anomaly_score,raw_score,alarm,filled. raw_score "
      "is the row's mean absolute prediction error in normalized units (nan where none); alarm is 1 where a "
      "row after the training part scores at or above the threshold, 0 elsewhere, and empty on every row "
      "when no threshold is known; filled is 1 where the row had a missing value, filled as --missing (or "
      "the run's data.missing) says, else 0. A summary line goes to standard error (not with -q). Exit "
      "status: 0 done, 2 a "
      "wrong choice "
      "(detector, series, profile, option, a path that does not exist), 3 a run, model or file that cannot "
      "serve (named). "
      "docs/running.md, \"Saved models and lstmad detect\", has the rest.");
  reg.add(det, [] {
    if (list) {
      for (const auto& [detector, series] : saved_model_list(o.run_dir))
        std::cout << detector << '\t' << series << '\n';
      return kOk;
    }
    std::optional<files::OutputFile> file;  // opened first: a folder is refused before the models run
    if (!out.empty()) file.emplace(out, "--out");
    const Detection d = detect(o);
    if (out.empty()) {
      detection_csv(d, [](std::string& text) {
        std::cout << text;
        check_stdout();
      });
    } else {
      detection_csv(d, [&file](std::string& text) { file->write(text.data(), text.size()); });
      file->commit();
    }
    std::ostringstream line;
    line << "detector " << d.detector << ", series " << d.series << " (cell " << d.cell << "), engine "
         << d.engine << ": " << d.data.rows() << " rows, the first " << d.train_rows << " the training part"
         << (d.same_training_rows ? " (the rows the models learned)" : " (not the rows the models learned)");
    if (d.first_row > 0) line << "; rows " << d.first_row << ".." << d.data.rows() - 1 << " written";
    if (d.filled_rows > 0) line << "; " << d.filled_rows << " row(s) written with a filled value";
    if (std::isnan(d.threshold))
      line << "; no threshold, no alarms";
    else
      line << "; " << d.alarms << " alarm(s) after the training part"
           << (d.first_row > d.train_rows ? " in the rows written" : "") << " at threshold " << d.threshold
           << " (" << d.threshold_from << ")";
    log::info(line.str());
    // NAB's optimizer may find that detecting nothing scores best over the corpus (a threshold above every
    // score, 1.1 as NAB writes it): alarms then never come, however anomalous the rows, which is worth
    // saying rather than leaving a deployment to wonder why.
    double top = -std::numeric_limits<double>::infinity();  // the highest score after the training part
    for (std::size_t r = static_cast<std::size_t>(std::max(d.train_rows, 0)); r < d.scores.size(); ++r)
      top = std::max(top, d.scores[r]);
    // False for a NaN threshold (no alarms are made at all) and where no row follows the training part.
    if (top < d.threshold && std::isfinite(top)) {
      std::ostringstream why;
      why << "no row after the training part reaches threshold " << d.threshold << " (the highest score is "
          << top << ")";
      if (d.threshold > 1.0 && !d.threshold_given)
        why << "; NAB's optimizer found detecting nothing best for this detector over the run's corpus";
      why << "; --threshold sets another";
      log::warn(why.str());
    }
    return kOk;
  });
}

}  // namespace lstmad::cli
