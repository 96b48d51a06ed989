// telemanom's batch thresholding (detect/telemanom_threshold): what its rules flag and leave alone on
// made-up errors, and agreement with a literal transcription of the published procedure (its loops point
// by point, with sets for its lists; the smoothing as an explicit weighted sum) on random series.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "core/rng.hpp"
#include "detect/detector.hpp"
#include "detect/telemanom_threshold.hpp"

using namespace lstmad;

namespace {

bool has(const std::set<long>& v, long x) {
  return v.count(x) > 0;
}

double mean(const std::vector<double>& v) {
  return v.empty() ? std::nan("") : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double sd(const std::vector<double>& v) {
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return v.empty() ? std::nan("") : std::sqrt(s / static_cast<double>(v.size()));
}

double pct(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q / 100 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  return lo + 1 < v.size() ? v[lo] + (v[lo + 1] - v[lo]) * (pos - static_cast<double>(lo)) : v[lo];
}

// Index pairs of the runs of consecutive indices in sorted `ix` longer than one.
std::vector<std::pair<long, long>> sequences(const std::set<long>& set) {
  const std::vector<long> ix(set.begin(), set.end());
  std::vector<std::pair<long, long>> out;
  for (size_t k = 0; k < ix.size();) {
    size_t j = k;
    while (j + 1 < ix.size() && ix[j + 1] == ix[j] + 1) ++j;
    if (j > k) out.push_back({ix[k], ix[j]});
    k = j + 1;
  }
  return out;
}

double find_z(const std::vector<double>& e, int buffer) {
  const double mu = mean(e), s = sd(e);
  double max_s = 0, z_best = 12;
  for (double z = 2.5; z < 12; z += 0.5) {
    const double eps = mu + s * z;
    std::vector<double> pruned;
    std::set<long> i_anom;
    for (long i = 0; i < static_cast<long>(e.size()); ++i) {
      if (e[static_cast<size_t>(i)] < eps) pruned.push_back(e[static_cast<size_t>(i)]);
      if (e[static_cast<size_t>(i)] > eps)
        for (long j = 0; j < buffer; ++j) {
          if (!has(i_anom, i + j) && i + j < static_cast<long>(e.size())) i_anom.insert(i + j);
          if (!has(i_anom, i - j) && i - j >= 0) i_anom.insert(i - j);
        }
    }
    if (i_anom.empty()) continue;
    const auto seq = sequences(i_anom);
    const double sc = ((mu - mean(pruned)) / mu + (s - sd(pruned)) / s) /
                      static_cast<double>(seq.size() * seq.size() + i_anom.size());
    if (sc >= max_s && seq.size() <= 5 && static_cast<double>(i_anom.size()) < e.size() * 0.5) {
      z_best = z;
      max_s = sc;
    }
  }
  return z_best;
}

std::set<long> compare(const std::vector<double>& e, double eps, long len_y, double inter_range,
                       double chan_std, double std_e, const TelemanomOptions& o, long window,
                       const std::set<long>& full, double& non_anom_max) {
  std::set<long> i_anom;
  non_anom_max = 0;
  const double emax = *std::max_element(e.begin(), e.end());
  if (!(std_e > 0.05 * chan_std || emax > 0.05 * inter_range) || !(emax > 0.05)) return i_anom;
  long ignore = o.l_s * 2;
  if (len_y < 2500) ignore = o.l_s;
  if (len_y < 1800) ignore = 0;
  const long n = static_cast<long>(e.size());
  for (long x = 0; x < n; ++x) {
    if (!(e[static_cast<size_t>(x)] > eps) || !(e[static_cast<size_t>(x)] > 0.05 * inter_range)) continue;
    for (long b = 0; b < o.buffer; ++b) {
      if (!has(i_anom, x + b) && x + b < n && (x + b >= n - o.batch || window == 0) &&
          !(window == 0 && x + b < ignore))
        i_anom.insert(x + b);
      if (!has(i_anom, x - b) && (x - b >= n - o.batch || window == 0) && !(window == 0 && x - b < ignore))
        i_anom.insert(x - b);
    }
  }
  for (long x = 0; x < n; ++x)
    if (e[static_cast<size_t>(x)] > non_anom_max && !has(full, x + window * o.batch) && !has(i_anom, x))
      non_anom_max = e[static_cast<size_t>(x)];
  return i_anom;
}

std::set<long> prune(std::vector<std::pair<long, long>> seqs, const std::vector<double>& e,
                     double non_anom_max, const std::set<long>& i_anom, double p) {
  std::vector<double> seq_max, ranked;
  for (const auto& [a, b] : seqs) {
    const double m = *std::max_element(e.begin() + a, e.begin() + b);
    seq_max.push_back(m);
    ranked.push_back(m);
  }
  std::sort(ranked.rbegin(), ranked.rend());
  if (non_anom_max > 0) ranked.push_back(non_anom_max);
  std::vector<long> remove;
  for (size_t i = 0; i + 1 < ranked.size(); ++i) {
    if ((ranked[i] - ranked[i + 1]) / ranked[i] < p)
      remove.push_back(std::find(seq_max.begin(), seq_max.end(), ranked[i]) - seq_max.begin());
    else
      remove.clear();
  }
  std::sort(remove.rbegin(), remove.rend());
  for (long r : remove) seqs.erase(seqs.begin() + r);
  std::set<long> kept;
  for (long i : i_anom)
    for (const auto& [a, b] : seqs)
      if (i >= a && i <= b) {
        kept.insert(i);
        break;
      }
  return kept;
}

// Every row scored; returns the flagged rows.
std::set<long> reference(const std::vector<double>& errors, const std::vector<double>& y,
                         const TelemanomOptions& o) {
  const long m = static_cast<long>(errors.size());
  const int span = static_cast<int>(o.batch * o.windows * o.smoothing_perc);
  const double a = 2.0 / (span + 1.0);
  std::vector<double> e_s(errors.size());
  for (long t = 0; t < m; ++t) {
    double num = 0, den = 0;
    for (long i = 0; i <= t; ++i) {
      const double w = std::pow(1 - a, static_cast<double>(t - i));
      num += w * errors[static_cast<size_t>(i)];
      den += w;
    }
    e_s[static_cast<size_t>(t)] = num / den;
  }
  const double head = mean(std::vector<double>(e_s.begin(), e_s.begin() + std::min<long>(m, 2 * o.l_s)));
  for (long i = 0; i < std::min<long>(m, o.l_s); ++i) e_s[static_cast<size_t>(i)] = head;
  int window_size = o.windows;
  long num_windows = static_cast<long>(static_cast<double>(m - o.batch * window_size) / o.batch);
  while (num_windows < 0) {
    window_size = std::max(1, window_size - 1);
    num_windows = static_cast<long>(static_cast<double>(m - o.batch * window_size) / o.batch);
  }
  std::set<long> full;
  for (long i = 1; i <= num_windows + 1; ++i) {
    const long prior = (i - 1) * o.batch;
    long idx = o.windows * o.batch + (i - 1) * o.batch;
    if (i == num_windows + 1) idx = m;
    const std::vector<double> we(e_s.begin() + prior, e_s.begin() + idx),
        wy(y.begin() + prior, y.begin() + idx);
    const double inter_range = pct(wy, 95) - pct(wy, 5);
    const double mu = mean(we), s = sd(we), chan_std = sd(wy);
    std::vector<double> inv;
    for (double x : we) inv.push_back(mu + (mu - x));
    const double eps = mu + find_z(we, o.buffer) * s, eps_inv = mu + find_z(inv, o.buffer) * s;
    double nam, nam_inv;
    std::set<long> up = compare(we, eps, m, inter_range, chan_std, s, o, i - 1, full, nam);
    std::set<long> down = compare(inv, eps_inv, m, inter_range, chan_std, s, o, i - 1, full, nam_inv);
    if (const auto seq = sequences(up); !seq.empty()) up = prune(seq, we, nam, up, o.prune);
    if (const auto seq = sequences(down); !seq.empty()) down = prune(seq, inv, nam_inv, down, o.prune);
    for (long k : up) full.insert(k + prior);
    for (long k : down) full.insert(k + prior);
  }
  std::set<long> rows;
  for (const auto& [a0, b0] : sequences(full))
    for (long k = a0; k <= b0; ++k) rows.insert(k);
  return rows;
}

std::set<long> flagged(const std::vector<double>& scores) {
  std::set<long> rows;
  for (size_t i = 0; i < scores.size(); ++i)
    if (scores[i] == 1.0)
      rows.insert(static_cast<long>(i));
    else
      EXPECT_EQ(scores[i], 0.0) << "binary scores";
  return rows;
}

// Errors around `level` with noise, values a sine of amplitude 1.
void quiet(size_t n, double level, uint64_t seed, std::vector<double>& e, std::vector<double>& y) {
  Rng rng(seed);
  e.resize(n);
  y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    e[i] = std::fabs(level + 0.02 * rng.normal());
    y[i] = std::sin(static_cast<double>(i) * 0.05);
  }
}

}  // namespace

TEST(Telemanom, ABurstIsFlaggedAndTheQuietRowsAreNot) {
  std::vector<double> e, y;
  quiet(4000, 0.1, 1, e, y);
  for (size_t i = 3000; i < 3040; ++i) e[i] = 1.0;
  const std::set<long> rows = flagged(telemanom_detections(e, y, TelemanomOptions{}));
  ASSERT_FALSE(rows.empty());
  EXPECT_TRUE(rows.count(3000) && rows.count(3039)) << *rows.begin() << ".." << *rows.rbegin();
  EXPECT_GE(*rows.begin(), 2900);  // the buffer reaches back into the newest batch only
  EXPECT_LE(*rows.rbegin(), 3300);  // the smoothed errors' decay after the burst, and the buffer after it
  // The same errors against values a thousand times wider are small for them: nothing.
  std::vector<double> wide = y;
  for (double& v : wide) v *= 1000;
  EXPECT_TRUE(flagged(telemanom_detections(e, wide, TelemanomOptions{})).empty());
  // Errors that never pass 0.05 flag nothing either, however they stand out.
  std::vector<double> small = e;
  for (double& v : small) v *= 0.04;
  EXPECT_TRUE(flagged(telemanom_detections(small, y, TelemanomOptions{})).empty());
}

TEST(Telemanom, ErrorsFarBelowNormalAreFlaggedToo) {
  std::vector<double> e, y;
  quiet(4000, 0.5, 2, e, y);
  for (size_t i = 3000; i < 3060; ++i) e[i] = 0.0;
  const std::set<long> rows = flagged(telemanom_detections(e, y, TelemanomOptions{}));
  ASSERT_FALSE(rows.empty());
  EXPECT_TRUE(rows.count(3050)) << *rows.begin() << ".." << *rows.rbegin();
  EXPECT_GE(*rows.begin(), 2900);
}

TEST(Telemanom, TheFirstWindowIgnoresItsFirstRows) {
  std::vector<double> e, y;
  quiet(3000, 0.1, 3, e, y);
  for (size_t i = 300; i < 340; ++i) e[i] = 1.0;
  // 3,000 scored rows: the first 2 l_s = 500 are never flagged, and later windows flag only their
  // newest batch.
  EXPECT_TRUE(flagged(telemanom_detections(e, y, TelemanomOptions{})).empty());
  TelemanomOptions none;
  none.l_s = 0;
  EXPECT_TRUE(flagged(telemanom_detections(e, y, none)).count(320));
}

TEST(Telemanom, TrainingRowsAndUnscoredRowsStayOutThroughTheDetector) {
  std::vector<double> e, y;
  quiet(4600, 0.1, 4, e, y);
  for (size_t i = 3600; i < 3640; ++i) e[i] = 1.0;
  for (size_t i = 0; i < 600; ++i) e[i] = 5.0;  // in-sample: no evidence
  e[2000] = std::nan("");                       // a row without a prediction
  DetectorOptions o;
  o.score = "telemanom";
  o.train_rows = 600;
  o.value_scale = 10;  // the values below are ten times the errors' units
  std::vector<double> raw = y;
  for (double& v : raw) v *= 10;
  const std::vector<double> s = anomaly_scores_from_errors(e, raw, o);
  const std::set<long> rows = flagged(s);
  ASSERT_FALSE(rows.empty());
  EXPECT_GE(*rows.begin(), 3500);
  EXPECT_TRUE(rows.count(3620));
  // The rule saw the scored rows only, in order: the same as running it on them alone.
  std::vector<double> scored(e.begin() + 600, e.end()), ys(y.begin() + 600, y.end());
  scored.erase(scored.begin() + (2000 - 600));
  ys.erase(ys.begin() + (2000 - 600));
  const std::vector<double> alone = telemanom_detections(scored, ys, TelemanomOptions{});
  std::set<long> shifted;
  for (long r : flagged(alone)) shifted.insert(r + 600 + (r >= 2000 - 600 ? 1 : 0));
  EXPECT_EQ(rows, shifted);
}

TEST(Telemanom, AgreesWithALiteralTranscriptionOnRandomSeries) {
  Rng rng(77);
  int with_flags = 0;
  for (int c = 0; c < 10; ++c) {
    const size_t n = c % 3 == 0 ? 1500 : c % 3 == 1 ? 2300 : 3400;
    std::vector<double> e, y;
    quiet(n, 0.1 + 0.3 * rng.uniform(), 100 + static_cast<uint64_t>(c), e, y);
    for (int k = 0; k < 1 + c % 4; ++k) {  // bursts and dips of random size
      const size_t at = static_cast<size_t>(rng.uniform(0, static_cast<double>(n - 400)));
      // Mostly shorter than a batch; every third case one longer than several batches.
      const size_t len =
          static_cast<size_t>(k == 0 && c % 3 == 2 ? rng.uniform(150, 400) : rng.uniform(1, 80));
      const double v = rng.uniform() < 0.7 ? rng.uniform(0.3, 2.0) : 0.0;
      for (size_t i = at; i < at + len; ++i) e[i] = v;
    }
    TelemanomOptions o;
    o.buffer = c % 2 ? 100 : 20;
    o.l_s = c % 2 ? 250 : 50;
    const std::set<long> want = reference(e, y, o), got = flagged(telemanom_detections(e, y, o));
    EXPECT_EQ(got, want) << "case " << c << ": " << got.size() << " rows flagged, the transcription "
                         << want.size();
    if (!want.empty()) ++with_flags;
  }
  EXPECT_GE(with_flags, 5) << "the cases exercise the flagging, not only quiet series";
}

namespace {

// 100 scored rows (one window of 10 batches of 10), errors 0 but for unit spikes at `at`, no smoothing
// (span 1) and no leading rows replaced: what the window's threshold search makes of the spikes alone.
std::set<long> spikes_flagged(const std::vector<size_t>& at, int buffer, std::set<long>* want) {
  std::vector<double> e(100, 0.0), y(100);
  for (size_t i = 0; i < y.size(); ++i) y[i] = std::sin(static_cast<double>(i) * 0.07);
  for (size_t i : at) e[i] = 1.0;
  TelemanomOptions o;
  o.batch = 10;
  o.windows = 10;
  o.smoothing_perc = 0.01;
  o.l_s = 0;
  o.buffer = buffer;
  *want = reference(e, y, o);
  return flagged(telemanom_detections(e, y, o));
}

}  // namespace

// Flagged intervals that touch (the next starts one past the last's end) are one run, as consecutive
// indices are one group in telemanom: six spikes whose buffers touch make one run of 30 points and are
// flagged; counted as six runs (over the limit of five) no threshold would be taken.
TEST(Telemanom, TouchingBufferIntervalsAreOneRun) {
  std::set<long> want;
  const std::set<long> got = spikes_flagged({10, 15, 20, 25, 30, 35}, 3, &want);
  EXPECT_EQ(got, want);
  std::set<long> all;
  for (long i = 8; i <= 37; ++i) all.insert(i);
  EXPECT_EQ(got, all);
  // One row farther apart, the six intervals do not touch: six runs, no threshold, nothing flagged.
  EXPECT_TRUE(spikes_flagged({10, 16, 22, 28, 34, 40}, 3, &want).empty());
  EXPECT_TRUE(want.empty());
}

// A threshold whose flagged points would cover half the window or more is not taken: three equal spikes
// whose buffers of 15 cover 87 of 100 rows flag nothing; with buffers of 5 (27 rows) they are flagged,
// and pruning keeps one of the three runs (equal peaks fall by 0: telemanom drops the first run of that
// peak for each, here the first run twice).
TEST(Telemanom, AThresholdFlaggingHalfTheWindowIsNotTaken) {
  std::set<long> want;
  EXPECT_TRUE(spikes_flagged({20, 50, 80}, 15, &want).empty());
  EXPECT_TRUE(want.empty());
  const std::set<long> narrow = spikes_flagged({20, 50, 80}, 5, &want);
  EXPECT_EQ(narrow, want);
  std::set<long> last;
  for (long i = 76; i <= 84; ++i) last.insert(i);
  EXPECT_EQ(narrow, last);
}
