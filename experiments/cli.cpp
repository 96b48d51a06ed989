#include "experiments/cli.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <iostream>
#include <streambuf>

#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/runner.hpp"

namespace lstmad::cli {

namespace {

// std::cout's own buffer behind one that notes why a write failed: the stream keeps only a bad bit, and
// by the time the command returns errno is long gone (stdio drops what it could not write, so the final
// flush has nothing left to fail on).
class CheckedStdout : public std::streambuf {
 public:
  explicit CheckedStdout(std::streambuf* to) : to_(to) {}
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const char ch = traits_type::to_char_type(c);
    return xsputn(&ch, 1) == 1 ? c : traits_type::eof();
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    errno = 0;
    const std::streamsize w = to_->sputn(s, n);
    if (w != n) note();
    return w;
  }
  int sync() override {
    errno = 0;
    if (to_->pubsync() == 0) return 0;
    note();
    return -1;
  }

 private:
  void note() {
    if (error_ == 0) error_ = errno != 0 ? errno : EIO;
  }
  std::streambuf* to_;
  int error_ = 0;
};

CheckedStdout* g_stdout = nullptr;

// Installs CheckedStdout on std::cout for the command's lifetime; finish() flushes and says whether
// everything printed got out.
class StdoutGuard {
 public:
  StdoutGuard() : checked_(std::cout.rdbuf()), old_(std::cout.rdbuf(&checked_)) { g_stdout = &checked_; }
  ~StdoutGuard() {
    std::cout.flush();
    std::cout.rdbuf(old_);
    g_stdout = nullptr;
  }
  StdoutGuard(const StdoutGuard&) = delete;
  StdoutGuard& operator=(const StdoutGuard&) = delete;
  // The exit code once standard output is flushed: `code`, or 3 with the reason on stderr when a write
  // failed and the command would otherwise have succeeded. A closed pipe (EPIPE, where SIGPIPE is
  // ignored) is no news to the reader that closed it: no message.
  int finish(int code) {
    std::cout.flush();
    if (checked_.error() == 0 && std::cout.good()) return code;
    const int err = checked_.error() != 0 ? checked_.error() : EIO;
    if (err != EPIPE) std::cerr << "lstmad: standard output: write failed (" << std::strerror(err) << ")\n";
    return code == kOk ? kDataError : code;
  }

 private:
  CheckedStdout checked_;
  std::streambuf* old_;
};

int run_main(int argc, char** argv);

}  // namespace

void check_stdout() {
  if (!std::cout.good() || (g_stdout && g_stdout->error() != 0))
    throw StdoutError(std::string("standard output: write failed (") +
                      std::strerror(g_stdout && g_stdout->error() != 0 ? g_stdout->error() : EIO) + ")");
}

int main(int argc, char** argv) {
  // A standard descriptor the caller closed (`2>&-`, a job launcher's) is held on /dev/null, opened
  // read-only: else the next file opened takes its number and the log or the table is written into that
  // file (a run's .lock, a detect --out CSV). A write there still fails (EBADF) as on the closed one.
  for (int fd = 0; fd <= 2; ++fd)
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) ::open("/dev/null", O_RDONLY);  // the lowest free: fd
  StdoutGuard out;
  return out.finish(run_main(argc, argv));
}

namespace {

int run_main(int argc, char** argv) {
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
  } catch (const StdoutError&) {
    return kDataError;  // said by StdoutGuard::finish
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

}  // namespace

}  // namespace lstmad::cli
