// Minimal leveled logging to stderr (and optionally a run's log file). Thread-safe; one line per call.
#pragma once
#include <sstream>
#include <string>

namespace lstmad::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

void set_level(Level level);
Level level();
// Also append every message to this file (empty path: stop).
void set_file(const std::string& path);
void write(Level level, const std::string& message);

inline void debug(const std::string& m) { write(Level::Debug, m); }
inline void info(const std::string& m) { write(Level::Info, m); }
inline void warn(const std::string& m) { write(Level::Warn, m); }
inline void error(const std::string& m) { write(Level::Error, m); }

// While one exists on a thread, that thread's info and warning messages are written as debug ones: work
// done again (a series read and prepared again during a run) says nothing the log has not said already.
class Repeat {
 public:
  Repeat();
  ~Repeat();
  Repeat(const Repeat&) = delete;
  Repeat& operator=(const Repeat&) = delete;
};

}  // namespace lstmad::log
