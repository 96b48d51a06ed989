// libFuzzer target: the per-series metrics (eval/metrics.hpp) on arbitrary scores, labels and options.
// The bytes decode to a series (one byte a row: the label in the low bit, the score from the rest, with
// many ties and both infinities; so a text seed has labels) and to the options. What must hold, beyond no
// crash, hang or undefined behaviour:
// - every value is NaN or in [0, 1] (best_f1_threshold: NaN or one of the scored rows' scores), and the
//   NaN conventions of docs/metrics.md follow from what is labeled and what is detected;
// - best_f1 is at least point_f1 (the fixed threshold's detections are among those it tries);
// - roc_auc is the Mann-Whitney probability counted pair by pair (short series);
// - evaluate_detections on the detections gives evaluate_series's bits for every shared metric;
// - doubling every score and the threshold (exact in binary floating point, order and ties kept) changes
//   no metric but best_f1_threshold, which doubles;
// - reversing time changes no metric but ucr_score (ties go to the earliest row): every definition here
//   is symmetric in time (equal buffers both sides, rows as intervals); sums may run in another order,
//   so within 1e-9.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "eval/metrics.hpp"
#include "tests/fuzz/same_bits.hpp"

namespace {

namespace m = lstmad::metrics;

using lstmad::fuzz::same_bits;

bool close(double a, double b) {
  return same_bits(a, b) || std::fabs(a - b) <= 1e-9;
}

double mann_whitney(const std::vector<double>& s, const std::vector<int>& l) {
  double wins = 0, pairs = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (l[i] == 0) continue;
    for (std::size_t j = 0; j < s.size(); ++j) {
      if (l[j] != 0) continue;
      pairs += 1;
      wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
    }
  }
  return wins / pairs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr std::size_t kHeader = 7;
  if (size < kHeader) return 0;
  m::SeriesMetricOptions o;
  o.vus_definition = (data[0] & 1) != 0 ? m::RangeAucDefinition::Vldb2022 : m::RangeAucDefinition::TsbAd;
  o.threshold = (static_cast<int>(data[1]) - 128) / 16.0;
  o.vus_max_buffer = data[2] % 64;
  o.range_alpha = data[3] / 255.0;
  o.pak_k = data[4] % 101;
  static const int kSteps[] = {1, 2, 4, 5, 10, 20, 25, 50, 100};
  o.pak_k_step = kSteps[data[5] % 9];
  o.ucr_tolerance = data[6] % 16;
  const std::size_t n = std::min<std::size_t>(size - kHeader, 2048);
  std::vector<double> scores(n);
  std::vector<int> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int b = data[kHeader + i];
    labels[i] = b & 1;
    const int v = b >> 1;
    scores[i] = v == 0 ? -INFINITY : v == 127 ? INFINITY : (v - 64) / 8.0;
  }
  const int first = static_cast<int>(n == 0 ? 0 : (data[0] >> 1) * n / 127);

  const m::NamedMetrics all = m::evaluate_series(scores, labels, o, first);
  if (all.size() != m::series_metric_names().size()) __builtin_trap();
  const std::vector<double> s(scores.begin() + first, scores.end());
  const std::vector<int> l(labels.begin() + first, labels.end());
  std::vector<int> det(n);
  bool labeled = false, unlabeled = false, detected = false;
  for (std::size_t i = 0; i < n; ++i) det[i] = scores[i] >= o.threshold ? 1 : 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    labeled |= l[i] != 0;
    unlabeled |= l[i] == 0;
    detected |= s[i] >= o.threshold;
  }
  for (std::size_t k = 0; k < all.size(); ++k) {
    if (all[k].first != m::series_metric_names()[k]) __builtin_trap();
    const double x = all[k].second;
    if (all[k].first == "best_f1_threshold") {
      bool found = std::isnan(x);
      for (double v : s) found |= v == x;
      if (!found) __builtin_trap();
    } else if (!std::isnan(x) && !(x >= 0 && x <= 1)) {
      __builtin_trap();
    }
  }
  // NaN conventions.
  for (const char* name :
       {"point_recall", "point_f1", "best_f1", "event_recall", "event_f1", "pa_f1", "pak_f1", "pak_auc",
        "range_recall", "range_f1", "aff_recall", "aff_f1", "pr_auc", "vus_pr"})
    if (std::isnan(m::metric_value(all, name)) == labeled) __builtin_trap();
  for (const char* name : {"roc_auc", "vus_roc"})
    if (std::isnan(m::metric_value(all, name)) == (labeled && unlabeled)) __builtin_trap();
  for (const char* name : {"point_precision", "event_precision", "range_precision"})
    if (std::isnan(m::metric_value(all, name)) == detected) __builtin_trap();
  if (std::isnan(m::metric_value(all, "aff_precision")) == (detected && labeled)) __builtin_trap();
  if (!detected && labeled && m::metric_value(all, "point_f1") != 0) __builtin_trap();
  if (detected && !labeled && m::metric_value(all, "point_precision") != 0) __builtin_trap();
  const double ucr = m::metric_value(all, "ucr_score");
  if (!std::isnan(ucr) && ucr != 0 && ucr != 1) __builtin_trap();
  if (labeled && m::metric_value(all, "best_f1") < m::metric_value(all, "point_f1")) __builtin_trap();
  if (labeled && unlabeled && s.size() <= 512 &&
      std::fabs(m::metric_value(all, "roc_auc") - mann_whitney(s, l)) > 1e-12)
    __builtin_trap();

  // The detections alone give the same detection metrics, to the bit.
  const m::NamedMetrics from_detections = m::evaluate_detections(det, labels, o, first);
  for (const auto& [name, x] : from_detections)
    if (!same_bits(x, m::metric_value(all, name))) __builtin_trap();

  // Twice every score and the threshold.
  std::vector<double> doubled(scores);
  for (double& v : doubled) v *= 2;
  m::SeriesMetricOptions o2 = o;
  o2.threshold *= 2;
  const m::NamedMetrics twice = m::evaluate_series(doubled, labels, o2, first);
  for (std::size_t k = 0; k < all.size(); ++k) {
    const double expected = all[k].first == "best_f1_threshold" ? 2 * all[k].second : all[k].second;
    if (!same_bits(twice[k].second, expected)) __builtin_trap();
  }

  // Time reversed (the scored part only: first_row stays a prefix).
  const std::vector<double> rs(s.rbegin(), s.rend());
  const std::vector<int> rl(l.rbegin(), l.rend());
  const m::NamedMetrics reversed = m::evaluate_series(rs, rl, o, 0);
  for (std::size_t k = 0; k < all.size(); ++k)
    if (all[k].first != "ucr_score" && !close(reversed[k].second, all[k].second)) __builtin_trap();
  return 0;
}
