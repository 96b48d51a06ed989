// Shared plumbing of the subcommand modules: each module adds its subcommands to the CLI11 app and
// registers the function that runs when that subcommand was chosen.
#pragma once
#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "experiments/config.hpp"

namespace lstmad::cli {

using Runner = std::function<int()>;

struct Registry {
  std::vector<std::pair<CLI::App*, Runner>> commands;
  void add(CLI::App* sub, Runner run) { commands.emplace_back(sub, std::move(run)); }
};

// Standard output failed (a full disk, a closed pipe): the CLI's main says why, once, and exits 3.
class StdoutError : public IoError {
 public:
  using IoError::IoError;
};
// Throws StdoutError when a write to std::cout has failed: a command that prints as it goes (detect)
// stops at once instead of computing the rest for nobody.
void check_stdout();

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

// `text` as a T when the whole of it is one (no blanks, no trailing text; a double may start with '+').
template <class T>
std::optional<T> whole_number(const std::string& text) {
  const char* first = text.data() + (std::is_floating_point_v<T> && !text.empty() && text[0] == '+');
  const char* last = text.data() + text.size();
  T v{};
  const auto [end, ec] = std::from_chars(first, last, v);
  if (first == last || ec != std::errc() || end != last) return std::nullopt;
  return v;
}

// Option checks whose messages say what was expected in the option's own terms (CLI11's
// NonNegativeNumber prints the range up to the largest double).
inline std::string finite_number(const std::string& text) {
  const auto v = whole_number<double>(text);
  return v && std::isfinite(*v) ? "" : "expected a finite number, got " + text;
}
// -j: worker threads, 0 = all cores; at most run.threads' limit (each thread holds its own buffers).
inline std::string thread_count(const std::string& text) {
  static const long long most = [] {
    for (const auto& d : config_schema())
      if (d.path == "run.threads") return static_cast<long long>(d.max);
    return 0LL;
  }();
  const auto v = whole_number<long long>(text);
  return v && *v >= 0 && *v <= most ? ""
                                    : "expected 0 (all cores) or a number of threads up to " +
                                          std::to_string(most) + ", got " + text;
}

// Modules (one .cpp each).
void add_run_commands(CLI::App& app, Registry& reg);   // run, merge, rescore, table, report (cli_run.cpp)
void add_plan_commands(CLI::App& app, Registry& reg);  // validate, plan, config-reference (cli_plan.cpp)
void add_info_command(CLI::App& app, Registry& reg);   // info (cli_info.cpp)
void add_nab_commands(CLI::App& app, Registry& reg);   // nab score, nab optimize (cli_nab.cpp)
void add_detect_command(CLI::App& app, Registry& reg);  // detect (cli_detect.cpp)

}  // namespace lstmad::cli
