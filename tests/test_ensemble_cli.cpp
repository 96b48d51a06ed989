// `lstmad rescore` and ensembles end to end through the built binary: rescoring equals a fresh run with
// those detector settings, an ensemble of finished runs equals the ensemble trained in one run, and the
// members that cannot join are refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/files.hpp"
#include "support/run_cli.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace lstmad::test;
using json = nlohmann::json;

TEST_F(RunCli, RescoreEqualsAFreshRunWithThoseDetectorSettings) {
  TempDir tmp("rescore");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_EQ(
      run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("a"), &out), 0)
      << out;
  const std::string sets =
      " --set detector.suppress=0.05 --set detector.spatial_margin=0.1 --set detector.smoothing=3";
  ASSERT_EQ(run_command(
                lstmad_binary() + " -q run " + tmp.file("cfg.json") + sets + " --out " + tmp.file("b"), &out),
            0)
      << out;
  ASSERT_EQ(
      run_command(lstmad_binary() + " -q rescore " + tmp.file("a") + sets + " --out " + tmp.file("r"), &out),
      0)
      << out;
  size_t compared = 0;
  for (const auto& d : fs::recursive_directory_iterator(tmp.file("b/nab"))) {
    if (d.path().extension() != ".csv") continue;
    std::string rel = fs::relative(d.path(), tmp.file("b")).string();
    EXPECT_EQ(lstmad::files::read(d.path().string()), lstmad::files::read(tmp.file("r/") + rel)) << rel;
    ++compared;
  }
  EXPECT_GT(compared, 3u);
  EXPECT_EQ(lstmad::files::read(tmp.file("b/nab_scores.json")),
            lstmad::files::read(tmp.file("r/nab_scores.json")));
  // Changing anything but detector.* or eval.* would need new models: refused.
  EXPECT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") + " --set model.hidden=4 --out " +
                            tmp.file("x"),
                        &out),
            2)
      << out;
  EXPECT_NE(out.find("rescoring changes only detector"), std::string::npos) << out;
  // A setting that cannot run fails its own cells, not the rescore (exit 1: some cells failed):
  // suppress_rows 20 beside suppress 0.05.
  ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") + sets +
                            " --set 'detector.suppress_rows=[0,20]' --out " + tmp.file("g"),
                        &out),
            1)
      << out;
  const auto rows = read_results_csv(tmp.file("g/results.csv"));
  const size_t cells = read_results_csv(tmp.file("b/results.csv")).size();
  ASSERT_EQ(rows.size(), 2 * cells);
  size_t failed = 0;
  for (const auto& row : rows) {
    const bool conflict = row.at("detector.suppress_rows") == "20";
    EXPECT_EQ(row.at("status"), conflict ? "ERROR" : "OK") << row.at("cell_id");
    if (conflict) {
      EXPECT_NE(row.at("error").find("detector.suppress 0.05 and detector.suppress_rows 20"),
                std::string::npos)
          << row.at("error");
      ++failed;
    }
  }
  EXPECT_EQ(failed, cells);
  // The same axis written as a grid key scores the same; a grid axis over a model key is refused.
  ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") + sets +
                            " --set 'grid.detector.suppress_rows=[0,20]' --out " + tmp.file("g2"),
                        &out),
            1)
      << out;
  EXPECT_EQ(lstmad::files::read(tmp.file("g/nab_scores.json")),
            lstmad::files::read(tmp.file("g2/nab_scores.json")));
  EXPECT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") +
                            " --set 'grid.model.hidden=[4,8]' --out " + tmp.file("x"),
                        &out),
            2)
      << out;
  EXPECT_NE(out.find("rescoring changes only detector"), std::string::npos) << out;
  // A grid of text values: results.csv holds each as it is (error, not "error"), as pandas would read it.
  ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") +
                            " --set 'detector.score=[\"error\",\"error_ratio\"]' --out " + tmp.file("s"),
                        &out),
            0)
      << out;
  std::set<std::string> scores;
  for (const auto& row : read_results_csv(tmp.file("s/results.csv"))) scores.insert(row.at("detector.score"));
  EXPECT_EQ(scores, (std::set<std::string>{"error", "error_ratio"}));
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
    if (d.path().extension() != ".csv" || d.path().filename().string().find("_scores") != std::string::npos)
      continue;
    const std::string rel = fs::relative(d.path(), tmp.file("r")).string();
    auto r = read_csv(d.path().string()), a = read_csv(tmp.file("a/") + rel),
         b = read_csv(tmp.file("b/") + rel);
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
    return nlohmann::json::parse(lstmad::files::read(tmp.file(run + "/summary.json")))["wall_seconds"]
        .get<double>();
  };
  EXPECT_GE(wall("r"), wall("a") + wall("b")) << "an ensemble's run time includes its models'";
  EXPECT_NE(lstmad::files::read(tmp.file("r/manifest.json")).find(tmp.file("b")), std::string::npos);

  // A grid run holds several models per series: not an ensemble member.
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                            " --set 'model.hidden=[4,8]' --out " + tmp.file("g"),
                        &out),
            0)
      << out;
  EXPECT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("a") + " --member " + tmp.file("g") +
                            " --out " + tmp.file("x"),
                        &out),
            2)
      << out;
  EXPECT_NE(out.find(tmp.file("g") + ": holds more than one cell"), std::string::npos) << out;
}

// A rescore killed before it ended is finished by the same command, as if it had not been killed; `run
// --resume` refuses it (it would train new models for the cells not yet scored), and the same --out with
// other settings, or an ordinary run's folder, is refused as holding another run.
TEST_F(RunCli, AKilledRescoreIsFinishedByTheSameCommand) {
  TempDir tmp("rescore-killed");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  ASSERT_NO_FATAL_FAILURE(run_pair_and_rescore(tmp, "model.window=20"));
  // The folder a kill leaves: some cells scored, no tables yet.
  fs::copy(tmp.file("r"), tmp.file("k"), fs::copy_options::recursive);
  size_t removed = 0;
  for (const auto& f : fs::directory_iterator(tmp.file("k/cells")))
    if (removed < 3 && fs::remove(f.path())) ++removed;
  ASSERT_EQ(removed, 3u);
  for (const char* f : {"results.csv", "nab_scores.json", "summary.json", "table.md", "report.html"})
    fs::remove(tmp.file("k/") + f);
  // and the temporary files of the writes it was killed in (never renamed, so never results)
  std::string nab_file;
  for (const auto& f : fs::recursive_directory_iterator(tmp.file("k/nab")))
    if (f.is_regular_file()) nab_file = f.path().string();
  ASSERT_FALSE(nab_file.empty());
  const std::vector<std::string> unfinished = {nab_file + ".tmp.999999999.7",
                                               tmp.file("k/cells/x.json.tmp.999999999.8")};
  for (const auto& f : unfinished) write_text(f, "half a file");
  const std::string rescore = lstmad_binary() + " -q rescore " + tmp.file("a") + " --member " + tmp.file("b");

  EXPECT_EQ(run_command(lstmad_binary() + " -q run --resume " + tmp.file("k"), &out), 3) << out;
  EXPECT_NE(out.find("a rescore of"), std::string::npos) << out;
  EXPECT_NE(out.find("run the same lstmad rescore"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp.file("k/results.csv"))) << "the refused resume trained or wrote";

  EXPECT_EQ(run_command(rescore + " --set detector.smoothing=2 --out " + tmp.file("k"), &out), 3) << out;
  EXPECT_NE(out.find("already holds a run (a rescore with other settings)"), std::string::npos) << out;
  EXPECT_EQ(run_command(rescore + " --out " + tmp.file("a"), &out), 3) << out;
  EXPECT_NE(out.find("already holds a run (not a rescore)"), std::string::npos) << out;
  fs::create_directories(tmp.file("stale"));
  fs::copy(tmp.file("r/cells"), tmp.file("stale/cells"));
  EXPECT_EQ(run_command(rescore + " --out " + tmp.file("stale"), &out), 3) << out;
  EXPECT_NE(out.find("holds cells/ of another run but no config.json"), std::string::npos) << out;

  for (const auto& f : unfinished) EXPECT_TRUE(fs::exists(f)) << "a refused command removed " << f;
  ASSERT_EQ(run_command(rescore + " --out " + tmp.file("k"), &out), 0) << out;
  for (const auto& f : unfinished) EXPECT_FALSE(fs::exists(f)) << f;
  EXPECT_GT(expect_same_nab_files(tmp.file("r"), tmp.file("k")), 3u);
  EXPECT_EQ(json::parse(lstmad::files::read(tmp.file("k/nab_scores.json"))),
            json::parse(lstmad::files::read(tmp.file("r/nab_scores.json"))));
  const json manifest = json::parse(lstmad::files::read(tmp.file("k/manifest.json")));
  ASSERT_EQ(manifest["resumes"].size(), 1u) << manifest.dump();
  EXPECT_TRUE(manifest["resumes"][0].contains("host"));
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
  // A source with a cell that never finished (a killed run) is refused until it is resumed.
  fs::copy(tmp.file("a"), tmp.file("unfinished"), fs::copy_options::recursive);
  std::size_t cells = 0;
  for (const auto& f : fs::directory_iterator(tmp.file("unfinished/cells")))
    cells += f.path().extension() == ".json";
  fs::remove(fs::directory_iterator(tmp.file("unfinished/cells"))->path());
  EXPECT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("unfinished") + " --out " +
                            tmp.file("r") + " 2>&1",
                        &out),
            3)
      << out;
  EXPECT_NE(out.find("1 of " + std::to_string(cells) + " cells have no result"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp.file("r")));
  // So is a member without a cell of some series (unfinished, one shard, other series), and a source or
  // member whose merge was killed.
  EXPECT_EQ(run_command(rescore + " --member " + tmp.file("unfinished") + " --out " + tmp.file("r"), &out), 3)
      << out;
  EXPECT_NE(out.find("--member " + tmp.file("unfinished") + ": no cell of 1 of the " + std::to_string(cells) +
                     " series"),
            std::string::npos)
      << out;
  EXPECT_FALSE(fs::exists(tmp.file("r")));
  fs::copy(tmp.file("a"), tmp.file("merging"), fs::copy_options::recursive);
  write_text(tmp.file("merging/.merging"), "");
  for (const std::string& cmd : {lstmad_binary() + " -q rescore " + tmp.file("merging"),
                                 rescore + " --member " + tmp.file("merging")}) {
    EXPECT_EQ(run_command(cmd + " --out " + tmp.file("r"), &out), 3) << cmd << "\n" << out;
    EXPECT_NE(out.find(tmp.file("merging") + ": an unfinished merge"), std::string::npos) << out;
    EXPECT_FALSE(fs::exists(tmp.file("r")));
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
                            " --set 'ensemble={\"model.window\": [12, 20]}' --out " + tmp.file("e") + " -j 2",
                        &out),
            0)
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
    EXPECT_FALSE(c.contains("loss_curve")) << "each member's curve is in members, the cell has none";
    ++cells;
  }
  EXPECT_EQ(cells, single_epochs.size());
  // The rescore of the two runs states the same training facts as the ensemble run: epochs summed, losses
  // averaged, no best epoch or loss curve of its own (not the source model's alone).
  std::map<std::string, json> ensemble_cells;
  for (const auto& f : fs::directory_iterator(tmp.file("e/cells"))) {
    json c = json::parse(lstmad::files::read(f.path().string()));
    ensemble_cells[c["series"].get<std::string>()] = c;
  }
  for (const auto& f : fs::directory_iterator(tmp.file("r/cells"))) {
    const json c = json::parse(lstmad::files::read(f.path().string()));
    const json& e = ensemble_cells[c["series"].get<std::string>()];
    ASSERT_TRUE(e.is_object()) << f.path();
    EXPECT_EQ(c["epochs"], e["epochs"]) << f.path();
    EXPECT_EQ(c["best_epoch"].get<int>(), -1) << f.path();
    EXPECT_NEAR(c["train_loss"].get<double>(), e["train_loss"].get<double>(), 1e-12) << f.path();
    EXPECT_NEAR(c["val_loss"].get<double>(), e["val_loss"].get<double>(), 1e-12) << f.path();
    EXPECT_FALSE(c.contains("loss_curve")) << f.path();
    EXPECT_EQ(c["members"].size(), 2u) << f.path();
    const json& t = c["seconds"];
    EXPECT_DOUBLE_EQ(t["total"].get<double>(),
                     t["prepare"].get<double>() + t["train"].get<double>() + t["predict"].get<double>())
        << f.path();
  }
  EXPECT_EQ(json::parse(lstmad::files::read(tmp.file("e/nab_scores.json"))),
            json::parse(lstmad::files::read(tmp.file("r/nab_scores.json"))));
}

TEST_F(RunCli, RescoreCountsAnEnsembleRunAsItsModels) {
  // An ensemble run given to rescore stands for its models, not for one: a two-model run plus a one-model
  // member is the three-model ensemble, byte for byte (weighted 2 : 1, not the 1 : 1 that would give the
  // member half the weight).
  TempDir tmp("ensemble-weights");
  write_text(tmp.file("cfg.json"), kTinySynthetic);
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json");
  ASSERT_EQ(
      run_command(run + " --set 'ensemble={\"model.window\": [12, 20]}' --out " + tmp.file("two"), &out), 0)
      << out;
  ASSERT_EQ(run_command(run + " --set model.window=16 --out " + tmp.file("one"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --set 'ensemble={\"model.window\": [12, 20, 16]}' --out " + tmp.file("three"),
                        &out),
            0)
      << out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("two") + " --member " + tmp.file("one") +
                            " --out " + tmp.file("r"),
                        &out),
            0)
      << out;
  EXPECT_GT(expect_same_nab_files(tmp.file("three"), tmp.file("r")), 3u);
  // The same member order the other way round: the one-model run plus the two-model run.
  ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + tmp.file("one") + " --member " + tmp.file("two") +
                            " --out " + tmp.file("r2"),
                        &out),
            0)
      << out;
  const auto three = json::parse(lstmad::files::read(tmp.file("three/nab_scores.json")));
  const auto r2 = json::parse(lstmad::files::read(tmp.file("r2/nab_scores.json")));
  for (const char* profile : {"standard", "reward_low_FP_rate", "reward_low_FN_rate"})
    EXPECT_NEAR(r2.begin()->at(profile).get<double>(), three.begin()->at(profile).get<double>(), 1e-6)
        << profile;
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
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                            " --set 'ensemble={\"seeds\": 2}' --out " + tmp.file("e"),
                        &out),
            0)
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
  write_text(tmp.file("corpus/data/cat/short.csv"), make_series(400));  // 60 training rows
  write_text(tmp.file("corpus/data/cat/long.csv"), make_series(2000));  // 300 training rows
  write_text(tmp.file("corpus/labels/combined_windows.json"), R"({"cat/short.csv": [], "cat/long.csv": []})");
  write_text(tmp.file("cfg.json"), std::string(R"({"data": {"format": "nab", "root": ")") +
                                       tmp.file("corpus") +
                                       R"("}, "ensemble": {"model.window": [10, 100]},
      "model": {"layers": 1, "hidden": 4}, "train": {"epochs": 2},
      "detector": {"likelihood": {"long_window": 100, "short_window": 3}}})");
  std::string out;
  EXPECT_EQ(
      run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("run"), &out), 1)
      << out;
  auto rows = read_csv(tmp.file("run/results.csv"));
  ASSERT_EQ(rows.size(), 3u);
  const int st = column(rows[0], "status"), err = column(rows[0], "error"), ser = column(rows[0], "series");
  for (size_t i = 1; i < rows.size(); ++i) {
    const std::string series = rows[i][static_cast<size_t>(ser)];
    if (series == "cat/long.csv") {
      EXPECT_EQ(rows[i][static_cast<size_t>(st)], "OK");
    } else {
      EXPECT_EQ(rows[i][static_cast<size_t>(st)], "ERROR");
      EXPECT_NE(
          rows[i][static_cast<size_t>(err)].find("short.csv: 60 training rows are too few for window 100"),
          std::string::npos)
          << rows[i][static_cast<size_t>(err)];
    }
  }
  EXPECT_TRUE(fs::exists(tmp.file("run/nab/lstmad/cat/lstmad_long.csv")));
}
