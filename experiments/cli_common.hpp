// Shared plumbing of the subcommand modules: each module adds its subcommands to the CLI11 app and
// registers the function that runs when that subcommand was chosen.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <utility>
#include <vector>

namespace lstmad::cli {

using Runner = std::function<int()>;

struct Registry {
  std::vector<std::pair<CLI::App*, Runner>> commands;
  void add(CLI::App* sub, Runner run) { commands.emplace_back(sub, std::move(run)); }
};

// Modules (one .cpp each).
void add_run_commands(CLI::App& app, Registry& reg);   // run, validate, plan (cli_run.cpp)
void add_info_command(CLI::App& app, Registry& reg);   // info (cli_info.cpp)
void add_nab_commands(CLI::App& app, Registry& reg);   // nab score, nab optimize (cli_nab.cpp)
void add_detect_command(CLI::App& app, Registry& reg);  // detect (cli_detect.cpp)

}  // namespace lstmad::cli
