// Affiliation-based precision and recall (metrics_affiliation.hpp).
//
// Written from the paper's definitions rather than its closed-form case analysis: within a zone both
// integrands are piecewise linear in time, with kinks only at the breakpoints collected below, so
// Simpson's rule on every piece between consecutive breakpoints is exact (up to rounding).
#include "eval/metrics_affiliation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/nan.hpp"

namespace lstmad::metrics {
namespace {

struct Span {
  double lo = 0, hi = 0;  // [lo, hi)
  double length() const { return hi - lo; }
};

// Runs of nonzero rows as time intervals: rows s..e are [s, e + 1).
std::vector<Span> events_of(const std::vector<int>& binary) {
  std::vector<Span> out;
  for (const Segment& s : runs_of(binary)) out.push_back({double(s.start), double(s.end) + 1.0});
  return out;
}

double distance(double t, const Span& s) { return t < s.lo ? s.lo - t : (t > s.hi ? t - s.hi : 0.0); }

// The integral over [lo, hi] of a function that is linear between consecutive `cuts` (those outside
// (lo, hi) are ignored): piece(s, t) integrates one linear piece.
template <class Piece>
double integrate_pieces(double lo, double hi, std::vector<double> cuts, Piece piece) {
  cuts.erase(std::remove_if(cuts.begin(), cuts.end(), [&](double c) { return !(c > lo && c < hi); }),
             cuts.end());
  cuts.push_back(lo);
  cuts.push_back(hi);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  double sum = 0.0;
  for (std::size_t k = 0; k + 1 < cuts.size(); ++k) sum += piece(cuts[k], cuts[k + 1]);
  return sum;
}

template <class F>
double simpson(double s, double t, F f) {
  return (t - s) * (f(s) + 4.0 * f(0.5 * (s + t)) + f(t)) / 6.0;
}

// Zone E of event J, the predicted time inside it (`parts`, sorted, disjoint, non-empty): the integral over
// the parts of P(dist(X, J) >= dist(x, J)), X uniform in E. For x outside J at distance d that is
// 1 - (|J| + min(d, m) + d) / |E|, m the shorter of E's two sides around J (d never exceeds the longer);
// inside J it is 1.
double precision_integral(const Span& E, const Span& J, const std::vector<Span>& parts) {
  const double m = std::min(J.lo - E.lo, E.hi - J.hi);
  auto fbar = [&](double x) {
    const double d = distance(x, J);
    return 1.0 - (J.length() + std::min(d, m) + d) / E.length();
  };
  double sum = 0.0;
  for (const Span& p : parts)
    sum += integrate_pieces(p.lo, p.hi, {J.lo, J.hi, J.lo - m, J.hi + m}, [&](double s, double t) {
      const double mid = 0.5 * (s + t);
      return mid >= J.lo && mid <= J.hi ? t - s : simpson(s, t, fbar);
    });
  return sum;
}

// The integral over y in J of P(|y - X| >= dist(y, parts)), X uniform in E: with d the distance to the
// nearest part and m_y = min(y - E.lo, E.hi - y), 1 - (min(d, m_y) + d) / |E| (1 where y is predicted).
double recall_integral(const Span& E, const Span& J, const std::vector<Span>& parts) {
  // Only the parts that overlap J and the nearest one on each side can be the nearest part of a y in J.
  std::vector<Span> near;
  const Span* left = nullptr;
  const Span* right = nullptr;
  for (const Span& p : parts) {
    if (p.hi <= J.lo)
      left = &p;  // parts are sorted: the last such is the nearest
    else if (p.lo >= J.hi) {
      if (right == nullptr) right = &p;
    } else
      near.push_back(p);
  }
  if (left != nullptr) near.insert(near.begin(), *left);
  if (right != nullptr) near.push_back(*right);
  // The pieces come in time order, and the nearest part changes only at the cuts between two parts: one
  // index follows it (a scan of every part at each point was quadratic in the parts inside J). At a
  // piece's ends the neighbours tie with it, so the minimum over the three is the minimum over all.
  std::size_t at = 0;
  auto nearest = [&](double y) {
    double d = std::numeric_limits<double>::infinity();
    for (std::size_t k = at > 0 ? at - 1 : 0; k < near.size() && k <= at + 1; ++k)
      d = std::min(d, distance(y, near[k]));
    return d;
  };
  auto fbar = [&](double y) {
    const double d = nearest(y);
    const double m = std::min(y - E.lo, E.hi - y);
    return 1.0 - (std::min(d, m) + d) / E.length();
  };
  std::vector<double> cuts{0.5 * (E.lo + E.hi)};
  for (std::size_t k = 0; k < near.size(); ++k) {
    for (const double p : {near[k].lo, near[k].hi}) {
      cuts.push_back(p);
      cuts.push_back(0.5 * (E.lo + p));  // where min(d, m_y) switches, for a part at p
      cuts.push_back(0.5 * (E.hi + p));
    }
    if (k + 1 < near.size()) cuts.push_back(0.5 * (near[k].hi + near[k + 1].lo));  // the nearest part changes
  }
  return integrate_pieces(J.lo, J.hi, cuts, [&](double s, double t) {
    const double mid = 0.5 * (s + t);
    while (at + 1 < near.size() && mid > 0.5 * (near[at].hi + near[at + 1].lo)) ++at;
    return simpson(s, t, fbar);
  });
}

}  // namespace

PrecisionRecall affiliation_metrics(const std::vector<int>& predicted, const std::vector<int>& labels) {
  const std::vector<Span> truth = events_of(labels), pred = events_of(predicted);
  if (truth.empty()) return {kNaN, kNaN, kNaN};
  const double end = static_cast<double>(labels.size());
  double precision_sum = 0.0, recall_sum = 0.0;
  int zones_predicted = 0;
  std::size_t first = 0;    // the first predicted event that does not end before the zone
  std::vector<Span> parts;  // the predicted time inside E
  for (std::size_t j = 0; j < truth.size(); ++j) {
    const Span& J = truth[j];
    const Span E{j == 0 ? 0.0 : 0.5 * (truth[j - 1].hi + J.lo),
                 j + 1 == truth.size() ? end : 0.5 * (J.hi + truth[j + 1].lo)};
    // Zones and predicted events are sorted and disjoint, so those ending before this zone end before
    // every later one too; an event that spans a zone border is visited once per zone.
    while (first < pred.size() && pred[first].hi <= E.lo) ++first;
    parts.clear();
    for (std::size_t k = first; k < pred.size() && pred[k].lo < E.hi; ++k) {
      const Span c{std::max(pred[k].lo, E.lo), std::min(pred[k].hi, E.hi)};
      if (c.hi > c.lo) parts.push_back(c);
    }
    if (parts.empty()) continue;  // precision undefined in this zone, recall 0
    double predicted_time = 0.0;
    for (const Span& p : parts) predicted_time += p.length();
    precision_sum += precision_integral(E, J, parts) / predicted_time;
    ++zones_predicted;
    recall_sum += recall_integral(E, J, parts) / J.length();
  }
  PrecisionRecall r;
  r.precision = zones_predicted > 0 ? precision_sum / zones_predicted : kNaN;
  r.recall = recall_sum / static_cast<double>(truth.size());
  r.f1 = f1_of(r.precision, r.recall);
  return r;
}

}  // namespace lstmad::metrics
