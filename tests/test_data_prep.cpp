// Data preparation between loading and training: missing-value policies, normalization fitted on the
// training part only, and training/validation/prediction windows that never let a target at or past the
// training end into training.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "data/csv_reader.hpp"
#include "data/missing.hpp"
#include "data/normalize.hpp"
#include "data/synthetic.hpp"
#include "data/windows.hpp"
#include "experiments/config.hpp"
#include "experiments/prepare.hpp"

namespace lstmad {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

Series make_series(const std::vector<double>& values, int dims = 1) {
  Series s;
  s.name = "cat/test.csv";
  s.path = "/data/cat/test.csv";
  s.dims = dims;
  s.values = values;
  for (int i = 0; i < s.rows(); ++i) {
    s.time_us.push_back(int64_t(i) * 300 * 1000000);
    s.timestamps.push_back("t" + std::to_string(i));
  }
  return s;
}

// ---- missing values -------------------------------------------------------------------------------

TEST(Missing, ParsePolicy) {
  EXPECT_EQ(parse_missing_policy("interpolate"), MissingPolicy::Interpolate);
  EXPECT_EQ(parse_missing_policy("carry_forward"), MissingPolicy::CarryForward);
  EXPECT_EQ(parse_missing_policy("reject"), MissingPolicy::Reject);
  for (auto name : missing_policy_names()) EXPECT_EQ(to_string(parse_missing_policy(name)), name);
  try {
    parse_missing_policy("drop");
    FAIL() << "unknown policy accepted";
  } catch (const ConfigError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("\"drop\""), std::string::npos) << m;
    EXPECT_NE(m.find("interpolate, carry_forward, reject"), std::string::npos) << m;
  }
}

TEST(Missing, InterpolateIsLinearAndTakesNearestAtTheEnds) {
  Series s = make_series({kNaN, kNaN, 2.0, kNaN, kNaN, kNaN, 6.0, 7.0, kNaN, kNaN});
  EXPECT_EQ(count_missing(s), 7);
  EXPECT_EQ(fill_missing(s, MissingPolicy::Interpolate), 7);
  EXPECT_EQ(s.values, (std::vector<double>{2, 2, 2, 3, 4, 5, 6, 7, 7, 7}));
  EXPECT_EQ(count_missing(s), 0);
}

TEST(Missing, CarryForwardTakesTheLastValueAndTheFirstForALeadingRun) {
  Series s = make_series({kNaN, 1.5, kNaN, kNaN, -4.0, kNaN});
  EXPECT_EQ(fill_missing(s, MissingPolicy::CarryForward), 4);
  EXPECT_EQ(s.values, (std::vector<double>{1.5, 1.5, 1.5, 1.5, -4.0, -4.0}));
}

TEST(Missing, ColumnsAreFilledIndependently) {
  // Two value columns, row-major.
  Series s = make_series({1, kNaN, kNaN, 10, 3, kNaN, kNaN, 30}, 2);
  fill_missing(s, MissingPolicy::Interpolate);
  EXPECT_EQ(s.values, (std::vector<double>{1, 10, 2, 10, 3, 20, 3, 30}));
}

TEST(Missing, NothingMissingIsUntouchedByEveryPolicy) {
  for (auto p : {MissingPolicy::Interpolate, MissingPolicy::CarryForward, MissingPolicy::Reject}) {
    Series s = make_series({1, 2, 3});
    EXPECT_EQ(fill_missing(s, p), 0);
    EXPECT_EQ(s.values, (std::vector<double>{1, 2, 3}));
  }
}

TEST(Missing, RejectNamesFileLineAndRowOfTheFirstMissingValue) {
  Series s = make_series({1, 2, 3, kNaN, 5, kNaN});
  s.lines = {2, 3, 4, 5, 6, 7};  // a CSV's rows: the header is line 1
  try {
    fill_missing(s, MissingPolicy::Reject);
    FAIL() << "missing value accepted under reject";
  } catch (const DataError& e) {
    EXPECT_EQ(e.file(), "/data/cat/test.csv");
    EXPECT_EQ(e.line(), 5);
    EXPECT_NE(std::string(e.what()).find("/data/cat/test.csv:5:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("row 3"), std::string::npos) << e.what();
  }
  // Rows that are not lines of a text file (an .npy array): the row alone, no made-up line.
  s.lines.clear();
  try {
    fill_missing(s, MissingPolicy::Reject);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 0);
    EXPECT_NE(std::string(e.what()).find("row 3"), std::string::npos) << e.what();
  }
}

TEST(Missing, TrainingRowsAreFilledFromTheTrainingPartAlone) {
  // Training rows 0..4 end in a gap; the scored part starts at 500. Filled from the whole series, rows 3
  // and 4 would rise towards 500 and carry the scored part into training and its statistics.
  for (auto p : {MissingPolicy::Interpolate, MissingPolicy::CarryForward}) {
    Series s = make_series({1, 2, 3, kNaN, kNaN, 500, kNaN, 502});
    EXPECT_EQ(fill_missing(s, p, 5), 3) << to_string(p);
    EXPECT_EQ(s.values[3], 3.0) << to_string(p);
    EXPECT_EQ(s.values[4], 3.0) << to_string(p);
    // The scored gap: between its neighbours (interpolate) or the last value (carry_forward).
    EXPECT_EQ(s.values[6], p == MissingPolicy::Interpolate ? 501.0 : 500.0) << to_string(p);
  }
  // A scored part starting with a gap takes its left neighbour from the (filled) training part.
  Series s = make_series({1, kNaN, 2, kNaN, 8});
  fill_missing(s, MissingPolicy::Interpolate, 3);
  EXPECT_EQ(s.values, (std::vector<double>{1, 1.5, 2, 5, 8}));
  // Without the training part's length the whole series is one part, as before.
  s = make_series({1, 2, 3, kNaN, kNaN, 500});
  fill_missing(s, MissingPolicy::CarryForward);
  EXPECT_EQ(s.values[4], 3.0);
  s = make_series({1, 2, 3, kNaN, kNaN, 500});
  fill_missing(s, MissingPolicy::Interpolate);
  EXPECT_EQ(s.values[4], 3.0 + 2.0 * 497.0 / 3.0);
}

TEST(Missing, ATrainingPartWithoutValuesIsAnError) {
  Series s = make_series({kNaN, kNaN, kNaN, 4, 5, 6});
  try {
    fill_missing(s, MissingPolicy::Interpolate, 3);
    FAIL() << "training rows filled from the scored part";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no value in the 3 training rows"), std::string::npos) << e.what();
  }
  // The whole series as one part still fills the leading run from the first value.
  EXPECT_EQ(fill_missing(s, MissingPolicy::Interpolate), 3);
}

TEST(Missing, RejectLineMatchesTheCsvFile) {
  const std::string text =
      "timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,\n2020-01-01 00:10:00,3\n";
  Series s = parse_series_csv(text, "f.csv", "c/f.csv");
  try {
    fill_missing(s, MissingPolicy::Reject);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 3);  // the empty field is on the third line of the text
    EXPECT_EQ(e.file(), "f.csv");
  }
}

TEST(Missing, AllMissingIsAnErrorUnderEveryPolicy) {
  for (auto p : {MissingPolicy::Interpolate, MissingPolicy::CarryForward, MissingPolicy::Reject}) {
    Series s = make_series({kNaN, kNaN, kNaN});
    EXPECT_THROW(fill_missing(s, p), DataError) << to_string(p);
  }
  // One of two columns entirely missing.
  Series s = make_series({1, kNaN, 2, kNaN}, 2);
  EXPECT_THROW(fill_missing(s, MissingPolicy::Interpolate), DataError);
}

// ---- normalization --------------------------------------------------------------------------------

TEST(Normalize, ParseKind) {
  EXPECT_EQ(parse_norm_kind("minmax"), NormKind::MinMax);
  EXPECT_EQ(parse_norm_kind("zscore"), NormKind::ZScore);
  EXPECT_EQ(parse_norm_kind("none"), NormKind::None);
  try {
    parse_norm_kind("robust");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("minmax, zscore, none"), std::string::npos) << e.what();
  }
}

TEST(Normalize, MinMaxUsesOnlyTheTrainingRows) {
  // Training rows 0..3 span [2, 6]; the later 100 and -10 must not change the fit.
  Series s = make_series({2, 4, 6, 3, 100, -10});
  Normalizer nz = fit_normalizer(s, NormKind::MinMax, 4);
  EXPECT_EQ(nz.offset[0], 2.0);
  EXPECT_EQ(nz.scale[0], 4.0);
  EXPECT_FALSE(nz.constant[0]);
  Series t = s;
  nz.apply(t);
  EXPECT_EQ(t.values, (std::vector<double>{0.0, 0.5, 1.0, 0.25, 24.5, -3.0}));
  nz.invert(t);
  for (int i = 0; i < s.rows(); ++i) EXPECT_DOUBLE_EQ(t.value(i), s.value(i));
}

TEST(Normalize, ZScoreUsesOnlyTheTrainingRows) {
  Series s = make_series({1, 2, 3, 4, 5, 1000});
  Normalizer nz = fit_normalizer(s, NormKind::ZScore, 5);
  EXPECT_DOUBLE_EQ(nz.offset[0], 3.0);
  EXPECT_DOUBLE_EQ(nz.scale[0], std::sqrt(2.0));  // population sd of 1..5
  // Changing rows past the fit changes nothing.
  Series s2 = s;
  s2.values[5] = -7.0;
  Normalizer nz2 = fit_normalizer(s2, NormKind::ZScore, 5);
  EXPECT_EQ(nz2.offset, nz.offset);
  EXPECT_EQ(nz2.scale, nz.scale);
  // Mean 0 and sd 1 on the training rows after applying.
  Series t = s;
  nz.apply(t);
  double m = 0, v = 0;
  for (int i = 0; i < 5; ++i) m += t.value(i) / 5;
  for (int i = 0; i < 5; ++i) v += (t.value(i) - m) * (t.value(i) - m) / 5;
  EXPECT_NEAR(m, 0.0, 1e-15);
  EXPECT_NEAR(v, 1.0, 1e-12);
  std::vector<double> back = nz.inverse_column({t.value(5)});
  EXPECT_NEAR(back[0], 1000.0, 1e-9);
}

TEST(Normalize, ConstantTrainingPartFallsBackToScaleOne) {
  Series s = make_series({5, 5, 5, 5, 8});
  for (auto kind : {NormKind::MinMax, NormKind::ZScore}) {
    Normalizer nz = fit_normalizer(s, kind, 4);
    EXPECT_TRUE(nz.constant[0]) << to_string(kind);
    EXPECT_EQ(nz.scale[0], 1.0);
    EXPECT_EQ(nz.offset[0], 5.0);
    Series t = s;
    nz.apply(t);
    EXPECT_EQ(t.values, (std::vector<double>{0, 0, 0, 0, 3})) << to_string(kind);
    for (double x : t.values) EXPECT_TRUE(std::isfinite(x));
  }
}

// The pipeline says which column of which file was flat in training: the model then learns one level, and
// the scores alone would not show why every later change is an error.
TEST(Normalize, AConstantTrainingPartIsWarnedOfByFileAndColumn) {
  std::vector<double> values;
  for (int i = 0; i < 60; ++i) values.insert(values.end(), {std::sin(i / 3.0), i < 30 ? 2.0 : i / 10.0});
  const json cfg = resolve_config(json::parse(R"({"model": {"window": 5}})"), "t");
  testing::internal::CaptureStderr();
  prepare_series(make_series(values, 2), cfg, 30);
  const std::string flat = testing::internal::GetCapturedStderr();
  EXPECT_NE(flat.find("/data/cat/test.csv: value column 2 is constant in the 30 training rows"),
            std::string::npos)
      << flat;
  EXPECT_EQ(flat.find("value column 1 is constant"), std::string::npos) << flat;
  testing::internal::CaptureStderr();
  prepare_series(make_series(values, 2), cfg, 40);
  const std::string moving = testing::internal::GetCapturedStderr();
  EXPECT_EQ(moving.find("is constant"), std::string::npos) << "column 2 moves in rows 30..39\n" << moving;
}

TEST(Normalize, PerColumnAndNoneAndErrors) {
  Series s = make_series({0, 100, 10, 300, 5, 200}, 2);
  Normalizer nz = fit_normalizer(s, NormKind::MinMax, 3);
  EXPECT_EQ(nz.offset, (std::vector<double>{0, 100}));
  EXPECT_EQ(nz.scale, (std::vector<double>{10, 200}));
  Normalizer id = fit_normalizer(s, NormKind::None, 3);
  Series t = s;
  id.apply(t);
  EXPECT_EQ(t.values, s.values);
  EXPECT_THROW(fit_normalizer(s, NormKind::ZScore, 0), DataError);
  EXPECT_THROW(fit_normalizer(s, NormKind::ZScore, 4), DataError);
  Series gap = make_series({kNaN, kNaN, 1.0});
  EXPECT_THROW(fit_normalizer(gap, NormKind::ZScore, 2), DataError);
}

// Finite values whose distance overflows a double are named, not passed on as an infinite scale that
// turns every input into NaN.
TEST(Normalize, ARangeThatOverflowsIsAnErrorNamingTheColumn) {
  const Series s = make_series({1e308, -1e308, 0.0, 5.0});
  for (NormKind kind : {NormKind::MinMax, NormKind::ZScore}) {
    try {
      fit_normalizer(s, kind, 3);
      ADD_FAILURE() << to_string(kind) << ": accepted";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("value column 1: the training rows run from -1e+308 to 1e+308"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_NO_THROW(fit_normalizer(s, NormKind::None, 3));
}

// Values up to the double range whose squares or sum overflow, but not their distance: z-score statistics
// are still doubles (about 1e300 here), and are computed, not refused; every other series keeps the plain
// formulas' statistics to the last bit.
TEST(Normalize, ZScoreOfHugeValuesIsComputedWithoutOverflow) {
  const Series s = make_series({1e300, -1e300, 3e300, -3e300, 0.0});
  const Normalizer nz = fit_normalizer(s, NormKind::ZScore, 4);
  EXPECT_EQ(nz.offset[0], 0.0);
  EXPECT_NEAR(nz.scale[0] / std::sqrt(5.0) / 1e300, 1.0, 1e-12);  // sqrt((1 + 1 + 9 + 9) / 4) = sqrt(5)
  Series z = s;
  nz.apply(z);
  EXPECT_NEAR(z.value(2), 3.0 / std::sqrt(5.0), 1e-12);
  // Large values whose sum overflows though no square is taken yet: 1e308 four times.
  const Normalizer flat = fit_normalizer(make_series({1e308, 1e308, 1e308, 1e308, 0.0}), NormKind::ZScore, 4);
  EXPECT_EQ(flat.offset[0], 1e308);
  EXPECT_TRUE(flat.constant[0]);
  // Ordinary values: the plain mean and deviation.
  const Normalizer plain = fit_normalizer(make_series({0.1, 0.2, 0.7, 1.3, 9.0}), NormKind::ZScore, 4);
  const double mean = (0.1 + 0.2 + 0.7 + 1.3) / 4.0;
  const double ss = (0.1 - mean) * (0.1 - mean) + (0.2 - mean) * (0.2 - mean) + (0.7 - mean) * (0.7 - mean) +
                    (1.3 - mean) * (1.3 - mean);
  EXPECT_EQ(plain.offset[0], mean);
  EXPECT_EQ(plain.scale[0], std::sqrt(ss / 4.0));
}

// ---- windows --------------------------------------------------------------------------------------

TEST(Windows, TrainingTargetsStayBeforeTheTrainingEnd) {
  for (int horizon : {1, 3}) {
    for (int stride : {1, 4}) {
      WindowOptions o;
      o.window = 10;
      o.horizon = horizon;
      o.train_end = 100;
      o.val_fraction = 0.25;
      o.stride = stride;
      WindowSplit sp = training_windows(1000, o);
      ASSERT_FALSE(sp.train.empty());
      ASSERT_FALSE(sp.val.empty());
      std::vector<int> all = sp.train;
      all.insert(all.end(), sp.val.begin(), sp.val.end());
      for (size_t i = 0; i < all.size(); ++i) {
        const int last_target = all[i] + o.window + o.horizon - 1;
        EXPECT_LT(last_target, o.train_end) << "start " << all[i] << " leaks a target past P";
        EXPECT_EQ(all[i], static_cast<int>(i) * stride) << "starts are 0, stride, 2*stride, ...";
      }
      // The last possible start is used: one more stride would leak.
      EXPECT_GE(all.back() + stride + o.window + o.horizon - 1, o.train_end);
      // Chronological split: every validation start after every training start, about a quarter of them.
      EXPECT_LT(sp.train.back(), sp.val.front());
      EXPECT_EQ(static_cast<long>(sp.val.size()), std::lround(0.25 * all.size()));
    }
  }
}

// With purge, no row is both a training target and a validation target, and only the training windows
// that would share one are dropped; without it the split is the plain chronological one.
TEST(Windows, PurgeKeepsValidationTargetsOutOfTraining) {
  for (int horizon : {1, 2, 10}) {
    for (int stride : {1, 3}) {
      WindowOptions o;
      o.window = 10;
      o.horizon = horizon;
      o.train_end = 200;
      o.val_fraction = 0.2;
      o.stride = stride;
      const WindowSplit plain = training_windows(1000, o);
      o.purge = true;
      const WindowSplit purged = training_windows(1000, o);
      EXPECT_EQ(purged.val, plain.val) << "purging never changes the validation windows";
      ASSERT_FALSE(purged.train.empty());
      // The purged training starts are a prefix of the plain ones.
      ASSERT_LE(purged.train.size(), plain.train.size());
      EXPECT_TRUE(std::equal(purged.train.begin(), purged.train.end(), plain.train.begin()));
      std::set<int> val_targets;
      for (int v : purged.val)
        for (int j = 0; j < horizon; ++j) val_targets.insert(v + o.window + j);
      auto overlaps = [&](int s) {
        for (int j = 0; j < horizon; ++j)
          if (val_targets.count(s + o.window + j)) return true;
        return false;
      };
      for (int s : purged.train)
        EXPECT_FALSE(overlaps(s)) << "start " << s << " trains on a validation target";
      // Every dropped start did overlap: nothing clean was thrown away.
      for (size_t i = purged.train.size(); i < plain.train.size(); ++i)
        EXPECT_TRUE(overlaps(plain.train[i])) << "start " << plain.train[i] << " was dropped without reason";
      // A stride of at least the horizon leaves no overlap to remove.
      if (stride >= horizon)
        EXPECT_EQ(purged.train, plain.train);
      else
        EXPECT_LT(purged.train.size(), plain.train.size()) << "horizon " << horizon << " stride " << stride;
    }
  }
  // Too few windows to purge: the earliest training window stays.
  WindowOptions o;
  o.window = 5;
  o.horizon = 10;
  o.train_end = 17;  // starts 0, 1, 2
  o.val_fraction = 0.4;
  o.purge = true;
  const WindowSplit sp = training_windows(100, o);
  EXPECT_EQ(sp.train, std::vector<int>{0});
  EXPECT_EQ(sp.val, (std::vector<int>{2}));
}

TEST(Windows, ValidationFractionEdgeCases) {
  WindowOptions o;
  o.window = 5;
  o.train_end = 20;
  o.val_fraction = 0.0;
  WindowSplit sp = training_windows(50, o);
  EXPECT_EQ(sp.train.size(), 15u);  // starts 0..14: 14 + 5 = 19 is the last target
  EXPECT_TRUE(sp.val.empty());
  o.val_fraction = 0.01;  // rounds to 0, but a requested split gets at least one window
  EXPECT_EQ(training_windows(50, o).val.size(), 1u);
  o.train_end = 6;  // exactly one window: it stays a training window
  o.val_fraction = 0.5;
  sp = training_windows(50, o);
  EXPECT_EQ(sp.train, std::vector<int>{0});
  EXPECT_TRUE(sp.val.empty());
  o.train_end = 5;  // too short
  sp = training_windows(50, o);
  EXPECT_TRUE(sp.train.empty());
  // Default P is NAB's probation length.
  o.train_end = -1;
  o.val_fraction = 0.0;
  sp = training_windows(1000, o);  // P = 150: starts 0..144
  EXPECT_EQ(sp.train.size(), 145u);
  o.window = 0;
  EXPECT_THROW(training_windows(100, o), ConfigError);
  o.window = 5;
  o.val_fraction = 1.0;
  EXPECT_THROW(training_windows(100, o), ConfigError);
  o.val_fraction = 0.2;
  o.stride = 0;
  EXPECT_THROW(training_windows(100, o), ConfigError);
}

TEST(Windows, PredictionCoversEveryRowFromT) {
  auto p = prediction_starts(20, 5);
  ASSERT_EQ(p.size(), 15u);
  for (size_t k = 0; k < p.size(); ++k)
    EXPECT_EQ(p[k] + 5, static_cast<int>(k) + 5);  // start k predicts row k+T
  EXPECT_TRUE(prediction_starts(5, 5).empty());
}

TEST(Windows, SeriesWindowsFeedTheEngine) {
  // Two value columns; y is column 0.
  std::vector<double> v;
  for (int i = 0; i < 200; ++i) {
    v.push_back(0.01 * i);
    v.push_back(i % 2);
  }
  Series s = make_series(v, 2);
  WindowOptions o;
  o.window = 8;
  o.train_end = 60;
  o.val_fraction = 0.2;
  SeriesWindows w = make_series_windows(s, o);
  EXPECT_EQ(w.n, 200);
  EXPECT_EQ(w.dims, 2);
  ASSERT_EQ(w.x.size(), 400u);
  EXPECT_FLOAT_EQ(w.x[2 * 37], 0.37f);
  EXPECT_FLOAT_EQ(w.x[2 * 37 + 1], 1.0f);
  EXPECT_FLOAT_EQ(w.y[37], 0.37f);
  EXPECT_EQ(w.predict.size(), 192u);
  EXPECT_EQ(w.predicted_row(0), 8);
  EXPECT_EQ(w.predicted_row(191), 199);
  SeriesWindows moved = std::move(w);
  WindowSource src = moved.source();
  EXPECT_EQ(src.n, 200);
  EXPECT_EQ(src.x, moved.x.data());
  EXPECT_EQ(src.y, moved.y.data());
  EXPECT_EQ(src.train, moved.train);
  EXPECT_EQ(src.val, moved.val);
  for (int st : src.train) EXPECT_LT(st + o.window, 60);
  for (int st : src.val) EXPECT_LT(st + o.window, 60);
}

TEST(Windows, ErrorsNameTheSeries) {
  Series s = make_series({1, 2, kNaN, 4, 5, 6, 7, 8, 9, 10});
  for (int r = 0; r < s.rows(); ++r) s.lines.push_back(r + 2);  // a CSV below its header
  WindowOptions o;
  o.window = 3;
  o.train_end = 8;
  try {
    make_series_windows(s, o);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 4);  // row 2
    EXPECT_EQ(e.file(), s.path);
    EXPECT_NE(std::string(e.what()).find("row 2"), std::string::npos) << e.what();
  }
  s.values[2] = 3;
  o.window = 8;
  try {
    make_series_windows(s, o);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("too few"), std::string::npos) << e.what();
  }
  o.window = 3;
  o.train_end = 11;
  EXPECT_THROW(make_series_windows(s, o), DataError);
}

// ---- the chain on a synthetic series --------------------------------------------------------------

TEST(DataPrep, SyntheticSeriesThroughTheChain) {
  SyntheticOptions so;
  so.kinds = {"level_shift"};
  so.series_per_kind = 1;
  so.length = 1200;
  Series s = generate_synthetic(so).at(0).series;
  // Knock out some values and fill them again.
  for (int i : {0, 1, 500, 501, 502, 1199}) s.values[static_cast<size_t>(i)] = kNaN;
  EXPECT_EQ(fill_missing(s, MissingPolicy::Interpolate), 6);
  const int P = probation_length(s.rows());
  Normalizer nz = fit_normalizer(s, NormKind::ZScore, P);
  Series norm = s;
  nz.apply(norm);
  WindowOptions o;
  o.window = 32;
  SeriesWindows w = make_series_windows(norm, o);
  EXPECT_EQ(w.train_end, P);
  EXPECT_FALSE(w.val.empty());
  for (int st : w.train) EXPECT_LT(st + 32, P);
  for (int st : w.val) EXPECT_LT(st + 32, P);
  EXPECT_EQ(static_cast<int>(w.predict.size()), s.rows() - 32);
  // Anomalies lie after P (windows never start in probation), so they cannot reach the statistics.
  for (const auto& lw : s.windows) EXPECT_GE(lw.start, P);
}

// train.purge reaches the windows a cell trains on: off (the default), the split is the plain one; on, the
// last horizon - 1 training windows are gone and the validation windows are the same.
TEST(DataPrep, TrainPurgeKeyDropsTheOverlappingTrainingWindows) {
  std::vector<double> v(400);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.1 * static_cast<double>(i));
  const Series s = make_series(v);
  const json plain_cfg = resolve_config(
      json::parse(R"({"model": {"window": 20, "horizon": 6}, "train": {"val_fraction": 0.25}})"), "t");
  json purge_cfg = plain_cfg;
  apply_override(purge_cfg, "train.purge=true");
  purge_cfg = resolve_config(purge_cfg, "t");
  const PreparedSeries p = prepare_series(s, plain_cfg, 200);
  const WindowSource plain = make_window_source(p, plain_cfg);
  const WindowSource purged = make_window_source(p, purge_cfg);
  ASSERT_FALSE(plain.val.empty());
  EXPECT_EQ(purged.val, plain.val);
  ASSERT_EQ(purged.train.size() + 5, plain.train.size());
  EXPECT_EQ(plain.train.back() + 1, plain.val.front()) << "without purge the split has no gap";
  EXPECT_EQ(purged.train.back() + 6, purged.val.front()) << "the last training window ends before the first "
                                                            "validation target";
}

// train.max_windows caps the training windows a cell trains on, keeping the latest, after the validation
// split. Here 200 training rows, a 20-row window and horizon 1 hold starts 0 .. 179 (180 windows); a
// quarter of them (45), starts 135 .. 179, validate, and 0 .. 134 train. A cap of 50 keeps 85 .. 134 and
// the same validation windows (a cap taken before the split would leave 13 of 50 to validate); a cap
// above 135, or 0, keeps all.
TEST(DataPrep, TrainMaxWindowsKeepsTheLatestTrainingWindowsAfterTheValidationSplit) {
  std::vector<double> v(400);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.1 * static_cast<double>(i));
  auto range = [](int first, int last) {
    std::vector<int> r;
    for (int s = first; s <= last; ++s) r.push_back(s);
    return r;
  };
  for (const auto& [cap, first_train] :
       std::vector<std::pair<int, int>>{{0, 0}, {50, 85}, {135, 0}, {1000, 0}}) {
    const json cfg = resolve_config(json::parse(R"({"model": {"window": 20}, "train": {"val_fraction": 0.25,
                                                    "max_windows": )" +
                                                std::to_string(cap) + "}}"),
                                    "t");
    const PreparedSeries p = prepare_series(make_series(v), cfg, 200);
    const WindowSource w = make_window_source(p, cfg);
    EXPECT_EQ(w.train, range(first_train, 134)) << "max_windows " << cap;
    EXPECT_EQ(w.val, range(135, 179)) << "max_windows " << cap;
  }
}

TEST(DataPrep, TimeFeaturesAddSineAndCosineOfTheCalendarPhases) {
  // Rows every 6 hours from Monday 2024-01-01 00:00 UTC (1704067200 s since 1970).
  Series s = make_series(std::vector<double>(40, 1.0));
  for (int i = 0; i < s.rows(); ++i)
    s.time_us[static_cast<size_t>(i)] = (1704067200LL + i * 21600LL) * 1000000LL;
  for (int i = 0; i < s.rows(); ++i) s.values[static_cast<size_t>(i)] = i;
  json cfg =
      resolve_config(json::parse(R"({"data": {"time_features": ["time_of_day", "day_of_week"]}})"), "t");
  PreparedSeries p = prepare_series(s, cfg, 20);
  ASSERT_EQ(p.input_dims, 5);
  ASSERT_EQ(p.x.size(), 40u * 5u);
  auto at = [&](int row, int col) { return p.x[static_cast<size_t>(row) * 5 + static_cast<size_t>(col)]; };
  EXPECT_FLOAT_EQ(at(0, 1), 0.0f);  // midnight: sin 0, cos 1
  EXPECT_FLOAT_EQ(at(0, 2), 1.0f);
  EXPECT_NEAR(at(1, 1), 1.0f, 1e-6);  // 06:00: a quarter of the day
  EXPECT_NEAR(at(1, 2), 0.0f, 1e-6);
  EXPECT_NEAR(at(0, 3), 0.0f, 1e-6);  // Monday 00:00 is phase 0 of the week
  EXPECT_NEAR(at(0, 4), 1.0f, 1e-6);
  EXPECT_NEAR(at(14, 3), std::sin(2 * M_PI * 3.5 / 7), 1e-6);  // Thursday 12:00
  EXPECT_EQ(at(10, 0), static_cast<float>(p.target[10])) << "column 0 is still the normalized value";
  // Without the key nothing is added.
  PreparedSeries plain = prepare_series(s, resolve_config(json::object(), "t"), 20);
  EXPECT_EQ(plain.input_dims, 1);
  EXPECT_EQ(plain.x.size(), 40u);
  // A series without timestamps fails, naming its file and the key; nor do the stand-in times of a source
  // without times (a CSV without a time column) count as a clock.
  const auto refusal = [&](const Series& series) {
    try {
      prepare_series(series, cfg, 20);
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  Series bare = s;
  bare.timestamps.clear();
  bare.time_us.clear();
  Series untimed = s;
  set_stand_in_times(untimed);
  for (const auto& [series, needle] :
       {std::pair{&bare, "time_features"}, std::pair{&untimed, "data.csv.time_column"}}) {
    const std::string said = refusal(*series);
    EXPECT_NE(said.find("/data/cat/test.csv"), std::string::npos) << said;
    EXPECT_NE(said.find(needle), std::string::npos) << said;
  }
  // Epoch milliseconds read as seconds (time_format auto) put the rows tens of thousands of years ahead:
  // refused, naming the timestamp and the format that reads it, rather than given as calendar phases.
  Series millis = s;
  millis.timestamps.clear();
  for (int i = 0; i < millis.rows(); ++i) {
    const long long ms = 1704067200000LL + i * 21600000LL;
    millis.time_us[static_cast<size_t>(i)] = ms * 1000000LL;
    millis.timestamps.push_back(std::to_string(ms));
  }
  const std::string said = refusal(millis);
  EXPECT_NE(said.find("the timestamp 1704067200000 reads as 55969-"), std::string::npos) << said;
  EXPECT_NE(said.find("time_format to epoch_ms"), std::string::npos) << said;
  // Unknown features are config errors with the JSON path.
  try {
    resolve_config(json::parse(R"({"data": {"time_features": ["hour"]}})"), "t");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("data.time_features"), std::string::npos) << e.what();
  }
}

TEST(DataPrep, TheScoredPartReachesNeitherTheFilledTrainingRowsNorTheirStatistics) {
  // The same training rows (ending in a gap) before two opposite scored parts: the prepared training rows
  // must be identical, whatever the policy.
  for (const char* policy : {"interpolate", "carry_forward"}) {
    const json cfg = resolve_config(
        json::parse(std::string(R"({"data": {"missing": ")") + policy + R"(", "normalize": "minmax"}})"),
        "t");
    Series up = make_series({1, 2, 3, kNaN, kNaN, 500, 510, 520, 530, 540});
    Series down = make_series({1, 2, 3, kNaN, kNaN, -500, -510, -520, -530, -540});
    const PreparedSeries a = prepare_series(up, cfg, 5), b = prepare_series(down, cfg, 5);
    for (int r = 0; r < 5; ++r)
      EXPECT_EQ(a.x[static_cast<size_t>(r)], b.x[static_cast<size_t>(r)]) << policy << " row " << r;
    EXPECT_FLOAT_EQ(a.x[4], 1.0f) << policy << ": the gap takes the last training value, the maximum";
  }
}

TEST(DataPrep, TimeFeatureGateKeepsTheCalendarForSeriesThatFollowIt) {
  // Rows every 30 minutes (48 a day); 300 training rows are 6.25 days.
  const int n = 600, per_day = 48, train = 300;
  auto timed = [&](auto value) {
    Series s = make_series(std::vector<double>(n, 0.0));
    for (int i = 0; i < n; ++i) {
      s.time_us[static_cast<size_t>(i)] = (1704067200LL + i * 1800LL) * 1000000LL;
      s.values[static_cast<size_t>(i)] = value(i);
    }
    return s;
  };
  Rng rng(3);
  Series daily = timed([&](int i) { return std::sin(2 * M_PI * i / per_day) + rng.normal(0, 0.05); });
  Series noise = timed([&](int) { return rng.normal(0, 1); });
  const double r_daily = period_autocorrelation(daily, train, "time_of_day");
  const double r_noise = period_autocorrelation(noise, train, "time_of_day");
  EXPECT_GT(r_daily, 0.95);
  EXPECT_LT(std::fabs(r_noise), 0.2);
  // Two periods are needed: a week is not seen in 300 half-hour rows, a day is not seen in 90.
  EXPECT_TRUE(std::isnan(period_autocorrelation(daily, train, "day_of_week")));
  EXPECT_TRUE(std::isnan(period_autocorrelation(daily, 90, "time_of_day")));
  EXPECT_FALSE(std::isnan(period_autocorrelation(daily, 96, "time_of_day")));
  // A constant training part repeats nothing.
  EXPECT_TRUE(std::isnan(period_autocorrelation(timed([](int) { return 2.0; }), train, "time_of_day")));
  // Only rows before train_end count: a daily cycle that starts after them is not evidence.
  Series late = timed([&](int i) { return i < train ? rng.normal(0, 1) : std::sin(2 * M_PI * i / per_day); });
  EXPECT_LT(std::fabs(period_autocorrelation(late, train, "time_of_day")), 0.2);

  json gated = resolve_config(
      json::parse(
          R"({"data": {"time_features": ["time_of_day", "day_of_week"], "time_features_gate": 0.9}})"),
      "t");
  PreparedSeries pd = prepare_series(daily, gated, train);
  EXPECT_EQ(pd.input_dims, 3) << "the daily series gets time_of_day, and no day_of_week (under two weeks)";
  EXPECT_EQ(pd.time_features, std::vector<std::string>{"time_of_day"});
  EXPECT_EQ(pd.x.size(), static_cast<size_t>(n) * 3u);
  EXPECT_NEAR(pd.x[static_cast<size_t>(12) * 3 + 1], 1.0f, 1e-6) << "06:00 is a quarter of the day";
  PreparedSeries pn = prepare_series(noise, gated, train);
  EXPECT_EQ(pn.input_dims, 1);
  EXPECT_TRUE(pn.time_features.empty());
  // With a gate, a series without timestamps gets no calendar input instead of failing.
  Series bare = noise;
  bare.timestamps.clear();
  bare.time_us.clear();
  EXPECT_EQ(prepare_series(bare, gated, train).input_dims, 1);
  set_stand_in_times(bare);
  EXPECT_EQ(prepare_series(bare, gated, train).input_dims, 1) << "stand-in times are no clock to follow";
  // Gate 0 (the default) gives every series every requested input.
  json open =
      resolve_config(json::parse(R"({"data": {"time_features": ["time_of_day", "day_of_week"]}})"), "t");
  EXPECT_EQ(prepare_series(noise, open, train).input_dims, 5);
  try {
    resolve_config(json::parse(R"({"data": {"time_features_gate": 1.5}})"), "t");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("data.time_features_gate"), std::string::npos) << e.what();
  }
}

TEST(DataPrep, TimeFeatureGateGivesNoCalendarWhosePeriodIsUnderTwoRows) {
  // One row a day, a smooth monthly cycle: every row has the same time of day, so a time_of_day input
  // would be two constant columns, and the autocorrelation at a lag of one row (the day in rows) measures
  // how smooth the series is, not whether it follows the clock. The same for day_of_week on weekly rows.
  const int n = 400, train = 300;
  auto every = [&](int64_t step_s) {
    Series s = make_series(std::vector<double>(n, 0.0));
    for (int i = 0; i < n; ++i) {
      s.time_us[static_cast<size_t>(i)] = (1704067200LL + i * step_s) * 1000000LL;
      s.values[static_cast<size_t>(i)] = std::sin(2 * M_PI * i / 30.0);
    }
    return s;
  };
  const Series daily_rows = every(86400), weekly_rows = every(7 * 86400), half_days = every(43200);
  EXPECT_TRUE(std::isnan(period_autocorrelation(daily_rows, train, "time_of_day")));
  EXPECT_TRUE(std::isnan(period_autocorrelation(weekly_rows, train, "day_of_week")));
  // Two rows a day still tell morning from evening; seven daily rows a week tell the days apart.
  EXPECT_FALSE(std::isnan(period_autocorrelation(half_days, train, "time_of_day")));
  EXPECT_FALSE(std::isnan(period_autocorrelation(daily_rows, train, "day_of_week")));
  const json gated = resolve_config(
      json::parse(R"({"data": {"time_features": ["time_of_day"], "time_features_gate": 0.5}})"), "t");
  const PreparedSeries p = prepare_series(daily_rows, gated, train);
  EXPECT_TRUE(p.time_features.empty());
  EXPECT_EQ(p.input_dims, 1);
}

}  // namespace
}  // namespace lstmad
