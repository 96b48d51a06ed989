// `lstmad run` end to end through the built binary: the run folder's contents, bad input that fails only
// its own cells, config errors that name the JSON path, and bit-identical reruns whatever the thread count.
#include <gtest/gtest.h>

#include <cstdio>
#include <cmath>
#include <filesystem>
#include <map>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/files.hpp"
#include "experiments/config.hpp"
#include "experiments/plan.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace lstmad::test;
using json = nlohmann::json;

namespace {

const char* kTinySynthetic = R"({
  "run": {"name": "tiny", "seed": 5},
  "data": {"format": "synthetic", "synthetic": {"seed": 3, "series_per_kind": 1, "length": 600}},
  "model": {"layers": 1, "hidden": 8, "window": 12},
  "train": {"epochs": 3, "batch": 16},
  "detector": {"likelihood": {"long_window": 200, "short_window": 4}}
})";

int column(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  return -1;
}

std::string make_series(int rows, int bad_row = -1) {
  return minute_series_csv(rows, "2020-01", [&](int i) {
    return i == bad_row ? std::string("abc") : std::to_string(10.0 + std::sin(i * 0.2));
  });
}

// Every NAB-format file of run `a` equals, byte for byte, the same file of run `b`; returns how many.
size_t expect_same_nab_files(const std::string& a, const std::string& b) {
  size_t compared = 0;
  for (const auto& d : fs::recursive_directory_iterator(a + "/nab")) {
    if (d.path().extension() != ".csv") continue;
    const std::string rel = fs::relative(d.path(), a).string();
    EXPECT_TRUE(fs::exists(b + "/" + rel)) << rel;
    if (!fs::exists(b + "/" + rel)) continue;
    EXPECT_EQ(lstmad::files::read(b + "/" + rel), lstmad::files::read(d.path().string())) << rel;
    ++compared;
  }
  return compared;
}

}  // namespace

class RunCli : public ::testing::Test {
 protected:
  // Runs `cfg` into `a`, `cfg` with `b_set` (a --set assignment) into `b`, and `rescore a --member b`
  // into `r`: the ensemble of the two runs' models, made from finished runs.
  void run_pair_and_rescore(const TempDir& tmp, const std::string& b_set) {
    std::string out;
    ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("a"), &out), 0) << out;
    ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set " + b_set + " --out " + tmp.file("b"), &out), 0)
        << out;
    ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") + " --member " + tmp.file("b") + " --out " + tmp.file("r"),
                          &out), 0)
        << out;
  }
  void SetUp() override {
    if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  }
};

TEST_F(RunCli, InfoListsEachEngineWithThePrecisionsItAccepts) {
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " info", &out), 0) << out;
  EXPECT_NE(out.find("cpu (fp32, fp64)"), std::string::npos) << out;
#ifdef LSTMAD_WITH_CUDA
  EXPECT_NE(out.find("fused (fp32, tf32, bf16)"), std::string::npos) << out;
#ifdef LSTMAD_WITH_CUDNN
  EXPECT_NE(out.find("cudnn (fp32, tf32)"), std::string::npos) << out;
#endif
#else
  EXPECT_NE(out.find("CPU-only build"), std::string::npos) << out;
#endif
}

#ifdef LSTMAD_WITH_CUDA
// `lstmad plan` asks the engine about each group's shape: the fused tensor-core kernels take H in multiples
// of 16, so H = 40 at tf32 is named as a group that cannot run (with the engine's reason), H = 48 is not.
TEST_F(RunCli, PlanNamesTheGroupsTheEngineCannotRun) {
  const std::string cfg = std::string(LSTMAD_SOURCE_DIR) + "/configs/quickstart.json";
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " plan " + cfg +
                            " --set engine.name=fused --set engine.precision=tf32 --set model.hidden=40 2>&1",
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("cannot run: the fused tensor-core kernels (tf32) take hidden sizes that are multiples of 16"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("warning: engine fused cannot run 1 of 1 group(s)"), std::string::npos) << out;
  ASSERT_EQ(run_command(lstmad_binary() + " plan " + cfg +
                            " --set engine.name=fused --set engine.precision=tf32 --set model.hidden=48 2>&1",
                        &out),
            0)
      << out;
  EXPECT_EQ(out.find("cannot run"), std::string::npos) << out;
}

// engine.fallback: the ModelBatches the fused engine refuses (tf32 at H = 40) train on the CPU engine, at
// fp32 since it does not take tf32, with a warning; the cells say so, and their NAB files equal, byte for
// byte, those of a plain CPU fp32 run. `plan` names the fallback under the refused group.
TEST_F(RunCli, EngineFallbackRunsTheGroupsTheEngineRefuses) {
  TempDir tmp("fallback");
  const std::string cfg = std::string(LSTMAD_SOURCE_DIR) + "/configs/quickstart.json";
  const std::string small = " --set data.synthetic.series_per_kind=1 --set data.synthetic.length=600 --set model.hidden=40";
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " run " + cfg + small +
                            " --set engine.name=fused --set engine.precision=tf32 --set engine.fallback=cpu --out " +
                            tmp.file("fb") + " -j 2 2>&1",
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("engine.fallback cpu (fp32) trains and runs its models"), std::string::npos) << out;
  EXPECT_NE(out.find("cell(s) trained on engine.fallback cpu (fp32) (engine fused refused their shape)"),
            std::string::npos)
      << out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + cfg + small + " --out " + tmp.file("cpu") + " -j 2", &out), 0)
      << out;
  int cells = 0;
  for (const auto& e : fs::directory_iterator(tmp.file("fb") + "/cells")) {
    const json j = json::parse(lstmad::files::read(e.path().string()));
    EXPECT_EQ(j.at("status"), "OK") << e.path();
    EXPECT_EQ(j.value("engine_fallback", ""), "cpu (fp32)") << e.path();
    ++cells;
  }
  EXPECT_GT(cells, 0);
  EXPECT_GT(expect_same_nab_files(tmp.file("cpu"), tmp.file("fb")), 0u);
  ASSERT_EQ(run_command(lstmad_binary() + " plan " + cfg + small +
                            " --set engine.name=fused --set engine.precision=tf32 --set engine.fallback=cpu 2>&1",
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("engine.fallback cpu (fp32) runs it"), std::string::npos) << out;
  EXPECT_EQ(out.find("warning: engine fused cannot run"), std::string::npos) << out;
}
#endif

// `lstmad plan` puts the work in two parts: training at most every epoch, and forecasting one window per
// scored row (every row after the first T of each series), whose FLOPs are counted here independently.
TEST_F(RunCli, PlanSplitsTheWorkIntoTrainingAndForecasting) {
  const std::string cfg = std::string(LSTMAD_SOURCE_DIR) + "/configs/quickstart.json";
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q plan " + cfg +
                            " --set model.layers=2 --set model.hidden=16 --set model.window=25"
                            " --set data.synthetic.length=1000 2>&1",
                        &out),
            0)
      << out;
  const std::size_t at = out.find("estimated work: at most ");
  ASSERT_NE(at, std::string::npos) << out;
  double total = 0, training = 0, forecasting = 0;
  ASSERT_EQ(std::sscanf(out.c_str() + at, "estimated work: at most %lf TFLOP: %lf training (all epochs; early "
                        "stopping usually ends sooner), %lf forecasting", &total, &training, &forecasting), 3)
      << out.substr(at);
  // 14 synthetic series (2 of each of 7 kinds) of 1000 rows, D = 1: per window T steps of the 4 gate
  // products per layer (inputs D, then H) plus the head.
  const double H = 16, T = 25;
  const double fwd = 2 * T * 4 * H * (1 + H) + 2 * T * 4 * H * (H + H) + 2 * H;
  EXPECT_NEAR(forecasting, 14 * (1000 - T) * fwd / 1e12, 1e-5 * forecasting);
  EXPECT_GT(training, forecasting);
  EXPECT_NEAR(total, training + forecasting, 1e-5 * total);
}

TEST_F(RunCli, SyntheticRunLeavesACompleteRunFolder) {
  TempDir tmp("run");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  int rc = run_command(lstmad_binary() + " run " + tmp.file("cfg.json") + " --out " + tmp.file("run") + " -j 2", &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("| detector |"), std::string::npos) << "the summary table is printed:\n" << out;
  for (const char* f : {"config.json", "manifest.json", "results.csv", "nab_scores.json", "nab_thresholds.json",
                        "table.md", "log.txt"})
    EXPECT_TRUE(fs::exists(tmp.file("run/") + f)) << f;
  json manifest = json::parse(lstmad::files::read(tmp.file("run/manifest.json")));
  EXPECT_FALSE(manifest["input_sha256"].empty());
  EXPECT_EQ(manifest["seed"], 5);
  auto rows = read_csv(tmp.file("run/results.csv"));
  ASSERT_GE(rows.size(), 2u);
  int st = column(rows[0], "status");
  ASSERT_GE(st, 0);
  size_t series = 0;
  for (const auto& d : fs::recursive_directory_iterator(tmp.file("run/corpus/data")))
    if (d.path().extension() == ".csv") ++series;
  EXPECT_EQ(rows.size() - 1, series) << "one row per cell";
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_EQ(rows[i][static_cast<size_t>(st)], "OK") << rows[i][4];
  json scores = json::parse(lstmad::files::read(tmp.file("run/nab_scores.json")));
  for (const char* p : {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}) {
    ASSERT_TRUE(scores["lstmad"].contains(p)) << scores.dump();
    double v = scores["lstmad"][p].get<double>();
    EXPECT_TRUE(std::isfinite(v) && v <= 100.0) << p << " " << v;
  }
  // NAB-format scores: one file per series, one row per data row, scores in [0, 1].
  size_t files = 0;
  for (const auto& d : fs::recursive_directory_iterator(tmp.file("run/nab/lstmad"))) {
    if (d.path().extension() != ".csv") continue;
    if (d.path().parent_path() == fs::path(tmp.file("run/nab/lstmad"))) {
      // NAB's per-profile summary files sit beside the category folders.
      EXPECT_NE(d.path().filename().string().find("_scores.csv"), std::string::npos) << d.path();
      continue;
    }
    ++files;
    auto r = read_csv(d.path().string());
    EXPECT_EQ(r[0], (std::vector<std::string>{"timestamp", "value", "anomaly_score", "raw_score", "label"}));
    EXPECT_EQ(r.size(), 601u) << d.path();
    for (size_t i = 1; i < r.size(); ++i) {
      double s = std::stod(r[i][2]);
      ASSERT_TRUE(s >= 0.0 && s <= 1.0) << d.path() << " row " << i;
    }
  }
  EXPECT_EQ(files, series);
  for (const char* p : {"standard", "reward_low_FP_rate", "reward_low_FN_rate"})
    EXPECT_TRUE(fs::exists(tmp.file("run/nab/lstmad/lstmad_") + p + "_scores.csv")) << p;
}

TEST_F(RunCli, RerunsAreBitIdenticalWhateverTheThreadCount) {
  TempDir tmp("determinism");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("a") + " -j 1", &out), 0) << out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("b") + " -j 2", &out), 0) << out;
  auto a = read_csv(tmp.file("a/results.csv"));
  auto b = read_csv(tmp.file("b/results.csv"));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t c = 0; c < a[0].size(); ++c)
      if (a[0][c].rfind("seconds_", 0) != 0) {
        EXPECT_EQ(a[i][c], b[i][c]) << a[0][c] << " row " << i;
      }
  for (const auto& d : fs::recursive_directory_iterator(tmp.file("a/nab"))) {
    if (d.path().extension() != ".csv") continue;
    std::string rel = fs::relative(d.path(), tmp.file("a")).string();
    EXPECT_EQ(lstmad::files::read(d.path().string()), lstmad::files::read(tmp.file("b/") + rel)) << rel;
  }
  EXPECT_EQ(lstmad::files::read(tmp.file("a/nab_scores.json")), lstmad::files::read(tmp.file("b/nab_scores.json")));
}

TEST_F(RunCli, TimeFeaturesWidenTheModelInputAndChangeThePredictions) {
  TempDir tmp("timefeat");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("a") + " -j 2", &out), 0) << out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("b") +
                            " -j 2 --set 'data.time_features=[\"time_of_day\",\"day_of_week\"]'", &out), 0)
      << out;
  auto rows = read_csv(tmp.file("b/results.csv"));
  const int st = column(rows[0], "status");
  ASSERT_GE(st, 0);
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_EQ(rows[i][static_cast<size_t>(st)], "OK") << rows[i][4];
  // The calendar inputs reach the model: its raw errors differ from the univariate run's.
  size_t differ = 0, files = 0;
  for (const auto& d : fs::recursive_directory_iterator(tmp.file("a/nab/lstmad"))) {
    if (d.path().extension() != ".csv" || d.path().parent_path() == fs::path(tmp.file("a/nab/lstmad"))) continue;
    ++files;
    std::string rel = fs::relative(d.path(), tmp.file("a")).string();
    differ += lstmad::files::read(d.path().string()) != lstmad::files::read(tmp.file("b/") + rel);
  }
  EXPECT_GT(files, 0u);
  EXPECT_EQ(differ, files);
}

TEST_F(RunCli, MisspeltKeyFailsValidateAndRunNamingThePath) {
  TempDir tmp("badkey");
  write_text(tmp.file("cfg.json"), R"({"model": {"hiden": 32}, "train": {"epochs": "many"}})");
  for (const std::string& cmd : std::vector<std::string>{" validate ", " run --out " + tmp.file("r") + " "}) {
    std::string out;
    int rc = run_command(lstmad_binary() + cmd + tmp.file("cfg.json"), &out);
    EXPECT_EQ(rc, 2) << out;
    EXPECT_NE(out.find("model.hiden: unknown key"), std::string::npos) << out;
    EXPECT_NE(out.find("train.epochs: expected an integer"), std::string::npos) << out;
  }
  EXPECT_FALSE(fs::exists(tmp.file("r/results.csv")));
}

// With retraining on, a setting whose train.retrain_rows (above 0) is below its model.horizon has no
// window to fine-tune on, whatever the series: of the grid horizon [1, 5] x retrain_rows [3, 0] only
// (5, 3) is such a setting. `validate` names it alone, as `plan` names settings, and exits 1; `plan` warns
// that its cells will fail and still prints the plan; the run fails its cells with the same reason.
TEST_F(RunCli, ValidateAndPlanNameTheSettingsThatCannotRun) {
  TempDir tmp("cannot-run");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  const std::vector<std::string> sets = {"model.horizon=[1,5]", "train.retrain_rows=[3,0]",
                                         "train.retrain_every=200", "train.retrain_epochs=1"};
  std::string args = tmp.file("cfg.json");
  json user = lstmad::read_config_file(tmp.file("cfg.json"));
  for (const std::string& s : sets) {
    args += " --set '" + s + "'";
    lstmad::apply_override(user, s);
  }
  const lstmad::Plan plan = lstmad::make_plan(lstmad::resolve_config(user, "cfg.json"), {});
  ASSERT_EQ(plan.settings.size(), 4u);
  const lstmad::Setting& bad = plan.settings[2];  // schema order, the last axis fastest
  ASSERT_EQ(lstmad::at_path(bad.values, "model.horizon"), 5);
  ASSERT_EQ(lstmad::at_path(bad.values, "train.retrain_rows"), 3);
  const std::string why =
      "train.retrain_rows 3 is fewer than model.horizon 5: no window has all its targets "
      "in the latest rows, so fine-tuning would never run (0 = the training part's length)";
  auto count = [](const std::string& text, const std::string& what) {
    int n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };

  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " validate " + args, &out), 1) << out;
  EXPECT_NE(out.find("setting 2, " + bad.detector + " (" + bad.id + "), cannot run: " + why),
            std::string::npos)
      << out;
  EXPECT_EQ(count(out, "), cannot run: "), 1) << out;
  EXPECT_NE(out.find("1 of 4 setting(s) cannot run"), std::string::npos) << out;
  EXPECT_EQ(out.find("valid, "), std::string::npos) << out;
  for (const lstmad::Setting& s : plan.settings) {
    if (s.index != bad.index) {
      EXPECT_EQ(out.find(s.detector), std::string::npos) << s.detector << "\n" << out;
    }
  }

  ASSERT_EQ(run_command(lstmad_binary() + " -q plan " + args, &out), 0) << out;
  EXPECT_NE(
      out.find("warning: setting 2, " + bad.detector + " (" + bad.id + "): its 7 cells will fail: " + why),
      std::string::npos)
      << out;
  EXPECT_EQ(count(out, "cells will fail"), 1) << out;
  EXPECT_NE(out.find("estimated work: at most "), std::string::npos) << out;

  // The same grid with retrain_rows [3, 0] -> [5, 0]: every setting runs.
  EXPECT_EQ(run_command(lstmad_binary() + " validate " + args + " --set 'train.retrain_rows=[5,0]'", &out), 0)
      << out;
  EXPECT_NE(out.find("valid, 4 setting(s)"), std::string::npos) << out;

  EXPECT_EQ(run_command(lstmad_binary() + " -q run " + args + " --out " + tmp.file("run") + " -j 2", &out), 1)
      << out;
  const auto rows = read_results_csv(tmp.file("run/results.csv"));
  ASSERT_EQ(rows.size(), 4u * 7) << out;  // the 7 synthetic series
  int failed = 0;
  for (const auto& row : rows) {
    if (row.at("setting_id") == bad.id) {
      EXPECT_EQ(row.at("status"), "ERROR");
      EXPECT_EQ(row.at("error"), why);
      ++failed;
    } else {
      EXPECT_EQ(row.at("status"), "OK") << row.at("error");
    }
  }
  EXPECT_EQ(failed, 7);
}

// plan selects a synthetic corpus's series with data.files and data.max_files as a run does (it counted
// every generated series).
TEST_F(RunCli, PlanSelectsTheSyntheticSeriesAsARunDoes) {
  TempDir tmp("plan-select");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q plan " + tmp.file("cfg.json"), &out), 0) << out;
  EXPECT_NE(out.find("7 cells = 1 setting(s) x 7 series"), std::string::npos) << out;
  ASSERT_EQ(
      run_command(lstmad_binary() + " -q plan " + tmp.file("cfg.json") + " --set data.max_files=2", &out), 0)
      << out;
  EXPECT_NE(out.find("2 cells = 1 setting(s) x 2 series"), std::string::npos) << out;
  EXPECT_NE(out.find(", 2 models"), std::string::npos) << out;
  ASSERT_EQ(
      run_command(
          lstmad_binary() + " -q plan " + tmp.file("cfg.json") + " --set 'data.files=[\"synthS*/*\"]'", &out),
      0)
      << out;
  const std::string selected = out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                            " --set 'data.files=[\"synthS*/*\"]' --set train.epochs=1 --out " +
                            tmp.file("run") + " -j 2",
                        &out),
            0)
      << out;
  const std::size_t cells = read_results_csv(tmp.file("run/results.csv")).size();
  ASSERT_GT(cells, 0u);
  ASSERT_LT(cells, 7u);
  EXPECT_NE(
      selected.find(std::to_string(cells) + " cells = 1 setting(s) x " + std::to_string(cells) + " series"),
      std::string::npos)
      << selected;
}

TEST_F(RunCli, BadSeriesFailOnlyTheirOwnCells) {
  TempDir tmp("badcsv");
  write_text(tmp.file("corpus/data/cat/good.csv"), make_series(400));
  write_text(tmp.file("corpus/data/cat/nonnumeric.csv"), make_series(400, 7));
  write_text(tmp.file("corpus/data/cat/empty.csv"), "");
  write_text(tmp.file("corpus/labels/combined_windows.json"),
             R"({"cat/good.csv": [["2020-01-01 05:00:00", "2020-01-01 05:20:00"]], "cat/nonnumeric.csv": [], "cat/empty.csv": []})");
  write_text(tmp.file("cfg.json"), std::string(R"({"data": {"format": "nab", "root": ")") + tmp.file("corpus") +
                                       R"(", "files": ["cat/*", "cat/missing.csv"]},
      "model": {"layers": 1, "hidden": 4, "window": 10}, "train": {"epochs": 2},
      "detector": {"likelihood": {"long_window": 100, "short_window": 3}}})");
  std::string out;
  int rc = run_command(lstmad_binary() + " run " + tmp.file("cfg.json") + " --out " + tmp.file("run"), &out);
  EXPECT_EQ(rc, 1) << "failed cells make the exit status 1:\n" << out;
  auto rows = read_csv(tmp.file("run/results.csv"));
  ASSERT_EQ(rows.size(), 5u) << "every cell has a row, failed or not";
  int st = column(rows[0], "status"), err = column(rows[0], "error"), ser = column(rows[0], "series");
  std::map<std::string, std::pair<std::string, std::string>> by_series;
  for (size_t i = 1; i < rows.size(); ++i)
    by_series[rows[i][static_cast<size_t>(ser)]] = {rows[i][static_cast<size_t>(st)], rows[i][static_cast<size_t>(err)]};
  EXPECT_EQ(by_series["cat/good.csv"].first, "OK");
  EXPECT_EQ(by_series["cat/nonnumeric.csv"].first, "ERROR");
  EXPECT_NE(by_series["cat/nonnumeric.csv"].second.find("nonnumeric.csv:9"), std::string::npos)
      << "file and line (row 7 is line 9): " << by_series["cat/nonnumeric.csv"].second;
  EXPECT_EQ(by_series["cat/empty.csv"].first, "ERROR");
  EXPECT_NE(by_series["cat/empty.csv"].second.find("empty"), std::string::npos) << by_series["cat/empty.csv"].second;
  EXPECT_EQ(by_series["cat/missing.csv"].first, "ERROR");
  EXPECT_NE(by_series["cat/missing.csv"].second.find("missing.csv"), std::string::npos);
  EXPECT_TRUE(fs::exists(tmp.file("run/nab/lstmad/cat/lstmad_good.csv"))) << "the good series finished";
}

TEST_F(RunCli, RescoreEqualsAFreshRunWithThoseDetectorSettings) {
  TempDir tmp("rescore");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("a"), &out), 0) << out;
  const std::string sets = " --set detector.suppress=0.05 --set detector.spatial_margin=0.1 --set detector.smoothing=3";
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + sets + " --out " + tmp.file("b"), &out), 0) << out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") + sets + " --out " + tmp.file("r"), &out), 0) << out;
  size_t compared = 0;
  for (const auto& d : fs::recursive_directory_iterator(tmp.file("b/nab"))) {
    if (d.path().extension() != ".csv") continue;
    std::string rel = fs::relative(d.path(), tmp.file("b")).string();
    EXPECT_EQ(lstmad::files::read(d.path().string()), lstmad::files::read(tmp.file("r/") + rel)) << rel;
    ++compared;
  }
  EXPECT_GT(compared, 3u);
  EXPECT_EQ(lstmad::files::read(tmp.file("b/nab_scores.json")), lstmad::files::read(tmp.file("r/nab_scores.json")));
  // Changing anything but detector.* or eval.* would need new models: refused.
  EXPECT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") + " --set model.hidden=4 --out " + tmp.file("x"), &out), 2)
      << out;
  EXPECT_NE(out.find("rescoring changes only detector"), std::string::npos) << out;
}

// A resumed run whose corpus lost a series since keeps its other cells' files as they were written, with
// the plan positions of the corpus they ran on. rescore finds each model's source cell by its id (setting
// and series), so it scores such a run as it scores a fresh run on the corpus as it is now.
TEST_F(RunCli, RescoreOfAResumedRunWhoseCorpusLostASeriesEqualsAFreshRun) {
  TempDir tmp("rescore-resumed");
  const std::string window = R"([["2020-01-01 07:00:00", "2020-01-01 07:40:00"]])";
  for (const char* name : {"a", "b", "c"})
    write_text(tmp.file(std::string("corpus/data/cat/") + name + ".csv"), make_series(600));
  write_text(
      tmp.file("corpus/labels/combined_windows.json"),
      R"({"cat/a.csv": )" + window + R"(, "cat/b.csv": )" + window + R"(, "cat/c.csv": )" + window + "}");
  write_text(tmp.file("cfg.json"), std::string(R"({"data": {"format": "nab", "root": ")") +
                                       tmp.file("corpus") +
                                       R"("}, "model": {"layers": 1, "hidden": 4, "window": 12},
      "train": {"epochs": 2, "batch": 16}, "detector": {"likelihood": {"long_window": 200, "short_window": 4}}})");
  std::string out;
  ASSERT_EQ(
      run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("run"), &out), 0)
      << out;
  fs::remove(tmp.file("corpus/data/cat/a.csv"));
  ASSERT_EQ(run_command(lstmad_binary() + " -q run --resume " + tmp.file("run"), &out), 0) << out;
  const std::string set = " --set detector.smoothing=3";
  ASSERT_EQ(
      run_command(lstmad_binary() + " -q rescore " + tmp.file("run") + set + " --out " + tmp.file("r"), &out),
      0)
      << out;
  ASSERT_EQ(
      run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + set + " --out " + tmp.file("fresh"),
                  &out),
      0)
      << out;
  EXPECT_EQ(expect_same_nab_files(tmp.file("fresh"), tmp.file("r")), 5u)
      << "b, c and the three profiles' summaries";
  EXPECT_EQ(json::parse(lstmad::files::read(tmp.file("r/nab_scores.json"))),
            json::parse(lstmad::files::read(tmp.file("fresh/nab_scores.json"))));
}

// rescore --member: an ensemble of two runs' models (here windows 12 and 20): every row's raw_score is the
// mean of the two runs' errors (NaN where either has none), the detector scores that, and a member with
// more than one model per series is refused by name.
TEST_F(RunCli, RescoreWithAMemberAveragesTheTwoModelsErrors) {
  TempDir tmp("ensemble");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_NO_FATAL_FAILURE(run_pair_and_rescore(tmp, "model.window=20"));
  auto number = [](const std::string& t) { return t == "nan" || t.empty() ? std::nan("") : std::stod(t); };
  size_t files_compared = 0, averaged = 0, nan_rows = 0;
  for (const auto& d : fs::recursive_directory_iterator(tmp.file("r/nab"))) {
    if (d.path().extension() != ".csv" || d.path().filename().string().find("_scores") != std::string::npos) continue;
    const std::string rel = fs::relative(d.path(), tmp.file("r")).string();
    auto r = read_csv(d.path().string()), a = read_csv(tmp.file("a/") + rel), b = read_csv(tmp.file("b/") + rel);
    ASSERT_EQ(r.size(), a.size()) << rel;
    ASSERT_EQ(r.size(), b.size()) << rel;
    const int col = column(r[0], "raw_score");
    ASSERT_GE(col, 0) << rel;
    for (size_t i = 1; i < r.size(); ++i) {
      const double x = number(r[i][static_cast<size_t>(col)]), ea = number(a[i][static_cast<size_t>(col)]),
                   eb = number(b[i][static_cast<size_t>(col)]);
      if (std::isnan(ea) || std::isnan(eb)) {
        EXPECT_TRUE(std::isnan(x)) << rel << " row " << i;
        ++nan_rows;
      } else {
        EXPECT_DOUBLE_EQ(x, (ea + eb) / 2) << rel << " row " << i;
        if (ea != eb) ++averaged;
      }
    }
    ++files_compared;
  }
  EXPECT_GT(files_compared, 3u);
  EXPECT_GT(averaged, 1000u) << "the two models must differ for the mean to be tested";
  EXPECT_GT(nan_rows, 0u) << "rows before the longer window have no ensemble error";
  auto wall = [&](const std::string& run) {
    return nlohmann::json::parse(lstmad::files::read(tmp.file(run + "/summary.json")))["wall_seconds"].get<double>();
  };
  EXPECT_GE(wall("r"), wall("a") + wall("b")) << "an ensemble's run time includes its models'";
  EXPECT_NE(lstmad::files::read(tmp.file("r/manifest.json")).find(tmp.file("b")), std::string::npos);

  // A grid run holds several models per series: not an ensemble member.
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set 'model.hidden=[4,8]' --out " + tmp.file("g"), &out), 0)
      << out;
  EXPECT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") + " --member " + tmp.file("g") + " --out " + tmp.file("x"), &out), 2)
      << out;
  EXPECT_NE(out.find(tmp.file("g") + ": holds more than one cell"), std::string::npos) << out;
}

// A member is another model of the same series: a run over other values of the same ids and lengths (here
// another synthetic seed), or with another training part, would average errors of different rows or
// in-sample errors into the ensemble. Each cell then fails, naming the member's file and the first row that
// differs; a member of the same data is accepted.
TEST_F(RunCli, RescoreRefusesAMemberThatRanOnOtherData) {
  TempDir tmp("ensemble-other-data");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json");
  ASSERT_EQ(run_command(run + " --out " + tmp.file("a"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --set data.synthetic.seed=4 --out " + tmp.file("other"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --set data.train_fraction=0.3 --out " + tmp.file("longer"), &out), 0) << out;
  struct Case {
    std::string member, expected;
  };
  for (const Case& c : {Case{"other", "value"}, Case{"longer", "training rows"}}) {
    const std::string dir = tmp.file("r-" + c.member);
    EXPECT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") + " --member " +
                              tmp.file(c.member) + " --out " + dir + " 2>&1",
                          &out),
              1)
        << c.member << ": " << out;
    const auto rows = lstmad::test::read_results_csv(dir + "/results.csv");
    ASSERT_EQ(rows.size(), 7u) << c.member;
    for (const auto& row : rows) {
      EXPECT_EQ(row.at("status"), "ERROR") << c.member << " " << row.at("series");
      EXPECT_NE(row.at("error").find(tmp.file(c.member) + "/nab/"), std::string::npos) << row.at("error");
      EXPECT_NE(row.at("error").find(c.expected), std::string::npos) << row.at("error");
    }
  }
  // The same data with another model is an ensemble member.
  ASSERT_EQ(run_command(run + " --set model.window=20 --out " + tmp.file("same"), &out), 0) << out;
  EXPECT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") + " --member " + tmp.file("same") +
                            " --out " + tmp.file("r-same"),
                        &out),
            0)
      << out;
}

// A rescore refused at its start (a member that is no run folder or a grid, a damaged summary.json) writes
// no output folder, so the corrected command is not then refused as "already holds a run".
TEST_F(RunCli, ARefusedRescoreLeavesNothingThatBlocksTheCorrectedCommand) {
  TempDir tmp("rescore-refused");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json");
  ASSERT_EQ(run_command(run + " --out " + tmp.file("a"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --set 'model.hidden=[4,8]' --out " + tmp.file("grid"), &out), 0) << out;
  fs::create_directories(tmp.file("not-a-run"));
  fs::copy(tmp.file("a"), tmp.file("damaged"), fs::copy_options::recursive);
  write_text(tmp.file("damaged/summary.json"), "{");
  const std::string rescore = lstmad_binary() + " -q rescore " + tmp.file("a");
  struct Case {
    std::string args;
    int status;
  };
  for (const Case& c :
       {Case{" --member " + tmp.file("not-a-run"), 3}, Case{" --member " + tmp.file("grid"), 2},
        Case{" --member " + tmp.file("damaged"), 3}}) {
    EXPECT_EQ(run_command(rescore + c.args + " --out " + tmp.file("r") + " 2>&1", &out), c.status)
        << c.args << ": " << out;
    EXPECT_FALSE(fs::exists(tmp.file("r"))) << c.args;
  }
  EXPECT_EQ(run_command(rescore + " --out " + tmp.file("r"), &out), 0) << out;
}

// Each run's models count once in a rescore ensemble: the source given again as a member, or one member
// given twice (here once through another spelling of its path), would weigh its models double.
TEST_F(RunCli, RescoreRefusesARunGivenTwice) {
  TempDir tmp("rescore-twice");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json");
  ASSERT_EQ(run_command(run + " --out " + tmp.file("a"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --set model.window=20 --out " + tmp.file("b"), &out), 0) << out;
  const std::string rescore = lstmad_binary() + " -q rescore " + tmp.file("a");
  struct Case {
    std::string members, expected;
  };
  for (const Case& c :
       {Case{" --member " + tmp.file("a"), "--member " + tmp.file("a") + ": the same run as the source"},
        Case{" --member " + tmp.file("b") + " --member " + tmp.path() + "/./b",
             "--member " + tmp.path() + "/./b: the same run as --member " + tmp.file("b")}}) {
    EXPECT_EQ(run_command(rescore + c.members + " --out " + tmp.file("r") + " 2>&1", &out), 2)
        << c.members << ": " << out;
    EXPECT_NE(out.find(c.expected), std::string::npos) << out;
    EXPECT_FALSE(fs::exists(tmp.file("r")));
  }
}

TEST_F(RunCli, EnsembleRunEqualsItsMembersRunsAveraged) {
  // One run with "ensemble": {"model.window": [12, 20]} trains, per series, the models that single runs
  // of window 12 and window 20 train (same seeds), and scores the mean of their errors: its NAB files
  // equal those of `rescore` over the two single runs, byte for byte.
  TempDir tmp("ensemble-run");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_NO_FATAL_FAILURE(run_pair_and_rescore(tmp, "model.window=20"));
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                            " --set 'ensemble={\"model.window\": [12, 20]}' --out " + tmp.file("e") + " -j 2", &out), 0)
      << out;
  EXPECT_GT(expect_same_nab_files(tmp.file("r"), tmp.file("e")), 3u);
  // Each ensemble cell records its members' training; its epochs are their sum.
  std::map<std::string, int> single_epochs;
  for (const char* run : {"a", "b"})
    for (const auto& f : fs::directory_iterator(tmp.file(std::string(run) + "/cells"))) {
      json c = json::parse(lstmad::files::read(f.path().string()));
      single_epochs[c["series"].get<std::string>()] += c["epochs"].get<int>();
    }
  size_t cells = 0;
  for (const auto& f : fs::directory_iterator(tmp.file("e/cells"))) {
    json c = json::parse(lstmad::files::read(f.path().string()));
    ASSERT_EQ(c["members"].size(), 2u) << f.path();
    EXPECT_EQ(c["members"][1]["values"], (json{{"model.window", 20}}));
    EXPECT_EQ(c["epochs"].get<int>(), single_epochs[c["series"].get<std::string>()]) << f.path();
    EXPECT_EQ(c["best_epoch"].get<int>(), -1);
    ++cells;
  }
  EXPECT_EQ(cells, single_epochs.size());
  EXPECT_EQ(json::parse(lstmad::files::read(tmp.file("e/nab_scores.json"))),
            json::parse(lstmad::files::read(tmp.file("r/nab_scores.json"))));
}

TEST_F(RunCli, CellLossesAreThoseOfTheKeptEpochAndTheCurvesAreRecorded) {
  // With early stopping the parameters of the best validation epoch score the series; the cell's (and
  // results.csv's) train_loss and val_loss are that epoch's, and loss_curve holds every epoch run. A high
  // learning rate makes the validation loss rise again, so some series keep an epoch before the last.
  TempDir tmp("loss-curves");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                            " --set train.epochs=12 --set train.patience=3 --set train.lr=0.05 --out " + tmp.file("r"),
                        &out),
            0)
      << out;
  const auto rows = lstmad::test::read_results_csv(tmp.file("r/results.csv"));
  std::map<std::string, std::map<std::string, std::string>> row_of;
  for (const auto& r : rows) row_of[r.at("series")] = r;
  size_t cells = 0, earlier = 0;
  for (const auto& f : fs::directory_iterator(tmp.file("r/cells"))) {
    json c = json::parse(lstmad::files::read(f.path().string()));
    const int epochs = c["epochs"].get<int>(), best = c["best_epoch"].get<int>();
    const json& train = c["loss_curve"]["train"];
    const json& val = c["loss_curve"]["val"];
    ASSERT_EQ(train.size(), static_cast<size_t>(epochs)) << f.path();
    ASSERT_EQ(val.size(), static_cast<size_t>(epochs)) << f.path();
    ASSERT_GE(best, 0) << f.path();
    ASSERT_LT(best, epochs) << f.path();
    EXPECT_DOUBLE_EQ(c["train_loss"].get<double>(), train[static_cast<size_t>(best)].get<double>()) << f.path();
    EXPECT_DOUBLE_EQ(c["val_loss"].get<double>(), val[static_cast<size_t>(best)].get<double>()) << f.path();
    for (size_t e = 0; e < val.size(); ++e)
      EXPECT_GE(val[e].get<double>(), val[static_cast<size_t>(best)].get<double>()) << f.path() << " epoch " << e;
    const auto& row = row_of.at(c["series"].get<std::string>());
    EXPECT_NEAR(std::stod(row.at("train_loss")), c["train_loss"].get<double>(), 1e-9 * c["train_loss"].get<double>());
    if (best < epochs - 1) ++earlier;
    ++cells;
  }
  EXPECT_EQ(cells, rows.size());
  EXPECT_GT(earlier, 0u) << "no cell kept an epoch before its last: the test shows nothing";
}

TEST_F(RunCli, ATrainingTimeLimitEndsTheCellsTimeoutWithoutChangingTheirIdentity) {
  // run.max_train_seconds is a resource limit: past it a model stops between epochs and its cell ends
  // TIMEOUT, unscored, naming the key (exit 1, as for failed cells); cell ids and seeds stay those of the
  // run without it, so a resumed or merged run still matches them.
  TempDir tmp("time-limit");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  const std::string run =
      lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set train.epochs=4 --set train.patience=0";
  ASSERT_EQ(run_command(run + " --out " + tmp.file("free"), &out), 0) << out;
  EXPECT_EQ(run_command(run + " --set run.max_train_seconds=1e-9 --out " + tmp.file("cut"), &out), 1) << out;
  const auto free = lstmad::test::read_results_csv(tmp.file("free/results.csv"));
  const auto cut = lstmad::test::read_results_csv(tmp.file("cut/results.csv"));
  ASSERT_EQ(cut.size(), free.size());
  ASSERT_FALSE(cut.empty());
  for (size_t i = 0; i < cut.size(); ++i) {
    EXPECT_EQ(free[i].at("status"), "OK");
    EXPECT_EQ(cut[i].at("status"), "TIMEOUT") << cut[i].at("series");
    EXPECT_NE(cut[i].at("error").find("run.max_train_seconds: training stopped after 1 of 4 epochs"),
              std::string::npos)
        << cut[i].at("error");
    EXPECT_EQ(cut[i].at("epochs"), "1");
    EXPECT_EQ(cut[i].at("cell_id"), free[i].at("cell_id"));
    EXPECT_EQ(cut[i].at("seed"), free[i].at("seed"));
    EXPECT_EQ(cut[i].count("roc_auc"), 0u) << "no cell is scored, so there is no metric column";
  }
  EXPECT_FALSE(fs::exists(tmp.file("cut/nab/tiny"))) << "no NAB result file for a timed-out cell";
}

TEST_F(RunCli, RescoreCountsAnEnsembleRunAsItsModels) {
  // An ensemble run given to rescore stands for its models, not for one: a two-model run plus a one-model
  // member is the three-model ensemble, byte for byte (weighted 2 : 1, not the 1 : 1 that would give the
  // member half the weight).
  TempDir tmp("ensemble-weights");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json");
  ASSERT_EQ(run_command(run + " --set 'ensemble={\"model.window\": [12, 20]}' --out " + tmp.file("two"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --set model.window=16 --out " + tmp.file("one"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --set 'ensemble={\"model.window\": [12, 20, 16]}' --out " + tmp.file("three"), &out), 0)
      << out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("two") + " --member " + tmp.file("one") + " --out " +
                            tmp.file("r"), &out), 0)
      << out;
  EXPECT_GT(expect_same_nab_files(tmp.file("three"), tmp.file("r")), 3u);
  // The same member order the other way round: the one-model run plus the two-model run.
  ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("one") + " --member " + tmp.file("two") + " --out " +
                            tmp.file("r2"), &out), 0)
      << out;
  const auto three = json::parse(lstmad::files::read(tmp.file("three/nab_scores.json")));
  const auto r2 = json::parse(lstmad::files::read(tmp.file("r2/nab_scores.json")));
  for (const char* profile : {"standard", "reward_low_FP_rate", "reward_low_FN_rate"})
    EXPECT_NEAR(r2.begin()->at(profile).get<double>(), three.begin()->at(profile).get<double>(), 1e-6) << profile;
}

TEST_F(RunCli, ARescoredEnsembleCountsAsAllItsModels) {
  // An ensemble made by rescore --member is itself an ensemble run: rescored again with a third run as
  // member, or given as a member, it stands for its two models, so both ways give the three-model
  // ensemble that one rescore with two members makes, byte for byte (weights 2 : 1, not 1 : 1).
  TempDir tmp("ensemble-chained");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_NO_FATAL_FAILURE(run_pair_and_rescore(tmp, "model.window=20"));  // r = a + b
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                            " --set model.window=16 --out " + tmp.file("c"),
                        &out),
            0)
      << out;
  const std::string rescore = lstmad_binary() + " -q rescore ";
  ASSERT_EQ(run_command(rescore + tmp.file("a") + " --member " + tmp.file("b") + " --member " +
                            tmp.file("c") + " --out " + tmp.file("abc"),
                        &out),
            0)
      << out;
  ASSERT_EQ(
      run_command(rescore + tmp.file("r") + " --member " + tmp.file("c") + " --out " + tmp.file("r+c"), &out),
      0)
      << out;
  ASSERT_EQ(
      run_command(rescore + tmp.file("c") + " --member " + tmp.file("r") + " --out " + tmp.file("c+r"), &out),
      0)
      << out;
  EXPECT_GT(expect_same_nab_files(tmp.file("abc"), tmp.file("r+c")), 3u);
  EXPECT_GT(expect_same_nab_files(tmp.file("abc"), tmp.file("c+r")), 3u);
  // Each cell lists the three models with the runs they come from.
  for (const auto& f : fs::directory_iterator(tmp.file("r+c/cells"))) {
    const json cell = json::parse(lstmad::files::read(f.path().string()));
    ASSERT_EQ(cell["members"].size(), 3u) << f.path();
    EXPECT_EQ(cell["members"][0]["run"], tmp.file("a"));
    EXPECT_EQ(cell["members"][1]["run"], tmp.file("b"));
    EXPECT_EQ(cell["members"][2]["run"], tmp.file("c"));
    for (const auto& m : cell["members"])  // each model keeps its training curve
      EXPECT_EQ(m["loss_curve"]["train"].size(), static_cast<size_t>(m["epochs"].get<int>())) << f.path();
  }
}

TEST_F(RunCli, EnsembleSeedReplicasAreTheModelsOfRunsWithThoseSeeds) {
  // "seeds": 2 adds, per series, the model that a run with the replica's seed trains: the ensemble equals
  // rescore of the run-seed run with the replica-seed run as member.
  TempDir tmp("ensemble-seeds");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set 'ensemble={\"seeds\": 2}' --out " +
                            tmp.file("e"), &out), 0)
      << out;
  json cell = json::parse(lstmad::files::read(fs::directory_iterator(tmp.file("e/cells"))->path().string()));
  ASSERT_EQ(cell["members"].size(), 2u);
  EXPECT_EQ(cell["members"][0]["values"]["run.seed"], 5);
  const uint64_t replica = cell["members"][1]["values"]["run.seed"].get<uint64_t>();
  EXPECT_NE(replica, 5u);
  ASSERT_NO_FATAL_FAILURE(run_pair_and_rescore(tmp, "run.seed=" + std::to_string(replica)));
  EXPECT_EQ(json::parse(lstmad::files::read(tmp.file("e/nab_scores.json"))),
            json::parse(lstmad::files::read(tmp.file("r/nab_scores.json"))));
  EXPECT_GT(expect_same_nab_files(tmp.file("r"), tmp.file("e")), 3u);
}

TEST_F(RunCli, AnEnsembleMemberThatCannotTrainFailsOnlyItsCell) {
  TempDir tmp("ensemble-fail");
  write_text(tmp.file("corpus/data/cat/short.csv"), make_series(400));   // 60 training rows
  write_text(tmp.file("corpus/data/cat/long.csv"), make_series(2000));   // 300 training rows
  write_text(tmp.file("corpus/labels/combined_windows.json"), R"({"cat/short.csv": [], "cat/long.csv": []})");
  write_text(tmp.file("cfg.json"), std::string(R"({"data": {"format": "nab", "root": ")") + tmp.file("corpus") +
                                       R"("}, "ensemble": {"model.window": [10, 100]},
      "model": {"layers": 1, "hidden": 4}, "train": {"epochs": 2},
      "detector": {"likelihood": {"long_window": 100, "short_window": 3}}})");
  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("run"), &out), 1) << out;
  auto rows = read_csv(tmp.file("run/results.csv"));
  ASSERT_EQ(rows.size(), 3u);
  const int st = column(rows[0], "status"), err = column(rows[0], "error"), ser = column(rows[0], "series");
  for (size_t i = 1; i < rows.size(); ++i) {
    const std::string series = rows[i][static_cast<size_t>(ser)];
    if (series == "cat/long.csv") {
      EXPECT_EQ(rows[i][static_cast<size_t>(st)], "OK");
    } else {
      EXPECT_EQ(rows[i][static_cast<size_t>(st)], "ERROR");
      EXPECT_NE(rows[i][static_cast<size_t>(err)].find("short.csv: 60 training rows are too few for window 100"),
                std::string::npos)
          << rows[i][static_cast<size_t>(err)];
    }
  }
  EXPECT_TRUE(fs::exists(tmp.file("run/nab/lstmad/cat/lstmad_long.csv")));
}

TEST_F(RunCli, TableAveragesRunsBesideTheScoreboard) {
  TempDir tmp("table");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  double sum = 0;
  std::string dirs;
  for (int seed : {1, 2}) {
    std::string d = tmp.file("s" + std::to_string(seed));
    ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set run.seed=" + std::to_string(seed) +
                              " --out " + d, &out), 0) << out;
    json s = json::parse(lstmad::files::read(d + "/nab_scores.json"));
    sum += s["lstmad"]["standard"].get<double>();
    dirs += " " + d;
  }
  ASSERT_EQ(run_command(lstmad_binary() + " table" + dirs + " --out " + tmp.file("nab.md"), &out), 0) << out;
  char mean[32];
  std::snprintf(mean, sizeof mean, "**%.2f**", sum / 2);
  EXPECT_NE(out.find(std::string("**lstmad** (lstmad, 2 runs) | ") + mean), std::string::npos) << mean << "\n" << out;
  EXPECT_NE(lstmad::files::read(tmp.file("nab.md")).find("Generated by `lstmad table`"), std::string::npos);
  EXPECT_NE(out.find("Not on NAB's corpus, so not comparable with the scoreboard rows:"), std::string::npos)
      << out;
  // A run given twice would be two of the mean's runs: refused, naming both spellings.
  EXPECT_EQ(run_command(lstmad_binary() + " table" + dirs + " " + tmp.path() + "/./s1 2>&1", &out), 2) << out;
  EXPECT_NE(out.find(tmp.path() + "/./s1: the same run as " + tmp.file("s1")), std::string::npos) << out;
  // A run of another config under the same detector name is a row of its own, not part of the mean.
  const std::string other = tmp.file("other");
  ASSERT_EQ(
      run_command(
          lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set train.epochs=1 --out " + other, &out),
      0)
      << out;
  ASSERT_EQ(run_command(lstmad_binary() + " table" + dirs + " " + other + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find(std::string("**lstmad** [config 1] (lstmad, 2 runs) | ") + mean), std::string::npos)
      << out;
  EXPECT_NE(out.find("**lstmad** [config 2] (lstmad, 1 run) | "), std::string::npos) << out;
  EXPECT_NE(out.find("lstmad [config 2]: `" + other + "`;"), std::string::npos)
      << "the footer's runs: " << out;
  // A run whose cells all failed has no NAB score: named and left out, not dropped without a word.
  const std::string failed = tmp.file("failed");
  EXPECT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                            " --set model.window=5000 --out " + failed + " 2>&1",
                        &out),
            1)
      << out;
  ASSERT_EQ(run_command(lstmad_binary() + " table" + dirs + " " + failed + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("Not scored (left out): `" + failed + "`"), std::string::npos) << out;
  if (!lstmad::test::shared_nab_root().empty()) {
    EXPECT_NE(out.find("numenta (NAB scoreboard) | 70.10"), std::string::npos) << out;
  } else {
    std::cout << "[ NOTE ] ../shared/nab absent: scoreboard rows not checked\n";
  }
}

// A run on part of NAB's corpus (data.files, data.max_files) is scored over other windows than NAB's
// scoreboard: the table names it as not comparable, as it names a run on another corpus; a run on all
// of the corpus is not named. Here a three-file corpus in NAB's layout with a scoreboard stands for NAB.
TEST_F(RunCli, TableNamesARunOnPartOfNabsCorpusAsNotComparable) {
  TempDir tmp("table-part");
  const std::string window = R"([["2020-01-01 07:00:00", "2020-01-01 07:40:00"]])";
  for (const char* name : {"a", "b", "c"})
    write_text(tmp.file(std::string("nab/data/cat/") + name + ".csv"), make_series(600));
  write_text(
      tmp.file("nab/labels/combined_windows.json"),
      R"({"cat/a.csv": )" + window + R"(, "cat/b.csv": )" + window + R"(, "cat/c.csv": )" + window + "}");
  write_text(tmp.file("nab/results/final_results.json"),
             R"({"null": {"standard": 0.0, "reward_low_FP_rate": 0.0, "reward_low_FN_rate": 0.0}})");
  write_text(tmp.file("cfg.json"), std::string(R"({"data": {"format": "nab", "root": ")") + tmp.file("nab") +
                                       R"("}, "model": {"layers": 1, "hidden": 4, "window": 12},
      "train": {"epochs": 1, "batch": 16}, "detector": {"likelihood": {"long_window": 200, "short_window": 4}}})");
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json");
  ASSERT_EQ(run_command(run + " --out " + tmp.file("all"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --set data.max_files=2 --out " + tmp.file("part"), &out), 0) << out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q table " + tmp.file("all") + " " + tmp.file("part") +
                            " --nab " + tmp.file("nab"),
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("Not on NAB's corpus, so not comparable with the scoreboard rows: `" + tmp.file("part") +
                     "` (2 of NAB's 3 series)"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("`" + tmp.file("all") + "` ("), std::string::npos) << out;
  EXPECT_NE(out.find("null (NAB scoreboard)"), std::string::npos) << out;
}

TEST_F(RunCli, DamagedRunFilesAreDataErrorsNamingFileAndKey) {
  TempDir tmp("damaged");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_EQ(
      run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("run"), &out), 0)
      << out;
  // Each case: a copy of the run with one file replaced, the command, and what its message must say.
  struct Case {
    std::string file, text, command, expected;
  };
  const std::vector<Case> cases = {
      {"manifest.json", "{", "run --resume", "manifest.json:1: malformed JSON"},
      {"manifest.json", R"({"shard": {"index": 0}})", "run --resume", "manifest.json: shard.count: missing"},
      {"manifest.json", R"({"shard": {"index": 0, "count": "one"}})", "run --resume",
       "manifest.json: shard.count: expected an integer, got \"one\""},
      {"summary.json", "{", "rescore", "summary.json:1: malformed JSON"},
      {"nab_scores.json", "{", "table", "nab_scores.json:1: malformed JSON"},
      {"nab_scores.json", R"({"lstmad": {"standard": "high"}})", "table",
       "nab_scores.json: lstmad.standard: expected a number, got \"high\""},
      {"nab_scores.json", "{", "report", "nab_scores.json:1: malformed JSON"},
      {"nab_thresholds.json", R"({"lstmad": {"standard": {}}})", "report",
       "nab_thresholds.json: lstmad.standard.threshold: missing"},
  };
  int n = 0;
  for (const auto& c : cases) {
    const std::string dir = tmp.file("copy" + std::to_string(n++));
    fs::copy(tmp.file("run"), dir, fs::copy_options::recursive);
    write_text(dir + "/" + c.file, c.text);
    std::string command = lstmad_binary() + " -q " + c.command + " " + dir;
    if (c.command == "rescore") command += " --out " + dir + "-rescored";
    if (c.command == "report") command += " --out " + dir + "/r.html";
    EXPECT_EQ(run_command(command + " 2>&1", &out), 3) << c.command << " with " << c.file << ": " << out;
    EXPECT_NE(out.find("lstmad: data error: " + dir + "/" + c.expected), std::string::npos)
        << c.command << " with " << c.file << ": " << out;
  }
}

// A run folder whose NAB-format file of one detector is missing or damaged: the tables are still written
// from the files on disk, that detector alone has no NAB score (the table names the file), the others are
// scored, and the command exits 1.
TEST_F(RunCli, ADamagedNabFileFailsOnlyItsDetectorsScore) {
  TempDir tmp("damaged-nab");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                            " --set 'detector.suppress=[0,0.05]' --out " + tmp.file("run"),
                        &out),
            0)
      << out;
  const json scored = json::parse(lstmad::files::read(tmp.file("run/nab_scores.json")));
  ASSERT_EQ(scored.size(), 2u) << scored.dump();
  const std::string damaged = scored.begin().key(), intact = std::next(scored.begin()).key();
  // One series file of `damaged`, for each kind of damage.
  std::string victim;
  for (const auto& d : fs::recursive_directory_iterator(tmp.file("run/nab/" + damaged)))
    if (d.path().extension() == ".csv" && d.path().parent_path() != fs::path(tmp.file("run/nab/" + damaged)))
      victim = d.path().string();
  ASSERT_FALSE(victim.empty());
  struct Case {
    std::string what, text;  // the file's new text; empty: the file is removed
  };
  const std::vector<Case> cases = {
      {"missing", ""},
      {"not a number", "timestamp,value,anomaly_score,raw_score,label\nt,1,x,1,0\n"},
      {"a number and more", "timestamp,value,anomaly_score,raw_score,label\nt,1,0.5xyz,1,0\n"}};
  int n = 0;
  for (const auto& c : cases) {
    const std::string dir = tmp.file("copy" + std::to_string(n++));
    fs::copy(tmp.file("run"), dir, fs::copy_options::recursive);
    const std::string file = dir + "/" + fs::relative(victim, tmp.file("run")).string();
    if (c.text.empty())
      fs::remove(file);
    else
      write_text(file, c.text);
    fs::remove(dir + "/nab_scores.json");
    EXPECT_EQ(run_command(lstmad_binary() + " -q run --resume " + dir + " 2>&1", &out), 1)
        << c.what << ": " << out;
    ASSERT_TRUE(fs::exists(dir + "/nab_scores.json")) << c.what << ": " << out;
    const json now = json::parse(lstmad::files::read(dir + "/nab_scores.json"));
    EXPECT_FALSE(now.contains(damaged)) << c.what << ": " << now.dump();
    EXPECT_EQ(now[intact], scored[intact]) << c.what;
    const std::string table = lstmad::files::read(dir + "/table.md");
    EXPECT_NE(table.find("No NAB score for " + damaged + ": " + file), std::string::npos)
        << c.what << ": " << table;
  }
}

TEST_F(RunCli, PlanAndRunAgreeOnWhichSeriesTheCalendarGateAdmits) {
  // 6000 five-minute rows: 750 training rows, 2.6 days, enough to see a daily cycle. The synthetic
  // series' daily autocorrelations lie between 0.93 and 0.98, so a gate of 0.96 admits some, not all.
  TempDir tmp("calendar-gate");
  write_text(tmp.file("cfg.json"), R"({
    "run": {"name": "tiny", "seed": 5},
    "data": {"format": "synthetic", "synthetic": {"seed": 3, "series_per_kind": 1, "length": 6000},
             "time_features": ["time_of_day"], "time_features_gate": 0.96},
    "model": {"layers": 1, "hidden": 8, "window": 12},
    "train": {"epochs": 1, "batch": 16}
  })");
  std::string plan, out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q plan " + tmp.file("cfg.json"), &plan), 0) << plan;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("run"), &out), 0) << out;
  int with = 0, cells = 0;
  for (const auto& f : fs::directory_iterator(tmp.file("run/cells"))) {
    json c = json::parse(lstmad::files::read(f.path().string()));
    const json tf = c.value("time_features", json::array());
    EXPECT_TRUE(tf.empty() || tf == json::array({"time_of_day"})) << tf;
    with += !tf.empty();
    ++cells;
  }
  ASSERT_EQ(cells, 7);
  EXPECT_GT(with, 0);
  EXPECT_LT(with, cells);
  const std::string said = "for " + std::to_string(with) + " of 7 series";
  EXPECT_NE(plan.find(said), std::string::npos) << "expected '" << said << "' in:\n" << plan;
  // The plan's groups put the series with the input (D = 3) apart from the rest (D = 1).
  EXPECT_NE(plan.find("D=3 H=8 horizon=1 T=12 B=16: " + std::to_string(with) + " models"), std::string::npos) << plan;
  EXPECT_NE(plan.find("D=1 H=8 horizon=1 T=12 B=16: " + std::to_string(cells - with) + " models"), std::string::npos)
      << plan;
}

TEST_F(RunCli, NabConfigReducedRunsEndToEnd) {
  const std::string nab = lstmad::test::shared_nab_root();
  if (nab.empty()) GTEST_SKIP() << "../shared/nab is absent (set NAB_ROOT or fetch it with scripts/get-nab.sh)";
  TempDir tmp("nabreduced");
  std::string out;
  // configs/nab.json as shipped, on three series with one short epoch: the pipeline, not the headline number.
  int rc = run_command(lstmad_binary() + " -q run " + std::string(LSTMAD_SOURCE_DIR) + "/configs/nab.json --set data.root=" +
                           nab + " --set 'data.files=[\"realAdExchange/*\"]' --set data.max_files=3 --set train.epochs=1 " +
                           "--set model.hidden=8 --out " + tmp.file("run"),
                       &out);
  ASSERT_EQ(rc, 0) << out;
  json s = json::parse(lstmad::files::read(tmp.file("run/nab_scores.json")));
  for (const char* p : {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}) {
    ASSERT_TRUE(s["lstmad"].contains(p)) << s.dump();
    EXPECT_TRUE(std::isfinite(s["lstmad"][p].get<double>()));
  }
  EXPECT_TRUE(fs::exists(tmp.file("run/nab/lstmad/realAdExchange/lstmad_exchange-2_cpc_results.csv")));
  // Each series' cell is the shipped ensemble: one member per listed window and seed.
  const json shipped = json::parse(lstmad::files::read(std::string(LSTMAD_SOURCE_DIR) + "/configs/nab.json"));
  const size_t members = shipped["ensemble"]["model.window"].size() * shipped["ensemble"].value("seeds", 1);
  EXPECT_GT(members, 1u);
  size_t cells = 0;
  std::map<std::string, json> calendar;
  for (const auto& f : fs::directory_iterator(tmp.file("run/cells"))) {
    json c = json::parse(lstmad::files::read(f.path().string()));
    EXPECT_EQ(c["members"].size(), members) << f.path();
    calendar[c["series"].get<std::string>()] = c.value("time_features", json::array());
    ++cells;
  }
  EXPECT_EQ(cells, 3u);
  // The shipped time_of_day gate: exchange-2_cpm's training rows repeat daily (autocorrelation 0.93 at
  // one day's lag), exchange-2_cpc's and exchange-3_cpc's less (0.90 and 0.38), under the gate.
  ASSERT_EQ(shipped["data"]["time_features_gate"].get<double>(), 0.9);
  EXPECT_EQ(calendar["realAdExchange/exchange-2_cpm_results.csv"], json::array({"time_of_day"}));
  EXPECT_EQ(calendar["realAdExchange/exchange-2_cpc_results.csv"], json::array());
  EXPECT_EQ(calendar["realAdExchange/exchange-3_cpc_results.csv"], json::array());
}
