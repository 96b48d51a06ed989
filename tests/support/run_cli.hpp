// The fixture and helpers of the suites that drive the built `lstmad` binary (test_run_cli.cpp,
// test_ensemble_cli.cpp, test_table_cli.cpp).
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/files.hpp"
#include "support/test_support.hpp"

namespace lstmad::test {

// A synthetic corpus small enough for a run of a few seconds.
inline constexpr const char* kTinySynthetic = R"({
  "run": {"name": "tiny", "seed": 5},
  "data": {"format": "synthetic", "synthetic": {"seed": 3, "series_per_kind": 1, "length": 600}},
  "model": {"layers": 1, "hidden": 8, "window": 12},
  "train": {"epochs": 3, "batch": 16},
  "detector": {"likelihood": {"long_window": 200, "short_window": 4}}
})";

inline int column(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  return -1;
}

inline std::string make_series(int rows, int bad_row = -1) {
  return minute_series_csv(rows, "2020-01", [&](int i) {
    return i == bad_row ? std::string("abc") : std::to_string(10.0 + std::sin(i * 0.2));
  });
}

// Every NAB-format file of run `a` equals, byte for byte, the same file of run `b`; returns how many.
inline size_t expect_same_nab_files(const std::string& a, const std::string& b) {
  size_t compared = 0;
  for (const auto& d : std::filesystem::recursive_directory_iterator(a + "/nab")) {
    if (d.path().extension() != ".csv") continue;
    const std::string rel = std::filesystem::relative(d.path(), a).string();
    EXPECT_TRUE(std::filesystem::exists(b + "/" + rel)) << rel;
    if (!std::filesystem::exists(b + "/" + rel)) continue;
    EXPECT_EQ(lstmad::files::read(b + "/" + rel), lstmad::files::read(d.path().string())) << rel;
    ++compared;
  }
  return compared;
}

class RunCli : public ::testing::Test {
 protected:
  // Runs `cfg` into `a`, `cfg` with `b_set` (a --set assignment) into `b`, and `rescore a --member b`
  // into `r`: the ensemble of the two runs' models, made from finished runs.
  void run_pair_and_rescore(const TempDir& tmp, const std::string& b_set) {
    std::string out;
    ASSERT_EQ(
        run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("a"), &out), 0)
        << out;
    ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set " + b_set +
                              " --out " + tmp.file("b"),
                          &out),
              0)
        << out;
    ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") + " --member " + tmp.file("b") +
                              " --out " + tmp.file("r"),
                          &out),
              0)
        << out;
  }
  void SetUp() override {
    if (!std::filesystem::exists(lstmad_binary()))
      GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  }
};

}  // namespace lstmad::test
