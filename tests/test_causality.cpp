// Streaming causality of the whole detector, as NAB requires: with retraining, errors averaged over a
// 4-step horizon, smoothing, the likelihood,
// the spatial check and alarm suppression all on, changing the data after row t changes no score at or
// before row t (and does change later ones).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/files.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace lstmad::test;

namespace {

std::string series(int rows, int change_after) {
  return minute_series_csv(rows, "2021-06", [&](int i) {
    double v = 10 + 3 * std::sin(i * 0.07) + 0.3 * std::sin(i * 1.3);
    if (change_after >= 0 && i > change_after) v += (i % 7 == 0 ? 9.0 : 2.0);
    return std::to_string(v);
  });
}

std::vector<std::string> score_column(const std::string& path) {
  std::istringstream in(lstmad::files::read(path));
  std::string line;
  std::vector<std::string> out;
  std::getline(in, line);
  while (std::getline(in, line)) {
    size_t a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1);
    out.push_back(line.substr(b + 1, c - b - 1));
  }
  return out;
}

}  // namespace

TEST(Causality, DataAfterRowTChangesNoScoreAtOrBeforeT) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("causal");
  const int n = 1500;
  const std::string cfg = R"({"data": {"format": "nab", "root": "ROOT"},
    "model": {"layers": 1, "hidden": 6, "window": 16, "horizon": 4},
    "train": {"epochs": 3, "retrain_every": 150, "retrain_epochs": 2},
    "detector": {"smoothing": 3, "spatial_margin": 0.05, "suppress": 0.02, "suppress_level": 0.9,
                 "likelihood": {"long_window": 300, "short_window": 4}}})";
  auto write_case = [&](const std::string& name, int change_after) {
    write_text(tmp.file(name + "/data/k/s.csv"), series(n, change_after));
    write_text(tmp.file(name + "/labels/combined_windows.json"), "{\"k/s.csv\": []}");
    std::string c = cfg;
    c.replace(c.find("ROOT"), 4, tmp.file(name));
    write_text(tmp.file(name + ".json"), c);
  };
  write_case("base", -1);
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("base.json") + " --out " + tmp.file("run-base"), &out), 0) << out;
  const auto base = score_column(tmp.file("run-base/nab/lstmad/k/lstmad_s.csv"));
  ASSERT_EQ(base.size(), static_cast<size_t>(n));
  for (int t : {400, 777, 1200}) {
    const std::string name = "changed" + std::to_string(t);
    write_case(name, t);
    ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file(name + ".json") + " --out " + tmp.file("run-" + name), &out), 0)
        << out;
    const auto changed = score_column(tmp.file("run-" + name + "/nab/lstmad/k/lstmad_s.csv"));
    ASSERT_EQ(changed.size(), base.size());
    for (int i = 0; i <= t; ++i) ASSERT_EQ(base[static_cast<size_t>(i)], changed[static_cast<size_t>(i)]) << "row " << i << ", t " << t;
    bool later_differs = false;
    for (int i = t + 1; i < n; ++i) later_differs |= base[static_cast<size_t>(i)] != changed[static_cast<size_t>(i)];
    EXPECT_TRUE(later_differs) << "t " << t;
  }
}
