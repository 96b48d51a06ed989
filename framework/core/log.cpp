#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>

namespace lstmad::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::Info)};
std::mutex g_mutex;
std::ofstream g_file;

const char* tag(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
    default: return "";
  }
}
std::string now() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

void set_level(Level level) { g_level = static_cast<int>(level); }
Level level() { return static_cast<Level>(g_level.load()); }

void set_file(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_file.is_open()) g_file.close();
  if (!path.empty()) g_file.open(path, std::ios::app);
}

namespace {
thread_local int t_repeats = 0;
}  // namespace

Repeat::Repeat() {
  ++t_repeats;
}
Repeat::~Repeat() {
  --t_repeats;
}

void write(Level l, const std::string& message) {
  if (t_repeats > 0 && (l == Level::Info || l == Level::Warn)) l = Level::Debug;
  bool to_stderr = static_cast<int>(l) >= g_level.load();
  std::lock_guard<std::mutex> lock(g_mutex);
  std::string line = "[" + std::string(tag(l)) + "] " + message + "\n";
  if (to_stderr) std::fputs(line.c_str(), stderr);
  if (g_file.is_open()) {
    g_file << now() << " " << line;
    g_file.flush();
  }
}

}  // namespace lstmad::log
