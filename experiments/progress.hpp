// Progress of a run: on a terminal, one live line on stderr (cells done / running / failed of total,
// elapsed, ETA); elsewhere, a plain log line at most every 10 seconds and at the end.
#pragma once
#include <chrono>
#include <mutex>

namespace lstmad {

class Progress {
 public:
  Progress(int total, bool enabled);
  void started(int cells);
  void finished(bool ok);
  void done();  // final line

 private:
  void show(bool force);
  int total_, done_ = 0, running_ = 0, failed_ = 0, shown_done_ = -1;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_;
  std::mutex mutex_;
};

}  // namespace lstmad
