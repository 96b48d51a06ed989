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

// The buffered ranges whose existence is counted, as a range index per row (-1 outside every range). The
// VLDB 2022 definition takes the runs of y > 0, so ranges that touch merge; TSB-AD takes each labeled
// run widened by floor(buffer / 2) rows to each side (the rows where y > 0) and merges only ranges that
// share a row.
int buffered_ranges(const std::vector<int>& labels, const std::vector<double>& y, int buffer,
                    RangeAucDefinition definition, std::vector<int>& range_of) {
  range_of.assign(y.size(), -1);
  int ranges = 0;
  if (definition == RangeAucDefinition::Vldb2022) {
    for (size_t i = 0; i < y.size(); ++i) {
      if (y[i] <= 0) continue;
      if (i == 0 || y[i - 1] <= 0) ++ranges;
      range_of[i] = ranges - 1;
    }
    return ranges;
  }
  const int n = static_cast<int>(y.size()), half = buffer / 2;
  int last_end = -1;  // the end of the latest range, inclusive
  for (const Segment& s : runs_of(labels)) {
    const int begin = std::max(s.start - half, 0), end = std::min(s.end + half, n - 1);
    if (ranges == 0 || begin > last_end) ++ranges;
    for (int i = std::max(begin, last_end + 1); i <= end; ++i) range_of[static_cast<size_t>(i)] = ranges - 1;
    last_end = std::max(last_end, end);
  }
  return ranges;
}

RangeAuc range_auc_sorted(const std::vector<size_t>& order, const std::vector<double>& scores,
                          const std::vector<int>& labels, long positives, int buffer,
                          RangeAucDefinition definition) {
  if (positives == 0) return {kNaN, kNaN};
  const bool tsb_ad = definition == RangeAucDefinition::TsbAd;
  const std::vector<double> y = buffered_labels(labels, buffer);
  std::vector<int> range_of;
  const int ranges = buffered_ranges(labels, y, buffer, definition, range_of);
  // The positives P': the labeled rows and half the buffer's weight. VLDB 2022 counts the whole buffer;
  // TSB-AD only its detected rows, so P' grows as the threshold falls (below).
  const double soft_sum = std::accumulate(y.begin(), y.end(), 0.0);
  double p_new = tsb_ad ? static_cast<double>(positives) : 0.5 * (static_cast<double>(positives) + soft_sum);
  const double n = static_cast<double>(y.size());

  std::vector<char> range_hit(static_cast<size_t>(ranges), 0);
  double tp = 0, predicted = 0;
  int hit = 0;
  double prev_fpr = 0, prev_tpr = 0, prev_precision = 1;
  double roc = 0, pr = 0;
  for_each_tie_group(order, scores, [&](size_t first, size_t last) {
    for (size_t k = first; k < last; ++k) {
      const size_t i = order[k];
      predicted += 1;
      tp += y[i];
      if (tsb_ad && labels[i] == 0) p_new += 0.5 * y[i];  // a detected buffer row
      if (range_of[i] >= 0 && !range_hit[static_cast<size_t>(range_of[i])]) {
        range_hit[static_cast<size_t>(range_of[i])] = 1;
        ++hit;
      }
    }
    const double n_new = n - p_new;
    const double tpr = std::min(tp / p_new, 1.0) * hit / ranges;
    const double fpr = n_new > 0 ? (predicted - tp) / n_new : kNaN;
    const double precision = tp / predicted;
    roc += (fpr - prev_fpr) * 0.5 * (tpr + prev_tpr);
    // TSB-AD: steps, each at the precision of its threshold; VLDB 2022: trapezoids from (0, 1).
    pr += (tpr - prev_tpr) * (tsb_ad ? precision : 0.5 * (precision + prev_precision));
    prev_fpr = fpr;
    prev_tpr = tpr;
    prev_precision = precision;
  });
  roc += (1.0 - prev_fpr) * 0.5 * (1.0 + prev_tpr);  // the closing point (1, 1)
  // N' = n - P' is 0 at some threshold only when every row is labeled: no ROC curve then.
  return {static_cast<double>(positives) < n ? roc : kNaN, pr};
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
  // Only the rows inside the series: a buffer longer than the series costs at most O(n), not O(buffer), per
  // run (so many short runs under a long buffer are the slow case, docs/metrics.md).
  for (const Segment& s : runs_of(labels)) {
    for (int d = 1, last = std::min(half, s.start); d <= last; ++d)
      y[static_cast<size_t>(s.start - d)] += std::sqrt(1.0 - static_cast<double>(d) / buffer);
    for (int d = 1, last = std::min(half, n - 1 - s.end); d <= last; ++d)
      y[static_cast<size_t>(s.end + d)] += std::sqrt(1.0 - static_cast<double>(d) / buffer);
  }
  for (double& v : y) v = std::min(v, 1.0);
  return y;
}

const char* range_auc_definition_name(RangeAucDefinition d) {
  return d == RangeAucDefinition::TsbAd ? "tsb_ad" : "vldb2022";
}

RangeAucDefinition parse_range_auc_definition(const std::string& name) {
  if (name == "tsb_ad") return RangeAucDefinition::TsbAd;
  if (name == "vldb2022") return RangeAucDefinition::Vldb2022;
  throw Error("Range-AUC definition \"" + name + "\": expected tsb_ad or vldb2022");
}

RangeAuc range_auc(const std::vector<double>& scores, const std::vector<int>& labels, int buffer,
                   RangeAucDefinition definition) {
  check_inputs(scores, labels, "range_auc");
  if (buffer < 0) throw Error("range_auc: the buffer length must be >= 0, got " + std::to_string(buffer));
  return range_auc_sorted(descending_order(scores), scores, labels, count_positive(labels), buffer,
                          definition);
}

RangeAuc vus(const std::vector<double>& scores, const std::vector<int>& labels, int max_buffer,
             RangeAucDefinition definition) {
  check_inputs(scores, labels, "vus");
  if (max_buffer < 0 || max_buffer > kMaxVusBuffer)
    throw Error("vus: the largest buffer length must be in 0.." + std::to_string(kMaxVusBuffer) + ", got " +
                std::to_string(max_buffer));
  const long positives = count_positive(labels);
  if (positives == 0) return {kNaN, kNaN};
  const std::vector<size_t> order = descending_order(scores);
  RangeAuc sum{0, 0};
  for (int b = 0; b <= max_buffer; ++b) {
    const RangeAuc r = range_auc_sorted(order, scores, labels, positives, b, definition);
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
