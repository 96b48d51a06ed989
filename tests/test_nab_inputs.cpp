// NAB scoring of results folders on small corpora the tests write: bad result files (wrong row count, no
// anomaly_score column, NaN or non-numeric scores, a missing file, no thresholds) are errors naming the
// file and row for that detector only, while the other detectors are still scored; and the same through
// `lstmad nab score` (exit code 1) when the binary is built.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/files.hpp"
#include "data/timestamp.hpp"
#include "eval/nab_corpus.hpp"
#include "support/test_support.hpp"

namespace lstmad {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kRows = 40;  // probation 6

std::string stamp(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "2020-01-01 %02d:%02d:00", i / 60, i % 60);
  return buf;
}

// anomaly_score 1.0 at `hit` rows, else 0; `mutate(row, line)` may rewrite a line.
std::string result_csv(const std::vector<int>& hits, int rows = kRows, const std::string& eol = "\n",
                       const std::function<void(int, std::string&)>& mutate = nullptr) {
  std::string s = "timestamp,value,label,anomaly_score,raw_score" + eol;
  for (int i = 0; i < rows; ++i) {
    const bool hit = std::find(hits.begin(), hits.end(), i) != hits.end();
    std::string line = stamp(i) + "," + std::to_string(i) + ",0," + (hit ? "1.0" : "0") + ",0.5";
    if (mutate) mutate(i, line);
    s += line + eol;
  }
  return s;
}

class NabInputs : public ::testing::Test {
 protected:
  void SetUp() override {
    root = tmp.path() + "/nab";
    results = tmp.path() + "/results";
    for (const char* name : {"a", "b"}) {
      std::string data = "timestamp,value\n";
      for (int i = 0; i < kRows; ++i) data += stamp(i) + "," + std::to_string(i * 0.5) + "\n";
      test::write_text(root + "/data/cat/" + std::string(name) + ".csv", data);
    }
    test::write_text(
        root + "/labels/combined_windows.json",
        R"({"cat/a.csv": [["2020-01-01 00:20:00.000000", "2020-01-01 00:24:00.000000"]], "cat/b.csv": []})");
    std::string thr = "{";
    for (const char* d : {"good", "short", "nocol", "nan", "text", "missing", "long"}) {
      thr += std::string(thr.size() > 1 ? "," : "") + "\"" + d + "\": {";
      thr += R"("standard": {"threshold": 0.5}, "reward_low_FP_rate": {"threshold": 0.5}, )"
             R"("reward_low_FN_rate": {"threshold": 0.5, "score": 1.0}})";
    }
    thr += "}";
    test::write_text(tmp.file("thresholds.json"), thr);
    // A detection at the window's first row; CRLF and an unusual column order must not matter.
    put("good", "a", result_csv({20}, kRows, "\r\n"));
    put("good", "b", result_csv({}));
    put("short", "a", result_csv({20}, kRows - 1));
    put("short", "b", result_csv({}));
    put("long", "a", result_csv({20}));
    put("long", "b", result_csv({}, kRows + 2));
    std::string nocol = result_csv({20});
    nocol.replace(nocol.find("anomaly_score"), 13, "score");
    put("nocol", "a", nocol);
    put("nocol", "b", result_csv({}));
    put("nan", "a", result_csv({20}, kRows, "\n", [](int i, std::string& l) {
          if (i == 10) l = stamp(i) + ",1,0,nan,0.5";
        }));
    put("nan", "b", result_csv({}));
    put("text", "a", result_csv({20}));
    put("text", "b", result_csv({}, kRows, "\n", [](int i, std::string& l) {
          if (i == 12) l = stamp(i) + ",1,0,abc,0.5";
        }));
    put("missing", "a", result_csv({20}));
    put("nothr", "a", result_csv({20}));
    put("nothr", "b", result_csv({}));
    // A notebook's checkpoint folder beside the detectors: no detector of its own.
    test::write_text(results + "/.ipynb_checkpoints/cat/x-checkpoint.csv", result_csv({20}));
  }
  void put(const std::string& det, const std::string& name, const std::string& text) {
    test::write_text(results + "/" + det + "/cat/" + det + "_" + name + ".csv", text);
  }
  NabBatchOptions options() const {
    NabBatchOptions o;
    o.nab_root = root;
    o.results_dir = results;
    o.thresholds_path = tmp.file("thresholds.json");
    return o;
  }
  static const NabDetectorReport& find(const std::vector<NabDetectorReport>& rs, const std::string& d) {
    for (const auto& r : rs)
      if (r.detector == d) return r;
    throw std::runtime_error("no report for " + d);
  }
  test::TempDir tmp{"nab-inputs"};
  std::string root, results;
};

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "\"" << part << "\" not in: " << text;
}

TEST_F(NabInputs, BadDetectorsAreReportedAndTheOthersScored) {
  NabBatchOptions o = options();
  o.write_scores_dir = tmp.path() + "/scores";
  const auto reports = nab_score_results(o);
  ASSERT_EQ(reports.size(), 8u) << "the hidden folder is no detector";

  const auto& good = find(reports, "good");
  ASSERT_TRUE(good.ok()) << good.error;
  ASSERT_EQ(good.scores.size(), 3u);
  for (const auto& s : good.scores) {
    EXPECT_EQ(s.totals.score, 1.0) << s.profile;
    EXPECT_EQ(s.normalized, 100.0) << s.profile;
    EXPECT_EQ(s.windows, 1);
    EXPECT_EQ(s.totals.tp, 1);
    EXPECT_EQ(s.totals.fn, 4);
    EXPECT_EQ(s.totals.total_count, 80);
  }
  EXPECT_TRUE(fs::exists(tmp.path() + "/scores/good/good_standard_scores.csv"));
  EXPECT_FALSE(fs::exists(tmp.path() + "/scores/short"));

  const auto& shorter = find(reports, "short");
  EXPECT_FALSE(shorter.ok());
  expect_contains(shorter.error, "short_a.csv");
  expect_contains(shorter.error, "has 39 rows but its data file has 40");
  expect_contains(shorter.error, "row 39");
  const auto& longer = find(reports, "long");
  expect_contains(longer.error, "long_b.csv");
  expect_contains(longer.error, "row 40");
  const auto& nocol = find(reports, "nocol");
  expect_contains(nocol.error, "nocol_a.csv:1");
  expect_contains(nocol.error, "no anomaly_score column");
  const auto& nan = find(reports, "nan");
  expect_contains(nan.error, "nan_a.csv:12");  // data row 10 is line 12
  expect_contains(nan.error, "row 10");
  expect_contains(nan.error, "NaN");
  const auto& text = find(reports, "text");
  expect_contains(text.error, "text_b.csv:14");
  expect_contains(text.error, "row 12");
  expect_contains(text.error, "\"abc\" is not a number");
  const auto& missing = find(reports, "missing");
  expect_contains(missing.error, "missing_b.csv");
  const auto& nothr = find(reports, "nothr");
  expect_contains(nothr.error, "no thresholds for detector \"nothr\"");

  const json j = json::parse(nab_results_json(reports));
  ASSERT_EQ(j.size(), 1u) << j.dump();
  EXPECT_EQ(j["good"]["standard"].get<double>(), 100.0);
}

TEST_F(NabInputs, ResultReaderErrors) {
  EXPECT_EQ(nab_parse_result_scores("anomaly_score\n0.5\n+1e-3\n 2 \n\n", "x.csv", 3),
            (std::vector<double>{0.5, 1e-3, 2.0}));
  // Below the smallest double: 0, as pandas reads it; above the largest: infinite, refused.
  EXPECT_EQ(nab_parse_result_scores("anomaly_score\n1e-400\n+1e-400\n", "x.csv", 2),
            (std::vector<double>{0.0, 0.0}));
  for (const char* bad :
       {"anomaly_score\n0.5\n\n-\n", "anomaly_score\n0.5\n1.0x\n", "anomaly_score\ninf\n1\n",
        "anomaly_score\n1e400\n1\n", "anomaly_score\n+-1e-400\n1\n", "anomaly_score\n+-0.5\n1\n",
        "anomaly_score\n1\n", "a,anomaly_score\n1,2\n3\n", "a,anomaly_score\n1,2\n3,\n", ""})
    EXPECT_THROW(nab_parse_result_scores(bad, "x.csv", 2), DataError) << bad;
  // A row with a field the header does not name, a column named twice, and a timestamp that is not the
  // data file's at its row (NAB matches rows to windows by time, the sweep by position).
  auto why = [](const std::string& text, const std::vector<int64_t>* times = nullptr) {
    try {
      nab_parse_result_scores(text, "x.csv", 2, times);
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  expect_contains(why("timestamp,anomaly_score\n2020-01-01 00:00:00,0.5\n2020-01-01 00:01:00,0.5,7\n"),
                  "x.csv:3: row 1 (line 3): 3 field(s) under a header of 2");
  expect_contains(why("anomaly_score,anomaly_score\n1,2\n3,4\n"), "column \"anomaly_score\" appears twice");
  const std::vector<int64_t> times{*parse_timestamp_us("2020-01-01 00:00:00"),
                                   *parse_timestamp_us("2020-01-01 00:01:00")};
  const std::string good = "timestamp,anomaly_score\n2020-01-01 00:00:00,0.5\n2020-01-01 00:01:00,0.25\n";
  EXPECT_EQ(why(good, &times), "");
  expect_contains(
      why("timestamp,anomaly_score\n2020-01-01 00:00:00,0.5\n2021-01-01 00:01:00,0.25\n", &times),
      "x.csv:3: row 1 (line 3): timestamp \"2021-01-01 00:01:00\" is not the data file's at this row");
  expect_contains(why("timestamp,anomaly_score\ngarbage,0.5\n2020-01-01 00:01:00,0.25\n", &times),
                  "timestamp \"garbage\" is not the data file's");

  // Quoted fields are read as RFC 4180 (and pandas, NAB's reader) reads them: the header, a timestamp
  // and a score in quotes, a quoted field that holds a comma and a line break, CRLF line ends.
  EXPECT_EQ(nab_parse_result_scores(
                "\"timestamp\",\"anomaly_score\",\"note\"\r\n\"2020-01-01 00:00:00\",\"0.0685\",\"a, b\"\r\n"
                "2020-01-01 00:01:00, \"0.25\" ,\"two\nlines\"\r\n",
                "x.csv", 2, &times),
            (std::vector<double>{0.0685, 0.25}));
  // Lines count from the record's first line; a row after a field with a line break is named by its own.
  expect_contains(why("anomaly_score,note\n1,\"x\ny\"\nz,w\n"),
                  "x.csv:4: row 1 (line 4): anomaly_score \"z\"");
  expect_contains(why("anomaly_score\n1\n\"2\n"), "x.csv:3: an unclosed quote");
  expect_contains(why("anomaly_score\n1\n\"2\"x\n"),
                  "x.csv:3: an unclosed quote, or text after a closing quote");
  expect_contains(why("anomaly_score\n\"\"\n1\n"), "x.csv:2: row 0 (line 2): anomaly_score is empty");
  // A header without the column is quoted as written, without its line break.
  expect_contains(why("timestamp,\"score\"\r\n1,2\r\n"),
                  "x.csv:1: no anomaly_score column in the header \"timestamp,\"score\"\"");
  EXPECT_EQ(why("timestamp,\"score\"\r\n1,2\r\n").find('\r'), std::string::npos);
}

TEST_F(NabInputs, OptimizeAndPartialCorpus) {
  NabBatchOptions o = options();
  o.detectors = {"good"};
  auto reports = nab_optimize_results(o);
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_TRUE(reports[0].ok()) << reports[0].error;
  for (const auto& t : reports[0].optimum) {
    EXPECT_EQ(t.threshold, 1.0);
    EXPECT_EQ(t.normalized, 100.0);
  }
  const json j = json::parse(nab_thresholds_json(reports));
  EXPECT_EQ(j["good"]["standard"]["threshold"].get<double>(), 1.0);
  EXPECT_EQ(j["good"]["standard"]["score"].get<double>(), 1.0);

  // A windows file naming one file scores that file only, and N_win is its windows.
  test::write_text(tmp.file("b_only.json"), R"({"cat/b.csv": []})");
  o.windows_path = tmp.file("b_only.json");
  auto corpus = nab_load_corpus(root, o.windows_path);
  ASSERT_EQ(corpus.files.size(), 1u);
  EXPECT_EQ(corpus.window_count(), 0);
  // A user's profiles file replaces the built-in ones.
  test::write_text(
      tmp.file("profiles.json"),
      R"({"strict": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 3.0, "fpWeight": 1.0, "tnWeight": 1.0}}})");
  auto profiles = nab_load_profiles(root, tmp.file("profiles.json"));
  ASSERT_EQ(profiles.size(), 1u);
  EXPECT_EQ(profiles[0].name, "strict");
  EXPECT_EQ(nab_load_profiles(root).size(), 3u);  // no config/profiles.json here: the built-in three
}

TEST_F(NabInputs, BadWindowsAreCorpusErrors) {
  test::write_text(tmp.file("w.json"),
                   R"({"cat/a.csv": [["2020-01-01 00:20:30.000000", "2020-01-01 00:24:00.000000"]]})");
  EXPECT_THROW(nab_load_corpus(root, tmp.file("w.json")), DataError);
  test::write_text(tmp.file("w2.json"), R"({"cat/zzz.csv": []})");
  try {
    nab_load_corpus(root, tmp.file("w2.json"));
    ADD_FAILURE() << "a key without data file was accepted";
  } catch (const DataError& e) {
    expect_contains(e.what(), "cat/zzz.csv");
  }
}

TEST_F(NabInputs, CommandLineExitCodes) {
  const std::string bin = test::lstmad_binary();
  if (!fs::exists(bin)) GTEST_SKIP() << "the lstmad binary is not built (" << bin << ")";
  const std::string cmd = "{ '" + bin + "' nab score --nab '" + root + "' --results '" + results +
                          "' --thresholds '" + tmp.file("thresholds.json") + "' --out '" +
                          tmp.file("copy.json") + "' > '" + tmp.file("out.json") + "' 2> '" +
                          tmp.file("err.txt") + "'; }";
  std::string out;
  EXPECT_EQ(test::run_command(cmd, &out), 1) << out;
  const std::string err = files::read(tmp.file("err.txt"));
  expect_contains(err, "nan_a.csv:12");
  expect_contains(err, "short_a.csv");
  json j;
  ASSERT_NO_THROW(j = json::parse(files::read(tmp.file("out.json")))) << files::read(tmp.file("out.json"));
  EXPECT_EQ(j.size(), 1u);
  EXPECT_EQ(j["good"]["reward_low_FN_rate"].get<double>(), 100.0);
  EXPECT_EQ(files::read(tmp.file("copy.json")), files::read(tmp.file("out.json")));

  const std::string ok = "{ '" + bin + "' nab score --nab '" + root + "' --results '" + results +
                         "' --thresholds '" + tmp.file("thresholds.json") +
                         "' --detector good > /dev/null 2>&1; }";
  EXPECT_EQ(test::run_command(ok, &out), 0) << out;
  EXPECT_EQ(test::run_command("'" + bin + "' nab score --nab '" + root + "' > /dev/null 2>&1", &out), 2);
  EXPECT_EQ(test::run_command("'" + bin + "' nab --help", &out), 0);
  expect_contains(out, "score");
  expect_contains(out, "optimize");
  // A broken windows file is an input error for every detector: exit 3.
  test::write_text(tmp.file("broken.json"), "{");
  EXPECT_EQ(test::run_command("'" + bin + "' nab optimize --nab '" + root + "' --results '" + results +
                                  "' --windows '" + tmp.file("broken.json") + "' > /dev/null 2>&1",
                              &out),
            3);
  // A windows file without a single window: every normalized score would be 0/0, so an input error too,
  // naming the file, not scores printed as null with success.
  test::write_text(tmp.file("no-windows.json"), R"({"cat/b.csv": []})");
  EXPECT_EQ(test::run_command("'" + bin + "' nab optimize --nab '" + root + "' --results '" + results +
                                  "' --windows '" + tmp.file("no-windows.json") + "' --detector good 2>&1",
                              &out),
            3)
      << out;
  expect_contains(out, tmp.file("no-windows.json") + ": holds no label window");
  // A detector that has no folder is named with the folders there are; a run folder given for its nab/
  // folder is said so, not scored as detectors "cells", "models", ...
  EXPECT_EQ(test::run_command("'" + bin + "' nab optimize --nab '" + root + "' --results '" + results +
                                  "' --detector nope 2>&1",
                              &out),
            2)
      << out;
  expect_contains(out, "--detector nope: no folder nope in " + results + " (it has: ");
  fs::create_directories(tmp.file("run/cells"));
  fs::create_directories(tmp.file("run/nab"));
  EXPECT_EQ(
      test::run_command(
          "'" + bin + "' nab optimize --nab '" + root + "' --results '" + tmp.file("run") + "' 2>&1", &out),
      2)
      << out;
  expect_contains(out, "an lstmad run folder; its NAB-format results are in " + tmp.file("run") + "/nab");
  // A detector name with '_' is scored, with a warning that NAB's normalizer would misread its summary
  // files' names.
  for (const char* name : {"a", "b"})
    test::write_text(tmp.file(std::string("under/go_od/cat/go_od_") + name + ".csv"),
                     files::read(results + "/good/cat/good_" + name + ".csv"));
  EXPECT_EQ(
      test::run_command("'" + bin + "' nab optimize --nab '" + root + "' --results '" + tmp.file("under") +
                            "' --write-scores '" + tmp.file("under-scores") + "' 2>&1",
                        &out),
      0)
      << out;
  expect_contains(out, "go_od: a detector name with '_': NAB's normalizer would read its");
  EXPECT_TRUE(fs::exists(tmp.file("under-scores/go_od/go_od_standard_scores.csv")));
  // -q and -v are read after a nested command as after any other.
  EXPECT_EQ(
      test::run_command("'" + bin + "' nab score --nab '" + root + "' --results '" + results +
                            "' --thresholds '" + tmp.file("thresholds.json") + "' --detector good -q 2>&1",
                        &out),
      0)
      << out;
}

}  // namespace
}  // namespace lstmad
