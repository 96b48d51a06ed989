// The NAB scorer on small hand-computed cases (no NAB data needed): the scaled sigmoid, per-row sweep
// scores, probation, the sweep against a brute-force evaluation of the closed form (spec 2.5), the
// optimizer's tie rule, NAB's pick at a fixed threshold including its edge cases, normalization (null
// detector 0, perfect detector 100), number formatting and the summary CSV.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "core/error.hpp"
#include "eval/nab_corpus.hpp"
#include "eval/nab_scorer.hpp"

namespace lstmad {
namespace {

// The message of the DataError that f throws; "" when it throws none.
template <class F>
std::string refusal(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

NabProfile standard() {
  return nab_default_profiles()[0];
}

LabelWindow win(int a, int b) {
  LabelWindow w;
  w.start = a;
  w.end = b;
  return w;
}

// n = 100 rows, probation 15, one window [40, 49] (width 10); all scores 0 unless set.
NabFileInput one_window_file() {
  NabFileInput f;
  f.relpath = "cat/one.csv";
  f.rows = 100;
  f.windows = {win(40, 49)};
  f.scores.assign(100, 0.0);
  return f;
}

// Spec 2.5 evaluated directly in file order: the reference the sweep must agree with.
NabSweepEntry brute_force(const std::vector<NabFileInput>& files, const NabProfile& p, double t) {
  NabSweepEntry e;
  e.threshold = t;
  for (const auto& f : files) {
    const int probation = probation_length(f.rows);
    const auto sweep = nab_row_sweep_scores(f.rows, f.windows, p);
    std::vector<int> in(static_cast<size_t>(f.rows), -1);
    for (size_t k = 0; k < f.windows.size(); ++k)
      for (int i = f.windows[k].start; i <= f.windows[k].end; ++i)
        in[static_cast<size_t>(i)] = static_cast<int>(k);
    std::vector<double> best(f.windows.size(), -1e300);
    std::vector<bool> scorable(f.windows.size(), false);
    for (int i = probation; i < f.rows; ++i) {
      const bool det = f.scores[static_cast<size_t>(i)] >= t;
      const int k = in[static_cast<size_t>(i)];
      if (k >= 0) {
        scorable[static_cast<size_t>(k)] = true;
        if (det) {
          best[static_cast<size_t>(k)] =
              std::max(best[static_cast<size_t>(k)], sweep[static_cast<size_t>(i)]);
          ++e.tp;
        } else {
          ++e.fn;
        }
      } else if (det) {
        e.score += sweep[static_cast<size_t>(i)];
        ++e.fp;
      } else {
        ++e.tn;
      }
    }
    for (size_t k = 0; k < f.windows.size(); ++k)
      if (scorable[k]) e.score += best[k] > -1e300 ? best[k] : -p.fn_weight;
  }
  return e;
}

TEST(NabScorer, ScaledSigmoid) {
  EXPECT_NEAR(nab_scaled_sigmoid(-1.0), 0.98661429815143, 1e-13);
  EXPECT_EQ(nab_max_tp(), nab_scaled_sigmoid(-1.0));
  EXPECT_EQ(nab_scaled_sigmoid(0.0), 0.0);
  EXPECT_NEAR(nab_scaled_sigmoid(-0.5), 0.84828363995751, 1e-13);
  EXPECT_NEAR(nab_scaled_sigmoid(1.0), -0.98661429815143, 1e-13);
  EXPECT_NEAR(nab_scaled_sigmoid(3.0), -0.99999938819, 1e-10);
  EXPECT_GT(nab_scaled_sigmoid(3.0), -1.0);
  EXPECT_EQ(nab_scaled_sigmoid(3.0000001), -1.0);
  EXPECT_EQ(nab_scaled_sigmoid(1e9), -1.0);
}

TEST(NabScorer, RowSweepScores) {
  const NabProfile p = standard();
  const auto s = nab_row_sweep_scores(100, {win(40, 49)}, p);
  ASSERT_EQ(s.size(), 100u);
  // Before the first window (probation included): the full FP weight.
  EXPECT_EQ(s[0], -0.11);
  EXPECT_EQ(s[39], -0.11);
  // A window's first row is worth exactly tpW; the value falls across the window.
  EXPECT_EQ(s[40], 1.0);
  EXPECT_NEAR(s[44], nab_scaled_sigmoid(-0.6) / nab_max_tp(), 1e-15);
  EXPECT_NEAR(s[49], nab_scaled_sigmoid(-0.1) / nab_max_tp(), 1e-15);
  for (int i = 41; i < 50; ++i) EXPECT_LT(s[static_cast<size_t>(i)], s[static_cast<size_t>(i - 1)]);
  // After it: S((i - R')/(W' - 1)) fpW, small right after, the full weight beyond 3 (W'-1) rows.
  EXPECT_NEAR(s[50], nab_scaled_sigmoid(1.0 / 9.0) * 0.11, 1e-15);
  EXPECT_NEAR(s[58], nab_scaled_sigmoid(1.0) * 0.11, 1e-15);
  EXPECT_GT(s[50], s[58]);
  EXPECT_EQ(s[77], -0.11);
  // Weights enter linearly.
  NabProfile p2 = p;
  p2.tp_weight = 2.0;
  p2.fp_weight = 0.5;
  const auto s2 = nab_row_sweep_scores(100, {win(40, 49)}, p2);
  EXPECT_EQ(s2[40], 2.0);
  EXPECT_EQ(s2[0], -0.5);
}

TEST(NabScorer, FirstRowDetectionScoresTpWeight) {
  NabFileInput f = one_window_file();
  f.scores[40] = 1.0;
  auto r = nab_score_at({f}, standard(), 1.0);
  EXPECT_EQ(r.files[0].score, 1.0);
  EXPECT_EQ(r.files[0].tp, 1);
  EXPECT_EQ(r.files[0].fn, 9);
  EXPECT_EQ(r.files[0].fp, 0);
  EXPECT_EQ(r.files[0].tn, 75);
  EXPECT_EQ(r.files[0].total_count, 100);
  // A later detection in the same window neither adds nor subtracts.
  f.scores[47] = 1.0;
  EXPECT_EQ(nab_score_at({f}, standard(), 1.0).files[0].score, 1.0);
  // Only a later one: worth less.
  f.scores[40] = 0.0;
  f.scores[47] = 0.0;
  f.scores[45] = 1.0;
  EXPECT_NEAR(nab_score_at({f}, standard(), 1.0).files[0].score, nab_scaled_sigmoid(-0.5) / nab_max_tp(),
              1e-15);
}

TEST(NabScorer, FalsePositiveWeightsAfterAWindow) {
  NabFileInput f = one_window_file();
  f.scores[50] = 1.0;  // just after the window: a light penalty, and the window is missed
  f.scores[90] = 1.0;  // far after it: the full penalty
  f.scores[20] = 1.0;  // before any window: the full penalty
  auto r = nab_score_at({f}, standard(), 1.0).files[0];
  EXPECT_NEAR(r.score, -1.0 + nab_scaled_sigmoid(1.0 / 9.0) * 0.11 - 0.11 - 0.11, 1e-15);
  EXPECT_EQ(r.fp, 3);
  EXPECT_EQ(r.tp, 0);
  EXPECT_EQ(r.fn, 10);
  EXPECT_EQ(r.tn, 72);
  // Each FP row counts separately: no merging of consecutive detections.
  f.scores[91] = 1.0;
  EXPECT_NEAR(nab_score_at({f}, standard(), 1.0).files[0].score, r.score - 0.11, 1e-15);
}

TEST(NabScorer, ProbationaryRowsAreNotScored) {
  NabFileInput f = one_window_file();
  EXPECT_EQ(probation_length(100), 15);
  f.scores[5] = 1.0;
  f.scores[14] = 1.0;
  auto r = nab_score_at({f}, standard(), 1.0).files[0];
  EXPECT_EQ(r.score, -1.0);  // only the missed window
  EXPECT_EQ(r.fp + r.tn + r.tp + r.fn, 85);
  EXPECT_EQ(r.fp, 0);
  f.scores[15] = 1.0;  // the first scorable row
  EXPECT_EQ(nab_score_at({f}, standard(), 1.0).files[0].fp, 1);

  // A window lying entirely in probation vanishes: no FN, and it is not in N_win.
  NabFileInput g = one_window_file();
  g.windows = {win(2, 8), win(40, 49)};
  EXPECT_EQ(nab_window_count({g}), 1);
  auto rg = nab_score_at({g}, standard(), 1.0);
  EXPECT_EQ(rg.files[0].score, -1.0);
  EXPECT_EQ(rg.windows, 1);
  EXPECT_EQ(rg.normalized, 0.0);
  // A window straddling the probation end still counts, from its scorable rows on.
  g.windows = {win(10, 20), win(40, 49)};
  EXPECT_EQ(nab_window_count({g}), 2);
  g.scores[15] = 1.0;
  EXPECT_NEAR(nab_score_at({g}, standard(), 1.0).files[0].score,
              nab_scaled_sigmoid(-6.0 / 11.0) / nab_max_tp() - 1.0, 1e-15);
}

TEST(NabScorer, SweepMatchesTheClosedForm) {
  std::mt19937_64 rng(20260101);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<NabFileInput> files;
  for (int k = 0; k < 4; ++k) {
    NabFileInput f;
    f.relpath = "cat/f" + std::to_string(k) + ".csv";
    f.rows = 300 + 50 * k;
    if (k != 2) f.windows = {win(80 + k, 100 + k), win(150, 171), win(250, 270)};
    for (int i = 0; i < f.rows; ++i) f.scores.push_back(std::round(u(rng) * 40.0) / 40.0);  // many ties
    files.push_back(f);
  }
  for (const auto& p : nab_default_profiles()) {
    const auto entries = nab_sweep(files, p);
    ASSERT_GE(entries.size(), 3u);
    EXPECT_EQ(entries[0].threshold, 1.1);
    EXPECT_EQ(entries[0].tp + entries[0].fp, 0);
    for (size_t i = 1; i < entries.size(); ++i) EXPECT_LT(entries[i].threshold, entries[i - 1].threshold);
    for (const auto& e : entries) {
      const NabSweepEntry b = brute_force(files, p, e.threshold);
      EXPECT_NEAR(e.score, b.score, 1e-12) << p.name << " at " << e.threshold;
      EXPECT_EQ(e.tp, b.tp);
      EXPECT_EQ(e.tn, b.tn);
      EXPECT_EQ(e.fp, b.fp);
      EXPECT_EQ(e.fn, b.fn);
    }
    // The optimizer takes the best of them.
    const auto opt = nab_optimize(files, {p})[0];
    double best = -1e300;
    for (const auto& e : entries) best = std::max(best, e.score);
    EXPECT_EQ(opt.raw_score, best);
    // Per-file scoring at every observed threshold adds up to the pooled entry.
    for (size_t i = 0; i < entries.size(); i += 7) {
      const auto s = nab_score_at(files, p, entries[i].threshold);
      EXPECT_NEAR(s.totals.score, entries[i].score, 1e-12);
      EXPECT_EQ(s.totals.tp, entries[i].tp);
      EXPECT_EQ(s.totals.fp, entries[i].fp);
      EXPECT_EQ(s.totals.tn, entries[i].tn);
      EXPECT_EQ(s.totals.fn, entries[i].fn);
    }
  }
}

// Random corpora with many windows (touching ones, one-row ones, windows in probation) and scores with
// heavy ties, no ties, binary, or above 1.1: the optimizer, which re-sums NAB's parts only near its best
// running total, must pick exactly the first maximum of the full sweep (the same bits, the highest tied
// threshold), and the per-file pick at any threshold must be the sweep entry detecting {score >= t}.
TEST(NabScorer, OptimizerAndPickAgreeWithTheFullSweepOnManyWindows) {
  std::mt19937_64 rng(20261203);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<NabProfile> profiles = nab_default_profiles();
  profiles.push_back({"no_fp_cost", 1.0, 1.0, 0.0, 1.0});
  profiles.push_back({"no_fn_cost", 1.0, 0.0, 0.11, 1.0});
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<NabFileInput> files;
    const int nfiles = 1 + trial % 4;
    for (int k = 0; k < nfiles; ++k) {
      NabFileInput f;
      f.relpath = "cat/t" + std::to_string(trial) + "_" + std::to_string(k) + ".csv";
      f.rows = 60 + static_cast<int>(u(rng) * (trial < 20 ? 100 : 1300));
      for (int at = static_cast<int>(u(rng) * 60); at < f.rows;) {
        const int len = 1 + static_cast<int>(u(rng) * 20);
        if (at + len > f.rows) break;
        f.windows.push_back(win(at, at + len - 1));
        at += len + (u(rng) < 0.2 ? 0 : 1 + static_cast<int>(u(rng) * 80));  // some touch
      }
      const int mode = (trial + k) % 4;
      for (int i = 0; i < f.rows; ++i) {
        double v = u(rng);
        if (mode == 0) v = std::round(v * 10.0) / 10.0;  // heavy ties
        if (mode == 2) v = v < 0.9 ? 0.0 : 1.0;          // binary
        if (mode == 3 && v > 0.97) v = v > 0.985 ? 1.1 : 1.5;
        f.scores.push_back(v);
      }
      files.push_back(f);
    }
    for (const auto& p : profiles) {
      const auto entries = nab_sweep(files, p);
      NabSweepEntry best = entries[0];
      for (const auto& e : entries)
        if (e.score > best.score) best = e;
      const auto opt = nab_optimize(files, {p})[0];
      EXPECT_EQ(opt.raw_score, best.score) << "trial " << trial << " " << p.name;
      // The start entry, nothing detected, is reported above every score where 1.1 would detect some.
      double top = -1e300;
      for (const auto& f : files)
        for (int i = probation_length(f.rows); i < f.rows; ++i)
          top = std::max(top, f.scores[static_cast<size_t>(i)]);
      const double want_threshold =
          best.tp + best.fp == 0 && top >= 1.1 ? std::nextafter(top, 1e300) : best.threshold;
      EXPECT_EQ(opt.threshold, want_threshold) << "trial " << trial << " " << p.name;
      EXPECT_EQ(opt.tp, best.tp);
      EXPECT_EQ(opt.fp, best.fp);
      // Scored at the threshold it found, the corpus detects the same rows (nab_scores.json and the
      // *_scores.csv totals agree, also where that threshold is 1.1 with scores above it).
      const auto at_best = nab_score_at(files, p, opt.threshold);
      EXPECT_EQ(at_best.totals.tp, opt.tp) << "trial " << trial << " " << p.name << " at " << opt.threshold;
      EXPECT_EQ(at_best.totals.fp, opt.fp) << "trial " << trial << " " << p.name << " at " << opt.threshold;
      EXPECT_NEAR(at_best.totals.score, opt.raw_score, 1e-9);

      std::vector<double> thresholds = {-1.0, 0.0, 0.05, 1.0, 1.1, 1.2, 1.5, 1.6};
      for (size_t i = 1; i < entries.size(); i += 1 + entries.size() / 40) {
        thresholds.push_back(entries[i].threshold);
        thresholds.push_back((entries[i].threshold + entries[i - 1].threshold) / 2.0);
      }
      for (double t : thresholds) {
        const auto picked = nab_score_at(files, p, t);
        for (size_t k = 0; k < files.size(); ++k) {
          const auto file_entries = nab_sweep({files[k]}, p);
          // The pick detects {score >= t}, also at t = 1.1 where scores above 1.1 come after the start
          // entry (NAB would take the start entry there), as the optimizer's entry at 1.1 does.
          const NabSweepEntry want = brute_force({files[k]}, p, t);
          const NabFileScore& got = picked.files[k];
          ASSERT_EQ(got.tp, want.tp) << files[k].relpath << " at " << t;
          ASSERT_EQ(got.fp, want.fp) << files[k].relpath << " at " << t;
          // The same bits as the file's own sweep entry with these detections; with none detected (above
          // 1.1 the sweep may have no such entry) the null score.
          bool seen = got.tp + got.fp == 0;
          if (seen) {
            EXPECT_EQ(got.score, -p.fn_weight * static_cast<double>(nab_window_count({files[k]})));
          }
          for (const auto& e : file_entries)
            if (e.tp == got.tp && e.fp == got.fp) {
              EXPECT_EQ(got.score, e.score) << files[k].relpath << " at " << t;
              seen = true;
            }
          EXPECT_TRUE(seen) << files[k].relpath << " at " << t;
          EXPECT_NEAR(got.score, want.score, 1e-9);
        }
      }
    }
  }
}

TEST(NabScorer, OptimizerTiesGoToTheHighestThreshold) {
  NabFileInput f = one_window_file();
  f.scores[40] = 0.9;  // first row of the window: tpW
  f.scores[41] = 0.8;  // adds nothing once row 40 is detected: the score at 0.8 equals the one at 0.9
  const auto entries = nab_sweep({f}, standard());
  ASSERT_EQ(entries.size(), 4u);  // 1.1, 0.9, 0.8, 0.0
  EXPECT_EQ(entries[1].score, 1.0);
  EXPECT_EQ(entries[2].score, 1.0);
  auto r = nab_optimize({f}, {standard()})[0];
  EXPECT_EQ(r.threshold, 0.9);
  EXPECT_EQ(r.raw_score, 1.0);
  EXPECT_EQ(r.tp, 1);
  EXPECT_EQ(r.profile, "standard");
  // A binary detector's best threshold is 1.0, not anything lower that detects the same rows.
  NabFileInput b = one_window_file();
  b.scores[40] = 1.0;
  EXPECT_EQ(nab_optimize({b}, {standard()})[0].threshold, 1.0);
}

TEST(NabScorer, OptimizersThresholdScoredAgainGivesItsScoreWithScoresAboveTheStart) {
  // Scores above 1.1 on every row outside the window: each detection only costs, so detecting nothing
  // (the start entry) is best. Its threshold must detect nothing when scored again: 1.1 would detect every
  // row scored above it.
  NabFileInput f = one_window_file();
  for (int i = 15; i < 100; ++i)
    if (i < 40 || i > 49) f.scores[static_cast<size_t>(i)] = 5.0;
  for (const NabProfile& p : nab_default_profiles()) {
    const NabThresholdResult r = nab_optimize({f}, {p})[0];
    EXPECT_EQ(r.tp + r.fp, 0) << p.name;
    EXPECT_EQ(r.raw_score, -p.fn_weight) << p.name;
    EXPECT_GT(r.threshold, 5.0) << p.name;
    const NabProfileScores again = nab_score_at({f}, p, r.threshold);
    EXPECT_EQ(again.totals.score, r.raw_score) << p.name;
    EXPECT_EQ(again.totals.tp + again.totals.fp, 0) << p.name;
  }
  // Below 1.1 the start entry keeps NAB's threshold.
  for (int i = 15; i < 100; ++i)
    if (i < 40 || i > 49) f.scores[static_cast<size_t>(i)] = 1.0;
  EXPECT_EQ(nab_optimize({f}, {standard()})[0].threshold, 1.1);
}

TEST(NabScorer, PickAtAFixedThreshold) {
  NabFileInput f = one_window_file();
  f.scores[40] = 0.9;  // TP
  f.scores[60] = 0.5;  // FP
  f.scores[70] = 0.2;  // FP
  // Observed scores: 0.9, 0.5, 0.2, 0.0. Detections are always {s >= T}.
  auto at = [&](double t) { return nab_score_at({f}, standard(), t).files[0]; };
  auto fp_at = [&](int i) {
    return nab_row_sweep_scores(100, f.windows, standard())[static_cast<size_t>(i)];
  };
  EXPECT_EQ(at(0.5).fp, 1);  // exactly equal to a score: that entry
  EXPECT_NEAR(at(0.5).score, 1.0 + fp_at(60), 1e-15);
  EXPECT_EQ(at(0.6).fp, 0);  // between scores: the smallest score above (0.9)
  EXPECT_EQ(at(0.6).score, 1.0);
  EXPECT_EQ(at(0.3).fp, 1);
  EXPECT_EQ(at(0.21).fp, 1);
  EXPECT_EQ(at(0.2).fp, 2);
  EXPECT_EQ(at(1.0).score, -1.0);  // above every score: no detection
  EXPECT_EQ(at(1.1).tp + at(1.1).fp, 0);
  EXPECT_EQ(at(5.0).tp + at(5.0).fp, 0);  // above 1.1, where NAB has no entry: the first one
  // Below every score and equal to none (NAB finds no entry and fails): everything detected.
  const auto all = at(-0.5);
  EXPECT_EQ(all.tp, 10);
  EXPECT_EQ(all.fp, 75);
  EXPECT_EQ(all.fn, 0);
  EXPECT_EQ(all.tn, 0);
  EXPECT_NEAR(all.score, brute_force({f}, standard(), -0.5).score, 1e-12);
  EXPECT_EQ(at(0.0).fp, 75);  // equal to the lowest score: the last entry too

  // Scores above the sweep's 1.1 start: a threshold above 1.1 still detects {s >= T}.
  f.scores[41] = 1.5;
  f.scores[65] = 1.3;
  EXPECT_EQ(at(2.0).tp + at(2.0).fp, 0);
  EXPECT_EQ(at(1.5).tp, 1);
  EXPECT_EQ(at(1.5).fp, 0);
  EXPECT_EQ(at(1.4).tp, 1);
  EXPECT_EQ(at(1.3).fp, 1);
  EXPECT_EQ(at(1.2).fp, 1);
  EXPECT_EQ(at(1.2).tp, 1);
  EXPECT_NEAR(at(1.2).score, brute_force({f}, standard(), 1.2).score, 1e-15);
  EXPECT_EQ(at(0.5).tp, 2);
  EXPECT_EQ(at(0.5).fp, 2);
}

TEST(NabScorer, NullDetectorScoresZeroAndPerfectScoresHundred) {
  std::vector<NabFileInput> files = {one_window_file(), one_window_file()};
  files[1].relpath = "cat/two.csv";
  files[1].windows = {win(20, 29), win(60, 79)};
  NabFileInput quiet = one_window_file();
  quiet.relpath = "cat/none.csv";
  quiet.windows.clear();
  files.push_back(quiet);
  EXPECT_EQ(nab_window_count(files), 3);
  for (auto& f : files) f.scores.assign(100, 0.5);
  for (const auto& p : nab_default_profiles()) {
    auto opt = nab_optimize(files, {p})[0];
    EXPECT_EQ(opt.threshold, 1.1) << p.name;
    EXPECT_EQ(opt.raw_score, -3.0 * p.fn_weight) << p.name;
    EXPECT_EQ(opt.normalized, 0.0) << p.name;
    EXPECT_EQ(nab_score_at(files, p, 0.6).normalized, 0.0) << p.name;
  }
  for (auto& f : files) {
    f.scores.assign(100, 0.0);
    for (const auto& w : f.windows) f.scores[static_cast<size_t>(w.start)] = 1.0;
  }
  for (const auto& p : nab_default_profiles()) {
    auto opt = nab_optimize(files, {p})[0];
    EXPECT_EQ(opt.threshold, 1.0) << p.name;
    EXPECT_EQ(opt.normalized, 100.0) << p.name;
    auto s = nab_score_at(files, nab_default_profiles(),
                          {{"standard", 1.0}, {"reward_low_FP_rate", 1.0}, {"reward_low_FN_rate", 1.0}});
    for (const auto& ps : s) EXPECT_EQ(ps.normalized, 100.0) << ps.profile;
  }
  EXPECT_NEAR(nab_normalize(0.0, standard(), 116), 50.0, 1e-12);
  // NAB normalizes the Totals as its summary CSV prints them (12 significant digits).
  EXPECT_NEAR(nab_normalize(46.6344501971, standard(), 116), 70.10105611943965, 1e-12);
  EXPECT_NEAR(nab_normalize(26.6344501971, nab_default_profiles()[2], 116), 74.3202443095115, 1e-12);
  EXPECT_TRUE(std::isnan(nab_normalize(-1.0, standard(), 0)));
  EXPECT_THROW(nab_score_at(files, nab_default_profiles(), {{"standard", 0.5}}), ConfigError);
}

TEST(NabScorer, OneRowWindowThenAFalsePositive) {
  // NAB divides by W'-1 = 0 here; the limit (the full FP weight) is what a row past the window gets.
  const auto s = nab_row_sweep_scores(100, {win(40, 40)}, standard());
  EXPECT_EQ(s[40], 1.0);
  EXPECT_EQ(s[41], -0.11);
}

TEST(NabScorer, InvalidInputsAreDataErrors) {
  NabFileInput f = one_window_file();
  EXPECT_THROW(nab_score_at({f}, standard(), std::nan("")), ConfigError);  // a threshold that picks nothing
  f.scores.pop_back();
  EXPECT_THROW(nab_optimize({f}, nab_default_profiles()), DataError);
  f = one_window_file();
  f.scores[42] = std::nan("");
  try {
    nab_optimize({f}, nab_default_profiles());
    ADD_FAILURE() << "NaN accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("cat/one.csv"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("row 42"), std::string::npos) << e.what();
  }
  f = one_window_file();
  f.windows = {win(40, 49), win(45, 60)};
  EXPECT_THROW(nab_score_at({f}, standard(), 0.5), DataError);
  f.windows = {win(90, 100)};
  EXPECT_THROW(nab_score_at({f}, standard(), 0.5), DataError);
}

TEST(NabScorer, Profiles) {
  const auto d = nab_default_profiles();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].name, "standard");
  EXPECT_EQ(d[1].name, "reward_low_FP_rate");
  EXPECT_EQ(d[1].fp_weight, 0.22);
  EXPECT_EQ(d[2].name, "reward_low_FN_rate");
  EXPECT_EQ(d[2].fn_weight, 2.0);
  const auto p = nab_parse_profiles(
      R"({"zeta": {"CostMatrix": {"tpWeight": 2.0, "fnWeight": 0.5, "fpWeight": 0.3, "tnWeight": 1.0}},
          "alpha": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1, "fpWeight": 0.01}}})",
      "mine.json");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].name, "zeta");  // document order
  EXPECT_EQ(p[0].tp_weight, 2.0);
  EXPECT_EQ(p[0].fn_weight, 0.5);
  EXPECT_EQ(p[1].fp_weight, 0.01);
  EXPECT_THROW(nab_parse_profiles(R"({"x": {"CostMatrix": {"tpWeight": 1}}})", "bad.json"), DataError);
  EXPECT_THROW(nab_parse_profiles("[1, 2]", "bad.json"), DataError);
  EXPECT_THROW(nab_parse_profiles("{", "bad.json"), DataError);
  // A weight is a reward's or a cost's size; all-zero rewards and costs leave nothing to normalize by.
  auto why = [](const std::string& text) { return refusal([&] { nab_parse_profiles(text, "w.json"); }); };
  EXPECT_NE(why(R"({"p": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1, "fpWeight": -5}}})")
                .find("\"fpWeight\" must be a finite weight >= 0, got -5"),
            std::string::npos);
  EXPECT_NE(why(R"({"p": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1, "fpWeight": 0.1, "tnWeight": "x"}}})")
                .find("tnWeight"),
            std::string::npos);
  EXPECT_NE(why(R"({"p": {"CostMatrix": {"tpWeight": 0, "fnWeight": 0, "fpWeight": 0, "tnWeight": 0}}})")
                .find("tpWeight and fnWeight are both 0"),
            std::string::npos);
  EXPECT_EQ(why(R"({"p": {"CostMatrix": {"tpWeight": 0, "fnWeight": 1, "fpWeight": 0}}})"), "");
  // Read strictly: a number beyond double range (nlohmann's own exception, which named no file, escaped
  // before), a profile given twice (the second would replace the first) and a NUL byte (the parser took it
  // for the end of the text) are errors naming the file, the line and the key.
  EXPECT_EQ(
      why("{\"p\": {\"CostMatrix\":\n {\"tpWeight\": 1e999, \"fnWeight\": 1, \"fpWeight\": 0}}}"),
      "w.json:2: p.CostMatrix.tpWeight: expected a number within about +-1.8e308 (a double), got 1e999");
  EXPECT_NE(why(R"({"p": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1, "fpWeight": 0}},
                    "p": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1, "fpWeight": 5}}})")
                .find("w.json:2: p: key given twice in one object"),
            std::string::npos);
  EXPECT_NE(why(std::string(R"({"p": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1, "fpWeight": 0}}})") +
                std::string(1, '\0') + "{")
                .find("w.json:1: a NUL byte"),
            std::string::npos);
}

TEST(NabScorer, ThresholdsFilesAreReadStrictly) {
  auto why = [](const std::string& text) { return refusal([&] { nab_parse_thresholds(text, "t.json"); }); };
  const auto t = nab_parse_thresholds(R"({"d": {"standard": {"threshold": 0.5, "score": 3}}})", "t.json");
  EXPECT_EQ(t.at("d").at("standard"), 0.5);
  EXPECT_EQ(why(R"({"d": {"standard": {"threshold": 1e400}}})"),
            "t.json:1: d.standard.threshold: expected a number within about +-1.8e308 (a double), got 1e400");
  EXPECT_NE(
      why("{\"d\": {\"standard\": {\"threshold\": 0.5}},\n \"d\": {}}").find("t.json:2: d: key given twice"),
      std::string::npos);
  EXPECT_NE(why(R"({"d": {"standard": {"threshold": "x"}}})")
                .find("\"d\".\"standard\": expected {\"threshold\": number}"),
            std::string::npos);
}

TEST(NabScorer, NumbersAsPythonWritesThem) {
  EXPECT_EQ(nab_format_number(2.0), "2.0");
  EXPECT_EQ(nab_format_number(-2.0), "-2.0");
  EXPECT_EQ(nab_format_number(0.0), "0.0");
  EXPECT_EQ(nab_format_number(-0.22), "-0.22");
  EXPECT_EQ(nab_format_number(1.1), "1.1");
  EXPECT_EQ(nab_format_number(365558.0), "365558.0");
  EXPECT_EQ(nab_format_number(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(nab_format_number(0.0001), "0.0001");
  EXPECT_EQ(nab_format_number(1e-05), "1e-05");
  EXPECT_EQ(nab_format_number(-1.03989471325e-05), "-1.03989471325e-05");
  EXPECT_EQ(nab_format_number(1e16), "1e+16");
  EXPECT_EQ(nab_format_number(1.5e300), "1.5e+300");
  EXPECT_EQ(nab_format_number(123456789012345.6), "123456789012345.6");
  EXPECT_EQ(nab_format_number(46.634450197137596), "46.634450197137596");
  for (double v : {0.5421876907348634, -24.013105123, 3.0e-310, 70.10105611943965})
    EXPECT_EQ(std::strtod(nab_format_number(v).c_str(), nullptr), v) << v;
}

TEST(NabScorer, SummaryCsv) {
  NabFileInput f = one_window_file();
  f.scores[40] = 1.0;
  NabFileInput g = one_window_file();
  g.relpath = "cat/two.csv";
  auto s = nab_score_at({f, g}, standard(), 0.5);
  EXPECT_EQ(nab_scores_csv("det", s),
            "Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count\n"
            "det,standard,cat/one.csv,0.5,1.0,1,75,0,9,100\n"
            "det,standard,cat/two.csv,0.5,-1.0,0,75,0,10,100\n"
            "Totals,,,,0.0,1,150,0,19,200\n");
}

}  // namespace
}  // namespace lstmad
