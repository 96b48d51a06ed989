// The synthetic corpus: determinism to the byte, NAB layout readable by the corpus loader, label windows
// built the NAB way, and each anomaly kind present where its window is centred and large enough to find.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.hpp"
#include "core/files.hpp"
#include "data/csv_reader.hpp"
#include "data/labels.hpp"
#include "data/nab_windows.hpp"
#include "data/synthetic.hpp"
#include "support/test_support.hpp"

namespace lstmad {
namespace {
namespace fs = std::filesystem;

// Every file under root (relative path -> bytes).
std::map<std::string, std::string> read_tree(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = files::read(e.path().string());
  return out;
}

SyntheticOptions small_options() {
  SyntheticOptions o;
  o.length = 2000;
  o.series_per_kind = 3;
  return o;
}

TEST(Synthetic, SameSeedGivesIdenticalBytes) {
  test::TempDir a("synth-a"), b("synth-b");
  SyntheticOptions o = small_options();
  write_synthetic_corpus(o, a.path());
  write_synthetic_corpus(o, b.path());
  auto ta = read_tree(a.path()), tb = read_tree(b.path());
  ASSERT_EQ(ta.size(), 7u * 3u + 1u);  // 7 kinds x 3 files + labels
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [rel, bytes] : ta) {
    ASSERT_TRUE(tb.count(rel)) << rel;
    EXPECT_TRUE(bytes == tb[rel]) << rel << " differs between two runs with the same options";
    EXPECT_GT(bytes.size(), 100u) << rel;
  }
  // No temporary files left behind by the atomic writes.
  for (const auto& [rel, bytes] : ta) EXPECT_EQ(rel.find(".tmp."), std::string::npos) << rel;
}

TEST(Synthetic, DifferentSeedGivesDifferentData) {
  SyntheticOptions o = small_options();
  auto a = generate_synthetic(o);
  o.seed = 43;
  auto b = generate_synthetic(o);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].series.name, b[i].series.name);
    EXPECT_NE(synthetic_csv(a[i].series), synthetic_csv(b[i].series)) << a[i].series.name;
  }
}

TEST(Synthetic, SelectingKindsLeavesOtherSeriesUnchanged) {
  SyntheticOptions all = small_options();
  SyntheticOptions some = all;
  some.kinds = {"drift", "spike"};
  some.series_per_kind = 1;
  auto a = generate_synthetic(all);
  auto b = generate_synthetic(some);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].kind, "spike");  // canonical order, whatever the order asked
  EXPECT_EQ(b[1].kind, "drift");
  for (const auto& sb : b) {
    auto it = std::find_if(a.begin(), a.end(),
                           [&](const SyntheticSeries& s) { return s.series.name == sb.series.name; });
    ASSERT_NE(it, a.end());
    EXPECT_EQ(it->series.values, sb.series.values) << sb.series.name;
  }
}

// The series made one at a time (as write_synthetic_corpus and plan make them), and only those wanted, are
// those of the whole corpus; the ids come without making any.
TEST(Synthetic, OneAtATimeAndSelectedSeriesAreTheCorpusOwn) {
  SyntheticOptions o = small_options();
  o.kinds = {"spike", "drift"};
  const auto all = generate_synthetic(o);
  ASSERT_EQ(all.size(), 6u);
  std::vector<std::string> ids;
  for (const auto& s : all) ids.push_back(s.series.name);
  EXPECT_EQ(synthetic_series_names(o), ids);
  std::vector<SyntheticSeries> some;
  generate_synthetic_each(
      o, [&](SyntheticSeries& s) { some.push_back(std::move(s)); },
      [](const std::string& id) { return id.find("_01.csv") != std::string::npos; });
  ASSERT_EQ(some.size(), 2u);
  for (const auto& s : some) {
    const auto same =
        std::find_if(all.begin(), all.end(), [&](const auto& a) { return a.series.name == s.series.name; });
    ASSERT_NE(same, all.end()) << s.series.name;
    EXPECT_NE(s.series.name.find("_01.csv"), std::string::npos) << s.series.name;
    EXPECT_EQ(s.series.values, same->series.values) << s.series.name;
    EXPECT_EQ(s.series.timestamps, same->series.timestamps) << s.series.name;
    EXPECT_EQ(s.anomaly_rows, same->anomaly_rows) << s.series.name;
  }
}

TEST(Synthetic, BadOptionsAreConfigErrors) {
  SyntheticOptions o;
  o.kinds = {"spike", "wobble"};
  try {
    generate_synthetic(o);
    FAIL() << "unknown kind accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("wobble"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("level_shift"), std::string::npos) << "should list the valid kinds";
  }
  o = SyntheticOptions{};
  o.length = 100;
  EXPECT_THROW(generate_synthetic(o), ConfigError);
  o = SyntheticOptions{};
  o.step_seconds = 0;
  EXPECT_THROW(generate_synthetic(o), ConfigError);
  o = SyntheticOptions{};
  o.start = "2021-13-01 00:00:00";
  EXPECT_THROW(generate_synthetic(o), ConfigError);
  EXPECT_EQ(synthetic_category("spike"), "synthSpike");
  EXPECT_EQ(synthetic_category("none"), "synthNoAnomaly");
  EXPECT_THROW(synthetic_category("x"), ConfigError);
}

// Timestamps and window edges are whole seconds (docs/synthetic.md): a start with a fraction would write
// window edges such as "...00:00.500000.000000" that no row matches, so it is refused up front.
TEST(Synthetic, StartWithAFractionOfASecondIsAConfigError) {
  SyntheticOptions o;
  o.series_per_kind = 1;
  o.kinds = {"spike"};
  o.length = 500;
  o.start = "2021-01-01 00:00:00.5";
  try {
    generate_synthetic(o);
    FAIL() << "a start with a fraction of a second was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("2021-01-01 00:00:00.5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fraction of a second"), std::string::npos) << e.what();
  }
  // A whole second written with a zero fraction or a T separator is still a valid start.
  for (const char* start : {"2021-01-01 00:00:00.000000", "2021-01-01T06:30:00"}) {
    o.start = start;
    const auto corpus = generate_synthetic(o);
    ASSERT_EQ(corpus.size(), 1u);
    ASSERT_FALSE(corpus[0].series.windows.empty());
    const Series& s = corpus[0].series;
    EXPECT_EQ(s.windows[0].start_text,
              std::string(s.timestamps[static_cast<size_t>(s.windows[0].start)]) + ".000000")
        << start;
  }
}

TEST(Synthetic, CorpusReadsBackThroughTheNabLoaders) {
  test::TempDir dir("synth-read");
  SyntheticOptions o = small_options();
  write_synthetic_corpus(o, dir.path());
  const auto corpus = generate_synthetic(o);
  auto files = list_corpus_files(dir.path());
  ASSERT_EQ(files.size(), corpus.size());
  auto labels = read_label_windows(dir.path() + "/labels/combined_windows.json");
  ASSERT_EQ(labels.size(), corpus.size()) << "every file is a key of combined_windows.json";
  std::set<std::string> categories;
  for (const auto& ss : corpus) {
    const std::string& rel = ss.series.name;
    ASSERT_TRUE(std::binary_search(files.begin(), files.end(), rel)) << rel;
    categories.insert(rel.substr(0, rel.find('/')));
    Series back = load_corpus_series(dir.path(), rel, labels);
    ASSERT_EQ(back.rows(), o.length);
    EXPECT_EQ(back.values, ss.series.values) << rel << ": values do not round-trip";
    EXPECT_EQ(back.timestamps, ss.series.timestamps);
    ASSERT_EQ(back.windows.size(), ss.series.windows.size()) << rel;
    for (size_t w = 0; w < back.windows.size(); ++w) {
      EXPECT_EQ(back.windows[w].start, ss.series.windows[w].start);
      EXPECT_EQ(back.windows[w].end, ss.series.windows[w].end);
    }
    // Fixed 5-minute step, strictly increasing.
    for (int i = 1; i < back.rows(); ++i)
      ASSERT_EQ(back.time_us[i] - back.time_us[i - 1], 300LL * 1000000) << rel;
    CsvReadReport rep;
    read_series_csv(dir.path() + "/data/" + rel, rel, &rep);
    EXPECT_EQ(rep.duplicate_timestamps + rep.backward_timestamps + rep.missing_values, 0);
  }
  EXPECT_EQ(categories,
            (std::set<std::string>{"synthSpike", "synthLevelShift", "synthVarianceChange",
                                   "synthFrequencyChange", "synthFlatLine", "synthDrift", "synthNoAnomaly"}));
  EXPECT_EQ(files::read(dir.path() + "/data/" + corpus[0].series.name).substr(0, 36),
            "timestamp,value\n2021-01-01 00:00:00,");
}

TEST(Synthetic, RewritingWithFewerSeriesRemovesOnlyStaleGeneratedFiles) {
  test::TempDir dir("synth-stale");
  SyntheticOptions o = small_options();
  write_synthetic_corpus(o, dir.path());
  test::write_text(dir.file("data/synthSpike/notes.csv"), "timestamp,value\n2021-01-01 00:00:00,1\n");
  test::write_text(dir.file("data/realOther/synth_spike_07.csv"), "timestamp,value\n2021-01-01 00:00:00,1\n");
  o.series_per_kind = 1;
  o.kinds = {"spike", "none"};
  write_synthetic_corpus(o, dir.path());
  auto labels = read_label_windows(dir.file("labels/combined_windows.json"));
  EXPECT_EQ(labels.size(), 2u);
  // Only the two generated files, plus the files the generator does not own.
  EXPECT_EQ(list_corpus_files(dir.path()),
            (std::vector<std::string>{"realOther/synth_spike_07.csv", "synthNoAnomaly/synth_none_00.csv",
                                      "synthSpike/notes.csv", "synthSpike/synth_spike_00.csv"}));
}

TEST(Synthetic, WindowsAreBuiltTheNabWay) {
  SyntheticOptions o = small_options();
  o.length = 4000;
  for (const auto& ss : generate_synthetic(o)) {
    const Series& s = ss.series;
    const int n = s.rows();
    const int P = probation_length(n);
    if (ss.kind == "none") {
      EXPECT_TRUE(ss.anomaly_rows.empty());
      EXPECT_TRUE(s.windows.empty());
      EXPECT_EQ(s.values, ss.clean) << "an anomaly-free series equals its clean version";
      continue;
    }
    const int k = static_cast<int>(ss.anomaly_rows.size());
    ASSERT_GE(k, 1);
    ASSERT_LE(k, 3);
    ASSERT_EQ(static_cast<int>(s.windows.size()), k) << s.name << ": windows must neither merge nor drop";
    const int h = static_cast<int>(0.10 * n / k) / 2;
    for (int j = 0; j < k; ++j) {
      const auto& w = s.windows[static_cast<size_t>(j)];
      const int a = ss.anomaly_rows[static_cast<size_t>(j)];
      EXPECT_EQ(w.start, a - h) << s.name;
      EXPECT_EQ(w.end, a + h) << s.name;
      EXPECT_GE(w.start, P) << s.name << ": window starts inside the probationary period";
      EXPECT_LT(w.end, n);
      EXPECT_EQ(w.start_text, std::string(s.timestamps[static_cast<size_t>(w.start)]) + ".000000");
      if (j > 0) {
        EXPECT_GT(w.start, s.windows[static_cast<size_t>(j) - 1].end);
      }
      EXPECT_LE(ss.anomaly_lengths[static_cast<size_t>(j)], h + 1)
          << "the anomaly must end inside its window";
    }
  }
}

TEST(Synthetic, NabWindowProcedure) {
  // One point: width int(0.1*1000) = 100, h = 50.
  auto w = nab_windows_from_points(1000, {500});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], std::make_pair(450, 550));
  // Clipped at the file end.
  w = nab_windows_from_points(1000, {980});
  EXPECT_EQ(w[0], std::make_pair(930, 999));
  // A first window starting before P = 150 is dropped; a later one is kept.
  w = nab_windows_from_points(1000, {160, 600});  // h = 25
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], std::make_pair(575, 625));
  // Overlapping neighbours merge; the index advances after a merge, so a third is not chained.
  w = nab_windows_from_points(1000, {400, 420, 440});  // width int(33.33) = 33, h = 16
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], std::make_pair(384, 436));
  EXPECT_EQ(w[1], std::make_pair(424, 456));
  EXPECT_TRUE(nab_windows_from_points(1000, {}).empty());
}

TEST(Synthetic, EachKindPutsItsAnomalyAtTheWindowCentre) {
  SyntheticOptions o = small_options();
  o.length = 4000;
  o.series_per_kind = 4;
  std::set<std::string> kinds_seen;
  int heavy_like = 0;
  for (const auto& ss : generate_synthetic(o)) {
    const Series& s = ss.series;
    const double sd = ss.noise_sd;
    ASSERT_GT(sd, 0.0);
    kinds_seen.insert(ss.kind);
    // Rows that differ from the clean series lie in [onset, onset + length) of some anomaly.
    std::vector<int> owner(static_cast<size_t>(s.rows()), -1);
    for (size_t j = 0; j < ss.anomaly_rows.size(); ++j)
      for (int i = ss.anomaly_rows[j]; i < ss.anomaly_rows[j] + ss.anomaly_lengths[j]; ++i)
        owner[static_cast<size_t>(i)] = static_cast<int>(j);
    std::vector<double> max_dev(ss.anomaly_rows.size(), 0.0);
    std::vector<int> first_dev(ss.anomaly_rows.size(), -1);
    for (int i = 0; i < s.rows(); ++i) {
      const double dev = std::fabs(s.value(i) - ss.clean[static_cast<size_t>(i)]);
      if (dev == 0.0) continue;
      const int j = owner[static_cast<size_t>(i)];
      ASSERT_GE(j, 0) << s.name << ": row " << i << " differs from the clean series outside every anomaly";
      max_dev[static_cast<size_t>(j)] = std::max(max_dev[static_cast<size_t>(j)], dev);
      if (first_dev[static_cast<size_t>(j)] < 0) first_dev[static_cast<size_t>(j)] = i;
    }
    for (size_t j = 0; j < ss.anomaly_rows.size(); ++j) {
      const int a = ss.anomaly_rows[j];
      const auto& w = s.windows[j];
      EXPECT_EQ(a, (w.start + w.end) / 2) << s.name << ": the anomaly is the window centre";
      EXPECT_EQ(first_dev[j], a) << s.name << ": the anomaly starts at its labeled point";
      if (ss.kind == "spike") {
        EXPECT_GE(max_dev[j], 6.0 * sd * 0.9999) << s.name;
        EXPECT_LE(max_dev[j], 9.0 * sd * 1.0001) << s.name;
      } else if (ss.kind == "level_shift") {
        EXPECT_GE(max_dev[j], 4.0 * sd * 0.9999) << s.name;
      } else if (ss.kind == "drift") {
        EXPECT_GE(max_dev[j], 5.0 * sd * 0.9999) << s.name;
      } else if (ss.kind == "frequency_change" || ss.kind == "variance_change") {
        EXPECT_GE(max_dev[j], 2.0 * sd) << s.name;
      } else if (ss.kind == "flat_line") {
        // Stuck: every row of the segment repeats the reading just before it.
        for (int i = a; i < a + ss.anomaly_lengths[j]; ++i) ASSERT_EQ(s.value(i), s.value(a - 1)) << s.name;
        EXPECT_GE(ss.anomaly_lengths[j], 10);
      }
    }
    // Heavy-tailed noise shows as an excess of > 4 sd residuals far from any anomaly.
    int big = 0;
    for (int i = 1; i < s.rows(); ++i) {
      // The clean series minus its own smooth part is not available here; use first differences of rows
      // that are not anomalous: their noise part has sd about sqrt(2) * sd plus a small seasonal slope.
      if (owner[static_cast<size_t>(i)] >= 0 || owner[static_cast<size_t>(i) - 1] >= 0) continue;
      if (std::fabs(s.value(i) - s.value(i - 1)) > 6.0 * sd) ++big;
    }
    if (big > 0) ++heavy_like;
  }
  EXPECT_EQ(kinds_seen.size(), 7u);
  EXPECT_GE(heavy_like, 3) << "no series shows heavy-tailed noise";
}

}  // namespace
}  // namespace lstmad

TEST(Synthetic, QuickstartFrequencyChangesRunAsFastAsDocsSynthetic) {
  // docs/synthetic.md: f = 1 + m d / len with m = max(1, round((U(2.5, 4) - 1) len / d)) whole extra cycles;
  // on the quickstart corpus (configs/quickstart.json: seed 7, 2 series per kind, 4000 rows, d = 288)
  // every frequency anomaly is short enough that m = 1 whatever was drawn, so f = 1 + d / len: 3.7 to 4.9.
  lstmad::SyntheticOptions o;
  o.seed = 7;
  o.series_per_kind = 2;
  o.length = 4000;
  const double d = 86400.0 / o.step_seconds;
  double lo = 1e9, hi = 0;
  int anomalies = 0;
  for (const auto& s : lstmad::generate_synthetic(o)) {
    if (s.kind != "frequency_change") continue;
    for (int len : s.anomaly_lengths) {
      ASSERT_LT((4.0 - 1.0) * len / d, 1.5) << "m could be 2 for a segment of " << len << " rows";
      const double f = 1.0 + d / len;
      lo = std::min(lo, f);
      hi = std::max(hi, f);
      ++anomalies;
    }
  }
  EXPECT_EQ(anomalies, 3);
  EXPECT_NEAR(lo, 3.7, 0.05);
  EXPECT_NEAR(hi, 4.9, 0.05);
}
