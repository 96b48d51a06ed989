// `lstmad detect` and run.save_models (experiments/detect.hpp, saved_models.hpp), end to end through the
// lstmad binary on the synthetic corpus: the saved models score the series they learned exactly as the
// run did (retraining and ensembles included), rows appended to a series leave the earlier scores alone,
// shards' models survive `merge`, and every wrong input is refused naming what to fix.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/files.hpp"
#include "experiments/config.hpp"
#include "experiments/saved_models.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace lstmad::test;

namespace {

const char* kSeries[] = {"synthDrift/synth_drift_00.csv", "synthDrift/synth_drift_01.csv"};

// Two synthetic series of 1200 rows; a tiny model that fine-tunes every 200 rows; `extra` adds --set
// options. Returns the exit status.
int run_small(const std::string& out, const std::string& extra, std::string* log) {
  return run_command(lstmad_binary() + " -q run " + LSTMAD_SOURCE_DIR + "/configs/quickstart.json --no-progress -j 2" +
                         " --set data.synthetic.length=1200 --set data.max_files=2 --set model.hidden=4" +
                         " --set model.window=10 --set train.epochs=2 --set train.retrain_every=200" +
                         " --set train.retrain_epochs=1 " + extra + " --out " + out,
                     log);
}

int detect(const std::string& args, std::string* log) {
  return run_command(lstmad_binary() + " detect " + args, log);
}

// The run's NAB-format file of `series` (detector lstmad).
// The run's NAB-format file of `series` for `detector`.
std::string nab_file(const std::string& run, const std::string& series,
                     const std::string& detector = "lstmad") {
  const std::string category = series.substr(0, series.find('/'));
  return run + "/nab/" + detector + "/" + category + "/" + detector + "_" +
         series.substr(series.find('/') + 1);
}

// detect's output `got` holds the same timestamp, value, anomaly_score and raw_score text on every row as
// the run's file `want` (equal shortest round-trip text: equal doubles).
void expect_same_scores(const std::string& got_path, const std::string& want_path) {
  const auto got = read_csv(got_path), want = read_csv(want_path);
  ASSERT_EQ(got.size(), want.size()) << want_path;
  for (size_t i = 1; i < got.size(); ++i) {
    ASSERT_GE(got[i].size(), 4u) << got_path << " row " << i;
    ASSERT_GE(want[i].size(), 4u) << want_path << " row " << i;
    for (size_t c = 0; c < 4; ++c)
      ASSERT_EQ(got[i][c], want[i][c]) << want_path << " row " << i << " column " << c;
  }
}

double standard_threshold(const std::string& run) {
  const auto j = lstmad::json::parse(lstmad::files::read(run + "/nab_thresholds.json"));
  return j.at("lstmad").at("standard").at("threshold").get<double>();
}

}  // namespace

// Each series scored with its saved models gives the run's NAB-format file: the same anomaly_score and
// raw_score text on every row (bit-identical doubles), with an ensemble of two windows and fine-tuning
// every 200 rows replayed; the alarm column is score >= the run's standard-profile threshold, or with
// --profile that profile's, on the rows after the training part (0 on those, whatever their score).
TEST(Detect, SavedModelsScoreTheirSeriesAsTheRunDidBitForBit) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("detect-same");
  const std::string run = tmp.file("run");
  std::string log;
  ASSERT_EQ(run_small(run, "--set run.save_models=true --set 'ensemble={\"model.window\":[8,12]}'", &log), 0) << log;
  const double threshold = standard_threshold(run);
  const auto results = read_results_csv(run + "/results.csv");
  ASSERT_EQ(results.size(), 2u);
  std::map<std::string, size_t> train_rows;
  for (const auto& row : results) train_rows[row.at("series")] = std::stoul(row.at("train_rows"));
  for (const char* series : kSeries) {
    const std::string out = tmp.file("detect.csv");
    ASSERT_EQ(detect(run + " --series " + series + " --out " + out, &log), 0) << log;
    EXPECT_NE(log.find("(the rows the models learned)"), std::string::npos) << log;
    expect_same_scores(out, nab_file(run, series));
    const auto got = read_csv(out);
    ASSERT_EQ(got[0], (std::vector<std::string>{"timestamp", "value", "anomaly_score", "raw_score", "alarm",
                                                "filled"}));
    int alarms = 0, finite_errors = 0;
    ASSERT_GT(train_rows[series], 0u);
    for (size_t i = 1; i < got.size(); ++i) {
      ASSERT_EQ(got[i].size(), 6u) << series << " row " << i;
      const bool alarm = i - 1 >= train_rows[series] && std::stod(got[i][2]) >= threshold;
      EXPECT_EQ(got[i][4], alarm ? "1" : "0") << series << " row " << i;
      EXPECT_EQ(got[i][5], "0") << series << " row " << i << ": no value was missing";
      alarms += alarm;
      finite_errors += std::isfinite(std::stod(got[i][3]));
    }
    EXPECT_GT(finite_errors, 1000) << series << ": the models predicted the rows";
    EXPECT_NE(log.find(std::to_string(alarms) + " alarm(s) after the training part"), std::string::npos)
        << log;
  }
  // At threshold 0 every row scores at or above it: the alarms are the rows after the training part, and
  // --from-row writes the rows from there on, the same rows as in the whole output.
  {
    const std::string series = kSeries[0];
    const size_t train = train_rows[series];
    ASSERT_EQ(detect(run + " --series " + series + " --threshold 0 --out " + tmp.file("all.csv"), &log), 0)
        << log;
    const auto all = read_csv(tmp.file("all.csv"));
    ASSERT_EQ(all.size(), 1201u);
    for (size_t i = 1; i < all.size(); ++i)
      ASSERT_EQ(all[i][4], i - 1 < train ? "0" : "1")
          << "row " << i - 1 << " of " << train << " training rows";
    EXPECT_NE(log.find(std::to_string(1200 - train) + " alarm(s) after the training part"), std::string::npos)
        << log;
    for (const std::string from : {"1000", "-200"}) {
      ASSERT_EQ(detect(run + " --series " + series + " --threshold 0 --from-row " + from + " --out " +
                           tmp.file("tail.csv"),
                       &log),
                0)
          << log;
      const auto tail = read_csv(tmp.file("tail.csv"));
      ASSERT_EQ(tail.size(), 201u) << from;
      EXPECT_EQ(tail[0], all[0]);
      for (size_t i = 1; i < tail.size(); ++i) ASSERT_EQ(tail[i], all[1000 + i]) << from << " row " << i;
      EXPECT_NE(log.find("rows 1000..1199 written; 200 alarm(s) after the training part in the rows written"),
                std::string::npos)
          << log;
    }
    EXPECT_EQ(detect(run + " --series " + series + " --from-row 1200", &log), 2);
    EXPECT_NE(log.find("--from-row 1200: "), std::string::npos) << log;
    EXPECT_NE(log.find(" has 1200 rows (0 .. 1199, or -1 .. -1200 from the end)"), std::string::npos) << log;
  }
  // --profile P: the alarms are score >= P's threshold in nab_thresholds.json. So that each profile makes
  // its own set of alarms, the file is given thresholds among the scores (NAB's optimisation may put them
  // all above the top score of a run this small: no alarm pays).
  std::vector<double> scores;
  int standard_alarms = 0;
  {
    size_t k = 0;
    for (const auto& row : read_csv(nab_file(run, kSeries[0]))) {
      if (row.size() < 3 || row[2] == "anomaly_score") continue;
      const bool scored = k++ >= train_rows[kSeries[0]];
      standard_alarms += scored && std::stod(row[2]) >= threshold;
      if (scored && std::stod(row[2]) > 0) scores.push_back(std::stod(row[2]));
    }
  }
  std::sort(scores.begin(), scores.end());
  scores.erase(std::unique(scores.begin(), scores.end()), scores.end());
  ASSERT_GE(scores.size(), 4u) << "distinct positive scores";
  auto thresholds = lstmad::json::parse(lstmad::files::read(run + "/nab_thresholds.json"));
  const std::map<std::string, double> given = {{"reward_low_FP_rate", scores[scores.size() * 3 / 4]},
                                               {"reward_low_FN_rate", scores[scores.size() / 4]}};
  for (const auto& [profile, at] : given) thresholds["lstmad"][profile]["threshold"] = at;
  write_text(run + "/nab_thresholds.json", thresholds.dump(2));
  std::set<int> alarm_counts = {standard_alarms};
  for (const auto& [profile, at] : given) {
    const std::string out = tmp.file(profile + ".csv");
    ASSERT_EQ(detect(run + " --series " + kSeries[0] + " --profile " + profile + " --out " + out, &log), 0)
        << log;
    EXPECT_NE(log.find("(the run's NAB " + profile + " threshold)"), std::string::npos) << log;
    expect_same_scores(out, nab_file(run, kSeries[0]));
    const auto got = read_csv(out);
    int alarms = 0;
    for (size_t i = 1; i < got.size(); ++i) {
      ASSERT_EQ(got[i].size(), 6u) << profile << " row " << i;
      const bool alarm = i - 1 >= train_rows[kSeries[0]] && std::stod(got[i][2]) >= at;
      EXPECT_EQ(got[i][4], alarm ? "1" : "0") << profile << " row " << i;
      alarms += alarm;
    }
    EXPECT_TRUE(alarm_counts.insert(alarms).second)
        << profile << ": " << alarms << " alarms, as another profile";
  }
  // A threshold no scored row reaches is said, and where it is NAB's (above 1, above every score), why: the
  // optimizer found that detecting nothing scored best. One that some row reaches is not.
  thresholds["lstmad"]["standard"]["threshold"] = 1.1;
  write_text(run + "/nab_thresholds.json", thresholds.dump(2));
  const std::string none = "no row after the training part reaches threshold ";
  ASSERT_EQ(detect(run + " --series " + kSeries[0] + " --out " + tmp.file("none.csv"), &log), 0) << log;
  EXPECT_NE(log.find(none + "1.1 (the highest score is "), std::string::npos) << log;
  EXPECT_NE(log.find("NAB's optimizer found detecting nothing best"), std::string::npos) << log;
  ASSERT_EQ(detect(run + " --series " + kSeries[0] + " --threshold 2 --out " + tmp.file("none.csv"), &log), 0)
      << log;
  EXPECT_NE(log.find(none + "2 "), std::string::npos) << log;
  EXPECT_EQ(log.find("NAB's optimizer"), std::string::npos) << "a threshold given is not NAB's\n" << log;
  ASSERT_EQ(
      detect(run + " --series " + kSeries[0] + " --profile reward_low_FN_rate --out " + tmp.file("some.csv"),
             &log),
      0)
      << log;
  EXPECT_EQ(log.find(none), std::string::npos) << log;
  // plan foresaw the checkpoints: their number and their size.
  std::string plan;
  ASSERT_EQ(run_command(lstmad_binary() + " plan " + run + "/config.json", &plan), 0) << plan;
  const std::string said = "saved models (run.save_models): 4 checkpoints, about ";
  const size_t at = plan.find(said);
  ASSERT_NE(at, std::string::npos) << plan;
  double bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(run + "/models"))
    if (e.path().extension() == ".ckpt") bytes += static_cast<double>(e.file_size());
  EXPECT_NEAR(std::stod(plan.substr(at + said.size())), bytes / (1024.0 * 1024.0),
              0.01 * bytes / (1024.0 * 1024.0))
      << plan;
  // What model.json records is what the run used.
  for (const auto& row : results) {
    const lstmad::SavedCell sc = lstmad::load_saved_cell(run, row.at("cell_id"));
    EXPECT_EQ(std::to_string(sc.train_end), row.at("train_rows"));
    EXPECT_EQ(sc.series, row.at("series"));
    EXPECT_EQ(sc.member_seeds.size(), 2u);
    EXPECT_TRUE(fs::exists(run + "/models/" + row.at("cell_id") + "/member-1.ckpt"));
  }
}

// Every stage is causal: scoring the first 700 rows gives the first 700 rows of scoring all 1200. Alarm
// suppression included: its span is a fraction of the series the models learned (120 of its 1200 rows),
// not of the 700 rows given, so an alarm in the first rows silences the same rows in both. A threshold
// given on the command line makes the alarms.
TEST(Detect, RowsAppendedToASeriesLeaveTheEarlierScoresAlone) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("detect-append");
  const std::string run = tmp.file("run");
  std::string log;
  ASSERT_EQ(
      run_small(run,
                "--set run.save_models=true --set detector.suppress=0.1 --set detector.suppress_level=0.5",
                &log),
      0)
      << log;
  const std::string series = kSeries[1];
  const std::string full = run + "/corpus/data/" + series;
  ASSERT_TRUE(fs::exists(full));
  std::istringstream in(lstmad::files::read(full));
  std::string line, prefix;
  for (int i = 0; i <= 700 && std::getline(in, line); ++i) prefix += line + "\n";
  write_text(tmp.file("prefix.csv"), prefix);
  ASSERT_EQ(detect(run + " --series " + series + " --threshold 0.5 --file " + tmp.file("prefix.csv") + " --out " +
                       tmp.file("a.csv"),
                   &log),
            0)
      << log;
  ASSERT_EQ(detect(run + " --series " + series + " --threshold 0.5 --file " + full + " --out " + tmp.file("b.csv"),
                   &log),
            0)
      << log;
  const auto a = read_csv(tmp.file("a.csv")), b = read_csv(tmp.file("b.csv"));
  ASSERT_EQ(a.size(), 701u);
  ASSERT_EQ(b.size(), 1201u);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "row " << i;
  EXPECT_NE(log.find("at threshold 0.5 (--threshold)"), std::string::npos) << log;
  // The compared rows hold an alarm whose whole silenced span of 120 rows lies among them.
  size_t alarm = 0;
  for (size_t i = 1; i + 120 < a.size() && alarm == 0; ++i)
    if (std::stod(a[i][2]) >= 0.5) alarm = i;
  ASSERT_GT(alarm, 0u) << "no alarm in rows 0.." << a.size() - 122 << " of " << tmp.file("a.csv");
  for (size_t i = alarm + 1; i <= alarm + 120; ++i) EXPECT_EQ(std::stod(a[i][2]), 0.0) << "row " << i;
}

// New rows to score come without labels: on a run of a csv corpus with a label column, --file reads a file
// without that column, and scores its rows as the labeled file's.
TEST(Detect, NewRowsNeedNoLabelColumn) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("detect-unlabeled");
  std::string log;
  ASSERT_EQ(run_small(tmp.file("src"), "", &log), 0) << log;  // for its generated series
  std::istringstream in(lstmad::files::read(tmp.file("src/corpus/data/") + kSeries[0]));
  std::string line, labeled, unlabeled;
  for (int i = 0; std::getline(in, line); ++i) {
    labeled += line + (i == 0 ? ",is_anomaly" : ",0") + "\n";
    unlabeled += line + "\n";
  }
  write_text(tmp.file("csv/k/a.csv"), labeled);
  write_text(tmp.file("a_new.csv"), unlabeled);
  ASSERT_EQ(run_small(tmp.file("run"),
                      "--set data.format=csv --set data.root=" + tmp.file("csv") +
                          " --set data.csv.label_column=is_anomaly --set run.save_models=true",
                      &log),
            0)
      << log;
  const std::string args = tmp.file("run") + " --series k/a.csv --threshold 0.5 --file ";
  ASSERT_EQ(detect(args + tmp.file("csv/k/a.csv") + " --out " + tmp.file("l.csv"), &log), 0) << log;
  ASSERT_EQ(detect(args + tmp.file("a_new.csv") + " --out " + tmp.file("u.csv"), &log), 0) << log;
  EXPECT_EQ(read_csv(tmp.file("u.csv")), read_csv(tmp.file("l.csv")));
}

// --engine picks the engine that runs the models: a run made on the fused engine at tf32 scores on the CPU
// engine in fp32 (with a warning), here equal to the run's own CPU numbers since that is where it trained.
TEST(Detect, EngineOptionRunsTheModelsOnAnotherEngine) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("detect-engine");
  const std::string run = tmp.file("run");
  std::string log;
  ASSERT_EQ(run_small(run, "--set run.save_models=true", &log), 0) << log;
  auto cfg = lstmad::json::parse(lstmad::files::read(run + "/config.json"));
  cfg["engine"]["name"] = "fused";
  cfg["engine"]["precision"] = "tf32";
  write_text(run + "/config.json", cfg.dump(2));
  const std::string series = kSeries[0];
  ASSERT_EQ(detect(run + " --engine cpu --series " + series + " --out " + tmp.file("cpu.csv"), &log), 0)
      << log;
  EXPECT_NE(log.find("engine cpu runs them in fp32"), std::string::npos) << log;
  EXPECT_NE(log.find("engine cpu (fp32)"), std::string::npos) << log;
  expect_same_scores(tmp.file("cpu.csv"), nab_file(run, series));
}

// A rescore's detectors score with the source's models: each of a two-setting detector grid, given to
// detect by name, reproduces the rescore's NAB-format file. A rescore with --member (models from another
// run join the mean) carries none, and says nothing false: detect finds no models there.
TEST(Detect, RescoredDetectorsScoreWithTheSourceModels) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("detect-rescore");
  const std::string run = tmp.file("run");
  std::string log;
  ASSERT_EQ(run_small(run, "--set run.save_models=true", &log), 0) << log;
  const std::string rescored = tmp.file("rescored");
  ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + run + " --set 'detector.smoothing=[1,5]' --out " +
                            rescored,
                        &log),
            0)
      << log;
  const auto rows = read_results_csv(rescored + "/results.csv");
  ASSERT_EQ(rows.size(), 4u);
  std::set<std::string> detectors;
  for (const auto& row : rows) {
    const std::string det = row.at("detector"), series = row.at("series");
    detectors.insert(det);
    ASSERT_EQ(
        detect(rescored + " --detector " + det + " --series " + series + " --out " + tmp.file("r.csv"), &log),
        0)
        << log;
    expect_same_scores(tmp.file("r.csv"), nab_file(rescored, series, det));
  }
  EXPECT_EQ(detectors.size(), 2u);

  ASSERT_EQ(run_small(tmp.file("other"), "--set run.seed=7", &log), 0) << log;
  ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + run + " --member " + tmp.file("other") +
                            " --out " + tmp.file("with-member"),
                        &log),
            0)
      << log;
  EXPECT_EQ(detect(tmp.file("with-member") + " --series " + kSeries[0], &log), 3);
  EXPECT_NE(log.find("an ensemble of several runs' models (rescore --member"), std::string::npos) << log;
  EXPECT_NE(log.find("train the ensemble in one run"), std::string::npos) << log;
}

// Shards save their cells' models; merge gathers them, and detect finds each series' models there: they
// score the series as the shard that trained them did.
TEST(Detect, MergeKeepsTheShardsModels) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("detect-merge");
  std::string log;
  for (int k = 0; k < 2; ++k)
    ASSERT_EQ(run_small(tmp.file("s" + std::to_string(k)), "--set run.save_models=true --shard " + std::to_string(k) + "/2",
                        &log),
              0)
        << log;
  ASSERT_EQ(run_command(lstmad_binary() + " -q merge " + tmp.file("s0") + " " + tmp.file("s1") + " --out " +
                            tmp.file("merged"),
                        &log),
            0)
      << log;
  std::map<std::string, std::string> shard_of;  // series -> the shard that ran its cell
  for (int k = 0; k < 2; ++k)
    for (const auto& row : read_results_csv(tmp.file("s" + std::to_string(k) + "/results.csv")))
      shard_of[row.at("series")] = tmp.file("s" + std::to_string(k));
  ASSERT_EQ(shard_of.size(), 2u);
  ASSERT_NE(shard_of[kSeries[0]], shard_of[kSeries[1]]) << "one series per shard";
  for (const char* series : kSeries) {
    ASSERT_EQ(detect(tmp.file("merged") + " --series " + series + " --out " + tmp.file("m.csv"), &log), 0) << log;
    EXPECT_EQ(read_csv(tmp.file("m.csv")).size(), 1201u);
    expect_same_scores(tmp.file("m.csv"), nab_file(shard_of[series], series));
  }
}

// Wrong choices and damaged inputs are refused, naming what to fix: exit 2 for a choice (with the valid
// ones listed), 3 for a missing or damaged file (named).
TEST(Detect, ErrorsNameWhatToFix) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("detect-errors");
  std::string log;
  ASSERT_EQ(run_small(tmp.file("plain"), "", &log), 0) << log;
  EXPECT_EQ(detect(tmp.file("plain"), &log), 3);
  EXPECT_NE(log.find("saved no models; run the experiment with run.save_models true"), std::string::npos) << log;

  const std::string run = tmp.file("run");
  ASSERT_EQ(run_small(run, "--set run.save_models=true", &log), 0) << log;
  EXPECT_EQ(detect(run, &log), 2) << "two series: which one?";
  EXPECT_NE(log.find(std::string("name one of ") + kSeries[0] + ", " + kSeries[1]), std::string::npos) << log;
  EXPECT_EQ(detect(run + " --series nope.csv", &log), 2);
  EXPECT_NE(log.find("--series nope.csv: detector lstmad has no saved models for it"), std::string::npos) << log;
  EXPECT_EQ(detect(run + " --detector other --series " + kSeries[0], &log), 2);
  EXPECT_NE(log.find("--detector other:"), std::string::npos) << log;
  EXPECT_NE(log.find("it has lstmad"), std::string::npos) << log;
  EXPECT_EQ(detect(run + " --series " + kSeries[0] + " --profile nope", &log), 2);
  EXPECT_NE(log.find("reward_low_FP_rate"), std::string::npos) << log;

  // A file no longer than the training part scores nothing.
  write_text(tmp.file("short.csv"), minute_series_csv(100, "2021-01", [](int i) { return std::to_string(i % 7); }));
  EXPECT_EQ(detect(run + " --series " + kSeries[0] + " --file " + tmp.file("short.csv"), &log), 3);
  EXPECT_NE(log.find("short.csv: has 100 rows; its first 180 rows stand for the models' training part"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(std::string("give the series the models learned (") + kSeries[0] +
                     ") with the new rows appended, not the new rows alone"),
            std::string::npos)
      << log;

  // A UCR (or NASA) run's series have no CSV form: --file is refused, the corpus' files are what it scores.
  {
    const std::string ucr = tmp.file("ucr");
    fs::copy(run, ucr, fs::copy_options::recursive);
    auto cfg = lstmad::json::parse(lstmad::files::read(ucr + "/config.json"));
    cfg["data"]["format"] = "ucr";
    cfg["data"]["root"] = tmp.file("no-such-archive");
    write_text(ucr + "/config.json", cfg.dump(2));
    EXPECT_EQ(detect(ucr + " --series " + kSeries[0] + " --file " + run + "/corpus/data/" + kSeries[0], &log),
              2);
    EXPECT_NE(log.find("--file: the run read a ucr corpus"), std::string::npos) << log;
    // Its corpus gone: the way out is --data-root alone.
    EXPECT_EQ(detect(ucr + " --series " + kSeries[0], &log), 2);
    EXPECT_NE(log.find("(the run's corpus: give --data-root DIR where it is now)"), std::string::npos) << log;
  }

  // A damaged checkpoint is named.
  const auto results = read_results_csv(run + "/results.csv");
  ASSERT_FALSE(results.empty());
  std::string cell;
  for (const auto& r : results)
    if (r.at("series") == kSeries[0]) cell = r.at("cell_id");
  const std::string ck = run + "/models/" + cell + "/member-0.ckpt";
  ASSERT_TRUE(fs::exists(ck));
  fs::resize_file(ck, fs::file_size(ck) - 8);
  EXPECT_EQ(detect(run + " --series " + kSeries[0], &log), 3);
  EXPECT_NE(log.find(ck), std::string::npos) << log;

  // A damaged model.json is named too, by `detect` of its series (exit 3, the file named) as by the loader;
  // so are values no run writes: the file was edited, and scoring with it would be silently wrong.
  const std::string index = run + "/models/" + cell + "/model.json";
  const std::string good_index = lstmad::files::read(index);
  auto edited = [&](const std::function<void(lstmad::json&)>& edit) {
    auto j = lstmad::json::parse(good_index);
    edit(j);
    write_text(index, j.dump(2));
    return detect(run + " --series " + kSeries[0], &log);
  };
  struct Edit {
    std::function<void(lstmad::json&)> edit;
    std::string says;
  };
  for (const Edit& e : std::vector<Edit>{
           {[](lstmad::json& j) { j["normalize"]["scale"] = {-1.0}; },
            "normalize.scale must be finite and > 0"},
           {[](lstmad::json& j) { j["normalize"]["offset"] = {1e308 * 10}; },
            "normalize.offset[0]: expected a number, got null"},
           // A value of another type names its key (nlohmann's own message names neither file nor key).
           {[](lstmad::json& j) { j["rows"] = "x"; }, "rows: expected an integer, got \"x\""},
           {[](lstmad::json& j) { j["rows"] = 1e10; }, "rows: expected an integer, got 10000000000.0"},
           {[](lstmad::json& j) { j["member_seeds"] = {-3}; },
            "member_seeds[0]: expected an integer from 0 to"},
           {[](lstmad::json& j) { j["normalize"] = 5; }, "normalize: expected an object, got 5"},
           {[](lstmad::json& j) { j["normalize"]["kind"] = "cube"; },
            "normalize.kind: unknown normalization"},
           {[](lstmad::json& j) { j["rows"] = -1; }, "train_rows 180 of rows -1"},
           {[](lstmad::json& j) { j["normalize"]["fit_rows"] = 5000; }, "normalize.fit_rows 5000"},
           {[](lstmad::json& j) { j["time_features"] = {"hour"}; }, "\"hour\" is not a calendar input"}}) {
    EXPECT_EQ(edited(e.edit), 3) << e.says << ": " << log;
    EXPECT_NE(log.find(index), std::string::npos) << log;
    EXPECT_NE(log.find(e.says), std::string::npos) << log;
  }
  write_text(index, "{");
  EXPECT_EQ(detect(run + " --series " + kSeries[0], &log), 3) << log;
  const size_t said = log.find(index + ":1: malformed JSON");
  EXPECT_NE(said, std::string::npos) << log;
  EXPECT_EQ(log.find(index + ":1: malformed JSON", said + 1), std::string::npos)
      << "said once, as the error\n"
      << log;
  // The other series is still listed; the damaged one is said, once, in a warning.
  ASSERT_EQ(detect(run + " --list", &log), 0) << log;
  EXPECT_NE(log.find(std::string("lstmad\t") + kSeries[1]), std::string::npos) << log;
  EXPECT_NE(log.find("skipped: " + index + ":1: malformed JSON"), std::string::npos) << log;
  write_text(index, "{\"format\": 1}");
  EXPECT_THROW(lstmad::load_saved_cell(run, cell), lstmad::DataError);
  try {
    lstmad::load_saved_cell(run, cell);
  } catch (const lstmad::DataError& e) {
    EXPECT_NE(std::string(e.what()).find(run + "/models/" + cell + "/model.json"), std::string::npos) << e.what();
  }
}

// A cell's models are tied to it: model.json records each checkpoint's SHA-256 and its own, so a
// checkpoint of the same shape from the other cell, or a number edited in model.json that a run could have
// written, is refused naming the file; a model.json of format 1 (no digests) still scores, with a warning.
TEST(Detect, ACellsModelsAreTheOnesItSaved) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("detect-tied");
  const std::string run = tmp.file("run");
  std::string log;
  ASSERT_EQ(run_small(run, "--set run.save_models=true", &log), 0) << log;
  std::map<std::string, std::string> cell_of;
  for (const auto& row : read_results_csv(run + "/results.csv"))
    cell_of[row.at("series")] = row.at("cell_id");
  ASSERT_EQ(cell_of.size(), 2u);
  const std::string ck0 = run + "/models/" + cell_of[kSeries[0]] + "/member-0.ckpt";
  const std::string ck1 = run + "/models/" + cell_of[kSeries[1]] + "/member-0.ckpt";
  const std::string index = run + "/models/" + cell_of[kSeries[0]] + "/model.json";
  const std::string ck0_bytes = lstmad::files::read(ck0), index_text = lstmad::files::read(index);
  ASSERT_NE(ck0_bytes, lstmad::files::read(ck1));

  fs::copy_file(ck1, ck0, fs::copy_options::overwrite_existing);  // a valid checkpoint, the wrong cell's
  EXPECT_EQ(detect(run + " --series " + kSeries[0] + " --out " + tmp.file("x.csv"), &log), 3);
  EXPECT_NE(log.find(ck0 + ": not the checkpoint cell " + cell_of[kSeries[0]] + " saved"), std::string::npos)
      << log;
  EXPECT_FALSE(fs::exists(tmp.file("x.csv")));
  // A resume finds it too, and runs the cell again (its models were not the ones it saved).
  ASSERT_EQ(run_command(lstmad_binary() + " run --resume " + run + " -j 2", &log), 0) << log;
  EXPECT_NE(log.find("not the checkpoint cell"), std::string::npos) << log;
  EXPECT_EQ(lstmad::files::read(ck0), ck0_bytes);

  auto j = lstmad::json::parse(lstmad::files::read(index));
  j["normalize"]["scale"][0] = j["normalize"]["scale"][0].get<double>() * 1.5;  // a scale a run could write
  write_text(index, j.dump(2));
  EXPECT_EQ(detect(run + " --series " + kSeries[0], &log), 3);
  EXPECT_NE(log.find(index + ": its contents differ from what the run wrote (index_sha256 does not match)"),
            std::string::npos)
      << log;

  // Saved by another build (its digest made anew, as that build would have): scored, and said that the
  // scores agree within rounding.
  {
    auto other = lstmad::json::parse(index_text);
    other["git_hash"] = "0000000000ab";
    other.erase("index_sha256");
    other["index_sha256"] = lstmad::files::sha256(other.dump());
    write_text(index, other.dump(2));
    ASSERT_EQ(detect(run + " --series " + kSeries[0] + " --out " + tmp.file("other.csv"), &log), 0) << log;
    EXPECT_NE(log.find("the models were saved by lstmad "), std::string::npos) << log;
    EXPECT_NE(log.find("(0000000000ab), this is lstmad "), std::string::npos) << log;
    EXPECT_NE(log.find("the scores agree with the run's within rounding, not bit for bit"), std::string::npos)
        << log;
    write_text(index, index_text);
    ASSERT_EQ(detect(run + " --series " + kSeries[0] + " --out " + tmp.file("same.csv"), &log), 0) << log;
    EXPECT_EQ(log.find("the models were saved by"), std::string::npos) << log;
  }

  // Format 1, as an earlier lstmad wrote it: scored, the checkpoints unchecked, said.
  j = lstmad::json::parse(index_text);
  j["format"] = 1;
  j.erase("checkpoints_sha256");
  j.erase("index_sha256");
  write_text(index, j.dump(2));
  ASSERT_EQ(detect(run + " --series " + kSeries[0] + " --out " + tmp.file("v1.csv"), &log), 0) << log;
  EXPECT_NE(log.find("written by an earlier lstmad (format 1"), std::string::npos) << log;
  expect_same_scores(tmp.file("v1.csv"), nab_file(run, kSeries[0]));
}

// What a user deploying the models needs besides the scores: the list of what the run saved, why a series
// has no models (a cell that did not finish, another shard's), a corpus that moved (--data-root), gaps in
// new rows (--missing), and a choice that contradicts itself refused.
TEST(Detect, DeploymentOptionsAndReasons) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("detect-deploy");
  std::string log;
  ASSERT_EQ(run_small(tmp.file("src"), "", &log), 0) << log;  // for its generated series
  // A csv corpus of the two series, whose run is then moved away from it.
  for (const char* series : kSeries)
    write_text(tmp.file(std::string("csv/") + series),
               lstmad::files::read(tmp.file("src/corpus/data/") + series));
  const std::string run = tmp.file("run");
  ASSERT_EQ(
      run_small(run,
                "--set data.format=csv --set data.root=" + tmp.file("csv") + " --set run.save_models=true",
                &log),
      0)
      << log;
  ASSERT_EQ(run_command(lstmad_binary() + " detect " + run + " --list", &log), 0) << log;
  EXPECT_NE(log.find(std::string("lstmad\t") + kSeries[0] + "\nlstmad\t" + kSeries[1] + "\n"),
            std::string::npos)
      << log;
  EXPECT_EQ(run_command(lstmad_binary() + " detect " + tmp.file("src") + " --list", &log), 3);
  EXPECT_NE(log.find("the run saved no models"), std::string::npos) << log;
  ASSERT_EQ(detect(run + " --series " + kSeries[0] + " --out " + tmp.file("here.csv"), &log), 0) << log;

  fs::rename(tmp.file("csv"), tmp.file("moved"));
  EXPECT_EQ(detect(run + " --series " + kSeries[0], &log), 2);
  EXPECT_NE(log.find("give --data-root DIR where it is now"), std::string::npos) << log;
  ASSERT_EQ(detect(run + " --series " + kSeries[0] + " --data-root " + tmp.file("moved") + " --out " +
                       tmp.file("moved.csv"),
                   &log),
            0)
      << log;
  EXPECT_EQ(lstmad::files::read(tmp.file("moved.csv")), lstmad::files::read(tmp.file("here.csv")));

  // A gap after the training part: refused by the run's policy (reject), filled with --missing.
  {
    std::istringstream in(lstmad::files::read(tmp.file("moved/") + kSeries[0]));
    std::string line, gapped;
    for (int i = 0; std::getline(in, line); ++i)
      gapped += (i == 901 ? line.substr(0, line.find(',') + 1) : line) + "\n";
    write_text(tmp.file("gap.csv"), gapped);
  }
  const std::string gap = run + " --series " + kSeries[0] + " --data-root " + tmp.file("moved") + " --file " +
                          tmp.file("gap.csv");
  EXPECT_EQ(detect(gap, &log), 3);
  EXPECT_NE(log.find("gap.csv:902"), std::string::npos) << log;
  ASSERT_EQ(detect(gap + " --missing interpolate --out " + tmp.file("gap-out.csv"), &log), 0) << log;
  EXPECT_NE(log.find("(the rows the models learned)"), std::string::npos) << log;
  const auto filled = read_csv(tmp.file("gap-out.csv")), whole = read_csv(tmp.file("here.csv"));
  ASSERT_EQ(filled.size(), whole.size());
  for (size_t i = 1; i < 900; ++i) ASSERT_EQ(filled[i], whole[i]) << "row " << i - 1;
  // The row whose value was missing (row 900, file line 902) is marked, and only it.
  for (size_t i = 1; i < filled.size(); ++i)
    ASSERT_EQ(filled[i].back(), i - 1 == 900 ? "1" : "0") << "row " << i - 1;
  EXPECT_NE(log.find("; 1 row(s) written with a filled value"), std::string::npos) << log;
  EXPECT_EQ(detect(run + " --series " + kSeries[0] + " --missing sometimes", &log), 2);
  EXPECT_NE(log.find("--missing sometimes: "), std::string::npos) << log;

  // The cell of a series whose models.json is gone (killed before it was written): said, exit 3.
  const auto rows = read_results_csv(run + "/results.csv");
  std::string cell1;
  for (const auto& row : rows)
    if (row.at("series") == kSeries[1]) cell1 = row.at("cell_id");
  fs::remove(run + "/models/" + cell1 + "/model.json");
  EXPECT_EQ(detect(run + " --data-root " + tmp.file("moved") + " --series " + kSeries[1], &log), 3);
  EXPECT_NE(
      log.find("holds checkpoints but no model.json: the cell did not finish (lstmad run --resume " + run),
      std::string::npos)
      << log;

  // A shard's folder: the other shard's series is named as such.
  for (int k = 0; k < 2; ++k)
    ASSERT_EQ(run_small(tmp.file("s" + std::to_string(k)),
                        "--set run.save_models=true --shard " + std::to_string(k) + "/2", &log),
              0)
        << log;
  std::string other;
  for (const auto& row : read_results_csv(tmp.file("s1/results.csv"))) other = row.at("series");
  ASSERT_FALSE(other.empty());
  EXPECT_EQ(detect(tmp.file("s0") + " --series " + other, &log), 3);
  EXPECT_NE(log.find("its cell is shard 1/2's, and this folder is shard 0/2: score from that shard's folder"),
            std::string::npos)
      << log;
  // A series the corpus does not have is a wrong choice, listed as in any run.
  EXPECT_EQ(detect(tmp.file("s0") + " --series synthDrift/typo.csv", &log), 2);
  EXPECT_NE(log.find("--series synthDrift/typo.csv: detector lstmad has no saved models for it; it has"),
            std::string::npos)
      << log;
  // This shard's own cell, not run yet (its result and models gone): a resume runs it.
  std::string own, own_cell;  // shard 0's series and its cell
  for (const auto& row : read_results_csv(tmp.file("s0/results.csv"))) {
    own = row.at("series");
    own_cell = row.at("cell_id");
  }
  const std::string unrun = tmp.file("s0-unrun");
  fs::copy(tmp.file("s0"), unrun, fs::copy_options::recursive);
  fs::remove(unrun + "/cells/" + own_cell + ".json");
  fs::remove_all(unrun + "/models/" + own_cell);
  EXPECT_EQ(detect(unrun + " --series " + own, &log), 3);
  EXPECT_NE(log.find("its cell is this folder's (shard 0/2) and has not run: lstmad run --resume " + unrun),
            std::string::npos)
      << log;
  ASSERT_EQ(
      run_command(lstmad_binary() + " detect " + run + " --data-root " + tmp.file("moved") + " --list", &log),
      0)
      << log;
  // Its alarms: none, the column there but empty, and the reason the run gives.
  ASSERT_EQ(detect(tmp.file("s0") + " --series " + own + " --out " + tmp.file("s0.csv"), &log), 0) << log;
  EXPECT_NE(log.find("the run did not NAB-score detector lstmad: shard 0/2"), std::string::npos) << log;
  const auto got = read_csv(tmp.file("s0.csv"));
  ASSERT_EQ(got[0][4], "alarm");
  for (size_t i = 1; i < got.size(); ++i) ASSERT_EQ(got[i].size(), 6u) << "row " << i;
  for (size_t i = 1; i < got.size(); ++i) ASSERT_EQ(got[i][4], "") << "row " << i;

  EXPECT_EQ(detect(tmp.file("s0") + " --series " + own + " --threshold 0.5 --profile standard", &log), 2);
  EXPECT_NE(log.find("excludes"), std::string::npos) << log;
  // Without thresholds a profile is still one of the run's.
  EXPECT_EQ(detect(tmp.file("s0") + " --series " + own + " --profile standrad", &log), 2);
  EXPECT_NE(
      log.find("--profile standrad: the run's profiles are reward_low_FN_rate, reward_low_FP_rate, standard"),
      std::string::npos)
      << log;

  // A finished cell whose models folder is gone: said as such, and a resume trains it again.
  const std::string lost = tmp.file("s0-lost");
  fs::copy(tmp.file("s0"), lost, fs::copy_options::recursive);
  fs::remove_all(lost + "/models/" + own_cell);
  EXPECT_EQ(detect(lost + " --series " + own, &log), 3);
  EXPECT_NE(log.find("its cell " + own_cell + " finished, but its models folder " + lost + "/models/" +
                     own_cell + " is gone: lstmad run --resume " + lost + " trains the cell again"),
            std::string::npos)
      << log;
  EXPECT_EQ(detect(lost + " --list", &log), 3);
  EXPECT_NE(log.find("run.save_models is on, but no cell left models: of its cells, 1 finished without them"),
            std::string::npos)
      << log;
}

// --profile is checked where given: a run scored with its own profiles file and no "standard" profile
// scores (the alarm column empty where it has no thresholds) when --profile is left out, and a name it
// does not have is refused. A rescore's cell whose models are gone says where its models come from.
TEST(Detect, AProfileIsCheckedWhereGivenAndARescoreNamesItsSource) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("detect-profiles");
  std::string log;
  write_text(tmp.file("profiles.json"),
             R"({"mine": {"CostMatrix": {"tpWeight": 1, "fnWeight": 2, "fpWeight": 0.3, "tnWeight": 1}}})");
  const std::string run = tmp.file("run");
  ASSERT_EQ(run_small(run,
                      "--set run.save_models=true --set eval.nab=false --set eval.profiles=" +
                          tmp.file("profiles.json"),
                      &log),
            0)
      << log;
  const std::string one = run + " --series " + kSeries[0];
  ASSERT_EQ(detect(one + " --out " + tmp.file("d.csv"), &log), 0) << log;
  EXPECT_NE(log.find("the alarm column is empty"), std::string::npos) << log;
  EXPECT_EQ(detect(one + " --profile standard", &log), 2);
  EXPECT_NE(log.find("--profile standard: the run's profiles are mine"), std::string::npos) << log;
  ASSERT_EQ(detect(one + " --profile mine --out " + tmp.file("m.csv"), &log), 0) << log;
  EXPECT_EQ(lstmad::files::read(tmp.file("m.csv")), lstmad::files::read(tmp.file("d.csv")));

  const std::string rs = tmp.file("rs");
  ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + run + " --out " + rs, &log), 0) << log;
  std::string cell;
  for (const auto& row : read_results_csv(rs + "/results.csv"))
    if (row.at("series") == kSeries[0]) cell = row.at("cell_id");
  ASSERT_TRUE(fs::is_directory(rs + "/models/" + cell)) << "a rescore copies its source's models";
  fs::remove_all(rs + "/models/" + cell);
  EXPECT_EQ(detect(rs + " --series " + kSeries[0], &log), 3);
  EXPECT_NE(log.find("is gone: this folder is a rescore of"), std::string::npos) << log;
  EXPECT_EQ(log.find("run --resume " + rs), std::string::npos) << "a rescore is not resumed\n" << log;
}

// A run whose every cell ran out of time saved no models although its config asked for them: detect says
// how its cells ended, not to turn run.save_models on.
TEST(Detect, ARunWhoseCellsAllFailedSaysHowTheyEnded) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("detect-failed");
  std::string log;
  const std::string run = tmp.file("run");
  ASSERT_EQ(
      run_small(run, "--set run.save_models=true --set run.max_train_seconds=0.000001 --set train.epochs=50",
                &log),
      1)
      << log;
  for (const std::string& args : {run, run + " --list"}) {
    EXPECT_EQ(detect(args, &log), 3) << args;
    EXPECT_NE(log.find("run.save_models is on, but no cell left models: of its cells, 2 ended TIMEOUT"),
              std::string::npos)
        << args << "\n"
        << log;
    EXPECT_EQ(log.find("run the experiment with run.save_models true"), std::string::npos) << args << "\n"
                                                                                           << log;
  }
}

// rescore and detect only read the run they are given: its files keep their bytes and inodes (a rewrite
// replaces the inode), nothing is added there; with the run's synthetic corpus gone (an archived copy),
// both still score, from a corpus generated elsewhere, and leave the run as it is.
TEST(Detect, RescoreAndDetectWriteNothingIntoTheRun) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("read-only-run");
  const std::string run = tmp.file("run");
  std::string log;
  ASSERT_EQ(run_small(run, "--set run.save_models=true", &log), 0) << log;
  const auto listing = [&run] {
    std::map<std::string, std::pair<uintmax_t, std::uintmax_t>> files;  // path -> (inode, size)
    for (const auto& e : fs::recursive_directory_iterator(run)) {
      struct stat st {};
      if (e.is_regular_file() && ::stat(e.path().c_str(), &st) == 0)
        files[e.path().string()] = {static_cast<uintmax_t>(st.st_ino), static_cast<uintmax_t>(st.st_size)};
    }
    return files;
  };
  const auto check = [&](const std::string& what) {
    const auto before = listing();
    ASSERT_EQ(run_command(lstmad_binary() + " -q rescore " + run + " --set detector.smoothing=2 --out " +
                              tmp.file("re-" + what),
                          &log),
              0)
        << log;
    ASSERT_EQ(detect(run + " --series " + kSeries[0] + " --out " + tmp.file("d-" + what + ".csv"), &log), 0)
        << log;
    EXPECT_EQ(listing(), before) << what << ": the run's files were written";
    expect_same_scores(tmp.file("d-" + what + ".csv"), nab_file(run, kSeries[0]));
  };
  check("whole");
  fs::remove_all(run + "/corpus");
  check("no-corpus");
  EXPECT_FALSE(fs::exists(run + "/corpus"));
  EXPECT_EQ(lstmad::files::read(tmp.file("re-whole/nab_scores.json")),
            lstmad::files::read(tmp.file("re-no-corpus/nab_scores.json")))
      << "the same corpus, generated elsewhere";
  // Each rescore's manifest names the run's corpus folder, not the scratch folder that is gone.
  const auto corpus_of = [&](const std::string& what) {
    return lstmad::json::parse(lstmad::files::read(tmp.file("re-" + what + "/manifest.json")))["corpus"];
  };
  EXPECT_EQ(corpus_of("whole")["root"], run + "/corpus");
  EXPECT_FALSE(corpus_of("whole").contains("regenerated"));
  EXPECT_EQ(corpus_of("no-corpus")["root"], run + "/corpus");
  EXPECT_EQ(corpus_of("no-corpus")["regenerated"], true);
}

// A run without its synthetic corpus is scored from one generated in TMPDIR: an empty TMPDIR is /tmp (as
// POSIX has it), and one that cannot take the folder is named, with exit 3.
TEST(Detect, ACorpusGeneratedElsewhereGoesToTmpdir) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("tmpdir");
  const std::string run = tmp.file("run");
  std::string log;
  ASSERT_EQ(run_small(run, "--set run.save_models=true", &log), 0) << log;
  fs::remove_all(run + "/corpus");
  const std::string args = run + " --series " + kSeries[0] + " -j 1";
  ASSERT_EQ(
      run_command("TMPDIR= " + lstmad_binary() + " detect " + args + " --out " + tmp.file("d.csv"), &log), 0)
      << log;
  expect_same_scores(tmp.file("d.csv"), nab_file(run, kSeries[0]));
  const std::string missing = tmp.file("no-such-folder");
  EXPECT_EQ(run_command("TMPDIR=" + missing + " " + lstmad_binary() + " detect " + args + " --out " +
                            tmp.file("e.csv"),
                        &log),
            3)
      << log;
  EXPECT_NE(
      log.find("cannot create a scratch folder for the synthetic corpus (No such file or directory); set "
               "TMPDIR (now " +
               missing + ") to a folder this user can write, or put the run's corpus back at " + run +
               "/corpus"),
      std::string::npos)
      << log;
}
