// `lstmad run`, `plan` and `validate` end to end through the built binary: the run folder's contents,
// bad input that fails only its own cells, and config errors that name the JSON path (reruns whatever the
// thread count and batching: test_scheduler.cpp).
#include <gtest/gtest.h>
#include <sched.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/files.hpp"
#include "experiments/config.hpp"
#include "experiments/plan.hpp"
#include "experiments/saved_models.hpp"
#include "lstm/init.hpp"
#include "support/run_cli.hpp"
#include "support/test_support.hpp"
#include "train/checkpoint.hpp"

namespace fs = std::filesystem;
using namespace lstmad::test;
using json = nlohmann::json;

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
// `validate` fails on such a setting.
TEST_F(RunCli, PlanAndValidateNameWhatTheEngineCannotRun) {
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

  // `validate` asks the engine too: a grid with an H it refuses fails, naming the setting and the reason;
  // with engine.fallback taking the shape, or without that H, the config is valid.
  const std::string validate =
      lstmad_binary() + " validate " + cfg +
      " --set engine.name=fused --set engine.precision=tf32 --set 'grid.model.hidden=";
  EXPECT_EQ(run_command(validate + "[48,40]'", &out), 1) << out;
  EXPECT_NE(
      out.find("), cannot run: engine fused: the fused tensor-core kernels (tf32) take hidden sizes that "
               "are multiples of 16 up to 256, not 40"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("1 of 2 setting(s) cannot run"), std::string::npos) << out;
  EXPECT_EQ(run_command(validate + "[48,40]' --set engine.fallback=cpu", &out), 0) << out;
  EXPECT_NE(out.find("valid, 2 setting(s)"), std::string::npos) << out;
  EXPECT_EQ(run_command(validate + "[48,64]'", &out), 0) << out;
}

// A GPU engine on a machine without a device would fail every cell into a folder of errors: the run is
// refused before it keeps a folder, naming the reason and the engine that runs without one; also with an
// engine.fallback, which stands in only for the shapes the engine refuses.
TEST_F(RunCli, AGpuEngineWithoutADeviceIsRefusedBeforeTheRun) {
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " info", &out), 0) << out;
  if (out.find("devices: none") == std::string::npos)
    GTEST_SKIP() << "a CUDA device is present: the run would train on it";
  TempDir tmp("no-device");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  // engine.fallback takes the shapes the engine refuses, not a missing device: refused the same way,
  // saying so. (Where the engine refuses every model, the fallback runs them all:
  // EngineFallbackRunsTheGroupsTheEngineRefuses.)
  struct Case {
    std::string engine, fallback;
  };
  for (const Case& c : {Case{"fused", ""}, Case{"cudnn", ""}, Case{"fused", "cpu"}}) {
    const std::string dir = tmp.file(c.engine + c.fallback);
    EXPECT_EQ(
        run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --engine " + c.engine +
                        (c.fallback.empty() ? "" : " --set engine.fallback=" + c.fallback) + " --out " + dir,
                    &out),
        2)
        << out;
    EXPECT_NE(out.find("lstmad: device error: "), std::string::npos) << out;
    EXPECT_NE(out.find("engine \"" + c.engine + "\" needs a CUDA device: "), std::string::npos) << out;
    EXPECT_NE(out.find("engine \"cpu\" runs without one (--engine cpu)"), std::string::npos) << out;
    if (!c.fallback.empty()) {
      EXPECT_NE(out.find("engine.fallback " + c.fallback + " takes the shapes engine " + c.engine +
                         " refuses, not a missing device"),
                std::string::npos)
          << out;
    }
    EXPECT_FALSE(fs::exists(dir)) << "a refused run keeps no folder";
  }
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
  ASSERT_EQ(
      std::sscanf(out.c_str() + at,
                  "estimated work: at most %lf TFLOP: %lf training (all epochs and every "
                  "fine-tuning; early stopping usually ends the first training sooner), %lf forecasting",
                  &total, &training, &forecasting),
      3)
      << out.substr(at);
  // 14 synthetic series (2 of each of 7 kinds) of 1000 rows, D = 1: per window T steps of the 4 gate
  // products per layer (inputs D, then H) plus the head.
  const double H = 16, T = 25;
  const double fwd = 2 * T * 4 * H * (1 + H) + 2 * T * 4 * H * (H + H) + 2 * H;
  EXPECT_NEAR(forecasting, 14 * (1000 - T) * fwd / 1e12, 1e-5 * forecasting);
  EXPECT_GT(training, forecasting);
  EXPECT_NEAR(total, training + forecasting, 1e-5 * total);
  EXPECT_EQ(out.find("too few training rows"), std::string::npos) << out;
  // The fine-tunings (quickstart: every 400 rows, 5 epochs) are training too: without them, the training
  // part is smaller by theirs. Training part: NAB's probationary 15 % = 150 rows; fine-tunings after rows
  // 550 and 950 (not after the last segment), each on the windows whose targets lie in the latest 150
  // rows (150 windows), 3 x the forward work per window and epoch.
  std::string once;
  ASSERT_EQ(run_command(lstmad_binary() + " -q plan " + cfg +
                            " --set model.layers=2 --set model.hidden=16 --set model.window=25"
                            " --set data.synthetic.length=1000 --set train.retrain_every=0 2>&1",
                        &once),
            0)
      << once;
  double total_once = 0, training_once = 0;
  const std::size_t at_once = once.find("estimated work: at most ");
  ASSERT_NE(at_once, std::string::npos) << once;
  ASSERT_EQ(std::sscanf(once.c_str() + at_once, "estimated work: at most %lf TFLOP: %lf training",
                        &total_once, &training_once),
            2)
      << once.substr(at_once);
  EXPECT_NEAR(training - training_once, 14 * 2 * 150 * 5 * 3 * fwd / 1e12, 1e-5 * training);
  // A series the run could not prepare (no training row) is a warning, as the run fails its cells, not
  // the end of the plan.
  ASSERT_EQ(run_command(lstmad_binary() + " -q plan " + cfg +
                            " --set data.synthetic.length=500 --set data.train_fraction=0.001 2>&1",
                        &once),
            0)
      << once;
  EXPECT_NE(once.find("normalization needs 1..500 training rows, got 0 (its cells will fail)"),
            std::string::npos)
      << once;
  // A window that no series' training rows can fill: the run would fail those cells, the plan says so.
  ASSERT_EQ(run_command(lstmad_binary() + " -q plan " + cfg + " --set 'model.window=[25,5000]' 2>&1", &out),
            0)
      << out;
  EXPECT_NE(out.find("): 14 of 14 series have too few training rows for a window (as few as "),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("where window + horizon is up to 5001); their cells will fail"), std::string::npos)
      << out;
}

// The checkout's commit as cmake/BuildInfo.cmake names it: 12 hex digits, "-dirty" when tracked files have
// uncommitted changes, "unknown" outside a git checkout. Git's stdout only, as there: a warning on stderr
// must not read as a change.
std::string checkout_commit() {
  const std::string git = std::string("git -C '") + LSTMAD_SOURCE_DIR + "' ";
  std::string head, changes;
  if (run_command(git + "rev-parse --short=12 HEAD 2>/dev/null", &head) != 0 || head.empty())
    return "unknown";
  head = head.substr(0, head.find_first_of("\r\n"));
  if (run_command(git + "status --porcelain --untracked-files=no 2>/dev/null", &changes) == 0 &&
      !changes.empty())
    head += "-dirty";
  return head;
}

// A misspelt command is named, with the commands there are (the parser alone would say that a command is
// required, as if none had been given).
TEST_F(RunCli, AnUnknownCommandIsNamed) {
  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " -q rnu configs/quickstart.json 2>&1", &out), 2) << out;
  EXPECT_NE(out.find("lstmad: unknown command \"rnu\" (the commands: run, "), std::string::npos) << out;
  EXPECT_EQ(run_command(lstmad_binary() + " 2>&1", &out), 2) << out;
  EXPECT_EQ(out.find("unknown command"), std::string::npos) << out;
}

// The commit is taken at build time, not when the build folder was configured: a build folder kept across
// commits still names the checkout it was built from. (A binary built before the last commit or edit
// names the earlier state: run the tests after building.)
TEST_F(RunCli, VersionNamesTheCommitTheBinaryWasBuiltFrom) {
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " --version", &out), 0) << out;
  const std::string expected = checkout_commit();
  EXPECT_NE(out.find("(" + expected + ")"), std::string::npos)
      << "lstmad --version says " << out << "; the checkout is at " << expected
      << " (rebuild after a commit)";
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
  // The build that ran it, as the binary names itself (whether that is the checkout's state now is
  // VersionNamesTheCommitTheBinaryWasBuiltFrom's question).
  std::string version;
  ASSERT_EQ(run_command(lstmad_binary() + " --version", &version), 0) << version;
  EXPECT_NE(version.find("(" + manifest["git_hash"].get<std::string>() + ")"), std::string::npos)
      << "manifest git_hash " << manifest["git_hash"] << ", lstmad --version: " << version;
  EXPECT_FALSE(manifest["git_hash"].get<std::string>().empty());
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

// model.forget_bias reaches the models a run initialises: at a learning rate of 1e-12 one epoch moves no
// parameter by 1e-6, so each saved checkpoint is its initialisation, and with forget_bias 2.5 that is the
// uniform one of the model's seed but for the forget gate's biases (bW's 2.5, bR's 0; one layer, D = 1,
// H = 8: W has 4H = 32 values, R 4H x H = 256, so bW's forget block is at 32 + 256 + H = 296 .. 303 and
// bR's at 32 + 256 + 4H + H = 328 .. 335). Without it, it is the uniform one.
TEST_F(RunCli, ForgetBiasSetsTheForgetGateBiasesOfTheRunsModels) {
  TempDir tmp("forget-bias");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  for (const bool biased : {false, true}) {
    const std::string run = tmp.file(biased ? "biased" : "plain");
    std::string out;
    ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                              " --set data.max_files=1 --set train.epochs=1 --set train.lr=1e-12" +
                              " --set run.save_models=true" + (biased ? " --set model.forget_bias=2.5" : "") +
                              " --out " + run,
                          &out),
              0)
        << out;
    const auto rows = read_results_csv(run + "/results.csv");
    ASSERT_EQ(rows.size(), 1u);
    const std::string cell = rows[0].at("cell_id");
    const lstmad::SavedCell sc = lstmad::load_saved_cell(run, cell);
    ASSERT_EQ(sc.member_seeds.size(), 1u);
    const lstmad::Checkpoint ck = lstmad::load_checkpoint(lstmad::member_checkpoint_path(run, cell, 0));
    ASSERT_EQ(ck.shape, (lstmad::ModelShape{1, 1, 8, 1}));
    const std::vector<float> uniform = lstmad::init_params(ck.shape, sc.member_seeds[0]);
    ASSERT_EQ(ck.params.size(), uniform.size());
    for (size_t i = 0; i < uniform.size(); ++i) {
      float want = uniform[i];
      if (biased && i >= 296 && i < 304) want = 2.5f;
      if (biased && i >= 328 && i < 336) want = 0.0f;
      EXPECT_NEAR(ck.params[i], want, 1e-6)
          << (biased ? "forget_bias 2.5" : "no forget_bias") << ", parameter " << i;
    }
  }
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

// A profiles file that cannot be read is found before anything trains: validate and run fail with exit 2,
// naming eval.profiles and the file, and the run leaves no folder.
TEST_F(RunCli, AnUnreadableProfilesFileFailsBeforeTraining) {
  TempDir tmp("profiles");
  write_text(tmp.file("cfg.json"), R"({"data": {"synthetic": {"series_per_kind": 1, "length": 600}, "max_files": 2},
                                       "model": {"hidden": 4, "window": 10}, "train": {"epochs": 1}})");
  write_text(tmp.file("zero.json"),
             R"({"standard": {"CostMatrix": {"tpWeight": 0, "fnWeight": 0, "fpWeight": 0}}})");
  for (const std::string& file : {tmp.file("missing.json"), tmp.file("zero.json")}) {
    for (const std::string& cmd :
         std::vector<std::string>{" validate ", " run --out " + tmp.file("r") + " "}) {
      std::string out;
      const int rc = run_command(
          lstmad_binary() + " -q" + cmd + tmp.file("cfg.json") + " --set eval.profiles=" + file, &out);
      EXPECT_EQ(rc, 2) << cmd << out;
      EXPECT_NE(out.find("eval.profiles: " + file), std::string::npos) << cmd << out;
    }
    EXPECT_FALSE(fs::exists(tmp.file("r"))) << file;
  }
  // A resume whose profiles file went away stops with that error, and says so in the run's log too.
  write_text(tmp.file("profiles.json"),
             R"({"standard": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1, "fpWeight": 0.11}}})");
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                            " --set eval.profiles=" + tmp.file("profiles.json") + " --out " + tmp.file("ok"),
                        &out),
            0)
      << out;
  fs::remove(tmp.file("profiles.json"));
  EXPECT_EQ(run_command(lstmad_binary() + " -q run --resume " + tmp.file("ok"), &out), 2) << out;
  const std::string log = lstmad::files::read(tmp.file("ok/log.txt"));
  EXPECT_NE(log.find("the run stopped: eval.profiles: " + tmp.file("profiles.json")), std::string::npos)
      << log;
}

// -q and -v are the program's options and are read after the command as well as before it.
TEST_F(RunCli, LogLevelFlagsAreReadAfterTheCommandToo) {
  TempDir tmp("log-flags");
  write_text(tmp.file("cfg.json"),
             R"({"data": {"synthetic": {"series_per_kind": 1, "length": 600}, "max_files": 1},
                 "model": {"hidden": 4, "window": 10}, "train": {"epochs": 1}})");
  std::string out;
  const std::string run = lstmad_binary() + " run " + tmp.file("cfg.json");
  ASSERT_EQ(run_command(run + " --out " + tmp.file("q") + " -q", &out), 0) << out;
  EXPECT_EQ(out.find("[info]"), std::string::npos) << out;
  ASSERT_EQ(run_command(run + " --out " + tmp.file("plain"), &out), 0) << out;
  EXPECT_NE(out.find("[info]"), std::string::npos) << out;
  EXPECT_EQ(run_command(lstmad_binary() + " info -v", &out), 0) << out;  // before: exit 2
}

// A run scored under profiles of its own (eval.profiles) shows a column for each in table.md and the
// report, with the score nab_scores.json holds, rather than NAB's three columns left empty.
TEST_F(RunCli, ProfilesOfARunsOwnAreItsTablesColumns) {
  TempDir tmp("own-profiles");
  write_text(tmp.file("cfg.json"),
             R"({"data": {"synthetic": {"series_per_kind": 1, "length": 600}, "max_files": 3},
                 "model": {"hidden": 4, "window": 10}, "train": {"epochs": 1}})");
  write_text(tmp.file("profiles.json"),
             R"({"mine": {"CostMatrix": {"tpWeight": 1, "fnWeight": 2, "fpWeight": 0.3, "tnWeight": 1}}})");
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                            " --set eval.profiles=" + tmp.file("profiles.json") + " --out " + tmp.file("r"),
                        &out),
            0)
      << out;
  const json scores = json::parse(lstmad::files::read(tmp.file("r/nab_scores.json")));
  ASSERT_TRUE(scores["lstmad"].contains("mine")) << scores.dump();
  char value[32];
  std::snprintf(value, sizeof value, "%.2f", scores["lstmad"]["mine"].get<double>());
  const std::string table = lstmad::files::read(tmp.file("r/table.md"));
  EXPECT_NE(table.find("| cells OK | NAB mine |"), std::string::npos) << table;
  EXPECT_EQ(table.find("NAB standard"), std::string::npos) << table;
  EXPECT_NE(table.find(std::string(" ") + value + " |"), std::string::npos) << value << "\n" << table;
  const std::string report = lstmad::files::read(tmp.file("r/report.html"));
  EXPECT_NE(report.find("<th>detector</th><th>mine</th></tr>"), std::string::npos);
  EXPECT_EQ(report.find("<th>standard</th>"), std::string::npos);
}

// Numbers from the command line and from Slurm's variables are read whole: "x" or "1x" is no task index,
// NaN no threshold, -1 no thread count; each refusal names what was given.
TEST_F(RunCli, NumbersFromTheCommandLineAndSlurmAreReadWhole) {
  TempDir tmp("numbers");
  write_text(tmp.file("cfg.json"), R"({"train": {"epochs": 1}})");
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("r");
  std::string out;
  for (const char* id : {"x", "1x", ""}) {
    EXPECT_EQ(
        run_command(std::string("SLURM_ARRAY_TASK_ID='") + id + "' SLURM_ARRAY_TASK_COUNT=2 " + run, &out), 2)
        << id << ": " << out;
    EXPECT_NE(out.find(std::string("SLURM_ARRAY_TASK_ID=") + id + ", SLURM_ARRAY_TASK_COUNT=2: \"" + id +
                       "\" is not an integer"),
              std::string::npos)
        << out;
  }
  EXPECT_EQ(run_command("SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=0 " + run, &out),
            2)
      << out;
  EXPECT_NE(out.find("task 3 of 2 is no shard"), std::string::npos) << out;
  EXPECT_EQ(
      run_command("SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_STEP=2 " + run, &out), 2)
      << out;
  EXPECT_NE(out.find("ID - MIN is no multiple of the array's step"), std::string::npos) << out;
  for (const char* jobs : {"-1", "5000"}) {
    EXPECT_EQ(run_command(run + " -j " + jobs, &out), 2) << out;
    EXPECT_NE(out.find(std::string("expected 0 (all cores) or a number of threads up to 4096, got ") + jobs),
              std::string::npos)
        << out;
  }
  EXPECT_EQ(run_command(lstmad_binary() + " detect " + tmp.path() + " --series a.csv --threshold nan", &out),
            2)
      << out;
  EXPECT_NE(out.find("expected a finite number, got nan"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp.file("r")));
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
    EXPECT_EQ(cut[i].at("roc_auc"), "nan") << "no cell is scored; the metric columns are there, empty";
  }
  EXPECT_FALSE(fs::exists(tmp.file("cut/nab/tiny"))) << "no NAB result file for a timed-out cell";
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
  EXPECT_NE(plan.find("D=3 H=8 horizon=1 T=12 B=16: " + std::to_string(with) + " model(s)"),
            std::string::npos)
      << plan;
  EXPECT_NE(plan.find("D=1 H=8 horizon=1 T=12 B=16: " + std::to_string(cells - with) + " model(s)"),
            std::string::npos)
      << plan;
}

// A NAB_ROOT that names no corpus is said (exit 2), not passed over for ../shared/nab or the one beside the
// source tree, which could be another corpus.
TEST_F(RunCli, ANabRootThatIsNoCorpusIsNamed) {
  TempDir tmp("nab-root");
  std::string out;
  const int rc = run_command(
      "NAB_ROOT=" + tmp.file("none") + " " + lstmad_binary() + " -q run " + std::string(LSTMAD_SOURCE_DIR) +
          "/configs/quickstart.json --set data.format=nab " +
          "--set data.max_files=1 --set train.epochs=1 --set model.hidden=4 --out " + tmp.file("run"),
      &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(
      out.find("NAB_ROOT=" + tmp.file("none") +
               ": not a NAB corpus (expected its data/ and labels/ folders there); point NAB_ROOT at one, or "
               "unset it"),
      std::string::npos)
      << out;
  EXPECT_FALSE(fs::exists(tmp.file("run")));
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

// -j 0 is every core, also where the config's run.threads names a count; without -j, run.threads holds.
TEST_F(RunCli, JobsZeroIsEveryCoreWhateverTheConfigSays) {
  TempDir tmp("jobs-zero");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set run.threads=1";
  ASSERT_EQ(run_command(run + " -j 0 --out " + tmp.file("all"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --out " + tmp.file("one"), &out), 0) << out;
  const json all = json::parse(lstmad::files::read(tmp.file("all/manifest.json")));
  const json one = json::parse(lstmad::files::read(tmp.file("one/manifest.json")));
  EXPECT_EQ(all["threads"], all["hardware_threads"]);
  EXPECT_EQ(one["threads"], 1);
}

// -j 0 counts the CPUs the process may run on (taskset, a Slurm job's cpuset), not every CPU of the
// machine: the child inherits this thread's affinity, one CPU.
TEST_F(RunCli, JobsZeroCountsTheCpusOfTheAffinityMask) {
  cpu_set_t saved;
  CPU_ZERO(&saved);
  ASSERT_EQ(::sched_getaffinity(0, sizeof saved, &saved), 0);
  if (CPU_COUNT(&saved) < 2) GTEST_SKIP() << "this process may run on one CPU only";
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one_cpu;
  CPU_ZERO(&one_cpu);
  CPU_SET(first, &one_cpu);
  TempDir tmp("jobs-affinity");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_EQ(::sched_setaffinity(0, sizeof one_cpu, &one_cpu), 0);
  const int rc = run_command(
      lstmad_binary() + " -q run " + tmp.file("cfg.json") + " -j 0 --out " + tmp.file("run"), &out);
  ASSERT_EQ(::sched_setaffinity(0, sizeof saved, &saved), 0);
  ASSERT_EQ(rc, 0) << out;
  const json manifest = json::parse(lstmad::files::read(tmp.file("run/manifest.json")));
  EXPECT_EQ(manifest["threads"], 1);
  EXPECT_EQ(manifest["hardware_threads"], 1);
}

// Settings that differ only in detector.* train the same models (their seeds follow the model): a run
// trains each once and gives every such cell its errors. Each setting's scores equal a run of that
// setting alone, and with run.save_models each cell has its models, which `detect` scores with.
TEST_F(RunCli, DetectorOnlySettingsTrainEachModelOnce) {
  TempDir tmp("shared-models");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  const std::string run = lstmad_binary() + " run " + tmp.file("cfg.json") + " --no-progress -j 2";
  ASSERT_EQ(run_command(run + " --set 'detector.smoothing=[1,3]' --set run.save_models=true --out " +
                            tmp.file("grid"),
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("7 model(s) in "), std::string::npos) << out;
  EXPECT_NE(out.find("; 7 more cell member(s) share one of these (settings that differ only in detector.*)"),
            std::string::npos)
      << out;
  ASSERT_EQ(run_command(run + " --set detector.smoothing=3 --out " + tmp.file("alone"), &out), 0) << out;
  const auto grid = read_results_csv(tmp.file("grid/results.csv"));
  const auto alone = read_results_csv(tmp.file("alone/results.csv"));
  ASSERT_EQ(grid.size(), 14u);
  ASSERT_EQ(alone.size(), 7u);
  std::string detector;
  size_t compared = 0;
  for (const auto& g : grid) {
    if (g.at("detector.smoothing") != "3") continue;
    detector = g.at("detector");
    for (const auto& a : alone) {
      if (a.at("series") != g.at("series")) continue;
      for (const char* col : {"status", "epochs", "train_loss", "val_loss", "roc_auc", "pr_auc", "best_f1"})
        EXPECT_EQ(g.at(col), a.at(col)) << g.at("series") << " " << col;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 7u);
  // The cell whose models were shared has them saved, and detect scores with them as the run did.
  const std::string series = grid.front().at("series");
  ASSERT_EQ(run_command(lstmad_binary() + " detect " + tmp.file("grid") + " --detector " + detector +
                            " --series " + series + " --out " + tmp.file("detect.csv") + " 2>&1",
                        &out),
            0)
      << out;
  const std::string category = series.substr(0, series.find('/')), file = series.substr(series.find('/') + 1);
  const auto scored = read_csv(tmp.file("detect.csv"));
  const auto ran = read_csv(tmp.file("grid/nab/" + detector + "/" + category + "/" + detector + "_" + file));
  ASSERT_EQ(scored.size(), ran.size());
  ASSERT_GT(scored.size(), 500u);
  for (size_t i = 1; i < scored.size(); ++i) ASSERT_EQ(scored[i].at(2), ran[i].at(2)) << "row " << i;
}
