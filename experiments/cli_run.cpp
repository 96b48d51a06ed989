// `lstmad run`, `merge`, `rescore`, `table` and `report`: the commands that make or read run folders.
#include <cstdlib>
#include <iostream>
#include <optional>

#include "core/error.hpp"
#include "core/files.hpp"
#include "experiments/cli.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/config.hpp"
#include "experiments/merge.hpp"
#include "experiments/report.hpp"
#include "experiments/rescore.hpp"
#include "experiments/runner.hpp"
#include "experiments/table.hpp"

namespace lstmad::cli {

namespace {

ConfigArgs run_args;
std::string out_dir, resume_dir, shard;
int jobs = -1;  // not given: run.threads
bool retry_failed = false, no_progress = false;

// The shard this process runs: --shard, else a Slurm array task's index among its array's tasks:
// (ID - MIN) / STEP of COUNT, so that --array=0-8:2 (tasks 0, 2, ..., 8) makes the shards 0..4 of 5.
void choose_shard(RunOptions& ro) {
  if (!shard.empty()) {
    parse_shard(shard, ro.shard_index, ro.shard_count);
  } else if (const char* id = std::getenv("SLURM_ARRAY_TASK_ID")) {
    const char* count = std::getenv("SLURM_ARRAY_TASK_COUNT");
    const char* min = std::getenv("SLURM_ARRAY_TASK_MIN");
    const char* step = std::getenv("SLURM_ARRAY_TASK_STEP");
    if (step && !*step) step = nullptr;
    if (count && *count) {
      const std::string vars = std::string("SLURM_ARRAY_TASK_ID=") + id +
                               ", SLURM_ARRAY_TASK_COUNT=" + count +
                               (min ? std::string(", SLURM_ARRAY_TASK_MIN=") + min : std::string()) +
                               (step ? std::string(", SLURM_ARRAY_TASK_STEP=") + step : std::string());
      // Whole integers only: atoi would take "x" for task 0 and run another task's shard.
      auto integer = [&](const char* text) {
        const auto v = whole_number<int>(text);
        if (!v)
          throw ConfigError(vars + ": \"" + text +
                            "\" is not an integer; the shard comes from these Slurm variables");
        return *v;
      };
      const int stride = step ? integer(step) : 1;
      const int offset = integer(id) - (min ? integer(min) : 0);
      if (stride < 1) throw ConfigError(vars + ": the array's step must be 1 or more");
      if (offset % stride != 0)
        throw ConfigError(vars + ": ID - MIN is no multiple of the array's step; the shard would be a guess");
      const int index = offset / stride;
      try {
        parse_shard(std::to_string(index) + "/" + std::to_string(integer(count)), ro.shard_index,
                    ro.shard_count);
      } catch (const ConfigError&) {
        throw ConfigError(vars + ": task " + std::to_string(index) + " of " + count +
                          " is no shard (expected 0 <= (ID - MIN) / STEP < COUNT)");
      }
    }
  }
}

int run_command() {
  RunOptions ro;
  json cfg;
  if (!resume_dir.empty()) {
    if (!run_args.path.empty() || !run_args.engine.empty())
      throw ConfigError("--resume takes the config from the run folder; drop the config file and --engine");
    // The folder and its shard are the run's own (its manifest): another would be silently ignored.
    if (!out_dir.empty() || !shard.empty())
      throw ConfigError("--resume continues the run in its own folder and shard; drop --out and --shard");
    ro.resume_dir = resume_dir;
    ro.retry_failed = retry_failed;
    ro.overrides = run_args.sets;  // run.series_memory_mb alone (run_experiment refuses the others)
  } else {
    if (run_args.path.empty()) throw ConfigError("run: give a config file (or --resume RUN_DIR)");
    if (retry_failed)
      throw ConfigError("--retry-failed reruns the failed cells of a run folder: use it with --resume");
    cfg = load_resolved(run_args);
    ro.config_path = run_args.path;
    ro.overrides = run_args.sets;
    if (!run_args.engine.empty()) ro.overrides.push_back("engine.name=" + run_args.engine);
  }
  choose_shard(ro);
  ro.out_dir = out_dir;
  ro.threads = jobs;
  ro.progress = !no_progress;
  RunOutcome out = run_experiment(cfg, ro);
  std::cout << out.table << "\nrun folder: " << out.run_dir << "\n";
  if (out.interrupted) {
    std::cerr << "lstmad: interrupted; finished cells are saved. Resume with: lstmad run --resume "
              << out.run_dir << "\n";
    return 130;
  }
  return out.failed > 0 || out.unscored > 0 ? kFailed : kOk;
}

void add_run_command(CLI::App& app, Registry& reg) {
  auto* run = app.add_subcommand("run", "Run an experiment: train a detector per series and setting, score, report");
  add_config_args(run, run_args, false);
  run->add_option("--out", out_dir, "Run folder (default: <run.out>/<timestamp>-<run.name>)");
  run->add_option("--resume", resume_dir,
                  "Resume this run folder: skip finished cells, run the rest (of --set, it takes "
                  "run.series_memory_mb alone)")
      ->check(CLI::ExistingDirectory);
  run->add_flag("--retry-failed", retry_failed, "With --resume: also rerun cells that ended in an error");
  run->add_option("--shard", shard,
                  "Run every n-th cell starting at i (i/n); default from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT")
      ->type_name("I/N");
  run->add_option("-j,--jobs", jobs,
                  "Worker threads (0 = every CPU this process may use; default: run.threads)")
      ->check(thread_count);
  run->add_flag("--no-progress", no_progress, "No progress line or periodic progress logs");
  reg.add(run, run_command);
}

void add_merge_command(CLI::App& app, Registry& reg) {
  static std::vector<std::string> merge_dirs;
  static std::string merge_out;
  auto* merge = app.add_subcommand("merge", "Combine shard run folders of one config into one run folder");
  merge->add_option("runs", merge_dirs, "Shard run folders")->required()->check(CLI::ExistingDirectory);
  merge->add_option("--out", merge_out, "The merged run folder")->required();
  reg.add(merge, []() -> int {
    RunOutcome out = merge_runs(merge_dirs, merge_out);
    std::cout << out.table << "\nrun folder: " << out.run_dir << "\n";
    if (out.missing > 0) {
      std::cerr << "lstmad: " << out.missing << " cells have no result in these shards\n";
      return kFailed;
    }
    return out.failed > 0 || out.unscored > 0 ? kFailed : kOk;
  });
}

void add_rescore_command(CLI::App& app, Registry& reg) {
  static int rescore_jobs = 0;
  static std::string rescore_dir, rescore_out;
  static std::vector<std::string> rescore_sets, rescore_members;
  auto* rescore = app.add_subcommand(
      "rescore", "Score a finished run again with other detector settings, reusing its trained models' errors");
  rescore->add_option("run", rescore_dir, "Finished run folder")->required()->check(CLI::ExistingDirectory);
  rescore
      ->add_option("--set", rescore_sets,
                   "detector.*, eval.* or run.series_memory_mb override; lists make a grid (repeatable)")
      ->type_name("PATH=VALUE");
  rescore->add_option("--out", rescore_out, "The new run folder")->required();
  rescore->add_option("--member", rescore_members,
                      "Another finished run over the same series (one setting): each row's error becomes the mean "
                      "of all the runs' models' errors, an ensemble; an ensemble run counts as its models "
                      "(repeatable)")
      ->check(CLI::ExistingDirectory);
  rescore->add_option("-j,--jobs", rescore_jobs, "Worker threads (0 = every CPU this process may use)")
      ->check(thread_count);
  // As run's: a script passes both commands the same flags. A rescore shows no progress line.
  rescore->add_flag("--no-progress", "No progress line or periodic progress logs (rescore shows none)");
  reg.add(rescore, []() -> int {
    RunOutcome out = rescore_run(rescore_dir, rescore_sets, rescore_out, rescore_jobs, rescore_members);
    std::cout << out.table << "\nrun folder: " << out.run_dir << "\n";
    return out.failed > 0 || out.unscored > 0 ? kFailed : kOk;
  });
}

void add_table_command(CLI::App& app, Registry& reg) {
  static std::vector<std::string> table_runs;
  static std::string table_nab, table_out;
  auto* table = app.add_subcommand("table", "Markdown table of finished NAB runs beside NAB's scoreboard");
  table->add_option("runs", table_runs, "Finished run folders (runs of one config, differing only in its run section, e.g. seeds, are averaged; other configs get rows of their own)")
      ->required()
      ->check(CLI::ExistingDirectory);
  table->add_option("--nab", table_nab, "NAB folder with results/final_results.json (default: as `run` finds it)");
  table->add_option("--out", table_out, "Also write the table to this file (e.g. docs/results/nab.md)");
  reg.add(table, [] {
    std::optional<files::OutputFile> file;  // a folder is refused before the runs are read
    if (!table_out.empty()) file.emplace(table_out, "--out");
    std::string md = nab_table_markdown(table_runs, table_nab);
    std::cout << md;
    if (file) {
      const std::string text =
          "# lstmad on the Numenta Anomaly Benchmark\n\nGenerated by `lstmad table`.\n\n" + md;
      file->write(text.data(), text.size());
      file->commit();
    }
    return kOk;
  });
}

void add_report_command(CLI::App& app, Registry& reg) {
  static std::string report_dir;
  static ReportOptions options;
  auto* report = app.add_subcommand("report", "Write a run folder's self-contained HTML report (tables and plots)");
  report->add_option("run", report_dir, "Run folder")->required()->check(CLI::ExistingDirectory);
  report->add_option("--out", options.out_file,
                     "Output file (default RUN/report.html); further pages beside it");
  report->add_option("--detector", options.detector,
                     "Detector to plot (default: the best NAB standard score)");
  report
      ->add_option("--per-page", options.per_page,
                   "Series plotted per page (default 100; 0: every plot on one page); page k is "
                   "<out stem>-k.html")
      ->check(CLI::NonNegativeNumber);
  reg.add(report, [] {
    std::cout << write_report(report_dir, options) << "\n";
    return kOk;
  });
}

}  // namespace

void add_run_commands(CLI::App& app, Registry& reg) {
  add_run_command(app, reg);
  add_merge_command(app, reg);
  add_rescore_command(app, reg);
  add_table_command(app, reg);
  add_report_command(app, reg);
}

}  // namespace lstmad::cli
