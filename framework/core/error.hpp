// Typed exceptions with context. Library code throws these and never exits; the CLI maps them to a
// message and an exit code. Each carries the place it refers to (file and row, JSON path, API call).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace lstmad {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A configuration problem at a JSON path ("train.lr": expected a number > 0, got "x").
class ConfigError : public Error {
 public:
  using Error::Error;
};

// Bad input data: names the file and, where known, the 1-based line of the file.
class DataError : public Error {
 public:
  DataError(const std::string& file, long line, const std::string& what)
      : Error(file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + what),
        file_(file), line_(line) {}
  const std::string& file() const { return file_; }
  long line() const { return line_; }

 private:
  std::string file_;
  long line_;
};

// Reading or writing files and folders.
class IoError : public Error {
 public:
  using Error::Error;
};

// A model shape or option an engine cannot take; the message says why and which engine can.
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

// A GPU runtime or library call that failed: the call's text, the status and file:line.
class DeviceError : public Error {
 public:
  using Error::Error;
};

// No usable device where an engine needs one (none at all, or none at the ordinal asked for): found before
// any work, so the command must change on this machine (another engine, another device), unlike a call
// that fails on a device that is there.
class NoDeviceError : public DeviceError {
 public:
  using DeviceError::DeviceError;
};

// A DeviceError that keeps the library's status (cudaError_t, cudnnStatus_t), so that a caller can tell
// the device's state at that moment (out of memory) from an answer about what it asked (not supported).
// One template for every library, so that the error types stay distinct without a class per library.
template <typename Status>
class DeviceStatusError : public DeviceError {
 public:
  DeviceStatusError(const std::string& what, Status status) : DeviceError(what), status_(status) {}
  Status status() const { return status_; }

 private:
  Status status_;
};

// "call failed: STATUS at file.cpp:40", the message of every GPU check (the file without its folders).
inline std::string device_call_message(const char* call, const std::string& status, const char* file,
                                       int line) {
  std::string name(file);
  const auto slash = name.find_last_of('/');
  if (slash != std::string::npos) name = name.substr(slash + 1);
  std::ostringstream os;
  os << call << " failed: " << status << " at " << name << ":" << line;
  return os.str();
}

namespace detail {
[[noreturn]] inline void throw_check(const char* cond, const std::string& msg, const char* file, int line) {
  std::ostringstream os;
  os << msg << " (check failed: " << cond << " at " << file << ":" << line << ")";
  throw Error(os.str());
}
}  // namespace detail

}  // namespace lstmad

// Internal invariant check that throws lstmad::Error with the condition and location.
#define LSTMAD_CHECK(cond, msg)                                                     \
  do {                                                                              \
    if (!(cond)) ::lstmad::detail::throw_check(#cond, (msg), __FILE__, __LINE__);   \
  } while (0)
