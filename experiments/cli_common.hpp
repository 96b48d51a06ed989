// Shared plumbing of the subcommand modules: each module adds its subcommands to the CLI11 app and
// registers the function that runs when that subcommand was chosen.
#pragma once
#include <CLI/CLI.hpp>
#include <cmath>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "experiments/config.hpp"

namespace lstmad::cli {

using Runner = std::function<int()>;

struct Registry {
  std::vector<std::pair<CLI::App*, Runner>> commands;
  void add(CLI::App* sub, Runner run) { commands.emplace_back(sub, std::move(run)); }
};

// A config file given on the command line, with its --set overrides and --engine.
struct ConfigArgs {
  std::string path;
  std::vector<std::string> sets;
  std::string engine;
};
// Adds the config argument (optional unless `required`: `run --resume` takes it from the run folder),
// --set and --engine to `sub`.
void add_config_args(CLI::App* sub, ConfigArgs& a, bool required = true);
// The config file with its overrides applied, validated and with every default filled in.
json load_resolved(const ConfigArgs& a);

// Option checks whose messages say what was expected in the option's own terms (CLI11's
// NonNegativeNumber prints the range up to the largest double).
inline std::string finite_number(const std::string& text) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  return used == text.size() && used > 0 && std::isfinite(v) ? "" : "expected a finite number, got " + text;
}
inline std::string count_or_zero(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos
             ? ""
             : "expected 0 or a positive whole number, got " + text;
}

// Modules (one .cpp each).
void add_run_commands(CLI::App& app, Registry& reg);   // run, merge, rescore, table, report (cli_run.cpp)
void add_plan_commands(CLI::App& app, Registry& reg);  // validate, plan, config-reference (cli_plan.cpp)
void add_info_command(CLI::App& app, Registry& reg);   // info (cli_info.cpp)
void add_nab_commands(CLI::App& app, Registry& reg);   // nab score, nab optimize (cli_nab.cpp)
void add_detect_command(CLI::App& app, Registry& reg);  // detect (cli_detect.cpp)

}  // namespace lstmad::cli
