#include "experiments/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "core/log.hpp"

namespace lstmad {

namespace {
std::string clock_text(double s) {
  if (s < 0 || s > 1e7) return "?";
  char buf[32];
  int t = static_cast<int>(std::lround(s));
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}
}  // namespace

Progress::Progress(int total, bool enabled)
    : total_(total), enabled_(enabled && total > 0), tty_(::isatty(2) == 1),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::started(int cells) {
  std::lock_guard<std::mutex> lock(mutex_);
  running_ += cells;
  show(false);
}

void Progress::finished(bool ok) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++done_;
  if (running_ > 0) --running_;
  if (!ok) ++failed_;
  show(false);
}

void Progress::done() {
  std::lock_guard<std::mutex> lock(mutex_);
  running_ = 0;
  if (shown_done_ != done_ || tty_) show(true);
  if (enabled_ && tty_) std::fputc('\n', stderr);
}

void Progress::show(bool force) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  double since_last = std::chrono::duration<double>(now - last_).count();
  if (!force && since_last < (tty_ ? 0.2 : 10.0)) return;
  last_ = now;
  shown_done_ = done_;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double eta = done_ > 0 ? elapsed / done_ * (total_ - done_) : -1;
  std::string line = "cells " + std::to_string(done_) + "/" + std::to_string(total_) + " done, " +
                     std::to_string(running_) + " running, " + std::to_string(failed_) + " failed, elapsed " +
                     clock_text(elapsed) + ", ETA " + (done_ < total_ ? clock_text(eta) : std::string("0:00:00"));
  if (tty_) {
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    std::fflush(stderr);
  } else {
    log::info(line);
  }
}

}  // namespace lstmad
