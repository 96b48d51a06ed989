// The NAB-layout readers on small files written by the tests: the CSV reader's formatting tolerance
// (CRLF, no final newline, number forms), its refusal of bad input with file:line, timestamps kept in file
// order, label windows mapped to rows, the corpus listing, and the timestamp parser itself; then the generic
// layout (named time, label and value columns) and a folder of such files run end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "data/csv_fields.hpp"
#include "data/csv_reader.hpp"
#include "data/labels.hpp"
#include "data/nab_windows.hpp"
#include "data/series.hpp"
#include "data/timestamp.hpp"
#include "experiments/run_folder.hpp"
#include "support/test_support.hpp"

namespace lstmad {
namespace {

Series parse(const std::string& text, CsvReadReport* rep = nullptr) {
  return parse_series_csv(text, "f.csv", "cat/f.csv", rep);
}

// Expects a DataError whose file is f.csv, whose line is `line` and whose message contains `needle`.
void expect_data_error(const std::string& text, long line, const std::string& needle) {
  try {
    parse(text);
    ADD_FAILURE() << "accepted:\n" << text;
  } catch (const DataError& e) {
    EXPECT_EQ(e.file(), "f.csv");
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    if (line > 0) {
      EXPECT_EQ(std::string(e.what()).rfind("f.csv:" + std::to_string(line) + ": ", 0), 0u) << e.what();
    }
  }
}

// ---- CSV ------------------------------------------------------------------------------------------

// A corpus's series are named by their paths below the root as found there: a linked file or folder
// keeps the link's name (a name with "../" would put the run's outputs for it outside the run folder),
// and a link back to a folder already walked is not walked again.
TEST(CsvCorpus, LinksKeepTheirOwnNamesAndLoopsAreWalkedOnce) {
  namespace fs = std::filesystem;
  test::TempDir tmp("csv-links");
  for (const char* f : {"root/a.csv", "root/sub/b.csv", "outside/o.csv", "outside/deep/p.csv"})
    test::write_text(tmp.file(f), "timestamp,value\n");
  fs::create_symlink("../outside/o.csv", tmp.file("root/link.csv"));
  fs::create_directory_symlink("../outside", tmp.file("root/linkdir"));
  fs::create_directory_symlink(".", tmp.file("root/loop"));     // the root itself
  fs::create_directory_symlink("..", tmp.file("root/sub/up"));  // the folder above
  const std::vector<std::string> expected{"a.csv", "link.csv", "linkdir/deep/p.csv", "linkdir/o.csv",
                                          "sub/b.csv"};
  EXPECT_EQ(list_csv_files(tmp.file("root")), expected);
  EXPECT_EQ(list_csv_files(tmp.file("root") + "/"), expected);
  EXPECT_THROW(list_csv_files(tmp.file("root/a.csv")), IoError);
}

// Hidden entries are no series: a macOS copy's "._a.csv" resource file, a checkpoint folder's copies, a
// version-control folder; each would fail its cells (and so its detector's NAB score).
TEST(CsvCorpus, HiddenFilesAndFoldersAreNoSeries) {
  test::TempDir tmp("csv-hidden");
  for (const char* f : {"root/a.csv", "root/._a.csv", "root/.git/x.csv", "root/sub/b.csv",
                        "root/sub/.ipynb_checkpoints/b-checkpoint.csv", "root/sub/.c.csv", "root/UP.CSV"})
    test::write_text(tmp.file(f), "timestamp,value\n");
  EXPECT_EQ(list_csv_files(tmp.file("root")), (std::vector<std::string>{"a.csv", "sub/b.csv"}))
      << "UP.CSV is warned of, not read";
  int hidden = 0;
  files::list_below(tmp.file("root"), &hidden);
  EXPECT_EQ(hidden, 4) << "._a.csv, .git, .ipynb_checkpoints, .c.csv";
}

// A folder that the caller says holds a run is left out whole, and named; hidden entries inside it are
// not counted, and other folders are listed as before.
TEST(CsvCorpus, FoldersTheCallerLeavesOutAreNotWalked) {
  test::TempDir tmp("csv-left-out");
  for (const char* f : {"root/a.csv", "root/runs/r1/results.csv", "root/runs/r1/nab/d/d_a.csv",
                        "root/runs/r1/.lock", "root/runs/notes.csv", "root/sub/b.csv"})
    test::write_text(tmp.file(f), "timestamp,value\n");
  const auto is_r1 = [](const std::string& dir) { return std::filesystem::path(dir).filename() == "r1"; };
  EXPECT_EQ(list_csv_files(tmp.file("root"), is_r1),
            (std::vector<std::string>{"a.csv", "runs/notes.csv", "sub/b.csv"}));
  int hidden = 0;
  std::vector<std::string> left_out;
  EXPECT_EQ(files::list_below(tmp.file("root"), &hidden, is_r1, &left_out).size(), 3u);
  EXPECT_EQ(hidden, 0) << "r1/.lock lies in a folder left out";
  EXPECT_EQ(left_out, std::vector<std::string>{"runs/r1"});
  EXPECT_EQ(list_csv_files(tmp.file("root")).size(), 5u) << "without the predicate every .csv is listed";
}

// Messages quote a file's field as valid UTF-8 on one line: other bytes and control characters as \xNN,
// cut at a character's end.
TEST(CsvFields, QuotedFieldsAreValidUtf8) {
  EXPECT_EQ(quote_field("12.5"), "\"12.5\"");
  EXPECT_EQ(quote_field("12\xb0"
                        "C"),
            "\"12\\xB0C\"");  // Latin-1 degree sign
  EXPECT_EQ(quote_field("12\xc2\xb0"
                        "C"),
            "\"12\xc2\xb0"
            "C\"");  // the UTF-8 one stays
  EXPECT_EQ(quote_field("a\tb\r"), "\"a\\x09b\\x0D\"");
  EXPECT_EQ(quote_field("\xe2\x82"), "\"\\xE2\\x82\"");           // a cut three-byte sequence
  EXPECT_EQ(quote_field("\xed\xa0\x80"), "\"\\xED\\xA0\\x80\"");  // a surrogate
  EXPECT_EQ(quote_field("\xc0\xaf"), "\"\\xC0\\xAF\"");           // an overlong '/'
  EXPECT_EQ(quote_field("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");
  EXPECT_EQ(quote_field(std::string(50, 'x')), "\"" + std::string(40, 'x') + "...\"");
  // A character that starts before the cut is kept whole.
  EXPECT_EQ(quote_field(std::string(39, 'x') + "\xc3\xa9z"), "\"" + std::string(39, 'x') + "\xc3\xa9...\"");
}

TEST(CsvReader, ReadsRowsInFileOrder) {
  Series s = parse("timestamp,value\n2014-04-01 00:00:00,10844\n2014-04-01 00:05:00,-3.5\n");
  EXPECT_EQ(s.name, "cat/f.csv");
  EXPECT_EQ(s.path, "f.csv");
  EXPECT_EQ(s.dims, 1);
  ASSERT_EQ(s.rows(), 2);
  EXPECT_EQ(s.values, (std::vector<double>{10844.0, -3.5}));
  ASSERT_EQ(s.timestamps.size(), 2u);
  EXPECT_EQ(s.timestamps[0], "2014-04-01 00:00:00");
  EXPECT_EQ(s.timestamps[1], "2014-04-01 00:05:00");
  EXPECT_EQ(s.time_us[1] - s.time_us[0], 300LL * 1000000);
  EXPECT_TRUE(s.windows.empty());
}

TEST(CsvReader, CrlfAndNoFinalNewline) {
  const std::string lf = "timestamp,value\n2015-01-01 00:00:01,1.5\n2015-01-01 00:01:01,2.5\n";
  const std::string crlf = "timestamp,value\r\n2015-01-01 00:00:01,1.5\r\n2015-01-01 00:01:01,2.5\r\n";
  const std::string no_final = "timestamp,value\n2015-01-01 00:00:01,1.5\n2015-01-01 00:01:01,2.5";
  const std::string crlf_no_final = "timestamp,value\r\n2015-01-01 00:00:01,1.5\r\n2015-01-01 00:01:01,2.5";
  Series ref = parse(lf);
  for (const auto& text : {crlf, no_final, crlf_no_final}) {
    Series s = parse(text);
    EXPECT_EQ(s.values, ref.values);
    EXPECT_EQ(s.timestamps, ref.timestamps) << "no \\r may stay in a timestamp";
    EXPECT_EQ(s.time_us, ref.time_us);
  }
  // Trailing blank lines are tolerated; a UTF-8 byte-order mark too.
  EXPECT_EQ(parse(lf + "\n\r\n").values, ref.values);
  EXPECT_EQ(parse("\xEF\xBB\xBF" + lf).values, ref.values);
}

// A NUL would end the value where strtod and the messages stop reading: "12\0junk" read as 12. A file in
// UTF-16 (a NUL after every ASCII byte) fails at its header.
TEST(CsvReader, ANulByteIsRefusedNamingItsLine) {
  using namespace std::string_literals;
  expect_data_error("timestamp,value\n2015-01-01 00:00:01,1.5\n2015-01-01 00:01:01,12\0junk\n"s, 3,
                    "NUL byte");
  expect_data_error("t\0i\0m\0e\0s\0t\0a\0m\0p\0,\0v\0a\0l\0u\0e\0\n\0"s, 1, "UTF-16");
}

// A file's JSON is written whatever bytes its strings hold: each byte that is not UTF-8 becomes U+FFFD
// (nlohmann's plain dump() throws), in json and ordered_json alike, and valid text is kept as it is.
TEST(JsonText, InvalidUtf8BecomesTheReplacementCharacter) {
  const nlohmann::json j{{"error",
                          "12\xb0"
                          "C"}};
  EXPECT_THROW(j.dump(), nlohmann::json::type_error);
  EXPECT_EQ(json_text(j, -1),
            "{\"error\":\"12\xef\xbf\xbd"
            "C\"}\n");
  nlohmann::ordered_json o;
  o["z"] = "\xff";
  o["a"] = "\xc2\xb0";  // a valid degree sign stays
  EXPECT_EQ(json_text(o, -1), "{\"z\":\"\xef\xbf\xbd\",\"a\":\"\xc2\xb0\"}\n") << "key order kept";
}

// Old Mac OS files end lines with a bare CR: read by LF they would be one long line, so they are refused
// with what to fix. A CR doubled before the LF (CRLF written through a Windows text-mode file) still reads.
TEST(CsvReader, BareCrLineEndingsAreRefused) {
  expect_data_error("timestamp,value\r2015-01-01 00:00:01,1.5\r2015-01-01 00:01:01,2.5\r", 1,
                    "line endings must be LF or CRLF");
  expect_data_error(
      "timestamp,value\n2015-01-01 00:00:01,1.5\n2015-01-01 00:01:01,2.5\r2015-01-01 00:02:01,3\n", 3,
      "line endings must be LF or CRLF");
  try {
    parse_series_csv("timestamp,value,is_anomaly\r2015-01-01 00:00:01,1.5,0\r", "g.csv", "c/g.csv", nullptr,
                     [] {
                       CsvColumns c;
                       c.nab = false;
                       c.label = "is_anomaly";
                       return c;
                     }());
    ADD_FAILURE() << "a bare-CR file was accepted";
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 1) << e.what();
    EXPECT_NE(std::string(e.what()).find("line endings must be LF or CRLF"), std::string::npos) << e.what();
  }
  const Series s = parse("timestamp,value\r\r\n2015-01-01 00:00:01,1.5\r\r\n2015-01-01 00:01:01,2.5\r\r\n");
  EXPECT_EQ(s.values, (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ(s.timestamps[1], "2015-01-01 00:01:01");
}

TEST(CsvReader, NumberForms) {
  Series s = parse(
      "timestamp,value\n"
      "2014-01-01 00:00:00,-1.03989471325e-05\n"
      "2014-01-01 00:05:00,10844\n"
      "2014-01-01 00:10:00,1E3\n"
      "2014-01-01 00:15:00,+2.5\n"
      "2014-01-01 00:20:00,.5\n"
      "2014-01-01 00:25:00, 7 \n"
      "2014-01-01 00:30:00,0.1\n");
  ASSERT_EQ(s.rows(), 7);
  EXPECT_EQ(s.value(0), -1.03989471325e-05);
  EXPECT_EQ(s.value(1), 10844.0);
  EXPECT_EQ(s.value(2), 1000.0);
  EXPECT_EQ(s.value(3), 2.5);
  EXPECT_EQ(s.value(4), 0.5);
  EXPECT_EQ(s.value(5), 7.0);
  EXPECT_EQ(s.value(6), 0.1);  // the nearest double, as strtod and pandas give
  // Any length: 1e300 written with %f is 301 digits and a point; 70 and 71 characters sit at the edge of
  // the parser's stack buffer.
  const std::string big = "1" + std::string(300, '0') + ".000000";
  const std::string edge70 = "0." + std::string(67, '0') + "1", edge71 = "0." + std::string(68, '0') + "1";
  s = parse("timestamp,value\n2014-01-01 00:00:00," + big + "\n2014-01-01 00:05:00," + edge70 +
            "\n2014-01-01 00:10:00," + edge71 + "\n");
  ASSERT_EQ(s.rows(), 3);
  EXPECT_EQ(s.value(0), 1e300);
  EXPECT_EQ(s.value(1), 1e-68);
  EXPECT_EQ(s.value(2), 1e-69);
}

TEST(CsvReader, DuplicateAndBackwardTimestampsAreKeptInOrderAndCounted) {
  CsvReadReport rep;
  Series s = parse(
      "timestamp,value\n"
      "2014-01-01 00:10:00,1\n"
      "2014-01-01 00:10:00,2\n"  // repeat
      "2014-01-01 00:05:00,3\n"  // backward
      "2014-01-01 00:20:00,4\n"
      "2014-01-01 00:15:00,5\n",  // backward
      &rep);
  EXPECT_EQ(rep.duplicate_timestamps, 1);
  EXPECT_EQ(rep.backward_timestamps, 2);
  EXPECT_EQ(rep.missing_values, 0);
  EXPECT_EQ(s.values, (std::vector<double>{1, 2, 3, 4, 5})) << "never sorted or de-duplicated";
  EXPECT_EQ(s.timestamps[2], "2014-01-01 00:05:00");
  EXPECT_EQ(s.timestamps[4], "2014-01-01 00:15:00");
  EXPECT_EQ(s.repeated_timestamps, 1) << "the series carries the counts for the run's one-line summary";
  EXPECT_EQ(s.backward_timestamps, 2);

  // A corpus reports them once: the series that have any, and the totals.
  TimestampOrderTally tally;
  EXPECT_EQ(tally.summary(3), "") << "no warning when no series has any";
  tally.add(s);
  tally.add(parse("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2\n"));
  tally.add(s);
  EXPECT_EQ(tally.series, 2);
  EXPECT_EQ(tally.repeated, 2);
  EXPECT_EQ(tally.backward, 4);
  EXPECT_EQ(tally.summary(3),
            "2 of 3 series have repeated (2) or backward (4) timestamps, kept in file order; -v names them");
}

TEST(CsvReader, MissingValuesBecomeNaN) {
  CsvReadReport rep;
  Series s = parse(
      "timestamp,value\n2014-01-01 00:00:00,\n2014-01-01 00:05:00,nan\n2014-01-01 00:10:00,NA\n"
      "2014-01-01 00:15:00,null\n2014-01-01 00:20:00,4\n",
      &rep);
  EXPECT_EQ(rep.missing_values, 4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(std::isnan(s.value(i))) << i;
  EXPECT_EQ(s.value(4), 4.0);
}

TEST(CsvReader, ExtraValueColumnsAreDimensions) {
  Series s = parse("timestamp,value,flag\n2014-01-01 00:00:00,1.5,0\n2014-01-01 00:05:00,2.5,1\n");
  EXPECT_EQ(s.dims, 2);
  EXPECT_EQ(s.rows(), 2);
  EXPECT_EQ(s.value(1, 0), 2.5);
  EXPECT_EQ(s.value(1, 1), 1.0);
}

TEST(CsvReader, BadValueNamesFileAndLine) {
  expect_data_error("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,abc\n", 3, "not a number");
  expect_data_error("timestamp,value\n2014-01-01 00:00:00,1.2.3\n", 2, "not a number");
  expect_data_error("timestamp,value\n2014-01-01 00:00:00,inf\n", 2, "infinite");
  expect_data_error("timestamp,value\n2014-01-01 00:00:00,1e999\n", 2, "infinite");
  // With CRLF the line count is the same.
  expect_data_error("timestamp,value\r\n2014-01-01 00:00:00,1\r\n2014-01-01 00:05:00,x\r\n", 3,
                    "not a number");
}

TEST(CsvReader, BadRowsNameFileAndLine) {
  expect_data_error("timestamp,value\n2014-01-01 00:00:00,1\n2014-02-30 00:00:00,2\n", 3, "bad timestamp");
  expect_data_error("timestamp,value\n2014-01-01,1\n", 2, "bad timestamp");
  expect_data_error("timestamp,value\n2014-01-01 00:00:00\n", 2, "expected 2 columns");
  expect_data_error("timestamp,value\n2014-01-01 00:00:00,1,2\n", 2, "more than 2 columns");
  expect_data_error("timestamp,value\n2014-01-01 00:00:00,1\n\n2014-01-01 00:10:00,1\n", 3, "blank line");
}

// Python's csv module (QUOTE_ALL, QUOTE_NONNUMERIC) and spreadsheets quote fields as RFC 4180 writes them;
// a quoted field reads as its text, commas and doubled quotes included.
TEST(CsvReader, QuotedFieldsReadAsTheirText) {
  const Series ref = parse("timestamp,value\n2014-01-01 00:00:00,1.5\n2014-01-01 00:05:00,-2\n");
  const std::string quote_all =
      "\"timestamp\",\"value\"\n\"2014-01-01 00:00:00\",\"1.5\"\n\"2014-01-01 00:05:00\",\"-2\"\n";
  const std::string nonnumeric =
      "\"timestamp\",\"value\"\r\n\"2014-01-01 00:00:00\",1.5\r\n\"2014-01-01 00:05:00\", -2\r\n";
  for (const auto& text : {quote_all, nonnumeric}) {
    const Series s = parse(text);
    EXPECT_EQ(s.values, ref.values) << text;
    EXPECT_EQ(s.timestamps, ref.timestamps) << "the quotes are not part of the timestamp";
    EXPECT_EQ(s.time_us, ref.time_us);
  }
  // Blanks around a quoted field are ignored like those around any field; an empty quoted field is missing.
  const Series blanks = parse("timestamp,value\n2014-01-01 00:00:00, \"1.5\" \n2014-01-01 00:05:00,\"\"\n");
  EXPECT_EQ(blanks.values[0], 1.5);
  EXPECT_TRUE(std::isnan(blanks.values[1]));
  // A comma inside quotes is not a separator: the value is one (bad) field, not an extra column.
  expect_data_error("timestamp,value\n2014-01-01 00:00:00,\"1,5\"\n", 2, "not a number: \"1,5\"");
  // A skipped column of free text may hold commas and doubled quotes.
  const Series notes = parse_series_csv(
      "\"timestamp\",\"value\",\"note\"\n"
      "\"2014-01-01 00:00:00\",1.5,\"door open, \"\"bay 2\"\"\"\n"
      "\"2014-01-01 00:05:00\",-2,\"\"\n",
      "f.csv", "cat/f.csv", nullptr, [] {
        CsvColumns c;
        c.nab = false;
        c.values = {"value"};
        return c;
      }());
  EXPECT_EQ(notes.dims, 1);
  EXPECT_EQ(notes.values, ref.values);
  EXPECT_EQ(notes.timestamps, ref.timestamps);
}

TEST(CsvReader, BadQuotingNamesFileAndLine) {
  const std::string head = "timestamp,value\n2014-01-01 00:00:00,1\n";
  expect_data_error(head + "2014-01-01 00:05:00,\"2\n", 3, "column 2: unterminated quoted field");
  expect_data_error(head + "2014-01-01 00:05:00,\"2\n.5\"\n2014-01-01 00:10:00,3\n", 3,
                    "column 2: a quoted field spans lines");
  expect_data_error(head + "2014-01-01 00:05:00,\"2\"x\n", 3, "column 2: text after the closing quote");
  expect_data_error("\"timestamp,value\n2014-01-01 00:00:00,1\n", 1, "column 1: unterminated quoted field");
}

TEST(CsvReader, EmptyAndHeaderErrors) {
  expect_data_error("", 0, "empty file");
  expect_data_error("\n\n", 0, "empty file");
  expect_data_error("timestamp,value\n", 0, "no data rows");
  expect_data_error("timestamp,value", 0, "no data rows");
  expect_data_error("time,value\n2014-01-01 00:00:00,1\n", 1, "header must start with `timestamp`");
  expect_data_error("value,timestamp\n1,2014-01-01 00:00:00\n", 1, "header must start with `timestamp`");
  expect_data_error("timestamp\n2014-01-01 00:00:00\n", 1, "at least one value column");
  // A data row where the header should be.
  expect_data_error("2014-01-01 00:00:00,1\n", 1, "header");
}

// A blank line before the header is not an empty file: the message says which line to delete.
TEST(CsvReader, BlankFirstLineIsNamed) {
  const std::string body = "timestamp,value\n2014-01-01 00:00:00,1\n";
  expect_data_error("\n" + body, 1, "line 1 is blank: the header must be the first line");
  expect_data_error(" \t\r\n" + body, 1, "line 1 is blank: the header must be the first line");
  expect_data_error("\xEF\xBB\xBF\n" + body, 1, "line 1 is blank: the header must be the first line");
  expect_data_error(" \n\r\n", 0, "empty file");
}

TEST(CsvReader, MissingFileIsADataErrorNamingThePath) {
  test::TempDir dir("csv-missing");
  const std::string path = dir.file("nope.csv");
  try {
    read_series_csv(path, "cat/nope.csv");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_NE(std::string(e.what()).find("cannot read"), std::string::npos) << e.what();
  }
  // A folder where a file is expected.
  EXPECT_THROW(read_series_csv(dir.path(), "x"), DataError);
  // And an existing file reads like the text.
  test::write_text(dir.file("ok.csv"), "timestamp,value\r\n2014-01-01 00:00:00,3");
  CsvReadReport rep;
  Series s = read_series_csv(dir.file("ok.csv"), "cat/ok.csv", &rep);
  EXPECT_EQ(s.values, std::vector<double>{3.0});
  EXPECT_EQ(s.path, dir.file("ok.csv"));
}

// ---- timestamps -----------------------------------------------------------------------------------

TEST(Timestamp, ParseAndFormat) {
  EXPECT_EQ(parse_timestamp_us("1970-01-01 00:00:00"), 0);
  EXPECT_EQ(parse_timestamp_us("1970-01-02 00:00:01"), (86400LL + 1) * 1000000);
  EXPECT_EQ(parse_timestamp_us("1969-12-31 23:59:59"), -1000000);
  EXPECT_EQ(parse_timestamp_us("2014-04-01 00:00:00.000000"), parse_timestamp_us("2014-04-01 00:00:00"));
  EXPECT_EQ(*parse_timestamp_us("2014-04-01 00:00:00.5") - *parse_timestamp_us("2014-04-01 00:00:00"),
            500000);
  EXPECT_TRUE(parse_timestamp_us("2016-02-29 12:00:00"));  // leap year
  EXPECT_TRUE(parse_timestamp_us("2000-02-29 12:00:00"));
  for (const char* bad :
       {"2015-02-29 12:00:00", "1900-02-29 00:00:00", "2014-13-01 00:00:00", "2014-04-31 00:00:00",
        "2014-04-01 24:00:00", "2014-04-01 00:60:00", "2014-12-31 23:59:60", "2014-04-01 00:00",
        "2014/04/01 00:00:00", "2014-04-01 00:00:00.", "2014-04-01 00:00:00.1234567", "2014-04-01 00:00:00Z",
        "2014-0a-01 00:00:00", ""})
    EXPECT_FALSE(parse_timestamp_us(bad)) << bad;
  for (const char* t :
       {"2014-04-01 00:00:00", "1999-12-31 23:59:59", "2024-02-29 13:05:07", "1960-06-15 01:02:03"})
    EXPECT_EQ(format_timestamp_us(*parse_timestamp_us(t)), t);
  EXPECT_EQ(format_timestamp_us(*parse_timestamp_us("2014-04-01 00:00:00.250000")),
            "2014-04-01 00:00:00.250000");
}

TEST(Series, ProbationLengthAndPointLabels) {
  EXPECT_EQ(probation_length(1000), 150);
  EXPECT_EQ(probation_length(4032), 604);
  EXPECT_EQ(probation_length(5000), 750);
  EXPECT_EQ(probation_length(22695), 750);
  EXPECT_EQ(probation_length(1), 0);
  Series s;
  s.values.assign(10, 0.0);
  s.windows = {LabelWindow{2, 3, "", ""}, LabelWindow{7, 9, "", ""}};
  EXPECT_EQ(s.point_labels(), (std::vector<int>{0, 0, 1, 1, 0, 0, 0, 1, 1, 1}));
}

// ---- labels ---------------------------------------------------------------------------------------

const char* kSmallCsv =
    "timestamp,value\n"
    "2014-01-01 00:00:00,1\n"
    "2014-01-01 00:05:00,2\n"
    "2014-01-01 00:10:00,3\n"
    "2014-01-01 00:15:00,4\n"
    "2014-01-01 00:20:00,5\n"
    "2014-01-01 00:25:00,6\n";

TEST(Labels, AttachMapsEdgesToRows) {
  Series s = parse(kSmallCsv);
  attach_windows(s, {{"2014-01-01 00:05:00.000000", "2014-01-01 00:10:00.000000"},
                     {"2014-01-01 00:20:00", "2014-01-01 00:25:00"}});
  ASSERT_EQ(s.windows.size(), 2u);
  EXPECT_EQ(s.windows[0].start, 1);
  EXPECT_EQ(s.windows[0].end, 2);
  EXPECT_EQ(s.windows[0].start_text, "2014-01-01 00:05:00.000000");
  EXPECT_EQ(s.windows[1].start, 4);
  EXPECT_EQ(s.windows[1].end, 5);
  attach_windows(s, {});
  EXPECT_TRUE(s.windows.empty());
}

void expect_attach_error(Series s, const WindowTexts& w, const std::string& needle) {
  try {
    attach_windows(s, w);
    ADD_FAILURE() << "accepted window " << w.back().first << " .. " << w.back().second;
  } catch (const DataError& e) {
    EXPECT_EQ(e.file(), s.path);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Labels, MissingRepeatedOrDisorderedEdgesAreErrors) {
  Series s = parse(kSmallCsv);
  expect_attach_error(s, {{"2014-01-01 00:07:00", "2014-01-01 00:10:00"}}, "not a timestamp of the file");
  expect_attach_error(s, {{"2014-01-01 00:05:00", "2014-01-02 00:10:00"}}, "not a timestamp of the file");
  expect_attach_error(s, {{"yesterday", "2014-01-01 00:10:00"}}, "is not a timestamp");
  expect_attach_error(s, {{"2014-01-01 00:10:00", "2014-01-01 00:05:00"}}, "ends before it starts");
  expect_attach_error(
      s, {{"2014-01-01 00:05:00", "2014-01-01 00:15:00"}, {"2014-01-01 00:15:00", "2014-01-01 00:20:00"}},
      "overlaps");
  Series dup = parse(
      "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2\n2014-01-01 00:05:00,3\n2014-01-01 "
      "00:10:00,4\n");
  expect_attach_error(dup, {{"2014-01-01 00:05:00", "2014-01-01 00:10:00"}}, "appears 2 times");
  // A window whose edges are unique is fine even when other rows repeat.
  attach_windows(dup, {{"2014-01-01 00:00:00", "2014-01-01 00:10:00"}});
  EXPECT_EQ(dup.windows.at(0).end, 3);
}

TEST(Labels, JsonRoundTripAndErrors) {
  test::TempDir dir("labels-json");
  std::map<std::string, WindowTexts> w = {
      {"b/x.csv", {{"2014-01-01 00:05:00.000000", "2014-01-01 00:10:00.000000"}}},
      {"a/y.csv", {}},
  };
  const std::string text = label_windows_json(w);
  EXPECT_LT(text.find("a/y.csv"), text.find("b/x.csv")) << "keys sorted";
  test::write_text(dir.file("w.json"), text);
  EXPECT_EQ(read_label_windows(dir.file("w.json")), w);
  test::write_text(dir.file("bad1.json"), "{\"a.csv\": [[\"x\"]]}");
  EXPECT_THROW(read_label_windows(dir.file("bad1.json")), DataError);
  test::write_text(dir.file("bad2.json"), "[1, 2]");
  EXPECT_THROW(read_label_windows(dir.file("bad2.json")), DataError);
  test::write_text(dir.file("bad3.json"), "{\"a.csv\": ");
  EXPECT_THROW(read_label_windows(dir.file("bad3.json")), DataError);
  test::write_text(dir.file("bad4.json"), "{\"a.csv\": \"2014\"}");
  EXPECT_THROW(read_label_windows(dir.file("bad4.json")), DataError);
  EXPECT_THROW(read_label_windows(dir.file("absent.json")), Error);
}

TEST(Labels, ASeriesNamedTwiceIsAnErrorNamingFileAndKey) {
  test::TempDir dir("labels-dup");
  // Parsed plainly, the second entry would drop x.csv's window without a word.
  test::write_text(
      dir.file("w.json"),
      "{\n  \"a/x.csv\": [[\"2014-01-01 00:05:00\", \"2014-01-01 00:10:00\"]],\n  \"a/x.csv\": []\n}\n");
  try {
    read_label_windows(dir.file("w.json"));
    FAIL() << "a repeated series was accepted";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(dir.file("w.json") + ":3: a/x.csv: key given twice in one object (first at line 2"),
              std::string::npos)
        << what;
  }
}

TEST(Labels, CorpusListingAndLoading) {
  test::TempDir dir("corpus");
  test::write_text(dir.file("data/realB/two.csv"), kSmallCsv);
  test::write_text(dir.file("data/realA/one.csv"), kSmallCsv);
  test::write_text(dir.file("data/realA/notes.txt"), "not data");
  test::write_text(dir.file("data/README.md"), "top-level file, not a category");
  test::write_text(dir.file("data/realA/._one.csv"), "a macOS copy's resource file");
  test::write_text(dir.file("data/.ipynb_checkpoints/one-checkpoint.csv"), kSmallCsv);
  EXPECT_EQ(list_corpus_files(dir.path()), (std::vector<std::string>{"realA/one.csv", "realB/two.csv"}));
  std::map<std::string, WindowTexts> labels = {
      {"realB/two.csv", {{"2014-01-01 00:10:00", "2014-01-01 00:15:00"}}}};
  Series one = load_corpus_series(dir.path(), "realA/one.csv", labels);
  EXPECT_EQ(one.name, "realA/one.csv");
  EXPECT_TRUE(one.windows.empty());
  Series two = load_corpus_series(dir.path(), "realB/two.csv", labels);
  ASSERT_EQ(two.windows.size(), 1u);
  EXPECT_EQ(two.windows[0].start, 2);
  EXPECT_EQ(two.point_labels(), (std::vector<int>{0, 0, 1, 1, 0, 0}));
  test::TempDir empty("corpus-empty");
  EXPECT_THROW(list_corpus_files(empty.path()), IoError);
}

// The real corpus, when present: every file reads (8 CRLF, 7 without a final newline, scientific
// notation), every window edge maps to exactly one row, and the counts match specs/nab-scoring.md 1.1-1.2.
TEST(Labels, SharedNabCorpusReadsCompletely) {
  const std::string root = test::shared_nab_root();
  if (root.empty())
    GTEST_SKIP() << "NAB corpus not found (../shared/nab or NAB_ROOT); scripts/get-nab.sh fetches it";
  auto files = list_corpus_files(root);
  auto labels = read_label_windows(root + "/labels/combined_windows.json");
  EXPECT_EQ(files.size(), 58u);
  EXPECT_EQ(labels.size(), 58u);
  long rows = 0, windows = 0, problems = 0;
  for (const auto& rel : files) {
    Series s = load_corpus_series(root, rel, labels);
    rows += s.rows();
    windows += static_cast<long>(s.windows.size());
    for (double v : s.values) problems += std::isfinite(v) ? 0 : 1;
    for (const auto& w : s.windows) EXPECT_LE(w.start, w.end);
  }
  EXPECT_EQ(rows, 365558);
  EXPECT_EQ(windows, 116);
  EXPECT_EQ(problems, 0);
}

// NAB's window procedure on the corpus' anomaly points (labels/combined_labels.json) gives its scoring
// windows (labels/combined_windows.json) row for row in all 58 files, with the one override NAB's labels
// carry (specs/nab-scoring.md 1.3: the iio file's points are rows 249 and 339).
TEST(Labels, NabWindowProcedureRebuildsTheSharedCorpusWindows) {
  const std::string root = test::shared_nab_root();
  if (root.empty())
    GTEST_SKIP() << "NAB corpus not found (../shared/nab or NAB_ROOT); scripts/get-nab.sh fetches it";
  const auto windows = read_label_windows(root + "/labels/combined_windows.json");
  const nlohmann::json points = read_json_file(root + "/labels/combined_labels.json");
  ASSERT_EQ(points.size(), 58u);
  long compared = 0, labels = 0;
  for (auto it = points.begin(); it != points.end(); ++it) {
    const Series s = load_corpus_series(root, it.key(), windows);
    std::vector<int> rows;
    for (const auto& t : it.value()) {
      const auto us = parse_timestamp_us(t.get<std::string>());
      ASSERT_TRUE(us.has_value()) << it.key() << ": " << t;
      const auto at = std::find(s.time_us.begin(), s.time_us.end(), *us);
      ASSERT_NE(at, s.time_us.end()) << it.key() << ": no row at " << t;
      rows.push_back(static_cast<int>(at - s.time_us.begin()));
    }
    labels += static_cast<long>(rows.size());
    if (it.key() == "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv") rows = {249, 339};
    const auto built = nab_windows_from_points(s.rows(), rows);
    ASSERT_EQ(built.size(), s.windows.size()) << it.key();
    for (size_t j = 0; j < built.size(); ++j) {
      EXPECT_EQ(built[j].first, s.windows[j].start) << it.key() << " window " << j;
      EXPECT_EQ(built[j].second, s.windows[j].end) << it.key() << " window " << j;
    }
    // Each point is a one-row run: the runs' procedure gives the same windows where no three overlap.
    std::vector<std::pair<int, int>> runs;
    for (int r : rows) runs.emplace_back(r, r);
    EXPECT_EQ(nab_windows_from_runs(s.rows(), runs), built) << it.key();
    compared += static_cast<long>(built.size());
  }
  EXPECT_EQ(labels, 120);
  EXPECT_EQ(compared, 116);
}

// A label column's runs: NAB's width int(0.10 n / k) for k runs, widened on both sides by its half, the
// first dropped inside the probationary part, overlapping ones merged, a chain of three as well.
TEST(Labels, NabWindowsAroundLabeledRuns) {
  using W = std::vector<std::pair<int, int>>;
  EXPECT_EQ(nab_windows_from_runs(1000, {{500, 500}}), (W{{450, 550}}));
  EXPECT_EQ(nab_windows_from_runs(1000, {{500, 509}}), (W{{450, 559}})) << "a run keeps its length";
  EXPECT_EQ(nab_windows_from_runs(1000, {{990, 999}}), (W{{940, 999}})) << "clipped at the end";
  EXPECT_EQ(nab_windows_from_runs(1000, {{100, 100}, {600, 600}}), (W{{575, 625}}))
      << "h = 25; the first starts before P = 150";
  EXPECT_EQ(nab_windows_from_runs(1000, {{400, 400}, {420, 420}, {440, 440}}), (W{{384, 456}}))
      << "h = 16: three overlapping windows merge into one";
  EXPECT_EQ(nab_windows_from_points(1000, {400, 420, 440}), (W{{384, 436}, {424, 456}}))
      << "NAB's own loop leaves the third";
  EXPECT_TRUE(nab_windows_from_runs(1000, {}).empty());
}

}  // namespace
}  // namespace lstmad

namespace lstmad {
namespace {

CsvColumns generic(const std::string& time, const std::string& label, std::vector<std::string> values = {}) {
  CsvColumns c;
  c.nab = false;
  c.time = time;
  c.label = label;
  c.values = std::move(values);
  return c;
}

// Expects a DataError on line `line` of g.csv containing `needle` for the generic layout `cols`.
void expect_generic_error(const std::string& text, const CsvColumns& cols, long line,
                          const std::string& needle) {
  try {
    parse_series_csv(text, "g.csv", "c/g.csv", nullptr, cols);
    ADD_FAILURE() << "accepted:\n" << text;
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(CsvGeneric, NamedColumnsLabelRunsAndEpochSeconds) {
  // Yahoo S5's A1 layout, columns moved around: a label column whose runs of 1 are the anomalies.
  const Series s = parse_series_csv(
      "value,is_anomaly,timestamp,extra\n"
      "1.5,0,1416722400,9\n"
      "2.5,1,1416726000,9\n"
      "3.5,1,1416729600,9\n"
      "4.5,0,1416733200,9\n"
      "5.5,2,1416736800,9\n",
      "g.csv", "c/g.csv", nullptr, generic("timestamp", "is_anomaly"));
  EXPECT_EQ(s.dims, 2) << "value and extra; the time and label columns are not values";
  EXPECT_EQ(s.values, (std::vector<double>{1.5, 9, 2.5, 9, 3.5, 9, 4.5, 9, 5.5, 9}));
  ASSERT_EQ(s.windows.size(), 2u);
  EXPECT_EQ(s.windows[0].start, 1);
  EXPECT_EQ(s.windows[0].end, 2);
  EXPECT_EQ(s.windows[1].start, 4) << "any nonzero label is anomalous";
  EXPECT_EQ(s.windows[1].end, 4);
  EXPECT_EQ(s.windows[0].start_text, "1416726000");
  EXPECT_EQ(s.time_us[1] - s.time_us[0], 3600LL * 1000000) << "seconds since 1970";
  EXPECT_EQ(format_timestamp_us(s.time_us[0]), "2014-11-23 06:00:00");
}

// data.csv.label_windows "nab": the label column's runs get NAB's windows, edges named by their rows'
// timestamps; "rows" keeps the runs themselves.
TEST(CsvGeneric, NabLabelWindowsWidenTheLabeledRuns) {
  std::string text = "timestamp,value,is_anomaly\n";
  for (int i = 0; i < 1000; ++i)
    text +=
        std::to_string(1416722400 + 60 * i) + ",1," + ((i >= 500 && i <= 504) || i == 800 ? "1" : "0") + "\n";
  CsvColumns cols = generic("timestamp", "is_anomaly");
  const Series runs = parse_series_csv(text, "g.csv", "c/g.csv", nullptr, cols);
  ASSERT_EQ(runs.windows.size(), 2u);
  EXPECT_EQ(std::make_pair(runs.windows[0].start, runs.windows[0].end), std::make_pair(500, 504));
  EXPECT_EQ(std::make_pair(runs.windows[1].start, runs.windows[1].end), std::make_pair(800, 800));
  cols.label_windows = "nab";
  const Series nab = parse_series_csv(text, "g.csv", "c/g.csv", nullptr, cols);
  ASSERT_EQ(nab.windows.size(), 2u);  // width int(0.10 * 1000 / 2) = 50, h = 25
  EXPECT_EQ(std::make_pair(nab.windows[0].start, nab.windows[0].end), std::make_pair(475, 529));
  EXPECT_EQ(std::make_pair(nab.windows[1].start, nab.windows[1].end), std::make_pair(775, 825));
  EXPECT_EQ(nab.windows[0].start_text, std::to_string(1416722400 + 60 * 475));
  EXPECT_EQ(nab.windows[1].end_text, std::to_string(1416722400 + 60 * 825));
}

// data.csv.anomaly_labels: text labels (SWaT's "Normal"/"Attack", with its misspelt "A ttack") or a
// number that marks the normal rows (WADI's 1 normal, -1 attack) name the anomalous values; any other value
// is normal. Without the list a text label is refused, naming the key that takes it.
TEST(CsvGeneric, AnomalyLabelsNameTheAnomalousValues) {
  CsvColumns swat = generic("Timestamp", "Normal/Attack");
  swat.anomaly_labels = {"Attack", "A ttack"};
  const std::string text =
      "Timestamp,FIT101,Normal/Attack\n"
      "2015-12-28T10:00:00,1.5,Normal\n"
      "2015-12-28T10:00:01,1.6,Attack\n"
      "2015-12-28T10:00:02,1.7,A ttack\n"
      "2015-12-28T10:00:03,1.8,Normal\n"
      "2015-12-28T10:00:04,1.9,\"Attack\"\n";
  const Series s = parse_series_csv(text, "g.csv", "c/g.csv", nullptr, swat);
  ASSERT_EQ(s.windows.size(), 2u);
  EXPECT_EQ(std::make_pair(s.windows[0].start, s.windows[0].end), std::make_pair(1, 2));
  EXPECT_EQ(std::make_pair(s.windows[1].start, s.windows[1].end), std::make_pair(4, 4)) << "quoted text";
  CsvColumns wadi = generic("Time", "Attack");
  wadi.anomaly_labels = {"-1"};
  const Series w =
      parse_series_csv("Time,x,Attack\n0,1,1\n1,2,-1\n2,3,-1\n3,4,1\n", "w.csv", "c/w.csv", nullptr, wadi);
  ASSERT_EQ(w.windows.size(), 1u);
  EXPECT_EQ(std::make_pair(w.windows[0].start, w.windows[0].end), std::make_pair(1, 2));
  expect_generic_error(text, generic("Timestamp", "Normal/Attack"), 2, "data.csv.anomaly_labels");
}

TEST(CsvGeneric, IsoTimesChosenValuesAndNoTimeColumn) {
  const std::string text =
      "time,a,b,label\n"
      "2020-01-01T00:00:00Z,1,10,0\n"
      "2020-01-01T00:05:00Z,2,20,0\n";
  // The listed value columns, in the listed order: b is predicted.
  Series s = parse_series_csv(text, "g.csv", "c/g.csv", nullptr, generic("time", "label", {"b", "a"}));
  EXPECT_EQ(s.values, (std::vector<double>{10, 1, 20, 2}));
  EXPECT_EQ(s.time_us[1] - s.time_us[0], 300LL * 1000000);
  EXPECT_TRUE(s.windows.empty());
  EXPECT_FALSE(s.stand_in_times);
  // No time column: rows one second apart; the time-like column is then just skipped when not listed.
  s = parse_series_csv(text, "g.csv", "c/g.csv", nullptr, generic("", "", {"a"}));
  EXPECT_EQ(s.values, (std::vector<double>{1, 2}));
  EXPECT_EQ(s.timestamps[1], "1970-01-01 00:00:01");
  EXPECT_TRUE(s.stand_in_times) << "such times must not feed calendar inputs";
}

// data.csv.time_format: fixed patterns (compact dates, day-first dates, fractions) and epoch milliseconds;
// a row that does not match is an error naming the pattern, and a bad pattern names what is wrong.
TEST(CsvGeneric, TimeFormats) {
  CsvColumns c = generic("t", "");
  c.time_format = "%Y%m%d";
  Series s = parse_series_csv("t,v\n20200131,1\n20200201,2\n20200301,3\n", "g.csv", "c/g.csv", nullptr, c);
  EXPECT_EQ(s.time_us[1] - s.time_us[0], 86400LL * 1000000);
  EXPECT_EQ(s.time_us[2] - s.time_us[1], 29 * 86400LL * 1000000) << "2020 is a leap year";
  EXPECT_EQ(format_timestamp_us(s.time_us[0]), "2020-01-31 00:00:00");
  c.time_format = "%d/%m/%Y %H:%M";
  s = parse_series_csv("t,v\n31/12/2019 23:30,1\n01/01/2020 00:15,2\n", "g.csv", "c/g.csv", nullptr, c);
  EXPECT_EQ(format_timestamp_us(s.time_us[0]), "2019-12-31 23:30:00");
  EXPECT_EQ(s.time_us[1] - s.time_us[0], 45 * 60LL * 1000000);
  c.time_format = "%H:%M:%S.%f";
  s = parse_series_csv("t,v\n12:00:00.5,1\n12:00:01.25,2\n", "g.csv", "c/g.csv", nullptr, c);
  EXPECT_EQ(s.time_us[1] - s.time_us[0], 750000);
  EXPECT_EQ(format_timestamp_us(s.time_us[0]), "1970-01-01 12:00:00.500000")
      << "the date defaults to 1970-01-01";
  c.time_format = "epoch_ms";
  s = parse_series_csv("t,v\n1577836800000,1\n1577836800250,2\n", "g.csv", "c/g.csv", nullptr, c);
  EXPECT_EQ(format_timestamp_us(s.time_us[0]), "2020-01-01 00:00:00");
  EXPECT_EQ(s.time_us[1] - s.time_us[0], 250000);
  // In the automatic form, 20200131 would be seconds since 1970 (an August day of 1970).
  c.time_format = "auto";
  s = parse_series_csv("t,v\n20200131,1\n", "g.csv", "c/g.csv", nullptr, c);
  EXPECT_EQ(format_timestamp_us(s.time_us[0]).substr(0, 7), "1970-08");

  c.time_format = "%Y%m%d";
  expect_generic_error("t,v\n20200131,1\n20200230,2\n", c, 3,
                       "bad timestamp \"20200230\", expected the pattern \"%Y%m%d\"");
  expect_generic_error("t,v\n2020013,1\n", c, 2, "expected the pattern");
  expect_generic_error("t,v\n202001311,1\n", c, 2, "expected the pattern");
  c.time_format = "%Y-%q";
  expect_generic_error("t,v\n1,2\n", c, 0, "unknown directive %q");
  EXPECT_NE(csv_time_format_error("%Y%Y").find("%Y given twice"), std::string::npos);
  EXPECT_NE(csv_time_format_error("date").find("no directive"), std::string::npos);
  EXPECT_NE(csv_time_format_error("%Y%").find("lone %"), std::string::npos);
  EXPECT_EQ(csv_time_format_error("%Y%%%m"), "");
  c.time_format = "%Y%%%m";
  s = parse_series_csv("t,v\n2021%07,1\n", "g.csv", "c/g.csv", nullptr, c);
  EXPECT_EQ(format_timestamp_us(s.time_us[0]), "2021-07-01 00:00:00");
}

TEST(CsvGeneric, BadLayoutsNameTheFileAndLine) {
  expect_generic_error("t,v\n1,2\n", generic("time", ""), 1, "no time column \"time\"");
  expect_generic_error("t,v\n1,2\n", generic("t", "lab"), 1, "no label column \"lab\"");
  expect_generic_error("t,v\n1,2\n", generic("t", "", {"w"}), 1, "no value column \"w\"");
  expect_generic_error("t,v\n1,2\n", generic("t", "", {"v", "v"}), 1, "listed twice");
  // A named column that the header holds twice: which one is meant is not for the reader to guess.
  expect_generic_error("t,v,v\n1,2,3\n", generic("t", "", {"v"}), 1,
                       "the header names the value column \"v\" twice (columns 2 and 3)");
  expect_generic_error("t,v,t\n1,2,3\n", generic("t", ""), 1,
                       "names the time column \"t\" twice (columns 1 and 3)");
  expect_generic_error("t,l,v,l\n1,0,2,0\n", generic("t", "l"), 1, "names the label column \"l\" twice");
  // Every other column read as a value: two of one name are two inputs, as the file has them.
  EXPECT_EQ(parse_series_csv("t,v,v\n1,2,3\n2,4,5\n", "g.csv", "c/g.csv", nullptr, generic("t", "")).dims, 2);
  expect_generic_error("t,v\n1,2\n", generic("t", "t"), 1, "also the time column");
  expect_generic_error("t,l\n1,0\n", generic("t", "l"), 1, "no value column besides");
  expect_generic_error("t,v,l\n1,2,0\n2,3,yes\n", generic("t", "l"), 3, "label \"yes\" is not a number");
  expect_generic_error("t,v\n1,2\nnoon,3\n", generic("t", ""), 3, "bad timestamp \"noon\"");
  expect_generic_error("t,v\n1,2\n2\n", generic("t", ""), 3, "expected 2 columns, found 1");
  // Column names may be quoted (pandas' to_csv with quoting=csv.QUOTE_ALL).
  const Series q = parse_series_csv("\"t\",\"v\",\"l\"\n\"1\",\"2\",\"0\"\n\"2\",\"3\",\"1\"\n", "g.csv",
                                    "c/g.csv", nullptr, generic("t", "l"));
  EXPECT_EQ(q.values, (std::vector<double>{2, 3}));
  ASSERT_EQ(q.windows.size(), 1u);
  EXPECT_EQ(q.windows[0].start, 1);
  // The NAB layout stays strict: its time column first, in NAB's format only.
  expect_data_error("timestamp,value\n1416722400,2\n", 2, "expected YYYY-MM-DD HH:MM:SS");
}

// A folder of labeled CSV files (Yahoo S5's layout) runs end to end: ids keep their folder, a file at the
// top gets the folder's name, a file with a bad label fails its own cell only, and the labeled anomaly is
// scored (event recall in results.csv).
TEST(CsvGeneric, CorpusRunsEndToEnd) {
  if (!std::filesystem::exists(test::lstmad_binary())) GTEST_SKIP() << "lstmad binary not built";
  test::TempDir dir("csv-corpus");
  std::filesystem::create_directories(dir.file("data/A1Benchmark"));
  auto write = [&](const std::string& rel, int n, int a, int b) {
    std::string t = "timestamp,value,is_anomaly\n";
    for (int i = 0; i < n; ++i)
      t += std::to_string(1416722400 + 3600 * i) + "," +
           std::to_string(std::sin(2 * M_PI * i / 30) + (i >= a && i <= b ? 4 : 0)) + "," +
           (i >= a && i <= b ? "1" : "0") + "\n";
    test::write_text(dir.file("data/" + rel), t);
  };
  write("A1Benchmark/real_1.csv", 900, 700, 705);
  write("top.csv", 800, 600, 610);
  test::write_text(dir.file("data/A1Benchmark/bad.csv"), "timestamp,value,is_anomaly\n1,2,x\n");
  std::string out;
  const int rc = test::run_command(
      test::lstmad_binary() + " -q run " + std::string(LSTMAD_SOURCE_DIR) +
          "/configs/quickstart.json --set data.format=csv --set data.root=" + dir.file("data") +
          " --set data.csv.label_column=is_anomaly --set data.train_fraction=0.4"
          " --set eval.nab=false --set train.epochs=2 --set model.hidden=8 --out " +
          dir.file("run") + " -j 2 2>&1",
      &out);
  EXPECT_EQ(rc, 1) << "one cell failed\n" << out;
  const auto rows = test::read_results_csv(dir.file("run/results.csv"));
  ASSERT_EQ(rows.size(), 3u) << out;
  std::map<std::string, std::map<std::string, std::string>> by;
  for (const auto& r : rows) by[r.at("series")] = r;
  ASSERT_TRUE(by.count("A1Benchmark/bad.csv") && by.count("A1Benchmark/real_1.csv") &&
              by.count("data/top.csv"))
      << out;
  EXPECT_EQ(by["A1Benchmark/bad.csv"].at("status"), "ERROR");
  EXPECT_NE(by["A1Benchmark/bad.csv"].at("error").find("bad.csv:2: label"), std::string::npos);
  for (const char* id : {"A1Benchmark/real_1.csv", "data/top.csv"}) {
    EXPECT_EQ(by[id].at("status"), "OK") << id;
    EXPECT_EQ(std::stod(by[id].at("event_recall")), 1.0) << id << ": a jump of four amplitudes is found";
  }
  EXPECT_EQ(by["A1Benchmark/real_1.csv"].at("train_rows"), "360") << "data.train_fraction 0.4 of 900 rows";

  // Without the broken file, NAB's scoring runs, here on NAB's windows around the labeled runs
  // (data.csv.label_windows). The root given as "data/" still names the top-level file's category "data". A
  // file two folders deep keeps both in its id, and the report finds its training part by that id.
  std::filesystem::create_directories(dir.file("data/A1Benchmark/deep"));
  write("A1Benchmark/deep/real_2.csv", 1000, 800, 804);
  ASSERT_EQ(test::run_command(
                test::lstmad_binary() + " -q run " + std::string(LSTMAD_SOURCE_DIR) +
                    "/configs/quickstart.json --set data.format=csv --set data.root=" + dir.file("data/") +
                    " --set 'data.files=[\"*/real_1.csv\",\"data/*\",\"A1Benchmark/deep/*\"]'"
                    " --set data.csv.label_column=is_anomaly --set data.csv.label_windows=nab"
                    " --set data.train_fraction=0.4 --set train.epochs=2 --set model.hidden=8 --out " +
                    dir.file("nab") + " -j 2 2>&1",
                &out),
            0)
      << out;
  std::set<std::string> ran;
  for (const auto& r : test::read_results_csv(dir.file("nab/results.csv"))) ran.insert(r.at("series"));
  EXPECT_EQ(ran,
            (std::set<std::string>{"A1Benchmark/real_1.csv", "A1Benchmark/deep/real_2.csv", "data/top.csv"}));
  const std::string scores = files::read(dir.file("nab/nab_scores.json"));
  EXPECT_NE(scores.find("\"standard\""), std::string::npos) << scores;
  // real_1's run of rows 700-705 in 900 rows: NAB's window, half-width int(0.10 * 900) / 2 = 45.
  const auto scored = test::read_csv(dir.file("nab/nab/lstmad/A1Benchmark/lstmad_real_1.csv"));
  ASSERT_EQ(scored.size(), 901u);
  ASSERT_EQ(scored[0].back(), "label");
  for (size_t i = 1; i < scored.size(); ++i) {
    const int row = static_cast<int>(i) - 1;
    EXPECT_EQ(scored[i].back(), row >= 655 && row <= 750 ? "1" : "0") << "row " << row;
  }
  // The plots' titles are the ids, and each training part drawn is its cell's 0.4 of the rows (40% of the
  // 900-pixel plot; the fallback, NAB's probation, would draw 15%).
  const std::string html = files::read(dir.file("nab/report.html"));
  for (const char* id : {"A1Benchmark/deep/real_2.csv", "A1Benchmark/real_1.csv"}) {
    const std::size_t fig = html.find(std::string("<figcaption>") + id + "</figcaption>");
    ASSERT_NE(fig, std::string::npos) << id;
    const std::string rect = "<rect x=\"40\" y=\"5\" width=\"";
    const std::size_t r = html.find(rect, fig);
    ASSERT_NE(r, std::string::npos) << id;
    EXPECT_NEAR(std::stod(html.substr(r + rect.size(), 12)), 0.4 * 900, 1e-6)
        << id << ": the training part drawn";
  }
}

// What marks a run folder: its config.json with the claim file or cells/. A data set's own config.json, or
// a config.json beside a manifest.json, is no run, and its files stay series.
TEST(CsvGeneric, ARunFolderIsItsConfigBesideItsClaimOrCells) {
  test::TempDir tmp("holds-run");
  test::write_text(tmp.file("claimed/config.json"), "{}");
  test::write_text(tmp.file("claimed/.lock"), "1\n");
  test::write_text(tmp.file("finished/config.json"), "{}");
  std::filesystem::create_directories(tmp.file("finished/cells"));
  test::write_text(tmp.file("dataset/config.json"), "{}");
  test::write_text(tmp.file("dataset/manifest.json"), "{}");
  test::write_text(tmp.file("bare/.lock"), "");
  std::filesystem::create_directories(tmp.file("bare/cells"));
  EXPECT_TRUE(holds_run(tmp.file("claimed")));
  EXPECT_TRUE(holds_run(tmp.file("finished")));
  EXPECT_FALSE(holds_run(tmp.file("dataset")));
  EXPECT_FALSE(holds_run(tmp.file("bare"))) << "no config.json";
}

// A run folder inside its own data root (--out below data.root, or runs kept beside the data) holds CSV
// files, results.csv and the NAB-format scores, that are outputs, not series: a resume, and any later run
// on that root, reads the same series as the first run did.
TEST(CsvGeneric, RunFoldersInsideTheDataRootAreNoSeries) {
  if (!std::filesystem::exists(test::lstmad_binary())) GTEST_SKIP() << "lstmad binary not built";
  test::TempDir dir("csv-run-inside");
  for (const char* rel : {"d/A/s1.csv", "d/top.csv"}) {
    std::string t = "timestamp,value,is_anomaly\n";
    for (int i = 0; i < 400; ++i)
      t += std::to_string(1416722400 + 60 * i) + "," +
           std::to_string(std::sin(i / 5.0) + (i == 300 ? 5 : 0)) + "," + (i == 300 ? "1" : "0") + "\n";
    test::write_text(dir.file(rel), t);
  }
  const std::string run = test::lstmad_binary() + " run " + std::string(LSTMAD_SOURCE_DIR) +
                          "/configs/quickstart.json --set data.format=csv --set data.root=" + dir.file("d") +
                          " --set data.csv.label_column=is_anomaly --set data.train_fraction=0.4"
                          " --set train.epochs=1 --set model.hidden=8 -j 2 ";
  const std::set<std::string> series{"A/s1.csv", "d/top.csv"};
  auto series_of = [&](const std::string& run_dir) {
    std::set<std::string> out;
    for (const auto& r : test::read_results_csv(run_dir + "/results.csv")) out.insert(r.at("series"));
    return out;
  };
  std::string out;
  ASSERT_EQ(test::run_command(run + "--out " + dir.file("d/runs/first") + " 2>&1", &out), 0) << out;
  EXPECT_EQ(series_of(dir.file("d/runs/first")), series);
  ASSERT_TRUE(std::filesystem::exists(dir.file("d/runs/first/nab/lstmad/A/lstmad_s1.csv"))) << out;
  EXPECT_EQ(out.find("hidden file"), std::string::npos) << "the run folder's own .lock is not counted\n"
                                                        << out;

  ASSERT_EQ(
      test::run_command(test::lstmad_binary() + " run --resume " + dir.file("d/runs/first") + " 2>&1", &out),
      0)
      << out;
  EXPECT_EQ(series_of(dir.file("d/runs/first")), series) << out;
  EXPECT_EQ(out.find("added"), std::string::npos) << "no input was added\n" << out;

  ASSERT_EQ(test::run_command(run + "--out " + dir.file("second") + " 2>&1", &out), 0) << out;
  EXPECT_EQ(series_of(dir.file("second")), series);
  EXPECT_NE(out.find("1 folder(s) holding an lstmad run (runs/first) are not series"), std::string::npos)
      << out;

  // The root itself as the run folder cannot be left out of its own listing: refused, and nothing written.
  EXPECT_NE(test::run_command(run + "--out " + dir.file("d") + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("is the run folder itself"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir.file("d/config.json"))) << out;
  EXPECT_FALSE(std::filesystem::exists(dir.file("d/results.csv"))) << out;
}

// A column of labels or scores taken as a model input by default would give the model the answers: a
// NAB-layout file with NAB's `label` column (add_labels_to_data.py), a result file's `anomaly_score`, or a
// Yahoo file's `is_anomaly` read without data.csv.label_column, is refused naming the column; listed in
// data.csv.value_columns, or as the label column, it reads.
TEST(CsvGeneric, ALabelOrScoreColumnIsNoInputUnlessNamedOne) {
  const std::string nab = "timestamp,value,label\n2015-01-01 00:00:00,1.5,0\n2015-01-01 00:05:00,2.5,1\n";
  try {
    parse_series_csv(nab, "n.csv", "c/n.csv");
    ADD_FAILURE() << "a NAB-layout file with a label column was read with the labels as an input";
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 1) << e.what();
    EXPECT_NE(std::string(e.what()).find("column \"label\" holds labels or scores"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("data.format csv"), std::string::npos) << e.what();
  }
  EXPECT_THROW(
      parse_series_csv("timestamp,value, Anomaly_Score\n2015-01-01 00:00:00,1,0\n", "n.csv", "c/n.csv"),
      DataError);
  const std::string yahoo = "timestamp,value,is_anomaly\n1416722400,1.5,0\n1416726000,2.5,1\n";
  expect_generic_error(yahoo, generic("timestamp", ""), 1, "data.csv.value_columns names the inputs");
  EXPECT_EQ(parse_series_csv(yahoo, "g.csv", "c/g.csv", nullptr, generic("timestamp", "is_anomaly")).dims, 1);
  const Series kept =
      parse_series_csv(yahoo, "g.csv", "c/g.csv", nullptr, generic("timestamp", "", {"value", "is_anomaly"}));
  EXPECT_EQ(kept.dims, 2) << "named as an input, it is one";
}

// Fields are separated by commas only: a file separated by semicolons (or tabs) reads as one column, and
// the refusal says why instead of only that the header lacks a column.
TEST(CsvGeneric, AHeaderOfOneFieldHoldingSemicolonsSaysCommasSeparate) {
  for (const bool nab : {true, false}) {
    CsvColumns cols = nab ? CsvColumns{} : generic("timestamp", "");
    try {
      parse_series_csv("timestamp;value\n2015-01-01 00:00:00;1\n", "s.csv", "c/s.csv", nullptr, cols);
      ADD_FAILURE() << "accepted";
    } catch (const DataError& e) {
      EXPECT_EQ(e.line(), 1) << e.what();
      EXPECT_NE(std::string(e.what()).find("fields are separated by commas only"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace lstmad
