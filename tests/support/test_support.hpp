// Shared helpers for the tests: temporary folders, the shared NAB corpus, the built lstmad binary.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace lstmad::test {

// A fresh empty folder under the build tree, removed by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// ../shared/nab next to the source tree (or NAB_ROOT), or "" when absent.
std::string shared_nab_root();
// Path of the built `lstmad` binary.
std::string lstmad_binary();
void write_text(const std::string& path, const std::string& text);
// Runs a shell command; returns its exit status; stdout+stderr go to *output when given.
int run_command(const std::string& command, std::string* output = nullptr);
// A NAB-style CSV, "timestamp,value" and `rows` rows one minute apart from `year_month`-01 00:00:00
// (year_month as "2020-03"); row i's value field is value(i) as given (it may be empty or not a number).
std::string minute_series_csv(int rows, const std::string& year_month,
                              const std::function<std::string(int)>& value);
// The rows of run_dir/results.csv as text, every field followed by a comma, less the timing (seconds_*)
// columns: what two runs of one config must share.
std::vector<std::string> results_without_timings(const std::string& run_dir);
// Every line of a CSV file split into fields (a quoted field may hold commas; the quotes are dropped).
std::vector<std::vector<std::string>> read_csv(const std::string& path);
// The rows of a run's results.csv, each keyed by the header's column names (quoted fields may hold
// commas). A row with another number of fields than the header fails the calling test.
std::vector<std::map<std::string, std::string>> read_results_csv(const std::string& path);

// Sets an environment variable (value nullptr: unsets it) for a scope and puts back what was there (or
// its absence).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_, old_;
  bool had_ = false;
};

}  // namespace lstmad::test
