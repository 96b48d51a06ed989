// TimestampTexts: every text comes back as pushed (empty and long ones, before and after the buffer grows
// or is cleared), equality is that of the text sequences, and the CSV reader keeps each row's time field
// exactly as the file writes it, whether its texts are of one length or grow past the first row's.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/csv_reader.hpp"
#include "data/series.hpp"
#include "data/timestamp_texts.hpp"
#include "support/test_support.hpp"

namespace lstmad {
namespace {

// Texts of lengths 0 to ~1000: empty ones, NAB-length ones, and long ones with commas, quotes and NULs.
std::vector<std::string> mixed_texts(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    switch (i % 5) {
      case 0:
        out.emplace_back();
        break;
      case 1:
        out.push_back("2014-04-01 00:" + std::to_string(10 + i % 50) + ":00");
        break;
      case 2:
        out.push_back(std::to_string(i));
        break;
      case 3: {
        std::string s(static_cast<size_t>(i % 1000), 'a');
        for (size_t k = 0; k < s.size(); k += 7) s[k] = static_cast<char>("\0,\"x"[k % 4]);
        out.push_back(s);
        break;
      }
      default:
        out.push_back(std::string(1, static_cast<char>(i % 256)));
    }
  }
  return out;
}

void expect_texts(const TimestampTexts& t, const std::vector<std::string>& want) {
  ASSERT_EQ(t.size(), want.size());
  EXPECT_EQ(t.empty(), want.empty());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(t[i], want[i]) << "row " << i;
}

TEST(TimestampTexts, StartsEmpty) {
  const TimestampTexts t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t, TimestampTexts());
}

TEST(TimestampTexts, EveryTextComesBackAsPushed) {
  const std::vector<std::string> want = mixed_texts(5000);
  TimestampTexts t;  // no reserve: the buffers grow many times
  for (size_t i = 0; i < want.size(); ++i) {
    t.push_back(want[i]);
    ASSERT_EQ(t.size(), i + 1);
    ASSERT_EQ(t.back(), want[i]) << "row " << i;
    // The first rows still read right wherever the buffer has moved to.
    ASSERT_EQ(t[0], want[0]);
    ASSERT_EQ(t[i / 2], want[i / 2]) << "row " << i / 2 << " after " << i + 1 << " texts";
  }
  expect_texts(t, want);
  EXPECT_EQ(t.front(), want.front());
  EXPECT_EQ(t.back(), want.back());
}

TEST(TimestampTexts, EmptyTextsKeepTheirRows) {
  TimestampTexts t;
  t.push_back("");
  EXPECT_FALSE(t.empty()) << "one empty text is one row";
  t.push_back("");
  t.push_back("2014-04-01 00:00:00");
  t.push_back("");
  expect_texts(t, {"", "", "2014-04-01 00:00:00", ""});
}

TEST(TimestampTexts, ReserveKeepsTheTextsAndClearEmptiesThem) {
  const std::vector<std::string> want = mixed_texts(300);
  TimestampTexts t;
  t.reserve(4, 10);  // far too small: the rest grows past it
  for (const auto& s : want) t.push_back(s);
  expect_texts(t, want);
  t.reserve(want.size() * 4, 1 << 20);  // larger: moves the buffers, keeps the texts
  expect_texts(t, want);
  t.reserve(0, 0);  // smaller than held: changes nothing
  expect_texts(t, want);

  t.clear();
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t, TimestampTexts());
  // Filled again after clear, nothing of the old texts shows through.
  t.push_back("b");
  t.push_back("");
  t.push_back("1970-01-01 00:00:01");
  expect_texts(t, {"b", "", "1970-01-01 00:00:01"});
}

TEST(TimestampTexts, EqualityIsThatOfTheTextSequences) {
  const auto make = [](const std::vector<std::string>& texts) {
    TimestampTexts t;
    for (const auto& s : texts) t.push_back(s);
    return t;
  };
  EXPECT_EQ(make({"ab", "", "c"}), make({"ab", "", "c"}));
  TimestampTexts reserved;
  reserved.reserve(100, 1000);
  for (const char* s : {"ab", "", "c"}) reserved.push_back(s);
  EXPECT_EQ(reserved, make({"ab", "", "c"})) << "capacity is no part of the value";
  // The same characters split into other rows are other texts.
  EXPECT_NE(make({"ab", "c"}), make({"a", "bc"}));
  EXPECT_NE(make({"ab", "c"}), make({"ab", "c", ""}));
  EXPECT_NE(make({"ab", "c"}), make({"ab", "d"}));
  EXPECT_NE(make({""}), TimestampTexts());
  const TimestampTexts copy = make({"x", "yz"});
  TimestampTexts moved = copy;
  EXPECT_EQ(moved, copy);
  const TimestampTexts taken = std::move(moved);
  EXPECT_EQ(taken, copy);
}

// The first field of each data line of a CSV text, as written (no quotes in these files).
std::vector<std::string> first_fields(const std::string& text) {
  std::vector<std::string> out;
  size_t at = text.find('\n') + 1;  // past the header
  while (at < text.size()) {
    const size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end - at);
    out.push_back(line.substr(0, line.find(',')));
    at = end == std::string::npos ? text.size() : end + 1;
  }
  return out;
}

TEST(TimestampTexts, CsvReaderKeepsEachRowsTimeText) {
  test::TempDir dir("timestamp_texts");
  // NAB's layout: texts of 19 chars, then longer ones with fractions of a second, past the room the
  // first row's length reserves.
  std::string nab = "timestamp,value\n";
  for (int i = 0; i < 20000; ++i) {
    char ts[48];
    const int frac_digits = i < 10000 ? 0 : 1 + i % 6;
    std::snprintf(ts, sizeof ts, "2014-%02d-%02d %02d:%02d:%02d", 1 + i / 1440 % 12, 1 + i / 60 % 28,
                  i / 60 % 24, i % 60, (i * 7) % 60);
    std::string t = ts;
    if (frac_digits) t += "." + std::string("123456").substr(0, static_cast<size_t>(frac_digits));
    nab += t + "," + std::to_string(i % 97) + "\n";
  }
  test::write_text(dir.file("nab.csv"), nab);
  const Series s = read_series_csv(dir.file("nab.csv"), "cat/nab.csv");
  ASSERT_EQ(s.rows(), 20000);
  expect_texts(s.timestamps, first_fields(nab));

  // A generic layout with epoch seconds of growing length (1 to 9 digits), CRLF line ends (the \r is no
  // part of the text) and no final newline.
  std::string epoch = "time,value";
  std::vector<std::string> want;
  for (long long t = 1; t < 1000000000; t += 1 + t / 100) {
    want.push_back(std::to_string(t));
    epoch += "\r\n" + want.back() + "," + std::to_string(want.size());
  }
  ASSERT_EQ(want.back().size(), 9u);
  test::write_text(dir.file("epoch.csv"), epoch);
  CsvColumns generic;
  generic.nab = false;
  generic.time = "time";
  const Series g = read_series_csv(dir.file("epoch.csv"), "cat/epoch.csv", nullptr, generic);
  expect_texts(g.timestamps, want);
  EXPECT_EQ(g.time_us[1], 2LL * 1000000);
}

}  // namespace
}  // namespace lstmad
