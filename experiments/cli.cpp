#include "experiments/cli.hpp"

#include <algorithm>
#include <functional>
#include <iostream>

#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/runner.hpp"

namespace lstmad::cli {

int main(int argc, char** argv) {
  CLI::App app{"lstmad: LSTM time-series anomaly detection - train many detectors, score them as NAB does"};
  app.set_version_flag("--version", std::string("lstmad ") + LSTMAD_VERSION + " (" + build_git_hash() + ")");
  app.require_subcommand(1);
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "Debug logging");
  app.add_flag("-q,--quiet", quiet, "Warnings and errors only");
  Registry reg;
  add_run_commands(app, reg);
  add_plan_commands(app, reg);
  add_info_command(app, reg);
  add_nab_commands(app, reg);
  add_detect_command(app, reg);
  // -q and -v are the program's, and read after the command too (`lstmad run CONFIG -q`).
  // Nested commands (`nab score`) too.
  const std::function<void(CLI::App*)> fall_through = [&](CLI::App* parent) {
    for (CLI::App* sub : parent->get_subcommands([](const CLI::App*) { return true; })) {
      sub->fallthrough();
      fall_through(sub);
    }
  };
  fall_through(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 takes an unknown first word for a missing command ("A subcommand is required"): name it.
    if (e.get_exit_code() != 0)
      for (int i = 1; i < argc; ++i) {
        const std::string word = argv[i];
        if (word.empty() || word[0] == '-') continue;
        const auto subs = app.get_subcommands([](const CLI::App*) { return true; });
        if (std::any_of(subs.begin(), subs.end(),
                        [&](const CLI::App* sub) { return sub->get_name() == word; }))
          break;
        std::string names;
        for (const CLI::App* sub : subs) names += (names.empty() ? "" : ", ") + sub->get_name();
        std::cerr << "lstmad: unknown command \"" << word << "\" (the commands: " << names << ")\n";
        return kUsage;
      }
    return app.exit(e) == 0 ? kOk : kUsage;
  }
  // Only `run` checks for a stop between cells; every other command keeps the default action, so that
  // SIGINT ends it at once instead of being absorbed by a handler nothing reads.
  for (auto& [sub, run] : reg.commands)
    if (sub->parsed() && sub->get_name() == "run") install_stop_handlers();
  if (verbose) log::set_level(log::Level::Debug);
  if (quiet) log::set_level(log::Level::Warn);
  try {
    for (auto& [sub, run] : reg.commands)
      if (sub->parsed()) return run();
    std::cerr << app.help();
    return kUsage;
  } catch (const ConfigError& e) {
    std::cerr << "lstmad: config error: " << e.what() << "\n";
    return kUsage;
  } catch (const NoDeviceError& e) {
    // No device where the engine needs one, found before any work: on this machine the command must
    // change (another engine, another device), as for a config error. A call that fails on a device that
    // is there (out of memory, a broken library) stays a failure (1).
    std::cerr << "lstmad: device error: " << e.what() << "\n";
    return kUsage;
  } catch (const DataError& e) {
    std::cerr << "lstmad: data error: " << e.what() << "\n";
    return kDataError;
  } catch (const IoError& e) {
    std::cerr << "lstmad: " << e.what() << "\n";
    return kDataError;
  } catch (const std::exception& e) {
    std::cerr << "lstmad: error: " << e.what() << "\n";
    return kFailed;
  }
}

}  // namespace lstmad::cli
