// Keep learning while scoring (train.retrain_every, docs/detectors.md step 3), end to end through the
// lstmad binary on the synthetic corpus.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace lstmad::test;

namespace {

// One synthetic series, a small model, retraining every 100 rows on the latest `retrain_rows` rows.
// Returns the exit status; *row gets the cell's results.csv row.
int run_retraining(const TempDir& tmp, const std::string& name, int horizon, int retrain_rows,
                   std::map<std::string, std::string>* row) {
  const std::string out = tmp.file(name);
  const std::string cmd =
      lstmad_binary() + " -q run " + LSTMAD_SOURCE_DIR + "/configs/quickstart.json --no-progress -j 1" +
      " --set data.synthetic.length=800 --set data.synthetic.series_per_kind=1 --set data.max_files=1" +
      " --set model.hidden=4 --set model.window=10 --set model.horizon=" + std::to_string(horizon) +
      " --set train.epochs=1 --set train.retrain_every=100 --set train.retrain_epochs=1" +
      " --set train.retrain_rows=" + std::to_string(retrain_rows) + " --out " + out;
  std::string log;
  const int rc = run_command(cmd, &log);
  const auto rows = read_results_csv(out + "/results.csv");
  EXPECT_EQ(rows.size(), 1u) << log;
  if (!rows.empty()) *row = rows.front();
  return rc;
}

}  // namespace

// A fine-tuning learns from the windows whose `horizon` targets all lie in the latest retrain_rows rows.
// Fewer rows than the horizon hold no such window: the setting would silently never fine-tune, so its
// cells fail with the reason instead; at retrain_rows = horizon (one window per fine-tuning) they run.
TEST(Retraining, RetrainRowsFewerThanTheHorizonFailTheCellNamingBothKeys) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("retrain_rows");
  std::map<std::string, std::string> row;
  EXPECT_EQ(run_retraining(tmp, "too-few", 3, 2, &row), 1);
  EXPECT_EQ(row["status"], "ERROR");
  EXPECT_NE(row["error"].find("train.retrain_rows 2"), std::string::npos) << row["error"];
  EXPECT_NE(row["error"].find("model.horizon 3"), std::string::npos) << row["error"];
  EXPECT_EQ(row["epochs"], "0") << "the cell fails before any training";

  EXPECT_EQ(run_retraining(tmp, "enough", 3, 3, &row), 0);
  EXPECT_EQ(row["status"], "OK") << row["error"];
}

// A fine-tuning whose windows overflow (a value of 1e30 after the training part) is dropped, the model
// keeping its earlier parameters, and the log names the series and the row where it happened: the scores
// after it come from an older model than the schedule says.
TEST(Retraining, ADroppedFineTuningIsLoggedNamingTheSeriesAndRow) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("dropped-tuning");
  fs::create_directories(tmp.file("data"));
  std::string csv = "timestamp,value\n";
  for (int i = 0; i < 800; ++i)
    csv += std::to_string(1600000000 + 60 * i) + "," +
           (i == 650 ? std::string("1e30") : std::to_string(10 + 3 * std::sin(i * 0.1))) + "\n";
  write_text(tmp.file("data/s.csv"), csv);
  std::string log;
  const int rc = run_command(
      lstmad_binary() + " run " + LSTMAD_SOURCE_DIR + "/configs/quickstart.json --no-progress -j 1" +
          " --set data.format=csv --set data.root=" + tmp.file("data") + " --set eval.nab=false" +
          " --set model.hidden=4 --set model.window=10 --set train.epochs=1" +
          " --set train.retrain_every=100 --set train.retrain_epochs=1 --out " + tmp.file("run"),
      &log);
  EXPECT_EQ(rc, 0) << log;
  EXPECT_NE(log.find("data/s.csv: the fine-tuning at row 720 was dropped (non-finite training loss"),
            std::string::npos)
      << log;
  const auto rows = read_results_csv(tmp.file("run/results.csv"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("status"), "OK") << rows[0].at("error");
}
