// `lstmad detect`: score a series with a finished run's saved models (experiments/detect.hpp).
#include <cmath>
#include <filesystem>
#include <iostream>

#include "core/files.hpp"
#include "experiments/cli.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/detect.hpp"

namespace lstmad::cli {

void add_detect_command(CLI::App& app, Registry& reg) {
  static DetectOptions o;
  static std::string out;
  auto* det = app.add_subcommand(
      "detect",
      "Score a series (new rows of it, or the series itself) with a run's saved models (run.save_models)");
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
  det->add_option("--profile", o.profile, "NAB profile whose corpus-optimal threshold makes alarms")
      ->capture_default_str();
  det->add_option("--threshold", o.threshold, "Alarm threshold on the anomaly score (overrides --profile)")
      ->check(finite_number);
  det->add_option("-j,--jobs", o.threads, "Worker threads (0 = all cores)")->check(thread_count);
  reg.add(det, [] {
    const Detection d = detect(o);
    if (out.empty()) {
      detection_csv(d, [](std::string& text) { std::cout << text; });
    } else {
      const std::filesystem::path p(out);
      if (p.has_parent_path()) files::make_dirs(p.parent_path().string());
      files::AtomicWriter file(out);
      detection_csv(d, [&file](std::string& text) { file.write(text.data(), text.size()); });
      file.commit();
    }
    std::cerr << "detector " << d.detector << ", series " << d.series << " (cell " << d.cell << "), engine "
              << d.engine << ": " << d.data.rows() << " rows, the first " << d.train_rows
              << " the training part"
              << (d.same_training_rows ? " (the rows the models learned)"
                                       : " (not the rows the models learned)");
    if (std::isnan(d.threshold))
      std::cerr << "; no threshold, no alarms\n";
    else
      std::cerr << "; " << d.alarms << " alarm(s) at threshold " << d.threshold << " (" << d.threshold_from
                << ")\n";
    return kOk;
  });
}

}  // namespace lstmad::cli
