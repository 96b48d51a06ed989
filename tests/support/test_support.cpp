#include "support/test_support.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/files.hpp"
#include "data/csv_fields.hpp"

namespace lstmad::test {
namespace fs = std::filesystem;

namespace {
// Under the build folder the executable was built in, or LSTMAD_TEST_TMP; where that cannot be made (an
// executable built on another machine, as benchmarks/gpu_check.sh runs them), under the system's
// temporary folder.
fs::path temp_base() {
  if (const char* env = std::getenv("LSTMAD_TEST_TMP"); env && *env) return env;
  fs::path base = fs::path(LSTMAD_BINARY_DIR) / "test-tmp";
  std::error_code ec;
  fs::create_directories(base, ec);
  return ec ? fs::temp_directory_path() / "lstmad-test-tmp" : base;
}
}  // namespace

TempDir::TempDir(const std::string& tag) {
  static int counter = 0;
  const fs::path base = temp_base();
  fs::create_directories(base);
  path_ = (base / (tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++))).string();
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string shared_nab_root() {
  if (const char* env = std::getenv("NAB_ROOT"); env && *env && fs::exists(fs::path(env) / "data")) return env;
  fs::path p = fs::path(LSTMAD_SOURCE_DIR) / ".." / "shared" / "nab";
  if (fs::exists(p / "data") && fs::exists(p / "labels")) return fs::canonical(p).string();
  return "";
}

std::string lstmad_binary() { return (fs::path(LSTMAD_BINARY_DIR) / "lstmad").string(); }

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << text;
}

int run_command(const std::string& command, std::string* output) {
  std::string cmd = command + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = ::pclose(pipe);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string minute_series_csv(int rows, const std::string& year_month,
                              const std::function<std::string(int)>& value) {
  std::string s = "timestamp,value\n";
  for (int i = 0; i < rows; ++i) {
    char ts[32];
    std::snprintf(ts, sizeof ts, "-%02d %02d:%02d:00,", 1 + i / 1440, (i / 60) % 24, i % 60);
    s += year_month + ts + value(i) + "\n";
  }
  return s;
}

std::vector<std::string> results_without_timings(const std::string& run_dir) {
  std::istringstream in(files::read(run_dir + "/results.csv"));
  std::string line;
  std::vector<std::string> out;
  std::vector<bool> keep;
  bool header = true;
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, ',')) cols.push_back(c);
    if (header) {
      for (const auto& h : cols) keep.push_back(h.rfind("seconds_", 0) != 0);
      header = false;
    }
    std::string row;
    for (std::size_t i = 0; i < cols.size() && i < keep.size(); ++i)
      if (keep[i]) row += cols[i] + ",";
    out.push_back(row);
  }
  return out;
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  // The readers' own RFC 4180 splitter: a quoted field's "" is one quote, as the writers escape it.
  const std::string text = lstmad::files::read(path);
  std::vector<std::vector<std::string>> rows;
  lstmad::CsvRecord rec;
  for (std::size_t pos = 0; pos < text.size();) {
    if (lstmad::split_csv_record(text, pos, rec) != lstmad::CsvSplit::Ok)
      throw std::runtime_error(path + ": malformed CSV near byte " + std::to_string(pos));
    rows.emplace_back(rec.fields.begin(), rec.fields.end());
  }
  return rows;
}

std::vector<std::map<std::string, std::string>> read_results_csv(const std::string& path) {
  if (!fs::exists(path)) throw std::runtime_error("cannot read " + path);
  const std::vector<std::vector<std::string>> lines = read_csv(path);
  std::vector<std::map<std::string, std::string>> rows;
  if (lines.empty()) return rows;
  const std::vector<std::string>& header = lines.front();
  for (size_t k = 1; k < lines.size(); ++k) {
    const std::vector<std::string>& f = lines[k];
    if (f.size() != header.size()) {
      ADD_FAILURE() << path << ": " << f.size() << " fields for " << header.size() << " columns, line "
                    << k + 1;
      continue;
    }
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < f.size(); ++i) row[header[i]] = f[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  if (const char* v = std::getenv(name)) {
    had_ = true;
    old_ = v;
  }
  if (value != nullptr)
    setenv(name, value, 1);
  else
    unsetenv(name);
}

ScopedEnv::~ScopedEnv() {
  if (had_)
    setenv(name_.c_str(), old_.c_str(), 1);
  else
    unsetenv(name_.c_str());
}

}  // namespace lstmad::test
