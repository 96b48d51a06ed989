// `lstmad run`, `lstmad validate`, `lstmad plan` and `lstmad config-reference`.
#include <cstdlib>
#include <iostream>

#include "core/error.hpp"
#include "core/log.hpp"
#include "experiments/cli.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/config.hpp"
#include "experiments/corpus.hpp"
#include "experiments/plan.hpp"
#include "experiments/runner.hpp"

namespace lstmad::cli {
namespace {

struct ConfigArgs {
  std::string path;
  std::vector<std::string> sets;
  std::string engine;
};

void add_config_args(CLI::App* sub, ConfigArgs& a) {
  sub->add_option("config", a.path, "Experiment config (JSON)")->required()->check(CLI::ExistingFile);
  sub->add_option("--set", a.sets, "Override a key: --set model.hidden=32 (repeatable)")->type_name("PATH=VALUE");
  sub->add_option("--engine", a.engine, "Shorthand for --set engine.name=NAME");
}

json load_resolved(const ConfigArgs& a) {
  json user = read_config_file(a.path);
  for (const auto& s : a.sets) apply_override(user, s);
  if (!a.engine.empty()) apply_override(user, "engine.name=\"" + a.engine + "\"");
  return resolve_config(user, a.path);
}

}  // namespace

void add_run_commands(CLI::App& app, Registry& reg) {
  static ConfigArgs run_args, validate_args, plan_args;
  static std::string out_dir, resume_dir, shard;
  static int jobs = 0;
  static bool retry_failed = false, no_progress = false;

  auto* run = app.add_subcommand("run", "Run an experiment: train a detector per series and setting, score, report");
  run->add_option("config", run_args.path, "Experiment config (JSON); not needed with --resume")->check(CLI::ExistingFile);
  run->add_option("--set", run_args.sets, "Override a key: --set model.hidden=32 (repeatable)")->type_name("PATH=VALUE");
  run->add_option("--engine", run_args.engine, "Shorthand for --set engine.name=NAME");
  run->add_option("--out", out_dir, "Run folder (default: <run.out>/<timestamp>-<run.name>)");
  run->add_option("--resume", resume_dir, "Resume this run folder: skip finished cells, run the rest")->check(CLI::ExistingDirectory);
  run->add_flag("--retry-failed", retry_failed, "With --resume: also rerun cells that ended in an error");
  run->add_option("--shard", shard,
                  "Run every n-th cell starting at i (i/n); default from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT")
      ->type_name("I/N");
  run->add_option("-j,--jobs", jobs, "Worker threads (default: run.threads, 0 = all cores)")->check(CLI::NonNegativeNumber);
  run->add_flag("--no-progress", no_progress, "No progress line or periodic progress logs");
  reg.add(run, []() -> int {
    RunOptions ro;
    json cfg;
    if (!resume_dir.empty()) {
      if (!run_args.path.empty() || !run_args.sets.empty() || !run_args.engine.empty())
        throw ConfigError("--resume takes the config from the run folder; drop the config file, --set and --engine");
      ro.resume_dir = resume_dir;
      ro.retry_failed = retry_failed;
    } else {
      if (run_args.path.empty()) throw ConfigError("run: give a config file (or --resume RUN_DIR)");
      cfg = load_resolved(run_args);
      ro.config_path = run_args.path;
      ro.overrides = run_args.sets;
      if (!run_args.engine.empty()) ro.overrides.push_back("engine.name=" + run_args.engine);
    }
    if (!shard.empty()) {
      parse_shard(shard, ro.shard_index, ro.shard_count);
    } else if (const char* id = std::getenv("SLURM_ARRAY_TASK_ID")) {
      const char* count = std::getenv("SLURM_ARRAY_TASK_COUNT");
      const char* min = std::getenv("SLURM_ARRAY_TASK_MIN");
      if (count && *count) {
        int base = min && *min ? std::atoi(min) : 0;
        parse_shard(std::to_string(std::atoi(id) - base) + "/" + count, ro.shard_index, ro.shard_count);
      }
    }
    ro.out_dir = out_dir;
    ro.threads = jobs;
    ro.progress = !no_progress;
    RunOutcome out = run_experiment(cfg, ro);
    std::cout << out.table << "\nrun folder: " << out.run_dir << "\n";
    if (out.interrupted) {
      std::cerr << "lstmad: interrupted; finished cells are saved. Resume with: lstmad run --resume " << out.run_dir << "\n";
      return 130;
    }
    return out.failed > 0 ? kFailed : kOk;
  });

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
    return out.failed > 0 ? kFailed : kOk;
  });

  auto* validate = app.add_subcommand("validate", "Check a config and print it with every default filled in");
  add_config_args(validate, validate_args);
  reg.add(validate, [] {
    json cfg = load_resolved(validate_args);
    std::cout << cfg.dump(2) << "\n";
    std::cerr << validate_args.path << ": valid, " << expand_settings(cfg).size() << " setting(s)\n";
    return kOk;
  });

  auto* plan = app.add_subcommand("plan", "Print the cells an experiment would run, without running anything");
  add_config_args(plan, plan_args);
  reg.add(plan, [] {
    json cfg = load_resolved(plan_args);
    std::vector<std::string> series;
    std::string fmt = at_path(cfg, "data.format").get<std::string>();
    if (fmt == "synthetic") {
      // The synthetic corpus is generated at run time; count its series without writing it.
      series.push_back("(synthetic corpus, generated at run time)");
    } else {
      Corpus c = resolve_corpus(cfg, "");
      series = c.series;
    }
    Plan p = make_plan(cfg, series);
    std::cout << "settings: " << p.settings.size() << "\nseries: " << p.series.size() << "\n";
    for (const auto& s : p.settings) {
      std::cout << "  " << s.detector << " (" << s.id << ")";
      if (!s.axes.empty()) std::cout << " " << s.axes.dump();
      std::cout << "\n";
    }
    if (fmt != "synthetic") std::cout << "cells: " << p.cells.size() << "\n";
    return kOk;
  });

  auto* ref = app.add_subcommand("config-reference", "Print the configuration reference (docs/config.md)");
  reg.add(ref, [] {
    std::cout << config_reference_markdown();
    return kOk;
  });
}

}  // namespace lstmad::cli
