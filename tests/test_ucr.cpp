// The UCR anomaly archive loader on small files in the archive's layout (the label in the file name, the
// values one per line or spaced on one line) that each test writes itself, and configs/ucr.json end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "data/ucr.hpp"
#include "support/test_support.hpp"

using lstmad::DataError;

namespace {

// One period-40 sine of n rows; rows begin .. end (1-based, inclusive) get `bump` added.
std::vector<double> sine(int n, int begin, int end, double bump) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = std::sin(2 * M_PI * i / 40.0);
  for (int i = begin - 1; i < end; ++i) v[static_cast<size_t>(i)] += bump;
  return v;
}

std::string join(const std::vector<double>& v, const std::string& sep) {
  std::ostringstream os;
  os.precision(10);
  for (size_t i = 0; i < v.size(); ++i) os << (i ? sep : "") << v[i];
  return os.str();
}

std::string data_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

}  // namespace

TEST(UcrFileName, ParsesTheArchivesPattern) {
  auto f = lstmad::parse_ucr_file_name("001_UCR_Anomaly_DISTORTED1sddb40_35000_52000_52620.txt");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->number, "001");
  EXPECT_EQ(f->name, "DISTORTED1sddb40");
  EXPECT_EQ(f->train_end, 35000);
  EXPECT_EQ(f->begin, 52000);
  EXPECT_EQ(f->end, 52620);
  // A name may itself hold underscores; the numbers are the last three fields.
  f = lstmad::parse_ucr_file_name("250_UCR_Anomaly_weallwalk_2_x_2951_7290_7296.txt");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->name, "weallwalk_2_x");
  EXPECT_EQ(f->train_end, 2951);
  EXPECT_EQ(f->end, 7296);
  for (const char* bad :
       {"001_UCR_Anomaly_X_1_2_3.csv", "001_UCR_Anomaly_1_2_3.txt", "UCR_Anomaly_X_1_2_3.txt",
        "01a_UCR_Anomaly_X_1_2_3.txt", "001_UCR_Anomaly_X_1_2.txt", "001_UCR_Anomaly_X_0_2_3.txt",
        "001_UCR_Anomaly_X_1_2_3x.txt", "001_UCR_Anomaly_X_1_2_99999999999.txt", "README.txt"})
    EXPECT_FALSE(lstmad::parse_ucr_file_name(bad)) << bad;
}

TEST(UcrValues, OnePerLineOrSpacedOnOneLine) {
  EXPECT_EQ(lstmad::parse_ucr_values("1\n-2.5\n3e-2\n", "f"), (std::vector<double>{1, -2.5, 0.03}));
  EXPECT_EQ(lstmad::parse_ucr_values("  1.0000000e+00  -2.5000000e+00\t3\r\n", "f"),
            (std::vector<double>{1, -2.5, 3}));
  EXPECT_EQ(lstmad::parse_ucr_values("1,\n2,\n3", "f"), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(lstmad::parse_ucr_values("\xEF\xBB\xBF"
                                     "1\n2\n",
                                     "f"),
            (std::vector<double>{1, 2}))
      << "a BOM";
  EXPECT_EQ(lstmad::parse_ucr_values("1,2,3\n\n", "f"), (std::vector<double>{1, 2, 3}));
  const auto withnan = lstmad::parse_ucr_values("1\nNaN\n3\n", "f");
  ASSERT_EQ(withnan.size(), 3u);
  EXPECT_TRUE(std::isnan(withnan[1])) << "a missing value, left to data.missing";
  // A comma ends a field: an empty one would shift every later row, so it is an error naming the line.
  std::string e = data_error([] { lstmad::parse_ucr_values("1,2,,4\n", "f.txt"); });
  EXPECT_NE(e.find("f.txt:1: empty field"), std::string::npos) << e;
  e = data_error([] { lstmad::parse_ucr_values("1\n,2\n", "f.txt"); });
  EXPECT_NE(e.find("f.txt:2: empty field"), std::string::npos) << e;
  std::vector<int> lines;
  EXPECT_EQ(lstmad::parse_ucr_values("1\n\n3,\n4\n", "f", &lines), (std::vector<double>{1, 3, 4}));
  EXPECT_EQ(lines, (std::vector<int>{1, 3, 4}));
  // Several lines of several values are columns (value and label, index and value), not one series.
  e = data_error([] { lstmad::parse_ucr_values("1\n2 0\n3 1\n", "f.txt"); });
  EXPECT_NE(e.find("f.txt:2: 2 values on this line and values on other lines"), std::string::npos) << e;
  e = data_error([] { lstmad::parse_ucr_values("1\n2\n3x\n", "dir/f.txt"); });
  EXPECT_NE(e.find("dir/f.txt:3: not a number: \"3x\""), std::string::npos) << e;
  e = data_error([] { lstmad::parse_ucr_values("1\n0x1p3\n", "f.txt"); });
  EXPECT_NE(e.find("f.txt:2: not a number: \"0x1p3\""), std::string::npos)
      << "decimal only, as in CSV files: " << e;
  e = data_error([] { lstmad::parse_ucr_values("1\ninf\n", "f.txt"); });
  EXPECT_NE(e.find("f.txt:2: value is infinite"), std::string::npos) << e;
  e = data_error([] { lstmad::parse_ucr_values(" \n\n", "f.txt"); });
  EXPECT_NE(e.find("f.txt: no values"), std::string::npos) << e;
}

TEST(UcrLoader, ListsNestedFilesAndLoadsTheLabelAndTrainingPart) {
  lstmad::test::TempDir dir("ucr");
  const std::string nested = dir.path() + "/AnomalyDatasets_2021/UCR_Anomaly_FullData";
  std::filesystem::create_directories(nested);
  lstmad::test::write_text(nested + "/002_UCR_Anomaly_B_100_150_160.txt", join(sine(300, 150, 160, 2), "  "));
  lstmad::test::write_text(nested + "/001_UCR_Anomaly_A_50_70_70.txt",
                           join(sine(100, 70, 70, 2), "\n") + "\n");
  lstmad::test::write_text(nested + "/readme.txt", "not a series");
  lstmad::test::write_text(dir.path() + "/003_UCR_Anomaly_C_10_20_30.csv", "1\n");
  lstmad::test::write_text(nested + "/004_UCR_Anomaly_D_0_20_30.txt", "1\n");  // train end 0: not a series
  lstmad::test::write_text(nested + "/005_UCR_Anomaly_E_10_20_30.TXT", "1\n");  // not ".txt": said, not read
  lstmad::log::set_file(dir.path() + "/log.txt");
  const auto files = lstmad::list_ucr_files(dir.path());
  lstmad::log::set_file("");
  const std::string log = lstmad::files::read(dir.path() + "/log.txt");
  EXPECT_NE(log.find("2 file(s) named like UCR archive series are left out"), std::string::npos) << log;
  EXPECT_NE(log.find("004_UCR_Anomaly_D_0_20_30.txt"), std::string::npos) << log;
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0], "AnomalyDatasets_2021/UCR_Anomaly_FullData/001_UCR_Anomaly_A_50_70_70.txt");
  EXPECT_EQ(files[1], "AnomalyDatasets_2021/UCR_Anomaly_FullData/002_UCR_Anomaly_B_100_150_160.txt");

  int train = -1;
  const lstmad::Series s = lstmad::load_ucr_series(dir.path(), files[1], "UCR/002.csv", &train);
  EXPECT_EQ(s.name, "UCR/002.csv");
  EXPECT_EQ(s.rows(), 300);
  EXPECT_EQ(s.dims, 1);
  EXPECT_EQ(train, 100) << "rows 1 .. 100 (1-based) are rows 0 .. 99";
  ASSERT_EQ(s.windows.size(), 1u);
  EXPECT_EQ(s.windows[0].start, 149) << "row 150 (1-based)";
  EXPECT_EQ(s.windows[0].end, 159);
  EXPECT_EQ(s.timestamps[0], "1970-01-01 00:00:00");
  EXPECT_EQ(s.line_of(0), 1) << "all 300 values on one line";
  EXPECT_EQ(s.line_of(299), 1);
  const lstmad::Series one = lstmad::load_ucr_series(dir.path(), files[0], "UCR/001.csv", &train);
  EXPECT_EQ(one.line_of(69), 70) << "one value per line: row r is line r + 1";
  EXPECT_EQ(s.timestamps[61], "1970-01-01 00:01:01");
  EXPECT_EQ(s.windows[0].start_text, s.timestamps[149]);
  EXPECT_NEAR(s.value(155), std::sin(2 * M_PI * 155 / 40.0) + 2, 1e-9);

  EXPECT_THROW(lstmad::list_ucr_files(dir.path() + "/nope"), lstmad::IoError);
}

TEST(UcrLoader, LabelsThatDoNotFitTheDataNameTheFile) {
  lstmad::test::TempDir dir("ucr-bad");
  auto write = [&](const std::string& name, int n) {
    lstmad::test::write_text(dir.file(name), join(sine(n, 1, 0, 0), "\n"));
    return name;
  };
  std::string e = data_error([&] {
    lstmad::load_ucr_series(dir.path(), write("001_UCR_Anomaly_A_50_90_120.txt", 100), "x", nullptr);
  });
  EXPECT_NE(e.find("001_UCR_Anomaly_A_50_90_120.txt: the name's anomaly, rows 90 .. 120, does not lie in the "
                   "file's 100 rows"),
            std::string::npos)
      << e;
  e = data_error([&] {
    lstmad::load_ucr_series(dir.path(), write("002_UCR_Anomaly_A_50_60_55.txt", 100), "x", nullptr);
  });
  EXPECT_NE(e.find("rows 60 .. 55"), std::string::npos) << e;
  e = data_error([&] {
    lstmad::load_ucr_series(dir.path(), write("003_UCR_Anomaly_A_100_60_65.txt", 100), "x", nullptr);
  });
  EXPECT_NE(e.find("training part ends at row 100 of 100 rows"), std::string::npos) << e;
  e = data_error([&] {
    lstmad::load_ucr_series(dir.path(), write("005_UCR_Anomaly_A_70_60_65.txt", 100), "x", nullptr);
  });
  EXPECT_NE(e.find("the name's anomaly starts at row 60, inside its training part (rows 1 .. 70)"),
            std::string::npos)
      << e;
  e = data_error(
      [&] { lstmad::load_ucr_series(dir.path(), write("004_Anomaly_A_10_60_65.txt", 100), "x", nullptr); });
  EXPECT_NE(e.find("not a UCR archive file name"), std::string::npos) << e;
}

// configs/ucr.json end to end on a four-series archive: the one whose anomaly is a large bump is found
// (ucr_score 1 in results.csv), the one whose file name does not fit its data fails its own cell only,
// and the table reports the UCR score.
TEST(UcrRun, ConfigScoresEachSeriesAndFailsOnlyTheBrokenOne) {
  if (!std::filesystem::exists(lstmad::test::lstmad_binary()))
    GTEST_SKIP() << "lstmad binary not built at " << lstmad::test::lstmad_binary();
  lstmad::test::TempDir dir("ucr-run");
  lstmad::test::write_text(dir.file("001_UCR_Anomaly_Bump_400_700_720.txt"),
                           join(sine(1000, 700, 720, 3), "\n"));
  lstmad::test::write_text(dir.file("002_UCR_Anomaly_Spaced_400_650_660.txt"),
                           join(sine(900, 650, 660, 3), "  "));
  lstmad::test::write_text(dir.file("003_UCR_Anomaly_Broken_400_950_990.txt"),
                           join(sine(900, 1, 0, 0), "\n"));
  // The same archive file in a second folder is one series, not two.
  std::filesystem::create_directories(dir.file("copy"));
  std::filesystem::copy_file(dir.file("001_UCR_Anomaly_Bump_400_700_720.txt"),
                             dir.file("copy/001_UCR_Anomaly_Bump_400_700_720.txt"));
  std::string out;
  const int rc =
      lstmad::test::run_command(lstmad::test::lstmad_binary() + " run " + std::string(LSTMAD_SOURCE_DIR) +
                                    "/configs/ucr.json --set data.root=" + dir.path() +
                                    " --set train.epochs=3 --set model.hidden=8 --set model.window=40"
                                    " --out " +
                                    dir.file("run") + " -j 2 2>&1",
                                &out);
  ASSERT_EQ(rc, 1) << "one cell failed, the others ran (docs/running.md's exit status)\n" << out;
  EXPECT_NE(out.find("ucr_score"), std::string::npos) << "the table shows the UCR score\n" << out;
  EXPECT_NE(out.find("003_UCR_Anomaly_Broken_400_950_990.txt: the name's anomaly"), std::string::npos) << out;
  EXPECT_NE(
      out.find(
          "copy/001_UCR_Anomaly_Bump_400_700_720.txt: series id UCR/001_UCR_Anomaly_Bump_400_700_720.csv "
          "is already"),
      std::string::npos)
      << out;

  const auto rows = lstmad::test::read_results_csv(dir.file("run/results.csv"));
  ASSERT_EQ(rows.size(), 3u);
  // The report lists the UCR score per series.
  ASSERT_EQ(lstmad::test::run_command(lstmad::test::lstmad_binary() + " report " + dir.file("run"), &out), 0)
      << out;
  EXPECT_NE(lstmad::files::read(dir.file("run/report.html")).find("<th>ucr_score</th>"), std::string::npos);
  for (const auto& r : rows) {
    const std::string& series = r.at("series");
    if (series.find("Broken") != std::string::npos) {
      EXPECT_EQ(r.at("status"), "ERROR") << series;
      continue;
    }
    EXPECT_EQ(r.at("status"), "OK") << series;
    EXPECT_EQ(r.at("train_rows"), "400") << "the file name's training part, not NAB's probation: " << series;
    EXPECT_EQ(std::stod(r.at("ucr_score")), 1.0)
        << "a bump of three amplitudes is the largest error: " << series;
  }
}
