// The series of a run (experiments/run_series.hpp): kept in memory or read again, the same rows either way;
// a file that changes during the run fails where it is read again; a run or rescore that keeps no series
// gives the results of one that keeps them all.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <string>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "data/npy.hpp"
#include "experiments/config.hpp"
#include "experiments/corpus.hpp"
#include "experiments/plan.hpp"
#include "experiments/run_series.hpp"
#include "support/run_cli.hpp"
#include "support/test_support.hpp"

namespace lstmad {
namespace {

using test::RunCli;
using test::TempDir;

// A csv corpus of three series in `tmp`/data: b.csv has a value that is not a number on its row 7.
json csv_corpus(const TempDir& tmp) {
  files::make_dirs(tmp.file("data"));
  test::write_text(tmp.file("data/a.csv"), test::minute_series_csv(300, "2020-01", [](int i) {
                     return std::to_string(std::sin(i * 0.3));
                   }));
  test::write_text(tmp.file("data/b.csv"), test::minute_series_csv(200, "2020-01", [](int i) {
                     return i == 6 ? std::string("n/a") : std::to_string(i % 17);
                   }));
  test::write_text(tmp.file("data/c.csv"),
                   test::minute_series_csv(250, "2020-02", [](int i) { return std::to_string(i * 0.01); }));
  json user = {{"data", {{"format", "csv"}, {"root", tmp.file("data")}, {"train_fraction", 0.3}}},
               {"model", {{"window", 10}}}};
  return resolve_config(user, "test");
}

// Where series `id` is in `plan`.
size_t index_of(const Plan& plan, const std::string& id) {
  for (size_t i = 0; i < plan.series.size(); ++i)
    if (plan.series[i] == id) return i;
  ADD_FAILURE() << id << " is not in the plan";
  return 0;
}

struct Fixture {
  explicit Fixture(const TempDir& tmp, std::size_t keep)
      : cfg(csv_corpus(tmp)),
        corpus(resolve_corpus(cfg, tmp.file("run"))),
        plan(make_plan(cfg, corpus.series)),
        series(plan, corpus, cfg, 2, keep) {}
  size_t index(const std::string& id) const { return index_of(plan, id); }
  json cfg;
  Corpus corpus;
  Plan plan;
  RunSeries series;
};

TEST(RunSeries, ASeriesReadAgainIsTheOneFirstPreparedAndSharedWhileHeld) {
  TempDir tmp("run_series");
  Fixture f(tmp, 0);
  ASSERT_EQ(f.series.size(), 3u);
  EXPECT_EQ(f.series.loaded(), 2);
  EXPECT_EQ(f.series.kept(), 0);
  EXPECT_FALSE(f.series.all_kept());
  EXPECT_EQ(f.series.rows(), 550);
  const size_t a = f.index("data/a.csv"), b = f.index("data/b.csv");
  EXPECT_FALSE(f.series.ok(b));
  EXPECT_NE(f.series.error(b).find("b.csv"), std::string::npos) << f.series.error(b);
  EXPECT_THROW(f.series.get(b), Error);

  const SeriesFacts& facts = f.series.facts(a);
  EXPECT_EQ(facts.rows, 300);
  EXPECT_EQ(facts.train_end, 90);
  EXPECT_EQ(facts.input_dims, 1);
  // What a fresh load and preparation of the file gives.
  int train_rows = -1;
  const PreparedSeries direct =
      prepare_series(f.corpus.load(f.plan.series[a], &train_rows), f.cfg, train_rows);
  auto held = f.series.get(a);
  EXPECT_EQ(f.series.reloads(), 1);
  EXPECT_EQ(held->x, direct.x);
  EXPECT_EQ(held->target, direct.target);
  EXPECT_EQ(held->series.timestamps, direct.series.timestamps);
  EXPECT_EQ(held->train_end, facts.train_end);
  // A second caller while the first holds it shares the copy; once both let go, it is read again.
  auto again = f.series.get(a);
  EXPECT_EQ(again.get(), held.get());
  EXPECT_EQ(f.series.reloads(), 1);
  held.reset();
  again.reset();
  auto third = f.series.get(a);
  EXPECT_EQ(f.series.reloads(), 2);
  EXPECT_EQ(third->x, direct.x);
}

TEST(RunSeries, SeriesWithinTheBudgetAreKeptAndNeverReadAgain) {
  TempDir tmp("run_series");
  Fixture f(tmp, std::size_t{1} << 30);
  EXPECT_EQ(f.series.kept(), 2);
  EXPECT_TRUE(f.series.all_kept());  // b.csv failed: not a series to keep
  const size_t c = f.index("data/c.csv");
  auto p = f.series.get(c);
  auto q = f.series.get(c);
  EXPECT_EQ(p.get(), q.get());
  EXPECT_EQ(p->series.rows(), 250);
  EXPECT_EQ(f.series.reloads(), 0);
}

TEST(RunSeries, AFileChangedDuringTheRunFailsWhereItIsReadAgain) {
  TempDir tmp("run_series");
  Fixture f(tmp, 0);
  const size_t a = f.index("data/a.csv"), c = f.index("data/c.csv");
  // One value changed, the rows as many as before.
  test::write_text(tmp.file("data/a.csv"), test::minute_series_csv(300, "2020-01", [](int i) {
                     return std::to_string(i == 150 ? 9.0 : std::sin(i * 0.3));
                   }));
  try {
    f.series.get(a);
    ADD_FAILURE() << "a changed file was read again without a word";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("a.csv"), std::string::npos) << what;
    EXPECT_NE(what.find("changed during the run"), std::string::npos) << what;
    EXPECT_NE(what.find("values, timestamps, labels or training part differ"), std::string::npos) << what;
  }
  // Rows appended: the message says how many.
  test::write_text(tmp.file("data/c.csv"),
                   test::minute_series_csv(260, "2020-02", [](int i) { return std::to_string(i * 0.01); }));
  try {
    f.series.get(c);
    ADD_FAILURE() << "a longer file was read again without a word";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("260 rows where it had 250"), std::string::npos) << e.what();
  }
  // A file gone: the reason names it.
  std::filesystem::remove(tmp.file("data/c.csv"));
  try {
    f.series.get(c);
    ADD_FAILURE() << "a removed file was read again";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("c.csv"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("read again during the run"), std::string::npos) << e.what();
  }
}

// A NASA channel is its train array followed by its test array, and the error names the test array: a
// change to the train array is reported with both files named, so that the one that changed is among them.
TEST(RunSeries, AChangedNasaChannelNamesBothOfItsFiles) {
  TempDir tmp("run_series");
  auto channel = [&](const std::string& part, std::size_t n, double level) {
    files::make_dirs(tmp.file(part));
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = level + 0.5 * std::sin(0.3 * static_cast<double>(i));
    write_npy(tmp.file(part + "/A-1.npy"), v, n, 1);
  };
  channel("train", 300, 0.0);
  channel("test", 400, 1.0);
  test::write_text(tmp.file("labeled_anomalies.csv"),
                   "chan_id,spacecraft,anomaly_sequences,class,num_values\n"
                   "A-1,SMAP,\"[[250, 260]]\",[point],400\n");
  const json cfg = resolve_config(
      json{{"data", {{"format", "nasa"}, {"root", tmp.path()}}}, {"model", {{"window", 10}}}}, "test");
  const Corpus corpus = resolve_corpus(cfg, tmp.file("run"));
  const Plan plan = make_plan(cfg, corpus.series);
  RunSeries series(plan, corpus, cfg, 1, 0);
  ASSERT_TRUE(series.ok(0)) << series.error(0);
  channel("train", 300, 0.5);  // the same rows, other values
  try {
    series.get(0);
    ADD_FAILURE() << "a changed train array was read again without a word";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("changed during the run"), std::string::npos) << what;
    EXPECT_NE(what.find("(read from " + tmp.file("train/A-1.npy") + " and " + tmp.file("test/A-1.npy") + ")"),
              std::string::npos)
        << what;
  }
}

// The same values and instants with their timestamps written another way: NAB-format files repeat the
// texts, so this is a change too.
TEST(RunSeries, TimestampsWrittenAnotherWayAreAChange) {
  TempDir tmp("run_series");
  Fixture f(tmp, 0);
  const size_t c = f.index("data/c.csv");
  // c.csv's rows with "T" between date and time: the same instants and values.
  std::string text = files::read(tmp.file("data/c.csv"));
  for (size_t at = text.find(" 0"); at != std::string::npos; at = text.find(" 0", at)) text[at] = 'T';
  for (size_t at = text.find(" 1"); at != std::string::npos; at = text.find(" 1", at)) text[at] = 'T';
  for (size_t at = text.find(" 2"); at != std::string::npos; at = text.find(" 2", at)) text[at] = 'T';
  ASSERT_NE(text.find("2020-02-01T00:00:00,"), std::string::npos) << text.substr(0, 80);
  test::write_text(tmp.file("data/c.csv"), text);
  try {
    f.series.get(c);
    ADD_FAILURE() << "timestamps written another way were taken as the same file";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("timestamps, labels or training part differ"), std::string::npos)
        << e.what();
  }
}

// A budget that holds one of the two series keeps the one that fits, and only the other is read again.
TEST(RunSeries, ABudgetKeepsTheSeriesThatFit) {
  TempDir tmp("run_series");
  const json cfg = csv_corpus(tmp);
  const Corpus corpus = resolve_corpus(cfg, tmp.file("run"));
  const Plan plan = make_plan(cfg, corpus.series);
  int train_rows = -1;
  const PreparedSeries c = prepare_series(corpus.load("data/c.csv", &train_rows), cfg, train_rows);
  const PreparedSeries a = prepare_series(corpus.load("data/a.csv", &train_rows), cfg, train_rows);
  ASSERT_LT(prepared_series_bytes(c), prepared_series_bytes(a));  // 250 rows against 300
  RunSeries series(plan, corpus, cfg, 2, prepared_series_bytes(c) + 16);
  EXPECT_EQ(series.kept(), 1);
  const size_t ia = index_of(plan, "data/a.csv"), ic = index_of(plan, "data/c.csv");
  series.get(ic);
  EXPECT_EQ(series.reloads(), 0);
  series.get(ia);
  EXPECT_EQ(series.reloads(), 1);
}

// A series with no cell to run (a resume's finished one, another shard's) takes none of the budget: the
// room that held the larger series goes to the smaller one, the only one in use, and nothing in use is
// read again. The other still reads again when asked, as it was.
TEST(RunSeries, ASeriesWithNoCellToRunTakesNoRoom) {
  TempDir tmp("run_series");
  const json cfg = csv_corpus(tmp);
  const Corpus corpus = resolve_corpus(cfg, tmp.file("run"));
  const Plan plan = make_plan(cfg, corpus.series);
  int train_rows = -1;
  const PreparedSeries a = prepare_series(corpus.load("data/a.csv", &train_rows), cfg, train_rows);
  const size_t ia = index_of(plan, "data/a.csv"), ic = index_of(plan, "data/c.csv");
  // Room for a.csv (the larger) alone: without `in_use` either could take it, whichever loads first.
  std::vector<bool> in_use(plan.series.size(), false);
  in_use[ic] = true;
  RunSeries series(plan, corpus, cfg, 2, prepared_series_bytes(a) + 16, in_use);
  EXPECT_EQ(series.kept(), 1);
  EXPECT_EQ(series.in_use(), 1);
  EXPECT_TRUE(series.all_kept());
  series.get(ic);
  EXPECT_EQ(series.reloads(), 0);
  EXPECT_EQ(series.get(ia)->series.values, a.series.values);
  EXPECT_EQ(series.reloads(), 1);
  EXPECT_THROW(RunSeries(plan, corpus, cfg, 1, 0, std::vector<bool>{true}), Error);
}

// A series' warnings are given when it is first read; reading it again for a batch repeats them only as
// debug lines (in the run's log file, not on the terminal).
TEST(RunSeries, ASeriesReadAgainDoesNotRepeatItsWarnings) {
  TempDir tmp("run_series");
  files::make_dirs(tmp.file("data"));
  test::write_text(tmp.file("data/gap.csv"), test::minute_series_csv(200, "2020-01", [](int i) {
                     return i == 120 ? std::string() : std::to_string(i % 13);
                   }));
  json user = {{"data", {{"format", "csv"}, {"root", tmp.file("data")}, {"missing", "interpolate"}}}};
  const json cfg = resolve_config(user, "test");
  const Corpus corpus = resolve_corpus(cfg, tmp.file("run"));
  const Plan plan = make_plan(cfg, corpus.series);
  log::set_file(tmp.file("log.txt"));
  RunSeries series(plan, corpus, cfg, 1, 0);
  ASSERT_TRUE(series.ok(0)) << series.error(0);
  series.get(0);
  log::set_file("");
  const std::string logged = files::read(tmp.file("log.txt"));
  const std::string said = "gap.csv: filled 1 missing values";
  const size_t first = logged.find("[warn] " + std::string(tmp.file("data/")) + said);
  ASSERT_NE(first, std::string::npos) << logged;
  EXPECT_EQ(logged.find("[warn] ", first + 1), std::string::npos) << logged;
  EXPECT_NE(logged.find("[debug] " + std::string(tmp.file("data/")) + said), std::string::npos) << logged;
}

TEST(RunSeries, TheBudgetIsTheConfiguredMegabytesOrAQuarterOfTheMachine) {
  json cfg = resolve_config(json::object(), "test");
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  ASSERT_GT(pages, 0);
  EXPECT_GT(series_memory_budget(cfg), std::size_t{0});
  EXPECT_LE(series_memory_budget(cfg), static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) / 4);
  cfg = resolve_config(json{{"run", {{"series_memory_mb", 3}}}}, "test");
  EXPECT_EQ(series_memory_budget(cfg), std::size_t{3} << 20);
}

// A grid whose two settings differ only in the detector (the second cell of a series follows the first's
// model) and in the model (two batches read the same series): with no series kept, every NAB-format file,
// score and result is the one of a run that keeps them all; so is a rescore of each.
TEST_F(RunCli, ARunThatKeepsNoSeriesGivesTheResultsOfOneThatKeepsThemAll) {
  TempDir tmp("run_series_cli");
  test::write_text(tmp.file("cfg.json"), test::kTinySynthetic);
  // 20,000 rows a series: each over the 1 MB of run.series_memory_mb=1 (about 65 bytes a row).
  const std::string grid =
      " --set data.synthetic.length=20000 --set 'detector.smoothing=[1,3]' --set 'model.hidden=[6,8]'";
  std::string out;
  ASSERT_EQ(test::run_command(test::lstmad_binary() + " run " + tmp.file("cfg.json") + grid + " -j 2 --out " +
                                  tmp.file("kept"),
                              &out),
            0)
      << out;
  EXPECT_EQ(out.find("kept in memory"), std::string::npos) << out;
  ASSERT_EQ(test::run_command(test::lstmad_binary() + " run " + tmp.file("cfg.json") + grid +
                                  " --set run.series_memory_mb=1 -j 2 --out " + tmp.file("read"),
                              &out),
            0)
      << out;
  EXPECT_NE(out.find("; 0 of the 7 with cells to run kept in memory (run.series_memory_mb)"),
            std::string::npos)
      << out;
  // Per detector: a file per series, and the three profiles' *_scores.csv.
  EXPECT_EQ(test::expect_same_nab_files(tmp.file("kept"), tmp.file("read")), 4u * (7u + 3u));
  EXPECT_EQ(files::read(tmp.file("kept/nab_scores.json")), files::read(tmp.file("read/nab_scores.json")));
  EXPECT_EQ(test::results_without_timings(tmp.file("kept")), test::results_without_timings(tmp.file("read")));

  // The first rescore keeps every series, the second none (rescore --set takes run.series_memory_mb).
  for (const char* run : {"kept", "read"})
    ASSERT_EQ(test::run_command(test::lstmad_binary() + " rescore " + tmp.file(run) +
                                    " --set 'detector.smoothing=[2,5]'" +
                                    (std::string(run) == "read" ? " --set run.series_memory_mb=1" : "") +
                                    " --out " + tmp.file(std::string(run) + "-rescored"),
                                &out),
              0)
        << out;
  EXPECT_EQ(test::expect_same_nab_files(tmp.file("kept-rescored"), tmp.file("read-rescored")),
            4u * (7u + 3u));
  EXPECT_EQ(test::results_without_timings(tmp.file("kept-rescored")),
            test::results_without_timings(tmp.file("read-rescored")));
}

// An ensemble over two hidden sizes trains a cell's two models in two ModelBatches: with no series kept,
// each batch reads the series again and the batch that brings the last model back scores the cell; the
// results are those of a run that keeps every series.
TEST_F(RunCli, AnEnsembleAcrossBatchesScoresAsWhenEverySeriesIsKept) {
  TempDir tmp("run_series_ensemble");
  json cfg = json::parse(test::kTinySynthetic);
  cfg["data"]["synthetic"]["length"] = 20000;
  cfg["ensemble"] = {{"model.hidden", {6, 8}}};
  test::write_text(tmp.file("cfg.json"), cfg.dump());
  std::string out;
  for (const char* run : {"kept", "read"})
    ASSERT_EQ(test::run_command(test::lstmad_binary() + " run " + tmp.file("cfg.json") +
                                    (std::string(run) == "read" ? " --set run.series_memory_mb=1" : "") +
                                    " -j 2 --out " + tmp.file(run),
                                &out),
              0)
        << out;
  // Two batches, each reading the 7 series again: 14 reads at least.
  const std::string said = "series read again ";
  const size_t at = out.find(said);
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_GE(std::stoi(out.substr(at + said.size())), 14) << out;
  EXPECT_EQ(test::expect_same_nab_files(tmp.file("kept"), tmp.file("read")), 7u + 3u);
  EXPECT_EQ(files::read(tmp.file("kept/nab_scores.json")), files::read(tmp.file("read/nab_scores.json")));
  EXPECT_EQ(test::results_without_timings(tmp.file("kept")), test::results_without_timings(tmp.file("read")));
}

// `plan` says what the series hold prepared and how many of them the budget keeps, as the run will.
TEST_F(RunCli, PlanSaysHowManySeriesTheMemoryBudgetKeeps) {
  TempDir tmp("run_series_plan");
  test::write_text(tmp.file("cfg.json"), test::kTinySynthetic);
  const std::string cmd =
      test::lstmad_binary() + " plan " + tmp.file("cfg.json") + " --set data.synthetic.length=20000";
  std::string out;
  ASSERT_EQ(test::run_command(cmd, &out), 0) << out;
  EXPECT_NE(out.find("series in memory: 140000 rows in 7 series, about "), std::string::npos) << out;
  EXPECT_NE(out.find("(0: a quarter of this machine, "), std::string::npos) << out;
  EXPECT_NE(out.find(") keeps them all"), std::string::npos) << out;
  ASSERT_EQ(test::run_command(cmd + " --set run.series_memory_mb=1", &out), 0) << out;
  EXPECT_NE(out.find("run.series_memory_mb (1 MiB) keeps about 0 of them; the others are read again"),
            std::string::npos)
      << out;
  // 5 MiB of the 7 series' 8-9 MiB (about 65 bytes a row): those that fit, 3 or 4 of them.
  ASSERT_EQ(test::run_command(cmd + " --set run.series_memory_mb=5", &out), 0) << out;
  const std::size_t at = out.find("about ");
  ASSERT_NE(at, std::string::npos) << out;
  const int total_mib = std::stoi(out.substr(at + 6));
  EXPECT_GE(total_mib, 7) << out;
  EXPECT_LE(total_mib, 12) << out;
  const std::size_t k = out.find("(5 MiB) keeps about ");
  ASSERT_NE(k, std::string::npos) << out;
  const int kept = std::stoi(out.substr(k + 20));
  EXPECT_GE(kept, 3) << out;
  EXPECT_LE(kept, 4) << out;
}

}  // namespace
}  // namespace lstmad
