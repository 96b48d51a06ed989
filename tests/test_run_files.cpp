// Reading back what a run wrote (cells/<id>.json, and the typed JSON getters every reader of a run folder
// uses): a file that was edited or damaged is refused with the file and the key of the bad value named,
// never with nlohmann's bare "type must be number", and never read as a silently truncated number.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "experiments/results.hpp"
#include "support/test_support.hpp"

namespace {

using json = nlohmann::json;
const std::string kFile = "run/cells/abc.json";

// The message of the DataError that `f` throws, or "" (and a test failure) when it throws none.
std::string data_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const lstmad::DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

TEST(JsonGet, IntegersAreCheckedAgainstTheirTypesRange) {
  const json doc = json::parse(R"({"big": 10000000000, "neg": -3, "frac": 2.5, "ok": 7, "text": "7"})");
  EXPECT_EQ(lstmad::json_get<int>(doc, {"ok"}, kFile), 7);
  EXPECT_EQ(lstmad::json_get<int64_t>(doc, {"big"}, kFile), 10000000000LL);
  EXPECT_EQ(lstmad::json_get<int>(doc, {"neg"}, kFile), -3);
  // nlohmann's get<int>() would give 1410065408 and get<uint64_t>() 18446744073709551613.
  EXPECT_EQ(data_error([&] { lstmad::json_get<int>(doc, {"big"}, kFile); }),
            kFile + ": big: expected an integer from " + std::to_string(std::numeric_limits<int>::min()) + " to " +
                std::to_string(std::numeric_limits<int>::max()) + ", got 10000000000");
  EXPECT_EQ(data_error([&] { lstmad::json_get<uint64_t>(doc, {"neg"}, kFile); }),
            kFile + ": neg: expected an integer from 0 to 18446744073709551615, got -3");
  EXPECT_EQ(data_error([&] { lstmad::json_get<int>(doc, {"frac"}, kFile); }),
            kFile + ": frac: expected an integer, got 2.5");
  EXPECT_EQ(data_error([&] { lstmad::json_get<int>(doc, {"text"}, kFile); }),
            kFile + ": text: expected an integer, got \"7\"");
  EXPECT_DOUBLE_EQ(lstmad::json_get<double>(doc, {"frac"}, kFile), 2.5);
  EXPECT_DOUBLE_EQ(lstmad::json_get<double>(doc, {"ok"}, kFile), 7.0);
}

TEST(JsonGet, ListsNameTheElementAndObjectsTheKeyOnTheWay) {
  const json doc = json::parse(R"({"a": {"b": [1.5, 2, "x"], "c": 4}, "names": ["p", "q"]})");
  EXPECT_EQ(lstmad::json_get<std::vector<std::string>>(doc, {"names"}, kFile),
            (std::vector<std::string>{"p", "q"}));
  EXPECT_EQ(data_error([&] { lstmad::json_get<std::vector<double>>(doc, {"a", "b"}, kFile); }),
            kFile + ": a.b[2]: expected a number, got \"x\"");
  EXPECT_EQ(data_error([&] { lstmad::json_get<std::vector<double>>(doc, {"a", "c"}, kFile); }),
            kFile + ": a.c: expected a list, got 4");
  // A number where an object belongs is named as such, not as a missing key below it.
  EXPECT_EQ(data_error([&] { lstmad::json_get<int>(doc, {"a", "c", "d"}, kFile); }),
            kFile + ": a.c: expected an object, got 4");
  EXPECT_EQ(data_error([&] { lstmad::json_get<int>(json::array(), {"a"}, kFile); }),
            kFile + ": the document: expected an object, got []");
  EXPECT_EQ(data_error([&] { lstmad::json_get<int>(doc, {"a", "e"}, kFile); }), kFile + ": a.e: missing");
  // Long values are cut short in the message.
  const json long_list = {{"v", std::vector<int>(1000, 1)}};
  const std::string said = data_error([&] { lstmad::json_get<int>(long_list, {"v"}, kFile); });
  EXPECT_LT(said.size(), 200u) << said;
  EXPECT_NE(said.find("[1,1,1,"), std::string::npos) << said;
}

TEST(JsonGet, AFallbackStandsOnlyForAnAbsentKey) {
  const json doc = json::parse(R"({"a": {"n": "x"}})");
  EXPECT_EQ(lstmad::json_get_or<int>(doc, {"a", "m"}, kFile, -1), -1);
  EXPECT_EQ(data_error([&] { lstmad::json_get_or<int>(doc, {"a", "n"}, kFile, -1); }),
            kFile + ": a.n: expected an integer, got \"x\"");
  EXPECT_EQ(data_error([&] { lstmad::json_get_or<int>(json::array(), {"n"}, kFile, -1); }),
            kFile + ": the document: expected an object, got []");
}

// nlohmann's parser stops at a NUL byte as at the end of the text, so "{...}\0garbage" would read as the
// object before it (and a walk of the rest could throw nlohmann's own exceptions): refused and located.
TEST(JsonText, ANulByteIsRefusedWhereItIs) {
  const std::string text = std::string("{\"a\": 1,\n \"b\": 2}") + std::string(3, '\0') + "{\"\xff\": 1e999";
  EXPECT_EQ(data_error([&] { lstmad::parse_json_text(text, kFile); }),
            kFile + ":2: a NUL byte, which JSON text cannot hold (a damaged file?)");
  EXPECT_EQ(lstmad::parse_json_text("{\"a\": \"\\u0000\"}", kFile).at("a").get<std::string>(),
            std::string(1, '\0'))
      << "an escaped NUL in a string is JSON";
}

lstmad::CellResult sample_cell(bool ensemble) {
  lstmad::CellResult r;
  r.id = "abc";
  r.index = 3;
  r.setting = 1;
  r.detector = "lstmad";
  r.series = "cat/file.csv";
  r.seed = 18000000000000000000ULL;  // above int64's range: the seed is unsigned
  r.status = lstmad::CellStatus::Ok;
  r.rows = 900;
  r.train_rows = 150;
  r.epochs = ensemble ? 9 : 4;
  r.best_epoch = ensemble ? -1 : 2;
  r.train_loss = 0.25;
  r.val_loss = std::numeric_limits<double>::quiet_NaN();
  r.seconds_prepare = 0.5;
  r.seconds_train = 1.5;
  r.seconds_predict = 0.25;
  r.seconds_total = 2.25;
  r.time_features = {"hour_of_day"};
  r.engine_fallback = "cpu (fp32)";
  if (ensemble) {
    for (int m = 0; m < 2; ++m) {
      json e = lstmad::model_facts(static_cast<uint64_t>(m + 1), lstmad::CellStatus::Ok, 4 + m, 2, 0.25,
                                   std::numeric_limits<double>::quiet_NaN(), json());
      e["values"] = {{"model.window", 12 + 8 * m}};  // free-form: the ensemble's axes
      e["run"] = "runs/a";
      r.members.push_back(std::move(e));
    }
  } else {
    r.loss_curve = {{"train", {0.5, 0.3, 0.25, nullptr}}, {"val", {0.6, 0.4}}};
  }
  r.metrics = {{"point_f1", 0.5}, {"roc_auc", std::numeric_limits<double>::quiet_NaN()}};
  return r;
}

TEST(CellFile, ReadsBackWhatItWrote) {
  for (bool ensemble : {false, true}) {
    const lstmad::CellResult a = sample_cell(ensemble);
    const lstmad::CellResult b = lstmad::CellResult::from_json(a.to_json(), kFile);
    EXPECT_EQ(b.to_json().dump(), a.to_json().dump());
    EXPECT_EQ(b.seed, a.seed);
    EXPECT_TRUE(std::isnan(b.val_loss));
    ASSERT_EQ(b.metrics.size(), 2u);
    EXPECT_TRUE(std::isnan(b.metrics[1].second));
  }
}

// Every value of a cell file, replaced by one of another type, is refused naming the file and its key;
// every key that cells have always held, removed, is named as missing.
TEST(CellFile, EveryValueOfAnotherTypeIsNamed) {
  size_t checked = 0;
  for (bool ensemble : {false, true}) {
    const json good = sample_cell(ensemble).to_json();
    std::function<void(const json&, const json::json_pointer&, const std::string&)> walk =
        [&](const json& v, const json::json_pointer& at, const std::string& path) {
          const std::string tail = ".values";  // a member's grid values: free-form
          if (v.is_object() && path.size() > tail.size() &&
              path.compare(path.size() - tail.size(), tail.size(), tail) == 0)
            return;
          if (v.is_object()) {
            for (auto it = v.begin(); it != v.end(); ++it)
              walk(it.value(), at / it.key(), path.empty() ? it.key() : path + "." + it.key());
            return;
          }
          if (v.is_array()) {
            for (size_t k = 0; k < v.size(); ++k) walk(v[k], at / k, path + "[" + std::to_string(k) + "]");
            if (!v.empty()) {
              json edited = good;
              edited[at] = "not a list";
              const std::string said = data_error([&] { lstmad::CellResult::from_json(edited, kFile); });
              EXPECT_EQ(said.rfind(kFile + ": " + path + ": expected a list", 0), 0u) << said;
              ++checked;
            }
            return;
          }
          json edited = good;
          edited[at] = v.is_string() ? json(5) : json("x");
          const std::string said = data_error([&] { lstmad::CellResult::from_json(edited, kFile); });
          EXPECT_EQ(said.rfind(kFile + ": " + path + ": expected ", 0), 0u) << path << ": " << said;
          ++checked;
        };
    walk(good, json::json_pointer(), "");
    if (ensemble) {
      json edited = good;
      edited["members"][1] = 7;
      EXPECT_EQ(data_error([&] { lstmad::CellResult::from_json(edited, kFile); }),
                kFile + ": members[1]: expected an object, got 7");
      // A member's facts are read into the ensemble's (rescore sums and averages them): each one named.
      edited = good;
      edited["members"][0].erase("epochs");
      EXPECT_EQ(data_error([&] { lstmad::CellResult::from_json(edited, kFile); }),
                kFile + ": members[0].epochs: missing");
      edited = good;
      edited["members"][1]["status"] = "FINE";
      EXPECT_EQ(data_error([&] { lstmad::CellResult::from_json(edited, kFile); }),
                kFile + ": members[1].status: \"FINE\" is not a cell status (OK, ERROR, NONFINITE, TIMEOUT)");
      edited = good;
      edited["members"][1]["values"] = 3;
      EXPECT_EQ(data_error([&] { lstmad::CellResult::from_json(edited, kFile); }),
                kFile + ": members[1].values: expected an object, got 3");
    }
  }
  EXPECT_GT(checked, 30u);
  json edited = sample_cell(false).to_json();
  edited["status"] = "FINE";
  EXPECT_EQ(data_error([&] { lstmad::CellResult::from_json(edited, kFile); }),
            kFile + ": status: \"FINE\" is not a cell status (OK, ERROR, NONFINITE, TIMEOUT)");
  const json good = sample_cell(false).to_json();
  const std::vector<std::string> optional = {"train_rows", "time_features", "engine_fallback", "members",
                                             "loss_curve"};
  for (auto it = good.begin(); it != good.end(); ++it) {
    json less = good;
    less.erase(it.key());
    if (std::find(optional.begin(), optional.end(), it.key()) != optional.end()) {
      EXPECT_NO_THROW(lstmad::CellResult::from_json(less, kFile)) << it.key();
    } else {
      EXPECT_EQ(data_error([&] { lstmad::CellResult::from_json(less, kFile); }),
                kFile + ": " + it.key() + ": missing");
    }
  }
}

}  // namespace

// A write that never finished is NAME.tmp.<pid>.<n>, and only that: a series file may have ".tmp." in
// its name, and its scores file is no temporary file.
TEST(UnfinishedWrite, OnlyWriteAtomicsOwnEndingCounts) {
  long pid = 0;
  EXPECT_TRUE(lstmad::files::unfinished_write_name("abc.json.tmp.4242.0", &pid));
  EXPECT_EQ(pid, 4242);
  EXPECT_TRUE(lstmad::files::unfinished_write_name(".merging.tmp.1.17"));
  for (const char* name : {"sm_synth_spike.tmp.00.csv", "a.tmp.12", "a.tmp.12.", "a.tmp..3", ".tmp.1.2",
                           "a.tmp.x.2", "a.tmp.1.2b", "a.TMP.1.2", "a.csv"})
    EXPECT_FALSE(lstmad::files::unfinished_write_name(name)) << name;
}

// A file is read whole in one piece and hashed in pieces: both give its bytes' own results, at every size
// around SHA-256's block and padding edges and past the hash's 1 MiB piece.
TEST(Files, ReadAndHashGiveTheBytesOwnResults) {
  EXPECT_EQ(lstmad::files::sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  lstmad::test::TempDir tmp("files-read");
  uint64_t x = 12345;
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{55}, size_t{56}, size_t{64}, size_t{65}, (size_t{1} << 20) + 3}) {
    std::string bytes(size, '\0');
    for (char& c : bytes) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      c = static_cast<char>(x >> 56);
    }
    const std::string path = tmp.file("f" + std::to_string(size));
    lstmad::test::write_text(path, bytes);
    EXPECT_EQ(lstmad::files::read(path), bytes) << size;
    EXPECT_EQ(lstmad::files::sha256_file(path), lstmad::files::sha256(bytes)) << size;
  }
  EXPECT_THROW(lstmad::files::sha256_file(tmp.path()), lstmad::IoError);
  EXPECT_THROW(lstmad::files::read(tmp.file("absent")), lstmad::IoError);
}

// Lines split at block boundaries, CRLF, a line longer than a block, a last line without "\n", empty lines:
// read_lines visits the lines that splitting the whole text gives.
TEST(Files, ReadLinesVisitsEveryLineAcrossBlocks) {
  lstmad::test::TempDir tmp("files-lines");
  auto split = [](const std::string& text) {
    std::vector<std::string> lines;
    size_t at = 0;
    while (at < text.size()) {
      size_t nl = text.find('\n', at);
      std::string line = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
      at = nl == std::string::npos ? text.size() : nl + 1;
    }
    return lines;
  };
  uint64_t x = 99;
  auto next = [&] {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x >> 33;
  };
  std::vector<std::string> texts = {"",
                                    "\n",
                                    "a",
                                    "a\n",
                                    "a\r\n\r\nb",
                                    std::string((1 << 20) - 1, 'x') + "\ny",
                                    std::string(3 << 20, 'z') + "\r\n"};
  std::string big;
  while (big.size() < (5u << 20)) {
    big += std::string(next() % 200, 'v');
    big += next() % 3 == 0 ? "\r\n" : "\n";
  }
  texts.push_back(big);
  texts.push_back(big + "tail");
  for (size_t k = 0; k < texts.size(); ++k) {
    const std::string path = tmp.file("t" + std::to_string(k));
    lstmad::test::write_text(path, texts[k]);
    std::vector<std::string> got;
    lstmad::files::read_lines(path, [&](const char* b, const char* e, long line) {
      EXPECT_EQ(line, static_cast<long>(got.size()) + 1);
      got.emplace_back(b, e);
    });
    EXPECT_EQ(got, split(texts[k])) << "text " << k;
  }
  EXPECT_THROW(lstmad::files::read_lines(tmp.path(), [](const char*, const char*, long) {}), lstmad::IoError);
  EXPECT_THROW(lstmad::files::read_lines(tmp.file("absent"), [](const char*, const char*, long) {}),
               lstmad::IoError);
}

// Text written in pieces past the 1 MB block lands whole at commit(); a writer destroyed before it (an
// exception while the text is made) leaves the old file and no temporary file behind.
TEST(Files, AnAtomicWriterLandsWholeOrNotAtAll) {
  lstmad::test::TempDir tmp("files-writer");
  const std::string path = tmp.file("out.csv");
  lstmad::test::write_text(path, "old\n");
  std::string want;
  {
    lstmad::files::AtomicWriter w(path);
    for (int i = 0; i < 300000; ++i) {
      const std::string line = "row " + std::to_string(i) + "\n";
      w.buffer() += line;
      want += line;
      w.flush_if_full();
      if (i == 1000) {
        w.write("direct\n", 7);
        want += "direct\n";
      }
    }
    EXPECT_EQ(lstmad::files::read(path), "old\n") << "nothing lands before commit()";
    w.commit();
    EXPECT_THROW(w.commit(), lstmad::Error);
  }
  EXPECT_GT(want.size(), size_t{1} << 21);
  EXPECT_EQ(lstmad::files::read(path), want);
  try {
    lstmad::files::AtomicWriter w(path);
    w.buffer() += std::string(3u << 20, 'x');
    w.flush_if_full();
    throw std::runtime_error("failed while making the text");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(lstmad::files::read(path), want);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp.path()), {}), 1);
  EXPECT_THROW(lstmad::files::AtomicWriter(tmp.file("no/such/folder/f")), lstmad::IoError);
}
