// Faults and bad input through the CLI: missing values (rejected with file and line, or filled by the
// configured policy), an unreadable file, malformed JSON, an output folder that cannot be created, a disk
// that fills up mid-run, and a model whose training goes non-finite. Each fails only what it must.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/files.hpp"
#include "eval/metrics.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace lstmad::test;

namespace {

std::string series_csv(int rows, double scale = 1.0, int blank_row = -1) {
  return minute_series_csv(rows, "2020-03", [&](int i) {
    return i == blank_row ? std::string()
                          : std::to_string(scale * (5.0 + std::sin(i * 0.15) + 0.1 * std::cos(i * 1.7)));
  });
}

// status and error per series.
std::map<std::string, std::pair<std::string, std::string>> statuses(const std::string& results_csv) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  for (auto& row : read_results_csv(results_csv)) out[row["series"]] = {row["status"], row["error"]};
  return out;
}

// Rows keyed by series: every column but the timings, as "name=value," text.
std::map<std::string, std::string> rows_by_series(const std::string& results_csv) {
  std::map<std::string, std::string> out;
  for (const auto& row : read_results_csv(results_csv)) {
    std::string text;
    for (const auto& [name, value] : row)
      if (name.rfind("seconds_", 0) != 0) text += name + "=" + value + ",";
    out[row.at("series")] = text;
  }
  return out;
}

std::string config(const std::string& root, const std::string& extra_data = "") {
  return R"({"data": {"format": "nab", "root": ")" + root + "\"" + extra_data + R"(},
    "model": {"layers": 1, "hidden": 4, "window": 10}, "train": {"epochs": 2},
    "detector": {"likelihood": {"long_window": 100, "short_window": 3}}})";
}

// tmp/c: a corpus of k/a.csv (series_csv(300)) and k/<second> (series_csv(300, 2.0)), neither with label
// windows; tmp/cfg.json runs it.
void write_two_series(const TempDir& tmp, const std::string& second) {
  write_text(tmp.file("c/data/k/a.csv"), series_csv(300));
  write_text(tmp.file("c/data/k/" + second), series_csv(300, 2.0));
  write_text(tmp.file("c/labels/combined_windows.json"), R"({"k/a.csv": [], "k/)" + second + R"(": []})");
  write_text(tmp.file("cfg.json"), config(tmp.file("c")));
}

// Runs tmp/cfg.json (write_two_series): exit 1, k/a.csv OK, k/<bad> ERROR with an error holding `says`.
void expect_it_fails_alone(const TempDir& tmp, const std::string& bad, const std::string& says) {
  std::string out;
  EXPECT_EQ(
      run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("r"), &out), 1)
      << out;
  auto st = statuses(tmp.file("r/results.csv"));
  EXPECT_EQ(st["k/a.csv"].first, "OK") << out;
  EXPECT_EQ(st["k/" + bad].first, "ERROR") << out;
  EXPECT_NE(st["k/" + bad].second.find(says), std::string::npos) << st["k/" + bad].second;
  EXPECT_TRUE(fs::exists(tmp.file("r/summary.json"))) << out;
}

// The run's failed/ folder holds one log per failed cell, <cell id>.log, and none for the others; each
// names its cell, detector, series and status, and gives the reason results.csv gives.
void expect_failed_logs(const std::string& run_dir) {
  std::set<std::string> want, got;
  for (const auto& row : read_results_csv(run_dir + "/results.csv")) {
    const std::string log = run_dir + "/failed/" + row.at("cell_id") + ".log";
    if (row.at("status") == "OK") continue;
    want.insert(row.at("cell_id") + ".log");
    ASSERT_TRUE(fs::exists(log)) << row.at("series") << ": " << log;
    const std::string text = lstmad::files::read(log);
    for (const std::string& line :
         {"cell " + row.at("cell_id"), "detector " + row.at("detector"), "series " + row.at("series"),
          "status " + row.at("status"), row.at("error")})
      EXPECT_NE(text.find(line + "\n"), std::string::npos) << line << " in " << log << ":\n" << text;
  }
  if (fs::exists(run_dir + "/failed"))
    for (const auto& f : fs::directory_iterator(run_dir + "/failed"))
      got.insert(f.path().filename().string());
  EXPECT_EQ(got, want);
}

}  // namespace

class Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  }
};

TEST_F(Faults, MissingValuesAreRejectedNamingFileAndLineOrFilledByPolicy) {
  TempDir tmp("missing");
  write_text(tmp.file("c/data/k/gap.csv"), series_csv(400, 1.0, 123));
  write_text(tmp.file("c/data/k/ok.csv"), series_csv(400));
  write_text(tmp.file("c/labels/combined_windows.json"), R"({"k/gap.csv": [], "k/ok.csv": []})");
  write_text(tmp.file("reject.json"), config(tmp.file("c")));
  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("reject.json") + " --out " + tmp.file("r1"), &out), 1) << out;
  auto st = statuses(tmp.file("r1/results.csv"));
  EXPECT_EQ(st["k/ok.csv"].first, "OK");
  EXPECT_EQ(st["k/gap.csv"].first, "ERROR");
  EXPECT_NE(st["k/gap.csv"].second.find("gap.csv:125"), std::string::npos)
      << "row 123 is line 125 of the file: " << st["k/gap.csv"].second;
  for (const char* policy : {"interpolate", "carry_forward"}) {
    write_text(tmp.file("fill.json"), config(tmp.file("c"), std::string(R"(, "missing": ")") + policy + "\""));
    std::string dir = tmp.file(std::string("r-") + policy);
    EXPECT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("fill.json") + " --out " + dir, &out), 0) << out;
    EXPECT_EQ(statuses(dir + "/results.csv")["k/gap.csv"].first, "OK") << policy;
  }
}

TEST_F(Faults, UnreadableFileFailsItsCellOnly) {
  TempDir tmp("unreadable");
  write_text(tmp.file("c/data/k/ok.csv"), series_csv(400));
  fs::create_directories(tmp.file("c/data/k"));
  fs::create_symlink("loop.csv", tmp.file("c/data/k/loop.csv"));  // a link to itself: open() fails (ELOOP)
  write_text(tmp.file("c/labels/combined_windows.json"), R"({"k/ok.csv": []})");
  write_text(tmp.file("cfg.json"), config(tmp.file("c"), R"(, "files": ["k/ok.csv", "k/loop.csv"])"));
  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("r"), &out), 1) << out;
  auto st = statuses(tmp.file("r/results.csv"));
  EXPECT_EQ(st["k/ok.csv"].first, "OK");
  EXPECT_EQ(st["k/loop.csv"].first, "ERROR");
  EXPECT_NE(st["k/loop.csv"].second.find("loop.csv"), std::string::npos) << st["k/loop.csv"].second;
  EXPECT_NE(st["k/loop.csv"].second.find("cannot"), std::string::npos) << st["k/loop.csv"].second;
}

// A value with a byte that is not UTF-8 (a Latin-1 degree sign) is quoted in the cell's error as \xB0, so
// that the cell's JSON, results.csv, the log and the report are all valid UTF-8 (a reader that decodes
// results.csv as UTF-8 would otherwise fail on the whole run's file), and the series fails alone.
TEST_F(Faults, AValueThatIsNotUtf8FailsItsCellOnly) {
  TempDir tmp("latin1");
  std::string text = series_csv(300);
  const std::size_t line3 = text.find('\n', text.find('\n') + 1);
  const std::size_t end3 = text.find('\n', line3 + 1);
  text.replace(text.rfind(',', end3) + 1, end3 - text.rfind(',', end3) - 1,
               "12\xb0"
               "C");
  write_two_series(tmp, "latin1.csv");
  write_text(tmp.file("c/data/k/latin1.csv"), text);
  expect_it_fails_alone(tmp, "latin1.csv", "latin1.csv:3: value in column 2 is not a number: \"12\\xB0C\"");
  for (const char* f : {"results.csv", "log.txt", "report.html", "cells"}) {
    const fs::path p = tmp.file(std::string("r/") + f);
    for (const auto& file : fs::is_directory(p) ? std::vector<fs::path>(fs::directory_iterator(p), {})
                                                : std::vector<fs::path>{p})
      EXPECT_EQ(lstmad::files::read(file.string()).find('\xb0'), std::string::npos) << file;
  }
}

// Where every series fails to load, the run says that no cell finished, not that the corpus (whose label
// windows come with the series that loaded) has no labels.
TEST_F(Faults, ARunWhoseEveryCellFailedSaysSo) {
  TempDir tmp("all-failed");
  for (const char* f : {"a.csv", "b.csv"})
    write_text(tmp.file(std::string("c/data/k/") + f), "timestamp,value\n2020-03-01 00:00:00,x\n");
  write_text(tmp.file("c/labels/combined_windows.json"),
             R"({"k/a.csv": [["2020-03-01 00:00:00", "2020-03-01 01:00:00"]], "k/b.csv": []})");
  write_text(tmp.file("cfg.json"), config(tmp.file("c")));
  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " run " + tmp.file("cfg.json") + " --out " + tmp.file("r"), &out),
            1)
      << out;
  EXPECT_NE(out.find("No NAB score for lstmad: no cell finished OK"), std::string::npos) << out;
  EXPECT_EQ(out.find("no label windows"), std::string::npos) << out;
  // results.csv has every metric's column all the same (empty for failed cells), as any other run's, so
  // that the tables of shards and runs line up.
  const auto rows = read_results_csv(tmp.file("r/results.csv"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("status"), "ERROR");
  for (const auto& m : lstmad::metrics::series_metric_names()) EXPECT_TRUE(rows[0].count(m)) << m;
}

// A label entry that is not a list of [start, end] strings fails its own series' cells; the label file
// as a whole is still read (a file that is no JSON object stays an error of the run).
TEST_F(Faults, AMalformedLabelEntryFailsItsSeriesOnly) {
  TempDir tmp("bad-label");
  write_two_series(tmp, "b.csv");
  write_text(tmp.file("c/labels/combined_windows.json"), R"({"k/a.csv": [], "k/b.csv": [[1, 2]]})");
  expect_it_fails_alone(
      tmp, "b.csv",
      "combined_windows.json: \"k/b.csv\": window 0 must be [start, end] timestamp strings, got [1,2]");
}

TEST_F(Faults, MalformedJsonConfigExitsTwoNamingFileAndLine) {
  TempDir tmp("badjson");
  write_text(tmp.file("cfg.json"), "{\n  \"model\": {\"hidden\": 8\n}\n");
  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " run " + tmp.file("cfg.json") + " --out " + tmp.file("r"), &out), 2) << out;
  EXPECT_NE(out.find("cfg.json:4"), std::string::npos) << out;
  EXPECT_NE(out.find("malformed JSON"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp.file("r")));
}

TEST_F(Faults, OutputFolderThatCannotBeCreatedIsAClearError) {
  TempDir tmp("outdir");
  write_text(tmp.file("cfg.json"), config(tmp.file("nowhere")));
  write_text(tmp.file("a-file"), "not a folder");
  write_text(tmp.file("c/data/k/ok.csv"), series_csv(400));
  write_text(tmp.file("cfg.json"), config(tmp.file("c")));
  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " run " + tmp.file("cfg.json") + " --out " + tmp.file("a-file/run"), &out), 3) << out;
  EXPECT_NE(out.find("a-file/run"), std::string::npos) << "the message names the folder: " << out;
}

TEST_F(Faults, AFullDiskFailsTheWritesWithAClearErrorAndKeepsWhatFinished) {
  TempDir tmp("full");
  for (int i = 0; i < 3; ++i) write_text(tmp.file("c/data/k/s" + std::to_string(i) + ".csv"), series_csv(400));
  write_text(tmp.file("c/data/k/big.csv"), series_csv(3000));
  write_text(tmp.file("c/labels/combined_windows.json"), "{}");
  write_text(tmp.file("cfg.json"), config(tmp.file("c")));
  // A file-size limit makes every write past 60 KiB fail with EFBIG, as a full disk fails with ENOSPC:
  // the large series' score file cannot be written, the small ones can.
  std::string out;
  int rc = run_command("bash -c 'trap \"\" XFSZ; ulimit -f 60; exec " + lstmad_binary() + " -q run " +
                           tmp.file("cfg.json") + " --out " + tmp.file("r") + "'",
                       &out);
  EXPECT_EQ(rc, 1) << out;
  auto st = statuses(tmp.file("r/results.csv"));
  EXPECT_EQ(st["k/big.csv"].first, "ERROR");
  EXPECT_NE(st["k/big.csv"].second.find("write failed"), std::string::npos) << st["k/big.csv"].second;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(st["k/s" + std::to_string(i) + ".csv"].first, "OK");
  for (const auto& f : fs::recursive_directory_iterator(tmp.file("r")))
    EXPECT_EQ(f.path().filename().string().find(".tmp."), std::string::npos) << "no half-written file left: " << f.path();
  expect_failed_logs(tmp.file("r"));
  // With room again, --resume --retry-failed completes the run, and the cell loses its failure log.
  EXPECT_EQ(run_command(lstmad_binary() + " -q run --resume " + tmp.file("r") + " --retry-failed", &out), 0) << out;
  EXPECT_EQ(statuses(tmp.file("r/results.csv"))["k/big.csv"].first, "OK");
  expect_failed_logs(tmp.file("r"));
}

TEST_F(Faults, NonFiniteTrainingEndsTheCellNonfiniteAndTheRunGoesOn) {
  TempDir tmp("nonfinite");
  write_text(tmp.file("c/data/k/huge.csv"), series_csv(400, 1e30));
  write_text(tmp.file("c/data/k/ok.csv"), series_csv(400));
  write_text(tmp.file("c/labels/combined_windows.json"), "{}");
  // Unscaled values of 1e30: the squared error overflows float.
  write_text(tmp.file("cfg.json"), config(tmp.file("c"), R"(, "normalize": "none")"));
  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("r"), &out), 1) << out;
  auto st = statuses(tmp.file("r/results.csv"));
  EXPECT_EQ(st["k/huge.csv"].first, "NONFINITE") << st["k/huge.csv"].second;
  EXPECT_EQ(st["k/ok.csv"].first, "OK");
  expect_failed_logs(tmp.file("r"));
}

TEST_F(Faults, ResumeRerunsTheSeriesWhoseFilesChangedAndKeepsTheRest) {
  TempDir tmp("changed");
  write_two_series(tmp, "c.csv");
  std::string out;
  ASSERT_EQ(
      run_command(lstmad_binary() + " -q run -j 2 " + tmp.file("cfg.json") + " --out " + tmp.file("r"), &out),
      0)
      << out;
  std::map<std::string, std::string> cell_files;
  for (const auto& f : fs::directory_iterator(tmp.file("r/cells")))
    cell_files[f.path().filename().string()] = lstmad::files::read(f.path().string());
  ASSERT_EQ(cell_files.size(), 2u);

  // c.csv changes, b.csv appears (sorting between a and c, so c's index moves): only c runs again.
  write_text(tmp.file("c/data/k/c.csv"), series_csv(300, 3.0));
  write_text(tmp.file("c/data/k/b.csv"), series_csv(300, 0.5));
  ASSERT_EQ(
      run_command(lstmad_binary() + " run --no-progress -j 1 --resume " + tmp.file("r") + " 2>&1", &out), 0)
      << out;
  EXPECT_NE(out.find("1 changed (data/k/c.csv), 1 added (data/k/b.csv)"), std::string::npos) << out;
  int kept = 0;
  for (const auto& [name, text] : cell_files)
    if (fs::exists(tmp.file("r/cells/" + name)) && lstmad::files::read(tmp.file("r/cells/" + name)) == text) ++kept;
  EXPECT_EQ(kept, 1) << "a.csv's cell is kept as it was, c.csv's was computed again";
  int superseded = 0;
  for (const auto& f : fs::recursive_directory_iterator(tmp.file("r/superseded")))
    superseded += f.path().extension() == ".json" ? 1 : 0;
  EXPECT_EQ(superseded, 1) << "c.csv's old cell is kept aside";
  const auto json_text = lstmad::files::read(tmp.file("r/manifest.json"));
  // The manifest's threads are the first leg's; the resume records its own, and its host.
  const auto manifest = nlohmann::json::parse(json_text);
  EXPECT_EQ(manifest["threads"], 2);
  ASSERT_EQ(manifest["resumes"].size(), 1u) << json_text;
  EXPECT_EQ(manifest["resumes"][0]["threads"], 1);
  EXPECT_EQ(manifest["resumes"][0]["host"], manifest["host"]);
  EXPECT_NE(json_text.find("\"data/k/b.csv\""), std::string::npos) << "the manifest records the current inputs";

  // Every row equals a fresh run's on the files as they are now, index included.
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("fresh"), &out), 0) << out;
  const auto resumed = rows_by_series(tmp.file("r/results.csv")), fresh = rows_by_series(tmp.file("fresh/results.csv"));
  ASSERT_EQ(resumed.size(), 3u);
  EXPECT_EQ(resumed, fresh);

  // a.csv removed: its cell is no result of the run any more, and nothing else moves. Its cell file and
  // NAB-format scores go aside, so that neither the report nor a scorer of nab/ meets the series.
  std::string a_id;
  for (const auto& row : read_results_csv(tmp.file("r/results.csv")))
    if (row.at("series") == "k/a.csv") a_id = row.at("cell_id");
  ASSERT_FALSE(a_id.empty());
  fs::remove(tmp.file("c/data/k/a.csv"));
  ASSERT_EQ(run_command(lstmad_binary() + " run --no-progress --resume " + tmp.file("r") + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("1 removed (data/k/a.csv)"), std::string::npos) << out;
  EXPECT_NE(out.find("the 1 cell(s) of the 1 series no longer in the corpus are left out of the results"),
            std::string::npos)
      << out;
  EXPECT_FALSE(fs::exists(tmp.file("r/cells/" + a_id + ".json")));
  int a_aside = 0, a_scores = 0;
  for (const auto& f : fs::recursive_directory_iterator(tmp.file("r"))) {
    const std::string p = f.path().generic_string();
    if (p.find("/superseded/") != std::string::npos && f.path().filename() == a_id + ".json") ++a_aside;
    if (p.find("/nab/") != std::string::npos &&
        f.path().filename().string().find("_a.csv") != std::string::npos)
      a_scores += p.find("/superseded/") == std::string::npos ? 100 : 1;
  }
  EXPECT_EQ(a_aside, 1) << "a.csv's cell is kept aside";
  EXPECT_EQ(a_scores, 1) << "a.csv's NAB-format scores are kept aside, not left in nab/";
  EXPECT_EQ(lstmad::files::read(tmp.file("r/report.html")).find("k/a.csv"), std::string::npos)
      << "the report plots no removed series";
  const auto after = rows_by_series(tmp.file("r/results.csv"));
  EXPECT_EQ(after.size(), 2u);
  EXPECT_EQ(after.count("k/a.csv"), 0u);
  const std::string summary = lstmad::files::read(tmp.file("r/summary.json"));
  EXPECT_NE(summary.find("\"missing\": 0"), std::string::npos) << summary;

  // c.csv changes again: its old cell goes to a folder of this resume's own, even where a folder of that
  // second is there already (here made by the test for the next seconds, as a resume moments before would).
  std::string c_id;
  for (const auto& row : read_results_csv(tmp.file("r/results.csv")))
    if (row.at("series") == "k/c.csv") c_id = row.at("cell_id");
  ASSERT_FALSE(c_id.empty());
  std::vector<std::string> earlier;
  for (int k = 0; k < 8; ++k) {
    const std::time_t t = std::time(nullptr) + k;
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::gmtime(&t));
    if (fs::exists(tmp.file("r/superseded/") + stamp)) continue;  // the resume above, within this second
    earlier.push_back(tmp.file("r/superseded/") + stamp + "/cells/" + c_id + ".json");
    write_text(earlier.back(), "an earlier resume's");
  }
  write_text(tmp.file("c/data/k/c.csv"), series_csv(300, 4.0));
  ASSERT_EQ(run_command(lstmad_binary() + " -q run --resume " + tmp.file("r"), &out), 0) << out;
  for (const auto& f : earlier) EXPECT_EQ(lstmad::files::read(f), "an earlier resume's") << f;
  int aside = 0;
  for (const auto& f : fs::recursive_directory_iterator(tmp.file("r/superseded")))
    aside += f.path().filename() == c_id + ".json" &&
             lstmad::files::read(f.path().string()) != "an earlier resume's";
  EXPECT_EQ(aside, 2) << "c.csv's two earlier cells, each kept aside";

  // Without a record of the inputs, the cells cannot be checked: the resume says so and runs them again.
  fs::remove(tmp.file("r/manifest.json"));
  ASSERT_EQ(run_command(lstmad_binary() + " run --no-progress --resume " + tmp.file("r"), &out), 0) << out;
  EXPECT_NE(out.find("no record of the inputs its cells were computed from (manifest.json is missing)"),
            std::string::npos)
      << out;
}

// Shards merge into the unsharded run only when they ran on the same input files, and those are the files
// as they are now (the merged run is scored on the current labels, and its manifest records the current
// hashes). Otherwise merge refuses, naming the file and the shard; resuming the shards reruns the changed
// series, after which they merge.
TEST_F(Faults, MergeRefusesShardsThatRanOnOtherInputFiles) {
  TempDir tmp("merge-inputs");
  write_two_series(tmp, "b.csv");
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json");
  const std::string merge =
      lstmad_binary() + " -q merge " + tmp.file("s0") + " " + tmp.file("s1") + " --out ";
  std::string out;
  ASSERT_EQ(run_command(run + " --shard 0/2 --out " + tmp.file("s0"), &out), 0) << out;
  write_text(tmp.file("c/data/k/a.csv"), series_csv(300, 3.0));  // between the two shards
  ASSERT_EQ(run_command(run + " --shard 1/2 --out " + tmp.file("s1"), &out), 0) << out;
  EXPECT_EQ(run_command(merge + tmp.file("m1") + " 2>&1", &out), 2) << out;
  EXPECT_NE(out.find(tmp.file("s1") + "/manifest.json: input data/k/a.csv differs from " + tmp.file("s0") +
                     "/manifest.json"),
            std::string::npos)
      << out;
  EXPECT_FALSE(fs::exists(tmp.file("m1")));

  // The shard that ran on the old a.csv, resumed, reruns it: now they merge, equal to a fresh run.
  ASSERT_EQ(run_command(lstmad_binary() + " -q run --resume " + tmp.file("s0"), &out), 0) << out;
  ASSERT_EQ(run_command(merge + tmp.file("m2"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --out " + tmp.file("fresh"), &out), 0) << out;
  EXPECT_EQ(rows_by_series(tmp.file("m2/results.csv")), rows_by_series(tmp.file("fresh/results.csv")));

  // A file changed after both shards ran: their cells are not results on it.
  write_text(tmp.file("c/data/k/b.csv"), series_csv(300, 4.0));
  EXPECT_EQ(run_command(merge + tmp.file("m3") + " 2>&1", &out), 2) << out;
  EXPECT_NE(out.find(tmp.file("s0") + "/manifest.json: input data/k/b.csv has changed since"),
            std::string::npos)
      << out;
  EXPECT_FALSE(fs::exists(tmp.file("m3")));
}

TEST_F(Faults, ANabLayoutWithoutItsLabelFileIsAConfigError) {
  TempDir tmp("nolabels");
  write_text(tmp.file("c/data/k/a.csv"), series_csv(300));
  write_text(tmp.file("c/labels/combined_windows.json"), R"({"k/a.csv": [], "k/typo.csv": []})");
  write_text(tmp.file("cfg.json"), config(tmp.file("c"), R"(, "windows_file": "labels/combined_window.json")"));
  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " run --no-progress " + tmp.file("cfg.json") + " --out " + tmp.file("r") + " 2>&1", &out), 2) << out;
  EXPECT_NE(out.find("data.windows_file: " + tmp.file("c") + "/labels/combined_window.json does not exist"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp.file("r"))) << "a run whose setup failed leaves no folder to block --out";
  fs::create_directories(tmp.file("mine"));
  write_text(tmp.file("mine/notes.txt"), "kept");
  EXPECT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("mine") + " 2>&1", &out), 2) << out;
  EXPECT_TRUE(fs::exists(tmp.file("mine/notes.txt"))) << "a folder that was there keeps what it held";
  EXPECT_FALSE(fs::exists(tmp.file("mine/config.json"))) << "and loses what the failed run wrote";
  // A label key naming no file is reported, and the run goes on.
  write_text(tmp.file("cfg.json"), config(tmp.file("c")));
  EXPECT_EQ(run_command(lstmad_binary() + " run --no-progress " + tmp.file("cfg.json") + " --out " + tmp.file("r2") + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("1 label key(s) name no file under " + tmp.file("c") + "/data: k/typo.csv"), std::string::npos) << out;
}

TEST_F(Faults, RunsStartedInTheSameSecondGetFoldersOfTheirOwn) {
  TempDir tmp("samesecond");
  write_text(tmp.file("c/data/k/a.csv"), series_csv(300));
  write_text(tmp.file("c/labels/combined_windows.json"), R"({"k/a.csv": []})");
  write_text(tmp.file("cfg.json"), R"({"data": {"format": "nab", "root": ")" + tmp.file("c") + R"("},
    "model": {"layers": 1, "hidden": 4, "window": 10}, "train": {"epochs": 1},
    "detector": {"likelihood": {"long_window": 100, "short_window": 3}},
    "run": {"name": "twin", "out": ")" + tmp.file("runs") + R"("}})");
  // Runs already hold the names of this second and the next 30: the new run takes "-2" of its second.
  const auto now = std::chrono::system_clock::now();
  for (int ahead = 0; ahead <= 30; ++ahead) {
    const std::time_t t = std::chrono::system_clock::to_time_t(now + std::chrono::seconds(ahead));
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    write_text(tmp.file(std::string("runs/") + stamp + "-twin/config.json"), "{}");
  }
  std::string out;
  const std::string one = lstmad_binary() + " -q run " + tmp.file("cfg.json");
  ASSERT_EQ(run_command(one + " 2>&1", &out), 0) << out;
  std::vector<std::string> second_runs;
  for (const auto& d : fs::directory_iterator(tmp.file("runs")))
    if (fs::exists(d.path() / "results.csv")) second_runs.push_back(d.path().filename().string());
  ASSERT_EQ(second_runs.size(), 1u);
  EXPECT_EQ(second_runs[0].substr(second_runs[0].size() - 7), "-twin-2") << second_runs[0];
  // Three runs at once from one shell: never sharing a folder. Each run's own exit status is waited for (a
  // plain `wait` returns 0 whatever they returned).
  ASSERT_EQ(run_command("(" + one + " & a=$!; " + one + " & b=$!; " + one +
                            " & c=$!; rc=0; for p in $a $b $c; do wait $p || rc=$?; done; exit $rc) 2>&1",
                        &out),
            0)
      << out;
  EXPECT_EQ(out.find("already holds a run"), std::string::npos) << out;
  int runs = 0;
  for (const auto& d : fs::directory_iterator(tmp.file("runs")))
    runs += fs::exists(d.path() / "results.csv") ? 1 : 0;
  EXPECT_EQ(runs, 4);
}

TEST_F(Faults, ACellThatFailedBeforeTrainingHasNoLosses) {
  TempDir tmp("noloss");
  write_text(tmp.file("c/data/k/gap.csv"), series_csv(300, 1.0, 100));
  write_text(tmp.file("c/labels/combined_windows.json"), R"({"k/gap.csv": []})");
  write_text(tmp.file("cfg.json"), config(tmp.file("c")));
  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("r"), &out), 1) << out;
  const std::string row = rows_by_series(tmp.file("r/results.csv"))["k/gap.csv"];
  EXPECT_NE(row.find("status=ERROR"), std::string::npos) << row;
  EXPECT_NE(row.find("train_loss=nan,"), std::string::npos) << "not a loss of 0: " << row;
  EXPECT_NE(row.find("val_loss=nan,"), std::string::npos) << "not a loss of 0: " << row;
}

TEST_F(Faults, ASeriesThatDataFilesNamesButNoFileHoldsFailsNamingTheRootAndId) {
  TempDir tmp("noid");
  write_text(tmp.file("flat/a.csv"), series_csv(300));
  write_text(tmp.file("cfg.json"), R"({"data": {"format": "csv", "root": ")" + tmp.file("flat") +
                                       R"(", "files": ["flat/a.csv", "flat/nope.csv"]},
    "model": {"layers": 1, "hidden": 4, "window": 10}, "train": {"epochs": 1},
    "detector": {"likelihood": {"long_window": 100, "short_window": 3}}})");
  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("r"), &out), 1) << out;
  auto st = statuses(tmp.file("r/results.csv"));
  EXPECT_EQ(st["flat/a.csv"].first, "OK");
  EXPECT_EQ(st["flat/nope.csv"].first, "ERROR");
  EXPECT_NE(st["flat/nope.csv"].second.find(tmp.file("flat") + ": data.files names series flat/nope.csv"),
            std::string::npos)
      << st["flat/nope.csv"].second;
}
