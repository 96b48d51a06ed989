// The NASA SMAP/MSL loader on small files in the published layout (root/train/*.npy, root/test/*.npy,
// root/labeled_anomalies.csv) that each test writes itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/error.hpp"
#include "core/files.hpp"
#include "data/nasa.hpp"
#include "data/npy.hpp"
#include "support/test_support.hpp"

using lstmad::DataError;
using lstmad::NasaChannel;
using lstmad::NasaLabelRow;

namespace {

// Writes an (n, k) float64 channel whose column 0 is i / 10 and whose other columns are 0/1 flags.
void write_channel(const std::string& root, const std::string& part, const std::string& chan, size_t n, size_t k) {
  std::filesystem::create_directories(root + "/" + part);
  std::vector<double> v(n * k, 0.0);
  for (size_t i = 0; i < n; ++i) {
    v[i * k] = static_cast<double>(i) / 10.0;
    if (k > 1) v[i * k + 1 + i % (k - 1)] = 1.0;
  }
  lstmad::write_npy(root + "/" + part + "/" + chan + ".npy", v, n, k);
}

// P-1 (SMAP, two label rows, unsorted and overlapping sequences), M-1 (MSL), T-9 (data, no label row).
const char* kLabels =
    "chan_id,spacecraft,anomaly_sequences,class,num_values\n"
    "P-1,SMAP,\"[[30, 34], [5, 9]]\",\"[contextual, point]\",40\n"
    "M-1,MSL,\"[[0, 2]]\",[point],12\n"
    "P-1,SMAP,\"[[8, 12]]\",[point],40\n";

struct Corpus {
  lstmad::test::TempDir dir{"nasa"};
  Corpus(const std::string& labels = kLabels) {
    write_channel(dir.path(), "train", "P-1", 20, 3);
    write_channel(dir.path(), "test", "P-1", 40, 3);
    write_channel(dir.path(), "train", "M-1", 10, 1);
    write_channel(dir.path(), "test", "M-1", 12, 1);
    write_channel(dir.path(), "train", "T-9", 6, 2);
    write_channel(dir.path(), "test", "T-9", 7, 2);
    lstmad::test::write_text(dir.file("labeled_anomalies.csv"), labels);
  }
  const std::string& root() const { return dir.path(); }
  // Channel `id` as loaded with the corpus's own labeled_anomalies.csv.
  NasaChannel channel(const std::string& id) const {
    return lstmad::load_nasa_channel(root(), id, lstmad::read_nasa_labels(dir.file("labeled_anomalies.csv")));
  }
};

std::string data_error(const std::function<void()>& f, const std::string& file) {
  try {
    f();
  } catch (const DataError& e) {
    EXPECT_EQ(e.file(), file);
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

}  // namespace

TEST(NasaLabels, ParsesQuotedFieldsAndKeepsRepeatedChannels) {
  const std::vector<NasaLabelRow> rows = lstmad::parse_nasa_labels(kLabels, "labels.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].chan_id, "P-1");
  EXPECT_EQ(rows[0].spacecraft, "SMAP");
  EXPECT_EQ(rows[0].sequences, (std::vector<std::pair<int, int>>{{30, 34}, {5, 9}}));
  EXPECT_EQ(rows[0].anomaly_class, "[contextual, point]");
  EXPECT_EQ(rows[0].num_values, 40);
  EXPECT_EQ(rows[0].line, 2);
  EXPECT_EQ(rows[2].line, 4);
  EXPECT_EQ(rows[2].file, "labels.csv");
}

TEST(NasaLabels, ColumnOrderCrlfBomAndDoubledQuotes) {
  // Columns reordered, class and num_values absent, CRLF, a byte-order mark, a quoted chan_id with a
  // doubled quote, a blank line and a quoted field spanning two lines.
  const std::string text =
      "\xEF\xBB\xBF" "anomaly_sequences,chan_id,spacecraft\r\n"
      "\"[[1, 2]]\",\"A\"\"1\",MSL\r\n"
      "\r\n"
      "\"[[3, 4],\n [6, 7]]\",B-2,SMAP\r\n";
  const std::vector<NasaLabelRow> rows = lstmad::parse_nasa_labels(text, "l.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].chan_id, "A\"1");
  EXPECT_EQ(rows[0].num_values, -1);
  EXPECT_EQ(rows[1].line, 4);
  EXPECT_EQ(rows[1].sequences, (std::vector<std::pair<int, int>>{{3, 4}, {6, 7}}));
  EXPECT_TRUE(lstmad::parse_nasa_labels("chan_id,spacecraft,anomaly_sequences\nX,SMAP,[]\n", "l.csv")[0]
                  .sequences.empty());
}

TEST(NasaLabels, BadRowsNameFileAndLine) {
  const std::string head = "chan_id,spacecraft,anomaly_sequences,class,num_values\n";
  std::string m = data_error([&] { lstmad::parse_nasa_labels(head + "P-1,SMAP,[[1, 2], [3, 4]],x,5\n", "l.csv"); }, "l.csv");
  EXPECT_NE(m.find("l.csv:2"), std::string::npos) << m;
  EXPECT_NE(m.find("fields"), std::string::npos) << m;
  m = data_error([&] { lstmad::parse_nasa_labels(head + "P-1,SMAP,\"[[5, 3]]\",x,5\n", "l.csv"); }, "l.csv");
  EXPECT_NE(m.find("0 <= start <= end"), std::string::npos) << m;
  m = data_error([&] { lstmad::parse_nasa_labels(head + "P-1,SMAP,\"[[1, 2, 3]]\",x,5\n", "l.csv"); }, "l.csv");
  EXPECT_NE(m.find("channel P-1"), std::string::npos) << m;
  m = data_error([&] { lstmad::parse_nasa_labels(head + "P-1,SMAP,\"[[1.5, 2]]\",x,5\n", "l.csv"); }, "l.csv");
  EXPECT_NE(m.find("[start, end] integers"), std::string::npos) << m;
  m = data_error([&] { lstmad::parse_nasa_labels(head + "P-1,SMAP,\"[[1, 2]\",x,5\n", "l.csv"); }, "l.csv");
  EXPECT_NE(m.find("anomaly_sequences"), std::string::npos) << m;
  m = data_error([&] { lstmad::parse_nasa_labels(head + "P-1,SMAP,[],x,many\n", "l.csv"); }, "l.csv");
  EXPECT_NE(m.find("num_values"), std::string::npos) << m;
  m = data_error([&] { lstmad::parse_nasa_labels("chan_id,spacecraft\nP-1,SMAP\n", "l.csv"); }, "l.csv");
  EXPECT_NE(m.find("anomaly_sequences"), std::string::npos) << m;
  m = data_error([&] { lstmad::parse_nasa_labels(head + "P-1,SMAP,\"[[1, 2]]\"x,c,5\n", "l.csv"); }, "l.csv");
  EXPECT_NE(m.find("closing quote"), std::string::npos) << m;
  m = data_error([&] { lstmad::parse_nasa_labels(head + "P-1,SMAP,\"[[1, 2]]\n", "l.csv"); }, "l.csv");
  EXPECT_NE(m.find("unterminated"), std::string::npos) << m;
  data_error([&] { lstmad::parse_nasa_labels("", "l.csv"); }, "l.csv");
}

TEST(NasaLoader, ListsChannelsWithSpacecraftFilter) {
  Corpus c;
  EXPECT_EQ(lstmad::list_nasa_channels(c.root()), (std::vector<std::string>{"M-1", "P-1", "T-9"}));
  EXPECT_EQ(lstmad::list_nasa_channels(c.root(), "SMAP"), (std::vector<std::string>{"P-1"}));
  EXPECT_EQ(lstmad::list_nasa_channels(c.root(), "MSL"), (std::vector<std::string>{"M-1"}));
  EXPECT_THROW(lstmad::list_nasa_channels(c.root(), "smap"), lstmad::Error);
  EXPECT_THROW(lstmad::list_nasa_channels(c.dir.file("nowhere")), lstmad::IoError);
}

TEST(NasaLoader, ChannelWithTwoRowsCombinesSortsAndMergesSequences) {
  Corpus c;
  const NasaChannel ch = c.channel("P-1");
  EXPECT_EQ(ch.spacecraft, "SMAP");
  EXPECT_EQ(ch.test.name, "SMAP/P-1.csv");
  EXPECT_EQ(ch.train.name, "SMAP/P-1.csv");
  EXPECT_EQ(ch.test.path, c.root() + "/test/P-1.npy");
  EXPECT_EQ(ch.train.path, c.root() + "/train/P-1.npy");
  ASSERT_EQ(ch.test.rows(), 40);
  ASSERT_EQ(ch.train.rows(), 20);
  EXPECT_EQ(ch.test.dims, 3);
  EXPECT_DOUBLE_EQ(ch.test.value(17, 0), 1.7);
  EXPECT_EQ(ch.test.value(17, 1 + 17 % 2), 1.0);
  EXPECT_TRUE(ch.train.windows.empty());
  // [5, 9] (row 2) and [8, 12] (row 4) overlap and merge; [30, 34] stays.
  ASSERT_EQ(ch.test.windows.size(), 2u);
  EXPECT_EQ(ch.test.windows[0].start, 5);
  EXPECT_EQ(ch.test.windows[0].end, 12);
  EXPECT_EQ(ch.test.windows[1].start, 30);
  EXPECT_EQ(ch.test.windows[1].end, 34);
  EXPECT_EQ(ch.test.windows[0].start_text, "1970-01-01 00:00:05");
  EXPECT_EQ(ch.test.windows[0].end_text, "1970-01-01 00:00:12");
  EXPECT_EQ(ch.test.timestamps[0], "1970-01-01 00:00:00");
  EXPECT_EQ(ch.test.timestamps[39], "1970-01-01 00:00:39");
  EXPECT_EQ(ch.test.time_us[39], 39000000);
  const std::vector<int> labels_rows = ch.test.point_labels();
  int positives = 0;
  for (int v : labels_rows) positives += v;
  EXPECT_EQ(positives, (12 - 5 + 1) + (34 - 30 + 1));
  EXPECT_EQ(labels_rows[4], 0);
  EXPECT_EQ(labels_rows[5], 1);
  EXPECT_EQ(labels_rows[12], 1);
  EXPECT_EQ(labels_rows[13], 0);
}

TEST(NasaLoader, ChannelWithoutRowHasNoAnomalies) {
  Corpus c;
  const NasaChannel ch = c.channel("T-9");
  EXPECT_EQ(ch.spacecraft, "");
  EXPECT_EQ(ch.test.name, "unlabeled/T-9.csv");
  EXPECT_TRUE(ch.test.windows.empty());
  EXPECT_EQ(ch.test.rows(), 7);
}

TEST(NasaLoader, LoadsEveryChannel) {
  Corpus c;
  const std::vector<NasaChannel> all = lstmad::load_nasa(c.root());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].chan_id, "M-1");
  ASSERT_EQ(all[0].test.windows.size(), 1u);
  EXPECT_EQ(all[0].test.windows[0].start, 0);
  EXPECT_EQ(all[0].test.windows[0].end, 2);
  EXPECT_EQ(all[0].test.dims, 1);
  const std::vector<NasaChannel> msl = lstmad::load_nasa(c.root(), "MSL");
  ASSERT_EQ(msl.size(), 1u);
  EXPECT_EQ(msl[0].spacecraft, "MSL");
}

TEST(NasaLoader, SequenceOutsideTheDataNamesFileAndChannel) {
  // M-1's test array has 12 rows (0..11); [10, 12] runs past it.
  Corpus c("chan_id,spacecraft,anomaly_sequences,class,num_values\n"
           "M-1,MSL,\"[[10, 12]]\",[point],12\n");
  const std::string csv = c.dir.file("labeled_anomalies.csv");
  const std::string m = data_error([&] { lstmad::load_nasa(c.root()); }, csv);
  EXPECT_NE(m.find(csv + ":2"), std::string::npos) << m;
  EXPECT_NE(m.find("channel M-1"), std::string::npos) << m;
  EXPECT_NE(m.find("[10, 12]"), std::string::npos) << m;
  EXPECT_NE(m.find("12 rows"), std::string::npos) << m;
}

TEST(NasaLoader, MismatchedColumnsMissingTrainAndConflictingSpacecraft) {
  Corpus c;
  write_channel(c.root(), "train", "T-9", 6, 4);
  const auto labels = lstmad::read_nasa_labels(c.dir.file("labeled_anomalies.csv"));
  std::string m = data_error([&] { lstmad::load_nasa_channel(c.root(), "T-9", labels); }, c.root() + "/test/T-9.npy");
  EXPECT_NE(m.find("columns"), std::string::npos) << m;
  std::filesystem::remove(c.root() + "/train/M-1.npy");
  EXPECT_THROW(lstmad::load_nasa_channel(c.root(), "M-1", labels), lstmad::IoError);
  const auto conflicting = lstmad::parse_nasa_labels(
      "chan_id,spacecraft,anomaly_sequences\nP-1,SMAP,[]\nP-1,MSL,[]\n", "l.csv");
  m = data_error([&] { lstmad::load_nasa_channel(c.root(), "P-1", conflicting); }, "l.csv");
  EXPECT_NE(m.find("spacecraft"), std::string::npos) << m;
  // A corrupt array is reported with its own path.
  lstmad::test::write_text(c.root() + "/test/P-1.npy", "garbage");
  data_error([&] { lstmad::load_nasa_channel(c.root(), "P-1", labels); }, c.root() + "/test/P-1.npy");
}

// The NASA config runs NAB's detector unchanged: the same model, ensemble, training and detector sections as
// configs/nab.json, so that a change to one that is not made to the other fails here.
TEST(NasaRun, SmapMslConfigKeepsTheNabDetector) {
  const std::string dir = std::string(LSTMAD_SOURCE_DIR) + "/configs/";
  const auto nab = nlohmann::json::parse(lstmad::files::read(dir + "nab.json"));
  const auto nasa = nlohmann::json::parse(lstmad::files::read(dir + "smap_msl.json"));
  for (const char* section : {"model", "ensemble", "train", "detector"}) {
    ASSERT_TRUE(nab.contains(section)) << section;
    EXPECT_EQ(nab[section], nasa[section]) << "configs/smap_msl.json differs from configs/nab.json in " << section;
  }
  // The calendar gate too; the telemetry has no timestamps, so no channel passes it.
  for (const char* key : {"time_features", "time_features_gate"})
    EXPECT_EQ(nab["data"][key], nasa["data"][key]) << "configs/smap_msl.json differs from configs/nab.json in data." << key;
}

// configs/smap_msl.json (the NAB detector, unchanged) end to end on a small corpus in the published
// layout: a channel whose test part holds a spike far outside the training range must have its labeled
// event detected (the spatial check alone guarantees it); every cell ends OK with event-wise metrics.
TEST(NasaRun, SmapMslConfigScoresEventsEndToEnd) {
  if (!std::filesystem::exists(lstmad::test::lstmad_binary()))
    GTEST_SKIP() << "lstmad binary not built at " << lstmad::test::lstmad_binary();
  lstmad::test::TempDir dir("nasa-run");
  auto channel = [&](const std::string& part, const std::string& chan, size_t n, long spike) {
    std::filesystem::create_directories(dir.path() + "/" + part);
    const size_t k = 2;
    std::vector<double> v(n * k, 0.0);
    for (size_t i = 0; i < n; ++i) {
      v[i * k] = 0.5 * std::sin(0.3 * static_cast<double>(i));
      v[i * k + 1] = i % 7 == 0 ? 1.0 : 0.0;
    }
    if (spike >= 0)
      for (long i = spike; i < spike + 5; ++i) v[static_cast<size_t>(i) * k] = 3.0;
    lstmad::write_npy(dir.path() + "/" + part + "/" + chan + ".npy", v, n, k);
  };
  channel("train", "P-1", 400, -1);
  channel("test", "P-1", 900, 600);
  channel("train", "M-1", 400, -1);
  channel("test", "M-1", 900, -1);
  lstmad::test::write_text(dir.file("labeled_anomalies.csv"),
                           "chan_id,spacecraft,anomaly_sequences,class,num_values\n"
                           "P-1,SMAP,\"[[595, 620]]\",[point],900\n"
                           "M-1,MSL,\"[[300, 320]]\",[contextual],900\n");
  std::string out;
  const int rc = lstmad::test::run_command(
      lstmad::test::lstmad_binary() + " -q run " + std::string(LSTMAD_SOURCE_DIR) + "/configs/smap_msl.json --set data.root=" +
          dir.path() + " --set train.epochs=2 --set model.hidden=8 --out " + dir.file("run") + " -j 2",
      &out);
  ASSERT_EQ(rc, 0) << out;
  const auto rows = lstmad::test::read_results_csv(dir.file("run/results.csv"));
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_EQ(r.at("status"), "OK") << r.at("series");
    const double recall = std::stod(r.at("event_recall"));
    EXPECT_TRUE(recall >= 0.0 && recall <= 1.0) << r.at("series");
    if (r.at("series").find("P-1") != std::string::npos) {
      EXPECT_EQ(recall, 1.0) << r.at("series");
    }
  }
}

// A channel's train and test files are two recordings: the test rows are predicted from test rows only, as
// telemanom does. With the test file at another level than the train file, windows across the join would
// score the first test rows as the worst of the series; instead the first `window` test rows are context
// (no prediction: raw_score nan, anomaly score 0), and every later row has its error.
TEST(NasaRun, TheTestRowsArePredictedFromTestRowsOnly) {
  if (!std::filesystem::exists(lstmad::test::lstmad_binary()))
    GTEST_SKIP() << "lstmad binary not built at " << lstmad::test::lstmad_binary();
  lstmad::test::TempDir dir("nasa-join");
  const size_t ntrain = 300, ntest = 400, window = 20;
  auto channel = [&](const std::string& part, size_t n, double level) {
    std::filesystem::create_directories(dir.path() + "/" + part);
    std::vector<double> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = level + 0.5 * std::sin(0.3 * static_cast<double>(i));
    lstmad::write_npy(dir.path() + "/" + part + "/A-1.npy", v, n, 1);
  };
  channel("train", ntrain, 0.0);
  channel("test", ntest, 2.0);
  lstmad::test::write_text(dir.file("labeled_anomalies.csv"),
                           "chan_id,spacecraft,anomaly_sequences,class,num_values\n"
                           "A-1,SMAP,\"[[250, 260]]\",[point],400\n");
  lstmad::test::write_text(dir.file("cfg.json"), R"({"data": {"format": "nasa", "root": ")" + dir.path() +
                                                     R"(", "normalize": "none"},
    "model": {"layers": 1, "hidden": 6, "window": 20, "horizon": 3}, "train": {"epochs": 2},
    "detector": {"score": "error"}, "eval": {"nab": false}})");
  std::string out;
  ASSERT_EQ(lstmad::test::run_command(lstmad::test::lstmad_binary() + " -q run " + dir.file("cfg.json") +
                                          " --out " + dir.file("run"),
                                      &out),
            0)
      << out;
  const auto rows = lstmad::test::read_csv(dir.file("run/nab/lstmad/SMAP/lstmad_A-1.csv"));
  ASSERT_EQ(rows.size(), 1 + ntrain + ntest);
  const auto& header = rows[0];
  const size_t raw =
      static_cast<size_t>(std::find(header.begin(), header.end(), "raw_score") - header.begin());
  const size_t score =
      static_cast<size_t>(std::find(header.begin(), header.end(), "anomaly_score") - header.begin());
  ASSERT_LT(raw, header.size());
  for (size_t i = ntrain; i < ntrain + ntest; ++i) {
    const auto& r = rows[1 + i];
    if (i < ntrain + window) {
      EXPECT_EQ(r[raw], "nan") << "row " << i << " is predicted across the join";
      EXPECT_EQ(std::stod(r[score]), 0.0) << "row " << i;
    } else {
      EXPECT_TRUE(std::isfinite(std::stod(r[raw]))) << "row " << i << ": " << r[raw];
    }
  }
}

// What labeled_anomalies.csv leaves to a choice is said: a channel with several label rows (P-1 here, as
// the published file has P-2) is one series whose overlapping sequences are one event, and the manifest
// counts the events so scored; a test file without a label row runs as unlabeled, with a warning.
TEST(NasaRun, RepeatedAndMissingLabelRowsAreSaidAndCountedAsScored) {
  if (!std::filesystem::exists(lstmad::test::lstmad_binary()))
    GTEST_SKIP() << "lstmad binary not built at " << lstmad::test::lstmad_binary();
  Corpus c;
  lstmad::test::write_text(c.dir.file("cfg.json"), R"({"data": {"format": "nasa", "root": ")" + c.root() +
                                                       R"(", "normalize": "none"},
    "model": {"layers": 1, "hidden": 2, "window": 3}, "train": {"epochs": 1, "val_fraction": 0},
    "detector": {"score": "error"}, "eval": {"nab": false}})");
  std::string out;
  ASSERT_EQ(lstmad::test::run_command(lstmad::test::lstmad_binary() + " run " + c.dir.file("cfg.json") +
                                          " --out " + c.dir.file("run") + " 2>&1",
                                      &out),
            0)
      << out;
  EXPECT_NE(out.find("1 channel(s) have several label rows: P-1 (lines 2, 4)"), std::string::npos) << out;
  EXPECT_NE(out.find("1 channel(s) have no row in labeled_anomalies.csv (T-9)"), std::string::npos) << out;
  // P-1: [30, 34] and [5, 9] with [8, 12] merged, two events; M-1: one. Three, not the four rows' sequences.
  const auto manifest = nlohmann::json::parse(lstmad::files::read(c.dir.file("run/manifest.json")));
  EXPECT_EQ(manifest["corpus"]["windows"], 3) << manifest["corpus"].dump();
}

// The layout's label file is what makes the folder a benchmark: without it, or without channels, the run
// is refused before anything trains, naming what is missing (not every channel run as "unlabeled").
TEST(NasaRun, ALayoutWithoutItsLabelFileOrChannelsIsRefused) {
  if (!std::filesystem::exists(lstmad::test::lstmad_binary()))
    GTEST_SKIP() << "lstmad binary not built at " << lstmad::test::lstmad_binary();
  lstmad::test::TempDir dir("nasa-layout");
  std::filesystem::create_directories(dir.path() + "/train");
  std::filesystem::create_directories(dir.path() + "/test");
  const std::string run = lstmad::test::lstmad_binary() + " -q run " + std::string(LSTMAD_SOURCE_DIR) +
                          "/configs/smap_msl.json --set data.root=" + dir.path() + " --out " +
                          dir.file("run") + " 2>&1";
  std::string out;
  EXPECT_EQ(lstmad::test::run_command(run, &out), 2) << out;
  EXPECT_NE(out.find("data.root: " + dir.path() + "/labeled_anomalies.csv does not exist"), std::string::npos)
      << out;
  lstmad::test::write_text(dir.file("labeled_anomalies.csv"),
                           "chan_id,spacecraft,anomaly_sequences,class,num_values\n"
                           "P-1,SMAP,\"[[5, 6]]\",[point],90\n");
  EXPECT_EQ(lstmad::test::run_command(run, &out), 2) << out;
  EXPECT_NE(out.find("data.root: " + dir.path() + "/test holds no channel"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir.file("run"))) << "a refused run leaves no folder";
}
