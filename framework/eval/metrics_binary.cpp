// Binary-detection metrics: point, event (overlap), PA%K and range-based. Every function walks the rows
// or the run lists once; the event and range metrics merge the two sorted run lists with two pointers.
#include "eval/metrics_binary.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "core/nan.hpp"

namespace lstmad::metrics {
namespace {

void check_same_length(const std::vector<int>& predicted, const std::vector<int>& labels, const char* what) {
  if (predicted.size() != labels.size())
    throw Error(std::string(what) + ": " + std::to_string(predicted.size()) + " predictions for " +
                std::to_string(labels.size()) + " labels");
}

double ratio(double num, double den) {
  return den > 0 ? num / den : kNaN;
}

int overlap_length(const Segment& a, const Segment& b) {
  return std::max(0, std::min(a.end, b.end) - std::max(a.start, b.start) + 1);
}

// Visits, for each segment of `of`, the segments of `with` that share at least one row. Both lists are
// sorted and non-overlapping, so a moving lower bound into `with` suffices: a later segment of `of` can
// never overlap a `with` segment that ends before the current one starts.
template <class F>
void for_each_overlap(const std::vector<Segment>& of, const std::vector<Segment>& with, F&& visit) {
  size_t lo = 0;
  for (size_t i = 0; i < of.size(); ++i) {
    while (lo < with.size() && with[lo].end < of[i].start) ++lo;
    for (size_t j = lo; j < with.size() && with[j].start <= of[i].end; ++j) visit(i, j);
  }
}

}  // namespace

std::vector<Segment> runs_of(const std::vector<int>& binary) {
  std::vector<Segment> runs;
  const int n = static_cast<int>(binary.size());
  for (int i = 0; i < n;) {
    if (binary[static_cast<size_t>(i)] == 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j + 1 < n && binary[static_cast<size_t>(j + 1)] != 0) ++j;
    runs.push_back({i, j});
    i = j + 1;
  }
  return runs;
}

std::vector<int> detections_at(const std::vector<double>& scores, double threshold) {
  std::vector<int> out(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) out[i] = scores[i] >= threshold ? 1 : 0;
  return out;
}

double f1_of(double precision, double recall) {
  if (std::isnan(recall)) return kNaN;
  if (std::isnan(precision)) return 0.0;
  const double sum = precision + recall;
  return sum > 0 ? 2.0 * precision * recall / sum : 0.0;
}

PrecisionRecall point_metrics(const std::vector<int>& predicted, const std::vector<int>& labels) {
  check_same_length(predicted, labels, "point_metrics");
  long tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool p = predicted[i] != 0, l = labels[i] != 0;
    tp += p && l;
    fp += p && !l;
    fn += !p && l;
  }
  PrecisionRecall r;
  r.precision = ratio(static_cast<double>(tp), static_cast<double>(tp + fp));
  r.recall = ratio(static_cast<double>(tp), static_cast<double>(tp + fn));
  // From the counts, 2TP / (2TP + FP + FN), one rounding: the bits best_f1 gives the same detections
  // (2PR / (P + R) from the rounded P and R could differ from it in the last place, either way).
  r.f1 = tp + fn > 0 ? 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn) : kNaN;
  return r;
}

EventMetrics event_metrics(const std::vector<int>& predicted, const std::vector<int>& labels) {
  check_same_length(predicted, labels, "event_metrics");
  const std::vector<Segment> truth = runs_of(labels), pred = runs_of(predicted);
  std::vector<char> true_hit(truth.size(), 0), pred_hit(pred.size(), 0);
  for_each_overlap(truth, pred, [&](size_t i, size_t j) { true_hit[i] = pred_hit[j] = 1; });
  EventMetrics m;
  m.counts.true_events = static_cast<int>(truth.size());
  m.counts.predicted_events = static_cast<int>(pred.size());
  m.counts.detected_events = static_cast<int>(std::count(true_hit.begin(), true_hit.end(), 1));
  m.counts.missed_events = m.counts.true_events - m.counts.detected_events;
  m.counts.false_events =
      m.counts.predicted_events - static_cast<int>(std::count(pred_hit.begin(), pred_hit.end(), 1));
  const double tp = m.counts.detected_events;
  m.scores.precision = ratio(tp, tp + m.counts.false_events);
  m.scores.recall = ratio(tp, tp + m.counts.missed_events);
  m.scores.f1 = f1_of(m.scores.precision, m.scores.recall);
  return m;
}

std::vector<int> point_adjust(const std::vector<int>& predicted, const std::vector<int>& labels,
                              double k_percent) {
  check_same_length(predicted, labels, "point_adjust");
  if (!(k_percent >= 0 && k_percent <= 100))
    throw Error("point_adjust: K must be a percentage in [0, 100], got " + std::to_string(k_percent));
  std::vector<int> out(predicted.size());
  for (size_t i = 0; i < predicted.size(); ++i) out[i] = predicted[i] != 0 ? 1 : 0;
  for (const Segment& s : runs_of(labels)) {
    long hits = 0;
    for (int i = s.start; i <= s.end; ++i) hits += out[static_cast<size_t>(i)];
    // Strictly more than K % of the segment, so K = 0 needs one hit and K = 100 can never trigger. Compared
    // as 100 hits > K length: exact for a whole K (0.7 * 90 rounds to 62.99999..., which would let 63 hits
    // of 90, exactly 70 %, adjust the segment, as the authors' floating-point test does).
    if (100.0 * static_cast<double>(hits) > k_percent * static_cast<double>(s.length()))
      std::fill(out.begin() + s.start, out.begin() + s.end + 1, 1);
  }
  return out;
}

double pak_f1(const std::vector<int>& predicted, const std::vector<int>& labels, double k_percent) {
  return point_metrics(point_adjust(predicted, labels, k_percent), labels).f1;
}

double pak_auc(const std::vector<int>& predicted, const std::vector<int>& labels, int step_percent) {
  if (step_percent <= 0 || step_percent > 100 || 100 % step_percent != 0)
    throw Error("pak_auc: the K step must divide 100, got " + std::to_string(step_percent));
  // The trapezoids' parallel sides are summed first and scaled once: every F1 is at most 1, so the sum is
  // at most 200 / step, and rounding (monotone) keeps the area at most 1 (scaling each trapezoid by
  // step / 100 and 0.5 gave 1.0000000000000004 for an F1 of 1 at every K with a step of 2).
  double sides = 0, prev = 0;
  for (int k = 0; k <= 100; k += step_percent) {
    const double f = pak_f1(predicted, labels, k);
    if (std::isnan(f)) return kNaN;
    if (k > 0) sides += prev + f;
    prev = f;
  }
  return sides * step_percent / 200.0;
}

PrecisionRecall range_metrics(const std::vector<int>& predicted, const std::vector<int>& labels,
                              double alpha) {
  check_same_length(predicted, labels, "range_metrics");
  if (!(alpha >= 0 && alpha <= 1))
    throw Error("range_metrics: alpha must lie in [0, 1], got " + std::to_string(alpha));
  const std::vector<Segment> truth = runs_of(labels), pred = runs_of(predicted);
  // Per range: the summed overlap with the other side and how many ranges of the other side it meets.
  std::vector<long> true_cover(truth.size(), 0), pred_cover(pred.size(), 0);
  std::vector<int> true_meets(truth.size(), 0), pred_meets(pred.size(), 0);
  for_each_overlap(truth, pred, [&](size_t i, size_t j) {
    const int o = overlap_length(truth[i], pred[j]);
    if (o == 0) return;
    true_cover[i] += o;
    pred_cover[j] += o;
    ++true_meets[i];
    ++pred_meets[j];
  });
  // gamma = 1/x for x > 1 overlapping ranges; one (or none) keeps the full overlap reward.
  auto cardinality = [](int x) { return x > 1 ? 1.0 / x : 1.0; };
  double recall_sum = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    const double existence = true_meets[i] > 0 ? 1.0 : 0.0;
    const double overlap =
        cardinality(true_meets[i]) * static_cast<double>(true_cover[i]) / truth[i].length();
    recall_sum += alpha * existence + (1.0 - alpha) * overlap;
  }
  double precision_sum = 0;
  for (size_t j = 0; j < pred.size(); ++j)
    precision_sum += cardinality(pred_meets[j]) * static_cast<double>(pred_cover[j]) / pred[j].length();
  PrecisionRecall r;
  r.precision = ratio(precision_sum, static_cast<double>(pred.size()));
  r.recall = ratio(recall_sum, static_cast<double>(truth.size()));
  r.f1 = f1_of(r.precision, r.recall);
  return r;
}

}  // namespace lstmad::metrics
