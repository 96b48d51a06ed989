// Threshold sweeps: sort the rows by descending score once, then walk groups of tied scores, updating
// running counts; every distinct score value is one threshold (one curve point).
#include "eval/metrics_curve.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "core/error.hpp"
#include "eval/metrics_binary.hpp"

namespace lstmad::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_inputs(const std::vector<double>& scores, const std::vector<int>& labels, const char* what) {
  if (scores.size() != labels.size())
    throw Error(std::string(what) + ": " + std::to_string(scores.size()) + " scores for " +
                std::to_string(labels.size()) + " labels");
  for (size_t i = 0; i < scores.size(); ++i)
    if (std::isnan(scores[i]))
      throw Error(std::string(what) + ": the score of row " + std::to_string(i) + " is NaN");
}

// Row indices by descending score; ties keep row order (irrelevant to the results, fixed for
// reproducibility).
std::vector<size_t> descending_order(const std::vector<double>& scores) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  return order;
}

// Calls visit(first, last) for each group order[first, last) of equal scores, highest first.
template <class F>
void for_each_tie_group(const std::vector<size_t>& order, const std::vector<double>& scores, F&& visit) {
  for (size_t first = 0; first < order.size();) {
    size_t last = first + 1;
    while (last < order.size() && scores[order[last]] == scores[order[first]]) ++last;
    visit(first, last);
    first = last;
  }
}

long count_positive(const std::vector<int>& labels) {
  return static_cast<long>(std::count_if(labels.begin(), labels.end(), [](int v) { return v != 0; }));
}

RangeAuc range_auc_sorted(const std::vector<size_t>& order, const std::vector<double>& scores,
                          const std::vector<int>& labels, long positives, int buffer) {
  if (positives == 0) return {kNaN, kNaN};
  const std::vector<double> y = buffered_labels(labels, buffer);
  // Existence is counted over the runs of the softened labels (buffers can merge close anomalies).
  std::vector<int> segment_of(y.size(), -1);
  int segments = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] <= 0) continue;
    if (i == 0 || y[i - 1] <= 0) ++segments;
    segment_of[i] = segments - 1;
  }
  const double soft_sum = std::accumulate(y.begin(), y.end(), 0.0);
  const double p_new = 0.5 * (static_cast<double>(positives) + soft_sum);
  const double n_new = static_cast<double>(y.size()) - p_new;

  std::vector<char> segment_hit(static_cast<size_t>(segments), 0);
  double tp = 0, predicted = 0;
  int hit = 0;
  double prev_fpr = 0, prev_tpr = 0, prev_precision = 1;
  double roc = 0, pr = 0;
  for_each_tie_group(order, scores, [&](size_t first, size_t last) {
    for (size_t k = first; k < last; ++k) {
      const size_t i = order[k];
      predicted += 1;
      tp += y[i];
      if (segment_of[i] >= 0 && !segment_hit[static_cast<size_t>(segment_of[i])]) {
        segment_hit[static_cast<size_t>(segment_of[i])] = 1;
        ++hit;
      }
    }
    const double tpr = std::min(tp / p_new, 1.0) * hit / segments;
    const double fpr = n_new > 0 ? (predicted - tp) / n_new : kNaN;
    const double precision = tp / predicted;
    roc += (fpr - prev_fpr) * 0.5 * (tpr + prev_tpr);
    pr += (tpr - prev_tpr) * 0.5 * (precision + prev_precision);
    prev_fpr = fpr;
    prev_tpr = tpr;
    prev_precision = precision;
  });
  roc += (1.0 - prev_fpr) * 0.5 * (1.0 + prev_tpr);  // the closing point (1, 1)
  return {n_new > 0 ? roc : kNaN, pr};
}

}  // namespace

BestF1 best_f1(const std::vector<double>& scores, const std::vector<int>& labels) {
  check_inputs(scores, labels, "best_f1");
  const long positives = count_positive(labels);
  if (positives == 0) return {kNaN, kNaN};
  const std::vector<size_t> order = descending_order(scores);
  BestF1 best{-1.0, kNaN};
  long tp = 0, predicted = 0;
  for_each_tie_group(order, scores, [&](size_t first, size_t last) {
    for (size_t k = first; k < last; ++k) tp += labels[order[k]] != 0;
    predicted += static_cast<long>(last - first);
    // F1 = 2TP / (2TP + FP + FN) = 2TP / (predicted + positives).
    const double f1 = 2.0 * static_cast<double>(tp) / static_cast<double>(predicted + positives);
    if (f1 > best.f1) best = {f1, scores[order[first]]};
  });
  return best;
}

double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  check_inputs(scores, labels, "roc_auc");
  const long positives = count_positive(labels);
  const long negatives = static_cast<long>(labels.size()) - positives;
  if (positives == 0 || negatives == 0) return kNaN;
  const std::vector<size_t> order = descending_order(scores);
  long tp = 0, fp = 0;
  double area = 0, prev_tpr = 0, prev_fpr = 0;
  for_each_tie_group(order, scores, [&](size_t first, size_t last) {
    for (size_t k = first; k < last; ++k) (labels[order[k]] != 0 ? tp : fp) += 1;
    const double tpr = static_cast<double>(tp) / positives, fpr = static_cast<double>(fp) / negatives;
    area += (fpr - prev_fpr) * 0.5 * (tpr + prev_tpr);
    prev_tpr = tpr;
    prev_fpr = fpr;
  });
  return area;
}

double average_precision(const std::vector<double>& scores, const std::vector<int>& labels) {
  check_inputs(scores, labels, "average_precision");
  const long positives = count_positive(labels);
  if (positives == 0) return kNaN;
  const std::vector<size_t> order = descending_order(scores);
  long tp = 0, predicted = 0;
  double ap = 0, prev_recall = 0;
  for_each_tie_group(order, scores, [&](size_t first, size_t last) {
    for (size_t k = first; k < last; ++k) tp += labels[order[k]] != 0;
    predicted += static_cast<long>(last - first);
    const double recall = static_cast<double>(tp) / positives;
    ap += (recall - prev_recall) * static_cast<double>(tp) / static_cast<double>(predicted);
    prev_recall = recall;
  });
  return ap;
}

std::vector<double> buffered_labels(const std::vector<int>& labels, int buffer) {
  if (buffer < 0)
    throw Error("buffered_labels: the buffer length must be >= 0, got " + std::to_string(buffer));
  const int n = static_cast<int>(labels.size());
  std::vector<double> y(labels.size(), 0.0);
  for (int i = 0; i < n; ++i) y[static_cast<size_t>(i)] = labels[static_cast<size_t>(i)] != 0 ? 1.0 : 0.0;
  const int half = buffer / 2;
  // Only the rows inside the series: a buffer longer than the series costs O(n), not O(buffer), per run.
  for (const Segment& s : runs_of(labels)) {
    for (int d = 1, last = std::min(half, s.start); d <= last; ++d)
      y[static_cast<size_t>(s.start - d)] += std::sqrt(1.0 - static_cast<double>(d) / buffer);
    for (int d = 1, last = std::min(half, n - 1 - s.end); d <= last; ++d)
      y[static_cast<size_t>(s.end + d)] += std::sqrt(1.0 - static_cast<double>(d) / buffer);
  }
  for (double& v : y) v = std::min(v, 1.0);
  return y;
}

RangeAuc range_auc(const std::vector<double>& scores, const std::vector<int>& labels, int buffer) {
  check_inputs(scores, labels, "range_auc");
  if (buffer < 0) throw Error("range_auc: the buffer length must be >= 0, got " + std::to_string(buffer));
  return range_auc_sorted(descending_order(scores), scores, labels, count_positive(labels), buffer);
}

RangeAuc vus(const std::vector<double>& scores, const std::vector<int>& labels, int max_buffer) {
  check_inputs(scores, labels, "vus");
  if (max_buffer < 0 || max_buffer > kMaxVusBuffer)
    throw Error("vus: the largest buffer length must be in 0.." + std::to_string(kMaxVusBuffer) + ", got " +
                std::to_string(max_buffer));
  const long positives = count_positive(labels);
  if (positives == 0) return {kNaN, kNaN};
  const std::vector<size_t> order = descending_order(scores);
  RangeAuc sum{0, 0};
  for (int b = 0; b <= max_buffer; ++b) {
    const RangeAuc r = range_auc_sorted(order, scores, labels, positives, b);
    sum.roc += r.roc;
    sum.pr += r.pr;
  }
  const double count = static_cast<double>(max_buffer) + 1.0;
  return {sum.roc / count, sum.pr / count};
}

double ucr_score(const std::vector<double>& scores, const std::vector<int>& labels, int tolerance) {
  check_inputs(scores, labels, "ucr_score");
  if (tolerance < 0) throw Error("ucr_score: the tolerance must be >= 0, got " + std::to_string(tolerance));
  const std::vector<Segment> runs = runs_of(labels);
  if (runs.size() != 1) return kNaN;
  const Segment& a = runs.front();
  // max_element returns the first of equal maxima.
  const long top = static_cast<long>(std::max_element(scores.begin(), scores.end()) - scores.begin());
  const long margin = std::max<long>(a.length(), tolerance);
  return top >= a.start - margin && top <= a.end + margin ? 1.0 : 0.0;
}

}  // namespace lstmad::metrics
