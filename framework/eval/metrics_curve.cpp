// Threshold sweeps: sort the rows by descending score once, then walk groups of tied scores, updating
// running counts; every distinct score value is one threshold (one curve point).
#include "eval/metrics_curve.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "core/error.hpp"
#include "core/nan.hpp"
#include "eval/metrics_binary.hpp"

namespace lstmad::metrics {
namespace {

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

// Range-AUC at every buffer length up to a largest one, from one sort. At buffer length l (half-width
// h = floor(l / 2)) a row's soft label y is 1 on a labeled run and, at distance d = 1..h from the nearest
// run, sqrt(1 - d / l) if no other run lies within h, else 1 (each of two contributions is at least
// sqrt(1/2), and y is capped at 1): it depends only on the distances to the nearest two runs. The rows
// with y > 0 are the ones the existence ranges consist of under either definition. Every other row only
// adds a false positive: between two tie groups holding rows with y > 0, TPR stays constant, so the ROC
// trapezoids telescope to one, the PR curve gains nothing, and the precision carried into the next point
// is TP over the rows counted so far. So each buffer length visits only the rows within h of a run.
class RangeAucSweep {
 public:
  RangeAucSweep(const std::vector<size_t>& order, const std::vector<double>& scores,
                const std::vector<int>& labels, int max_buffer)
      : n_(static_cast<int>(labels.size())), runs_(runs_of(labels)) {
    positives_ = count_positive(labels);
    const int reach = max_buffer / 2;  // the largest half-width
    std::vector<int> near_index(labels.size(), -1);
    size_t k = 0;  // the first run that does not end before row i
    for (int i = 0; i < n_; ++i) {
      while (k < runs_.size() && runs_[k].end < i) ++k;
      Distances d;
      if (k < runs_.size() && runs_[k].start <= i) {
        d = {0, 0, static_cast<int>(k)};
      } else {
        const int left = k > 0 ? i - runs_[k - 1].end : kFar, left2 = k > 1 ? i - runs_[k - 2].end : kFar;
        const int right = k < runs_.size() ? runs_[k].start - i : kFar;
        const int right2 = k + 1 < runs_.size() ? runs_[k + 1].start - i : kFar;
        if (left <= right)
          d = {left, std::min(left2, right), static_cast<int>(k) - 1};
        else
          d = {right, std::min(left, right2), static_cast<int>(k)};
      }
      if (d.nearest > reach) continue;
      near_index[static_cast<size_t>(i)] = static_cast<int>(by_row_.size());
      by_row_.push_back(d);
      farthest_ = std::max(farthest_, d.nearest);
    }
    // The near rows in score order, each with the positions [first, end) of its tie group in `order`.
    by_rank_.reserve(by_row_.size());
    for_each_tie_group(order, scores, [&](size_t first, size_t last) {
      for (size_t p = first; p < last; ++p) {
        const int index = near_index[order[p]];
        if (index >= 0)
          by_rank_.push_back(
              {static_cast<int>(first), static_cast<int>(last), by_row_[static_cast<size_t>(index)]});
      }
    });
    range_of_run_.resize(runs_.size());
    range_hit_.resize(runs_.size());
    weight_.resize(static_cast<size_t>(farthest_) + 1);
  }

  RangeAuc at(int buffer, RangeAucDefinition definition) {
    if (positives_ == 0) return {kNaN, kNaN};
    const bool tsb_ad = definition == RangeAucDefinition::TsbAd;
    const int half = buffer / 2;
    weight_[0] = 1.0;
    for (int d = 1; d <= std::min(half, farthest_); ++d)
      weight_[static_cast<size_t>(d)] = std::sqrt(1.0 - static_cast<double>(d) / buffer);
    auto y_of = [&](const Distances& d) {
      return d.second <= half ? 1.0 : weight_[static_cast<size_t>(d.nearest)];
    };
    // Ranges: TSB-AD merges widened runs that share a row, VLDB 2022 the runs of y > 0, so also those
    // that only touch.
    const long merge_gap = 2L * half + (tsb_ad ? 0 : 1);
    int ranges = 0;
    for (size_t k = 0; k < runs_.size(); ++k) {
      if (k == 0 || runs_[k].start - runs_[k - 1].end > merge_gap) ++ranges;
      range_of_run_[k] = ranges - 1;
    }
    std::fill(range_hit_.begin(), range_hit_.begin() + ranges, 0);
    // The positives P': the labeled rows and half the buffer's weight. VLDB 2022 counts the whole buffer
    // (summed in row order); TSB-AD only its detected rows, so P' grows as the threshold falls.
    double p_new = static_cast<double>(positives_);
    if (!tsb_ad) {
      double soft_sum = 0;
      for (const Distances& d : by_row_)
        if (d.nearest <= half) soft_sum += y_of(d);
      p_new = 0.5 * (p_new + soft_sum);
    }
    const double n = static_cast<double>(n_);

    double tp = 0;
    int hit = 0;
    double prev_fpr = 0, prev_tpr = 0, prev_precision = 1;
    double roc = 0, pr = 0;
    int counted = 0;  // positions of the order up to here are detections
    // Tie groups without a row near a run up to position `end`: TPR stays prev_tpr (ROC trapezoids of
    // height prev_tpr, no PR gain); the last of them sets the FPR and precision the next point starts from.
    auto skip_to = [&](int end) {
      const double n_new = n - p_new;
      const double fpr = n_new > 0 ? (static_cast<double>(end) - tp) / n_new : kNaN;
      roc += (fpr - prev_fpr) * prev_tpr;
      prev_fpr = fpr;
      prev_precision = tp / static_cast<double>(end);
      counted = end;
    };
    auto close_group = [&](int end) {
      const double predicted = static_cast<double>(end);
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
      counted = end;
    };
    int group_first = -1, group_end = 0;
    for (const RankedRow& r : by_rank_) {
      if (r.d.nearest > half) continue;
      if (r.group_first != group_first) {
        if (group_first >= 0) close_group(group_end);
        if (r.group_first > counted) skip_to(r.group_first);
        group_first = r.group_first;
        group_end = r.group_end;
      }
      const double y = y_of(r.d);
      tp += y;
      if (tsb_ad && r.d.nearest > 0) p_new += 0.5 * y;  // a detected buffer row
      int& range_hit = range_hit_[static_cast<size_t>(range_of_run_[static_cast<size_t>(r.d.run)])];
      if (!range_hit) {
        range_hit = 1;
        ++hit;
      }
    }
    close_group(group_end);  // the labeled rows are near rows, so there is a group
    if (counted < n_) skip_to(n_);
    roc += (1.0 - prev_fpr) * 0.5 * (1.0 + prev_tpr);  // the closing point (1, 1)
    // N' = n - P' is 0 at some threshold only when every row is labeled: no ROC curve then.
    return {static_cast<double>(positives_) < n ? roc : kNaN, pr};
  }

 private:
  static constexpr int kFar = std::numeric_limits<int>::max();
  struct Distances {
    int nearest = 0;  // to the nearest labeled row (0 on a run)
    int second = 0;   // to the second-nearest run (kFar if none; unused on a run)
    int run = 0;      // the nearest run
  };
  struct RankedRow {
    int group_first, group_end;
    Distances d;
  };
  int n_;
  long positives_ = 0;
  std::vector<Segment> runs_;
  std::vector<Distances> by_row_;   // the rows within the largest half-width of a run, in row order
  std::vector<RankedRow> by_rank_;  // the same rows in score order
  int farthest_ = 0;                // the largest distance among them
  std::vector<int> range_of_run_, range_hit_;
  std::vector<double> weight_;  // y at each distance from one run, for the current buffer length
};

// Best F1, ROC-AUC and average precision share one walk over the tie groups: each threshold's TP and
// detections give all three.
struct PointCurves {
  BestF1 best;
  double roc_auc, average_precision;
};
PointCurves point_curves_sorted(const std::vector<size_t>& order, const std::vector<double>& scores,
                                const std::vector<int>& labels) {
  const long positives = count_positive(labels);
  const long negatives = static_cast<long>(labels.size()) - positives;
  if (positives == 0) return {{kNaN, kNaN}, kNaN, kNaN};
  BestF1 best{-1.0, kNaN};
  long tp = 0, predicted = 0, prev_tp = 0, prev_fp = 0;
  // Both areas are summed unscaled and scaled once at the end, so that rounding keeps them within [0, 1]
  // (recall increments times precision, each rounded, summed to 1.0000000000000002 for a perfect ranking):
  // ROC's trapezoids times 2 P N are integers, (fp - prev_fp) (tp + prev_tp), summed exactly; average
  // precision times P is the sum of (tp - prev_tp) tp / predicted, each term at most tp - prev_tp.
  long long roc_2pn = 0;
  double ap_p = 0;
  for_each_tie_group(order, scores, [&](size_t first, size_t last) {
    for (size_t k = first; k < last; ++k) tp += labels[order[k]] != 0;
    predicted += static_cast<long>(last - first);
    // F1 = 2TP / (2TP + FP + FN) = 2TP / (predicted + positives).
    const double f1 = 2.0 * static_cast<double>(tp) / static_cast<double>(predicted + positives);
    if (f1 > best.f1) best = {f1, scores[order[first]]};
    const long fp = predicted - tp;
    roc_2pn += static_cast<long long>(fp - prev_fp) * (tp + prev_tp);
    ap_p += static_cast<double>(tp - prev_tp) * static_cast<double>(tp) / static_cast<double>(predicted);
    prev_tp = tp;
    prev_fp = fp;
  });
  const double roc = negatives > 0
                         ? static_cast<double>(roc_2pn) / (2.0 * static_cast<double>(positives) * negatives)
                         : kNaN;
  return {best, roc, ap_p / static_cast<double>(positives)};
}

void check_max_buffer(int max_buffer, const char* what) {
  if (max_buffer < 0 || max_buffer > kMaxVusBuffer)
    throw Error(std::string(what) + ": the largest buffer length must be in 0.." +
                std::to_string(kMaxVusBuffer) + ", got " + std::to_string(max_buffer));
}

RangeAuc vus_sorted(const std::vector<size_t>& order, const std::vector<double>& scores,
                    const std::vector<int>& labels, int max_buffer, RangeAucDefinition definition) {
  if (count_positive(labels) == 0) return {kNaN, kNaN};
  RangeAucSweep sweep(order, scores, labels, max_buffer);
  RangeAuc sum{0, 0};
  for (int b = 0; b <= max_buffer; ++b) {
    const RangeAuc r = sweep.at(b, definition);
    sum.roc += r.roc;
    sum.pr += r.pr;
  }
  const double count = static_cast<double>(max_buffer) + 1.0;
  return {sum.roc / count, sum.pr / count};
}

}  // namespace

BestF1 best_f1(const std::vector<double>& scores, const std::vector<int>& labels) {
  check_inputs(scores, labels, "best_f1");
  if (count_positive(labels) == 0) return {kNaN, kNaN};
  return point_curves_sorted(descending_order(scores), scores, labels).best;
}

double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  check_inputs(scores, labels, "roc_auc");
  const long positives = count_positive(labels);
  if (positives == 0 || positives == static_cast<long>(labels.size())) return kNaN;
  return point_curves_sorted(descending_order(scores), scores, labels).roc_auc;
}

double average_precision(const std::vector<double>& scores, const std::vector<int>& labels) {
  check_inputs(scores, labels, "average_precision");
  if (count_positive(labels) == 0) return kNaN;
  return point_curves_sorted(descending_order(scores), scores, labels).average_precision;
}

std::vector<double> buffered_labels(const std::vector<int>& labels, int buffer) {
  if (buffer < 0)
    throw Error("buffered_labels: the buffer length must be >= 0, got " + std::to_string(buffer));
  const int n = static_cast<int>(labels.size());
  std::vector<double> y(labels.size(), 0.0);
  for (int i = 0; i < n; ++i) y[static_cast<size_t>(i)] = labels[static_cast<size_t>(i)] != 0 ? 1.0 : 0.0;
  const int half = buffer / 2;
  // Only the rows inside the series: a buffer longer than the series costs at most O(n), not O(buffer), per
  // run.
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
  if (count_positive(labels) == 0) return {kNaN, kNaN};
  return RangeAucSweep(descending_order(scores), scores, labels, buffer).at(buffer, definition);
}

RangeAuc vus(const std::vector<double>& scores, const std::vector<int>& labels, int max_buffer,
             RangeAucDefinition definition) {
  check_inputs(scores, labels, "vus");
  check_max_buffer(max_buffer, "vus");
  if (count_positive(labels) == 0) return {kNaN, kNaN};
  return vus_sorted(descending_order(scores), scores, labels, max_buffer, definition);
}

CurveMetrics curve_metrics(const std::vector<double>& scores, const std::vector<int>& labels,
                           int vus_max_buffer, RangeAucDefinition vus_definition) {
  check_inputs(scores, labels, "curve_metrics");
  check_max_buffer(vus_max_buffer, "curve_metrics");
  if (count_positive(labels) == 0) return {{kNaN, kNaN}, kNaN, kNaN, {kNaN, kNaN}};
  const std::vector<size_t> order = descending_order(scores);
  const PointCurves point = point_curves_sorted(order, scores, labels);
  return {point.best, point.roc_auc, point.average_precision,
          vus_sorted(order, scores, labels, vus_max_buffer, vus_definition)};
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
