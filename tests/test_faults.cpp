// Faults and bad input through the CLI: missing values (rejected with file and line, or filled by the
// configured policy), an unreadable file, malformed JSON, an output folder that cannot be created, a disk
// that fills up mid-run, and a model whose training goes non-finite. Each fails only what it must.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/files.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using lstmad::test::lstmad_binary;
using lstmad::test::run_command;
using lstmad::test::TempDir;
using lstmad::test::write_text;

namespace {

std::string series_csv(int rows, double scale = 1.0, int blank_row = -1) {
  std::string s = "timestamp,value\n";
  for (int i = 0; i < rows; ++i) {
    char ts[32];
    std::snprintf(ts, sizeof ts, "2020-03-%02d %02d:%02d:00", 1 + i / 1440, (i / 60) % 24, i % 60);
    s += ts;
    s += ",";
    if (i != blank_row) s += std::to_string(scale * (5.0 + std::sin(i * 0.15) + 0.1 * std::cos(i * 1.7)));
    s += "\n";
  }
  return s;
}

// status and error per series from results.csv (fields: ...,series,...,status,error,...).
std::map<std::string, std::pair<std::string, std::string>> statuses(const std::string& results_csv) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  std::istringstream in(lstmad::files::read(results_csv));
  std::string line;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::string cur;
    bool q = false;
    for (char c : line) {
      if (c == '"') q = !q;
      else if (c == ',' && !q) { cols.push_back(cur); cur.clear(); }
      else cur += c;
    }
    cols.push_back(cur);
    if (header.empty()) { header = cols; continue; }
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < cols.size(); ++i) row[header[i]] = cols[i];
    out[row["series"]] = {row["status"], row["error"]};
  }
  return out;
}

std::string config(const std::string& root, const std::string& extra_data = "") {
  return R"({"data": {"format": "nab", "root": ")" + root + "\"" + extra_data + R"(},
    "model": {"layers": 1, "hidden": 4, "window": 10}, "train": {"epochs": 2},
    "detector": {"likelihood": {"long_window": 100, "short_window": 3}}})";
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
  // With room again, --resume --retry-failed completes the run.
  EXPECT_EQ(run_command(lstmad_binary() + " -q run --resume " + tmp.file("r") + " --retry-failed", &out), 0) << out;
  EXPECT_EQ(statuses(tmp.file("r/results.csv"))["k/big.csv"].first, "OK");
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
  EXPECT_TRUE(fs::exists(tmp.file("r/failed")));
}
