// Keep learning while scoring (train.retrain_every, docs/detectors.md step 3), end to end through the
// lstmad binary on the synthetic corpus.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "support/test_support.hpp"

namespace fs = std::filesystem;
using lstmad::test::lstmad_binary;
using lstmad::test::read_results_csv;
using lstmad::test::run_command;
using lstmad::test::TempDir;

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
