// `lstmad run`, `lstmad validate`, `lstmad plan` and `lstmad config-reference`.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "data/series.hpp"
#include "data/synthetic.hpp"
#include "experiments/cli.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/config.hpp"
#include "experiments/corpus.hpp"
#include "experiments/merge.hpp"
#include "experiments/plan.hpp"
#include "experiments/prepare.hpp"
#include "experiments/report.hpp"
#include "experiments/rescore.hpp"
#include "experiments/runner.hpp"
#include "experiments/scheduler.hpp"
#include "experiments/table.hpp"
#include "lstm/engine.hpp"
#include "lstm/shape.hpp"
#include "train/checkpoint.hpp"

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
      // The folder and its shard are the run's own (its manifest): another would be silently ignored.
      if (!out_dir.empty() || !shard.empty())
        throw ConfigError("--resume continues the run in its own folder and shard; drop --out and --shard");
      ro.resume_dir = resume_dir;
      ro.retry_failed = retry_failed;
    } else {
      if (run_args.path.empty()) throw ConfigError("run: give a config file (or --resume RUN_DIR)");
      if (retry_failed) throw ConfigError("--retry-failed reruns the failed cells of a run folder: use it with --resume");
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
    return out.failed > 0 || out.unscored > 0 ? kFailed : kOk;
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
    return out.failed > 0 || out.unscored > 0 ? kFailed : kOk;
  });

  auto* validate = app.add_subcommand("validate", "Check a config and print it with every default filled in");
  add_config_args(validate, validate_args);
  reg.add(validate, [] {
    json cfg = load_resolved(validate_args);
    std::cout << cfg.dump(2) << "\n";
    // A setting whose members cannot run (setting_problem) fails all its cells whatever the series: named
    // as `plan` names it.
    const Plan p = make_plan(cfg, {});
    int cannot = 0;
    for (const Setting& s : p.settings)
      if (const std::string why = setting_problem(s.values); !why.empty()) {
        std::cerr << validate_args.path << ": setting " << s.index << ", " << s.detector << " (" << s.id
                  << "), cannot run: " << why << "\n";
        ++cannot;
      }
    if (cannot > 0) {
      std::cerr << validate_args.path << ": " << cannot << " of " << p.settings.size()
                << " setting(s) cannot run; their cells would fail\n";
      return kFailed;
    }
    std::cerr << validate_args.path << ": valid, " << p.settings.size() << " setting(s)\n";
    return kOk;
  });

  auto* plan = app.add_subcommand("plan", "Print the cells, ModelBatch groups and estimated work of an experiment, without running it");
  add_config_args(plan, plan_args);
  reg.add(plan, [] {
    json cfg = load_resolved(plan_args);
    // Each series prepared as a run prepares it (experiments/prepare.hpp), to estimate the work: its rows,
    // its training part and its model inputs (its columns plus 2 per calendar input it gets). A synthetic
    // corpus is generated in memory only.
    struct Facts {
      int rows = 0, train_end = 0, own_dims = 1, inputs = 1;
    };
    std::vector<std::string> series;
    std::map<std::string, Facts> facts;
    TimestampOrderTally tally;
    auto note = [&](const std::string& id, Series s, int train_rows) {
      tally.add(s);
      const int own = s.dims;
      const PreparedSeries prepared = prepare_series(std::move(s), cfg, train_rows);
      facts[id] = {prepared.series.rows(), prepared.train_end, own, prepared.input_dims};
    };
    if (at_path(cfg, "data.format").get<std::string>() == "synthetic") {
      SyntheticOptions o;
      o.seed = at_path(cfg, "data.synthetic.seed").get<uint64_t>();
      o.series_per_kind = at_path(cfg, "data.synthetic.series_per_kind").get<int>();
      o.length = at_path(cfg, "data.synthetic.length").get<int>();
      std::vector<SyntheticSeries> generated = generate_synthetic(o);
      std::vector<std::string> ids;
      for (const auto& s : generated) ids.push_back(s.series.name);
      // data.files and data.max_files select from it as a run does.
      series = select_corpus_series(ids, cfg, "the synthetic corpus");
      for (auto& s : generated) {
        if (!std::binary_search(series.begin(), series.end(), s.series.name)) continue;
        const std::string id = s.series.name;  // copied: the series itself is moved into note
        note(id, std::move(s.series), -1);
      }
    } else {
      Corpus c = resolve_corpus(cfg, "");
      series = c.series;
      for (const auto& id : series) {
        try {
          int train_rows = -1;
          Series s = c.load(id, &train_rows);
          note(id, std::move(s), train_rows);
        } catch (const std::exception& e) {
          std::cerr << "warning: " << e.what() << "\n";
        }
      }
      if (const std::string t = tally.summary(facts.size()); !t.empty()) std::cerr << "warning: " << t << "\n";
    }
    Plan p = make_plan(cfg, series);
    std::cout << p.cells.size() << " cells = " << p.settings.size() << " setting(s) x " << p.series.size()
              << " series\n\nSettings:\n";
    double total_flops = 0, total_forecast_flops = 0, saved_bytes = 0;
    long long saved_models = 0;
    int calendar_series = 0;
    for (const auto& [id, f] : facts) calendar_series += f.inputs > f.own_dims;
    const int own_dims = facts.empty() ? 1 : facts.begin()->second.own_dims;
    for (const auto& s : p.settings) {
      const std::vector<json> members = ensemble_members(s.values);
      double flops = 0, forecast_flops = 0;
      for (const json& m : members) {
        const int T = at_path(m, "model.window").get<int>();
        const int epochs = at_path(m, "train.epochs").get<int>();
        for (const auto& [id, f] : facts) {
          const ModelShape shape = setting_shape(m, f.inputs);
          // Forward FLOPs of one window: T steps of the 4 gate GEMVs per layer, plus the head.
          double fwd = 2.0 * shape.hidden * shape.horizon;
          for (int l = 0; l < shape.layers; ++l) fwd += 2.0 * T * 4 * shape.hidden * (shape.layer_input(l) + shape.hidden);
          double train_windows = std::max(0, f.train_end - T - shape.horizon + 1);
          // Training (at most: every epoch) and the forecasts scored (a window per row after the first T).
          flops += 3.0 * fwd * train_windows * epochs;
          forecast_flops += fwd * std::max(0, f.rows - T);
          saved_bytes += static_cast<double>(checkpoint_file_size(shape));
          ++saved_models;
        }
      }
      total_flops += flops;
      total_forecast_flops += forecast_flops;
      std::cout << "  " << s.detector << " (" << s.id << ") " << setting_shape(s.values, own_dims).str();
      if (members.size() > 1)
        std::cout << ", an ensemble of " << members.size() << " models per series " << s.values.at("ensemble").dump();
      else
        std::cout << " T=" << at_path(s.values, "model.window").get<int>();
      std::cout << ", " << p.series.size() * members.size() << " models";
      if (!s.axes.empty()) std::cout << ", " << s.axes.dump();
      std::cout << ", at most " << (flops + forecast_flops) / 1e12 << " TFLOP\n";
    }
    if (!at_path(cfg, "data.time_features").empty())
      std::cout << "  calendar inputs " << at_path(cfg, "data.time_features").dump() << " for " << calendar_series
                << " of " << facts.size() << " series (D above is the series' own columns)\n";
    // The scheduler's groups (experiments/scheduler.hpp): models of one shape, window, minibatch size and
    // retraining schedule share ModelBatches, whatever their setting, ensemble member or series.
    std::map<BatchKey, std::pair<int, std::set<int>>> groups;
    for (const auto& s : p.settings)
      for (const json& m : ensemble_members(s.values))
        for (const auto& [id, f] : facts) {
          auto& g = groups[batch_key(m, f.inputs)];
          g.first += 1;
          g.second.insert(s.index);
        }
    const std::string engine = at_path(cfg, "engine.name").get<std::string>();
    const int bm = at_path(cfg, "run.batch_models").get<int>();
    std::cout << "\nModelBatch groups (models of one group train together, " << groups.size() << " group(s)):\n";
    // The engine's own verdict on each group's shape (the limits that do not need a device, e.g. the fused
    // tensor-core kernels' H in multiples of 16): a group it refuses would fail all its cells.
    std::unique_ptr<Engine> eng, fallback;
    std::string engine_error;
    try {
      eng = make_engine(engine_options(cfg, 1));
      fallback = fallback_engine(cfg, 1, at_path(cfg, "engine.device").get<int>());
    } catch (const std::exception& e) {
      engine_error = e.what();
    }
    int refused = 0;
    for (const auto& [k, g] : groups) {
      std::cout << "  " << k.str() << ": " << g.first << " models from " << g.second.size() << " setting(s)\n";
      TrainOptions to;
      to.window = k.window;
      to.batch = k.batch;
      const std::string why = eng ? eng->unsupported_reason(k.shape, to) : engine_error;
      if (why.empty()) continue;
      std::cout << "    cannot run: " << why << "\n";
      if (fallback && fallback->unsupported_reason(k.shape, to).empty()) {
        std::cout << "    engine.fallback " << fallback->name() << " (" << to_string(fallback->precision())
                  << ") runs it\n";
      } else {
        ++refused;
      }
    }
    if (engine == "fused")
      std::cout << "  engine fused: as many models per ModelBatch as fit the device's memory"
                << (bm > 0 ? ", at most " + std::to_string(bm) : std::string()) << " (sized at run time)\n";
    else
      std::cout << "  engine " << engine << ": ModelBatches of "
                << (bm > 0 ? std::to_string(bm) : std::string("2 x threads")) << " models\n";
    std::cout << "\nestimated work: at most " << (total_flops + total_forecast_flops) / 1e12 << " TFLOP: "
              << total_flops / 1e12 << " training (all epochs; early stopping usually ends sooner), "
              << total_forecast_flops / 1e12 << " forecasting (a window per scored row)\n";
    if (at_path(cfg, "run.save_models").get<bool>())
      std::cout << "saved models (run.save_models): " << saved_models << " checkpoints, about "
                << saved_bytes / (1024.0 * 1024.0) << " MiB\n";
    for (const auto& s : p.settings)
      if (const std::string why = setting_problem(s.values); !why.empty())
        std::cerr << "warning: setting " << s.index << ", " << s.detector << " (" << s.id << "): its "
                  << p.series.size() << " cells will fail: " << why << "\n";
    if (refused > 0)
      std::cerr << "warning: engine " << engine << " cannot run " << refused << " of " << groups.size()
                << " group(s); their cells would fail (see \"cannot run\" above)\n";
    return kOk;
  });

  static std::string rescore_dir, rescore_out;
  static std::vector<std::string> rescore_sets, rescore_members;
  auto* rescore = app.add_subcommand(
      "rescore", "Score a finished run again with other detector settings, reusing its trained models' errors");
  rescore->add_option("run", rescore_dir, "Finished run folder")->required()->check(CLI::ExistingDirectory);
  rescore->add_option("--set", rescore_sets, "detector.* or eval.* override; lists make a grid (repeatable)")
      ->type_name("PATH=VALUE");
  rescore->add_option("--out", rescore_out, "The new run folder")->required();
  rescore->add_option("--member", rescore_members,
                      "Another finished run over the same series (one setting): each row's error becomes the mean "
                      "of all the runs' models' errors, an ensemble; an ensemble run counts as its models "
                      "(repeatable)")
      ->check(CLI::ExistingDirectory);
  rescore->add_option("-j,--jobs", jobs, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  reg.add(rescore, []() -> int {
    RunOutcome out = rescore_run(rescore_dir, rescore_sets, rescore_out, jobs, rescore_members);
    std::cout << out.table << "\nrun folder: " << out.run_dir << "\n";
    return out.failed > 0 || out.unscored > 0 ? kFailed : kOk;
  });

  static std::vector<std::string> table_runs;
  static std::string table_nab, table_out;
  auto* table = app.add_subcommand("table", "Markdown table of finished NAB runs beside NAB's scoreboard");
  table->add_option("runs", table_runs, "Finished run folders (runs of one config, differing only in its run section, e.g. seeds, are averaged; other configs get rows of their own)")
      ->required()
      ->check(CLI::ExistingDirectory);
  table->add_option("--nab", table_nab, "NAB folder with results/final_results.json (default: as `run` finds it)");
  table->add_option("--out", table_out, "Also write the table to this file (e.g. docs/results/nab.md)");
  reg.add(table, [] {
    std::string md = nab_table_markdown(table_runs, table_nab);
    std::cout << md;
    if (!table_out.empty()) {
      std::filesystem::path p(table_out);
      if (p.has_parent_path()) files::make_dirs(p.parent_path().string());
      files::write_atomic(table_out, "# lstmad on the Numenta Anomaly Benchmark\n\nGenerated by `lstmad table`.\n\n" + md);
    }
    return kOk;
  });

  static std::string report_dir, report_out, report_detector;
  auto* report = app.add_subcommand("report", "Write a run folder's self-contained HTML report (tables and plots)");
  report->add_option("run", report_dir, "Run folder")->required()->check(CLI::ExistingDirectory);
  report->add_option("--out", report_out, "Output file (default RUN/report.html)");
  report->add_option("--detector", report_detector, "Detector to plot (default: the best NAB standard score)");
  reg.add(report, [] {
    std::cout << write_report(report_dir, report_out, report_detector) << "\n";
    return kOk;
  });

  auto* ref = app.add_subcommand("config-reference", "Print the configuration reference (docs/config.md)");
  reg.add(ref, [] {
    std::cout << config_reference_markdown();
    return kOk;
  });
}

}  // namespace lstmad::cli
