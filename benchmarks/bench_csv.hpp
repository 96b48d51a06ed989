// A benchmark's CSV file, written row by row and flushed after each: when gpu_check.sh cuts a stage at
// its deadline, or a sticky device error ends the process, the rows measured so far are still there for
// scripts/gpu-results.py, instead of nothing (the rows used to be written only at the end).
#pragma once

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace lstmad::bench {

class CsvRows {
 public:
  // An empty path writes nothing (no --csv given).
  CsvRows(std::string path, const std::string& header) : path_(std::move(path)) {
    if (path_.empty()) return;
    out_.open(path_);
    if (!out_) throw std::runtime_error("cannot write " + path_);
    out_ << header << '\n' << std::flush;
  }

  template <class... V>
  void row(const V&... values) {
    if (!out_.is_open()) return;
    const char* sep = "";
    ((out_ << sep, field(values), sep = ","), ...);
    out_ << '\n' << std::flush;
    ++rows_;
  }

  // Says where the rows went (gpu_check.sh's log shows it).
  void done() {
    if (out_.is_open()) std::printf("wrote %s (%d rows)\n", path_.c_str(), rows_);
  }

 private:
  // Numbers as they are; text in double quotes (quotes doubled) where it holds a comma, a quote or a line
  // break, as RFC 4180 and Python's csv module read it.
  template <class V>
  void field(const V& v) {
    out_ << v;
  }
  void field(const std::string& v) {
    if (v.find_first_of(",\"\n") == std::string::npos) {
      out_ << v;
      return;
    }
    out_ << '"';
    for (char c : v) out_ << (c == '"' ? "\"\"" : std::string(1, c));
    out_ << '"';
  }

  std::string path_;
  std::ofstream out_;
  int rows_ = 0;
};

}  // namespace lstmad::bench
