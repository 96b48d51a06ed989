// `lstmad validate`, `lstmad plan` and `lstmad config-reference`: what a config means, before anything runs.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "core/error.hpp"
#include "data/series.hpp"
#include "data/synthetic.hpp"
#include "experiments/cli.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/config.hpp"
#include "experiments/corpus.hpp"
#include "experiments/evaluation.hpp"
#include "experiments/plan.hpp"
#include "experiments/prepare.hpp"
#include "experiments/run_series.hpp"
#include "experiments/runner.hpp"
#include "experiments/scheduler.hpp"
#include "lstm/engine.hpp"
#include "lstm/shape.hpp"
#include "train/checkpoint.hpp"

namespace lstmad::cli {

void add_config_args(CLI::App* sub, ConfigArgs& a, bool required) {
  auto* config = sub->add_option(
      "config", a.path,
      required ? "Experiment config (JSON)" : "Experiment config (JSON); not needed with --resume");
  config->check(CLI::ExistingFile);
  if (required) config->required();
  sub->add_option("--set", a.sets, "Override a key: --set model.hidden=32 (repeatable)")
      ->type_name("PATH=VALUE");
  sub->add_option("--engine", a.engine, "Shorthand for --set engine.name=NAME");
}

json load_resolved(const ConfigArgs& a) {
  json user = read_config_file(a.path);
  for (const auto& s : a.sets) apply_override(user, s);
  if (!a.engine.empty()) apply_override(user, "engine.name=\"" + a.engine + "\"");
  // An error may come from the file or from a --set: the source names both.
  std::string source = a.path;
  if (a.sets.size() <= 3)
    for (const auto& s : a.sets) source += " --set " + (s.size() > 60 ? s.substr(0, 57) + "..." : s);
  else
    source += " with " + std::to_string(a.sets.size()) + " --set values";
  if (!a.engine.empty()) source += " --engine " + a.engine;
  return resolve_config(user, source);
}

namespace {

// What the work estimate needs of one series, prepared as a run prepares it (experiments/prepare.hpp):
// its rows, its training part and its model inputs (its own columns plus 2 per calendar input it gets).
struct SeriesWork {
  int rows = 0, train_end = 0, own_dims = 1, inputs = 1;
  std::size_t bytes = 0;  // prepared (run.series_memory_mb)
};

// The series a run of `cfg` would use (`series`, sorted) and the facts of each that loads; a series that
// does not load is a warning here (its cells would fail). A synthetic corpus is generated in memory only.
std::map<std::string, SeriesWork> corpus_facts(const json& cfg, std::vector<std::string>& series) {
  std::map<std::string, SeriesWork> facts;
  TimestampOrderTally tally;
  auto note = [&](const std::string& id, Series s, int train_rows) {
    tally.add(s);
    const int own = s.dims;
    try {  // a series the run could not prepare fails its cells there: a warning here, for any corpus
      const PreparedSeries prepared = prepare_series(std::move(s), cfg, train_rows);
      facts[id] = {prepared.series.rows(), prepared.train_end, own, prepared.input_dims,
                   prepared_series_bytes(prepared)};
    } catch (const lstmad::Error& e) {
      std::cerr << "warning: " << e.what() << " (its cells will fail)\n";
    }
  };
  if (at_path(cfg, "data.format").get<std::string>() == "synthetic") {
    SyntheticOptions o;
    o.seed = at_path(cfg, "data.synthetic.seed").get<uint64_t>();
    o.series_per_kind = at_path(cfg, "data.synthetic.series_per_kind").get<int>();
    o.length = at_path(cfg, "data.synthetic.length").get<int>();
    // data.files and data.max_files select from it as a run does; only those are made, one at a time.
    series = select_corpus_series(synthetic_series_names(o), cfg, "the synthetic corpus");
    generate_synthetic_each(
        o,
        [&](SyntheticSeries& s) {
          const std::string id = s.series.name;  // copied: the series itself is moved into note
          note(id, std::move(s.series), -1);
        },
        [&](const std::string& id) { return std::binary_search(series.begin(), series.end(), id); });
    return facts;
  }
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
  return facts;
}

struct WorkEstimate {
  double train_flops = 0, forecast_flops = 0, saved_bytes = 0;
  long long saved_models = 0;
};

// Prints one line per setting (its shape, models and work at most) and returns the totals.
WorkEstimate print_settings(const json& cfg, const Plan& p, const std::map<std::string, SeriesWork>& facts) {
  WorkEstimate total;
  int calendar_series = 0;
  for (const auto& [id, f] : facts) calendar_series += f.inputs > f.own_dims;
  const int own_dims = facts.empty() ? 1 : facts.begin()->second.own_dims;
  for (const auto& s : p.settings) {
    const std::vector<json> members = ensemble_members(s.values);
    double flops = 0, forecast_flops = 0;
    std::set<std::string> windowless;  // series whose training rows hold no window of some member
    int fewest_rows = 0, widest = 0;
    for (const json& m : members) {
      const int T = at_path(m, "model.window").get<int>();
      const int epochs = at_path(m, "train.epochs").get<int>();
      const int every = at_path(m, "train.retrain_every").get<int>();
      const int retrain_rows = at_path(m, "train.retrain_rows").get<int>();
      const int retrain_epochs = at_path(m, "train.retrain_epochs").get<int>();
      for (const auto& [id, f] : facts) {
        const ModelShape shape = setting_shape(m, f.inputs);
        if (f.train_end - T - shape.horizon + 1 <= 0 && windowless.insert(id).second) {
          fewest_rows = windowless.size() == 1 ? f.train_end : std::min(fewest_rows, f.train_end);
          widest = std::max(widest, T + shape.horizon);
        }
        // Forward FLOPs of one window: T steps of the 4 gate GEMVs per layer, plus the head.
        double fwd = 2.0 * shape.hidden * shape.horizon;
        for (int l = 0; l < shape.layers; ++l)
          fwd += 2.0 * T * 4 * shape.hidden * (shape.layer_input(l) + shape.hidden);
        double train_windows = std::max(0, f.train_end - T - shape.horizon + 1);
        // Training (at most: every epoch) and the forecasts scored (a window per row after the first T).
        flops += 3.0 * fwd * train_windows * epochs;
        // Fine-tunings (stream_errors): after each `every` rows past the training part but the last
        // segment, retrain_epochs epochs (no early stopping) on the windows whose targets lie in the
        // latest retrain_rows rows (the training part's length when 0).
        if (every > 0) {
          const int span = retrain_rows > 0 ? retrain_rows : f.train_end;
          for (long next = static_cast<long>(f.train_end) + every; next < f.rows; next += every) {
            const long lo = std::max(0L, next - span - T), hi = next - T - shape.horizon;
            flops += 3.0 * fwd * static_cast<double>(std::max(0L, hi - lo + 1)) * retrain_epochs;
          }
        }
        forecast_flops += fwd * std::max(0, f.rows - T);
        total.saved_bytes += static_cast<double>(checkpoint_file_size(shape));
        ++total.saved_models;
      }
    }
    total.train_flops += flops;
    total.forecast_flops += forecast_flops;
    std::cout << "  " << s.detector << " (" << s.id << ") " << setting_shape(s.values, own_dims).str();
    if (members.size() > 1)
      std::cout << ", an ensemble of " << members.size() << " models per series "
                << s.values.at("ensemble").dump();
    else
      std::cout << " T=" << at_path(s.values, "model.window").get<int>();
    std::cout << ", " << p.series.size() * members.size() << " models";
    if (!s.axes.empty()) std::cout << ", " << s.axes.dump();
    std::cout << ", at most " << (flops + forecast_flops) / 1e12 << " TFLOP\n";
    // The run would fail these cells ("training rows are too few"): said before anything trains.
    if (!windowless.empty())
      std::cerr << "warning: setting " << s.index << ", " << s.detector << " (" << s.id
                << "): " << windowless.size() << " of " << facts.size()
                << " series have too few training rows for a window (as few as " << fewest_rows
                << ", where window + horizon is up to " << widest << "); their cells will fail\n";
  }
  if (!at_path(cfg, "data.time_features").empty())
    std::cout << "  calendar inputs " << at_path(cfg, "data.time_features").dump() << " for "
              << calendar_series << " of " << facts.size()
              << " series (D above is the series' own columns)\n";
  return total;
}

// Prints the scheduler's groups (experiments/scheduler.hpp: models of one shape, window, minibatch size and
// retraining schedule share ModelBatches, whatever their setting, ensemble member or series) with the
// engine's own verdict on each group's shape (the limits that need no device, e.g. the fused tensor-core
// kernels' H in multiples of 16). Returns a warning when neither the engine nor engine.fallback runs
// some groups (all their cells would fail), else "".
std::string print_groups(const json& cfg, const Plan& p, const std::map<std::string, SeriesWork>& facts) {
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
  std::cout << "\nModelBatch groups (models of one group train together, " << groups.size()
            << " group(s)):\n";
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
    std::cout << "  " << k.str() << ": " << g.first << " model(s) from " << g.second.size()
              << " setting(s)\n";
    const std::string why = eng ? engine_refusal(*eng, k) : engine_error;
    if (why.empty()) continue;
    std::cout << "    cannot run: " << why << "\n";
    if (fallback && engine_refusal(*fallback, k).empty()) {
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
              << (bm > 0 ? std::to_string(bm) : std::string(engine == "cpu" ? "8 x threads" : "2 x threads"))
              << " models\n";
  if (refused > 0)
    return "engine " + engine + " cannot run " + std::to_string(refused) + " of " +
           std::to_string(groups.size()) + " group(s); their cells would fail (see \"cannot run\" above)";
  return "";
}

// What the series hold prepared, and how many of them run.series_memory_mb keeps (experiments/run_series.hpp;
// the run keeps the first ones that fit, in the order they finish loading: about as many as here).
void print_memory(const json& cfg, const std::map<std::string, SeriesWork>& facts) {
  std::size_t total = 0, kept = 0;
  long long rows = 0;
  int kept_series = 0;
  const std::size_t budget = series_memory_budget(cfg);
  for (const auto& [id, f] : facts) {
    total += f.bytes;
    rows += f.rows;
    if (kept + f.bytes <= budget) {
      kept += f.bytes;
      ++kept_series;
    }
  }
  const auto mib = [](std::size_t b) { return std::to_string((b + (1u << 19)) >> 20) + " MiB"; };
  std::cout << "series in memory: " << rows << " rows in " << facts.size() << " series, about " << mib(total)
            << " prepared; run.series_memory_mb ("
            << (at_path(cfg, "run.series_memory_mb").get<long long>() > 0 ? std::string()
                                                                          : "0: a quarter of this machine, ")
            << mib(budget) << ") keeps "
            << (kept_series == static_cast<int>(facts.size())
                    ? std::string("them all")
                    : "about " + std::to_string(kept_series) +
                          " of them; the others are read again for each ModelBatch that trains their models")
            << "\n";
}

int print_plan(const json& cfg) {
  std::vector<std::string> series;
  const std::map<std::string, SeriesWork> facts = corpus_facts(cfg, series);
  Plan p = make_plan(cfg, series);
  for (const std::string& w : inactive_key_warnings(p)) std::cerr << "warning: " << w << "\n";
  std::cout << p.cells.size() << " cells = " << p.settings.size() << " setting(s) x " << p.series.size()
            << " series\n\nSettings:\n";
  const WorkEstimate work = print_settings(cfg, p, facts);
  const std::string refused = print_groups(cfg, p, facts);
  std::cout << "\nestimated work: at most " << (work.train_flops + work.forecast_flops) / 1e12
            << " TFLOP: " << work.train_flops / 1e12
            << " training (all epochs and every fine-tuning; early stopping usually ends the first training "
               "sooner), "
            << work.forecast_flops / 1e12 << " forecasting (a window per scored row)\n";
  print_memory(cfg, facts);
  if (at_path(cfg, "run.save_models").get<bool>())
    std::cout << "saved models (run.save_models): " << work.saved_models << " checkpoints, about "
              << work.saved_bytes / (1024.0 * 1024.0) << " MiB\n";
  for (const auto& s : p.settings)
    if (const std::string why = setting_problem(s.values); !why.empty())
      std::cerr << "warning: setting " << s.index << ", " << s.detector << " (" << s.id << "): its "
                << p.series.size() << " cells will fail: " << why << "\n";
  if (!refused.empty()) std::cerr << "warning: " << refused << "\n";
  return kOk;
}

// The settings' members that the engine cannot train and engine.fallback does not take either. Only the
// engine's limits that hold without the data and, on a machine without a device, without the device (the
// fused tensor-core kernels' hidden sizes, fused fp32's largest H): they do not depend on the series'
// input count, which is taken as 1. Where this build lacks the engine, nothing is checked (run says so).
class EngineLimits {
 public:
  explicit EngineLimits(const json& cfg) {
    try {
      eng_ = make_engine(engine_options(cfg, 1));
      fallback_ = fallback_engine(cfg, 1, at_path(cfg, "engine.device").get<int>());
    } catch (const std::exception&) {
      eng_.reset();
    }
  }

  // Why a member of this setting cannot run, or "".
  std::string refusal(const json& setting_values) const {
    if (!eng_) return "";
    for (const json& m : ensemble_members(setting_values)) {
      const BatchKey k = batch_key(m, 1);
      const std::string why = engine_refusal(*eng_, k);
      if (!why.empty() && !(fallback_ && engine_refusal(*fallback_, k).empty()))
        return "engine " + eng_->name() + ": " + why;
    }
    return "";
  }

 private:
  std::unique_ptr<Engine> eng_, fallback_;
};

// validate: the resolved config on stdout. A setting whose members cannot run (setting_problem, or a
// shape the engine refuses) fails all its cells whatever the series: named as `plan` names it, and the
// command fails.
int validate(const ConfigArgs& args) {
  json cfg = load_resolved(args);
  eval_profiles(cfg);
  std::cout << cfg.dump(2) << "\n";
  const Plan p = make_plan(cfg, {});
  for (const std::string& w : inactive_key_warnings(p)) std::cerr << args.path << ": warning: " << w << "\n";
  const EngineLimits limits(cfg);
  int cannot = 0;
  for (const Setting& s : p.settings) {
    std::string why = setting_problem(s.values);
    if (why.empty()) why = limits.refusal(s.values);
    if (!why.empty()) {
      std::cerr << args.path << ": setting " << s.index << ", " << s.detector << " (" << s.id
                << "), cannot run: " << why << "\n";
      ++cannot;
    }
  }
  if (cannot > 0) {
    std::cerr << args.path << ": " << cannot << " of " << p.settings.size()
              << " setting(s) cannot run; their cells would fail\n";
    return kFailed;
  }
  std::cerr << args.path << ": valid, " << p.settings.size() << " setting(s)\n";
  return kOk;
}

}  // namespace

void add_plan_commands(CLI::App& app, Registry& reg) {
  static ConfigArgs validate_args, plan_args;
  auto* validate_cmd =
      app.add_subcommand("validate", "Check a config and print it with every default filled in");
  add_config_args(validate_cmd, validate_args);
  reg.add(validate_cmd, [] { return validate(validate_args); });

  auto* plan = app.add_subcommand(
      "plan", "Print the cells, ModelBatch groups and estimated work of an experiment, without running it");
  add_config_args(plan, plan_args);
  reg.add(plan, [] { return print_plan(load_resolved(plan_args)); });

  auto* ref = app.add_subcommand("config-reference", "Print the configuration reference (docs/config.md)");
  reg.add(ref, [] {
    std::cout << config_reference_markdown();
    return kOk;
  });
}

}  // namespace lstmad::cli
