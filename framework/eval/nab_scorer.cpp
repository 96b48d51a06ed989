// NAB v1.1 sweep scoring (spec section 2). The per-row sweep scores depend on the profile only through one
// weight, so each row keeps its unweighted sigmoid value and the weights are applied per profile; the sort
// by anomaly score is done once and shared by every profile.
#include "eval/nab_scorer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"

namespace lstmad {
namespace {

// NAB's sweep starts above any score a detector is supposed to give.
constexpr double kSweepStart = 1.1;

// Scorable rows (i >= probation) of one file or of a pooled corpus, sorted by anomaly score descending.
// `slot` numbers the windows in the order they first appear in that sorted order (-1: outside windows),
// which is the order NAB sums its window accumulators in.
struct Pool {
  std::vector<double> score;
  std::vector<double> unweighted;  // S(.) of the row, before the profile weight
  std::vector<int> slot;
  int slots = 0;
  long window_rows = 0, other_rows = 0;
};

// Unweighted sigmoid values of rows [first, rows) and each row's window (index into `windows`, or -1).
void row_parts(int rows, const std::vector<LabelWindow>& windows, int first, std::vector<double>& unweighted,
               std::vector<int>& window_of) {
  unweighted.assign(static_cast<size_t>(std::max(0, rows - first)), 0.0);
  window_of.assign(unweighted.size(), -1);
  size_t k = 0;  // first window not yet finished
  const LabelWindow* prev = nullptr;
  for (int i = first; i < rows; ++i) {
    while (k < windows.size() && windows[k].end < i) prev = &windows[k++];
    const size_t j = static_cast<size_t>(i - first);
    if (k < windows.size() && windows[k].start <= i) {
      const LabelWindow& w = windows[k];
      const double width = static_cast<double>(w.end - w.start + 1);
      const double pos = -static_cast<double>(w.end - i + 1) / width;
      // Divided by maxTP later, with the weight, in NAB's operation order.
      unweighted[j] = nab_scaled_sigmoid(pos);
      window_of[j] = static_cast<int>(k);
    } else if (prev == nullptr) {
      unweighted[j] = -1.0;
    } else {
      // NAB divides by (W'-1); a one-row window gives +inf here, i.e. the full FP weight.
      const double past = static_cast<double>(i - prev->end) / static_cast<double>(prev->end - prev->start);
      unweighted[j] = nab_scaled_sigmoid(past);
    }
  }
}

// Sorts the scorable rows of `files` by anomaly score descending (stable, as NAB) and numbers the windows
// by first appearance in that order. Built in stages so that a corpus of n rows peaks at about 24n bytes
// rather than holding an unsorted and a sorted copy of every column at once: the scores and a sort order
// (12n, and the stable sort's buffer), the sorted scores beside the order's inverse (12n), then each
// file's sigmoid values and windows computed again and placed straight into their sorted rows (24n).
Pool make_pool(const std::vector<const NabFileInput*>& files) {
  size_t total = 0;
  for (const auto* f : files)
    total += static_cast<size_t>(f->rows - std::min(probation_length(f->rows), f->rows));
  if (total > std::numeric_limits<uint32_t>::max())
    throw Error("NAB sweep: " + std::to_string(total) + " scorable rows in one pool, more than " +
                std::to_string(std::numeric_limits<uint32_t>::max()) + " (score fewer files at once)");
  Pool pool;
  std::vector<uint32_t> order(total);
  {
    std::vector<double> unsorted;
    unsorted.reserve(total);
    for (const auto* f : files) {
      const int p = std::min(probation_length(f->rows), f->rows);
      unsorted.insert(unsorted.end(), f->scores.begin() + p, f->scores.begin() + f->rows);
    }
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return unsorted[a] > unsorted[b]; });
    pool.score.resize(total);
    for (size_t r = 0; r < total; ++r) pool.score[r] = unsorted[order[r]];
  }
  // order's inverse, in place of order: rank[i] is the sorted row of pooled row i.
  {
    std::vector<uint32_t> rank(total);
    for (size_t r = 0; r < total; ++r) rank[order[r]] = static_cast<uint32_t>(r);
    order.swap(rank);
  }
  const std::vector<uint32_t>& rank = order;
  pool.unweighted.resize(total);
  pool.slot.assign(total, -1);  // the window's corpus-wide number first, its slot below
  size_t base_row = 0;
  int base_window = 0;
  std::vector<double> unweighted;
  std::vector<int> window_of;
  for (const auto* f : files) {
    row_parts(f->rows, f->windows, std::min(probation_length(f->rows), f->rows), unweighted, window_of);
    for (size_t j = 0; j < unweighted.size(); ++j) {
      const uint32_t r = rank[base_row + j];
      pool.unweighted[r] = unweighted[j];
      if (window_of[j] >= 0) {
        pool.slot[r] = base_window + window_of[j];
        ++pool.window_rows;
      } else {
        ++pool.other_rows;
      }
    }
    base_row += unweighted.size();
    base_window += static_cast<int>(f->windows.size());
  }
  std::vector<uint32_t>().swap(order);
  std::vector<int> slot_of(static_cast<size_t>(base_window), -1);
  for (int& s : pool.slot)
    if (s >= 0) {
      int& so = slot_of[static_cast<size_t>(s)];
      if (so < 0) so = pool.slots++;
      s = so;
    }
  return pool;
}

// Runs the sweep (spec 2.6) and hands each entry to visit(entry, next, approx, exact); visit returns false
// to stop early. The entry's score is left unset: `exact()` is NAB's score of the entry, which re-sums its
// parts as NAB does at every entry (fp first, then the windows by first appearance), so equal scores stay
// bit-equal, which decides ties. That re-sum costs one add per window, so the callers ask for it only where
// they need it; `approx` is a running total, O(1) per row, within approx_error() of it. `next` is the next
// entry's threshold, or null at the last entry.
template <class Visit>
void run_sweep(const Pool& pool, const NabProfile& prof, Visit&& visit) {
  const double max_tp = nab_max_tp();
  std::vector<double> acc(static_cast<size_t>(pool.slots), -prof.fn_weight);
  double fp_sum = 0.0;
  bool changed = true;  // since the last re-sum
  double resummed = 0.0;
  auto exact = [&] {
    if (changed) {
      resummed = fp_sum;
      for (double a : acc) resummed += a;
      changed = false;
    }
    return resummed;
  };
  double approx = exact();
  NabSweepEntry e;
  e.threshold = kSweepStart;
  e.fn = pool.window_rows;
  e.tn = pool.other_rows;
  const size_t n = pool.score.size();
  for (size_t r = 0; r < n; ++r) {
    const double s = pool.score[r];
    if (s != e.threshold) {
      if (!visit(static_cast<const NabSweepEntry&>(e), &s, approx, exact)) return;
      e.threshold = s;
    }
    const int slot = pool.slot[r];
    if (slot >= 0) {
      const double sweep = pool.unweighted[r] * prof.tp_weight / max_tp;
      double& a = acc[static_cast<size_t>(slot)];
      if (a < sweep) {  // std::max(a, sweep), NAB's max()
        approx += sweep - a;
        a = sweep;
        changed = true;
      }
      ++e.tp;
      --e.fn;
    } else {
      const double c = pool.unweighted[r] * prof.fp_weight;
      fp_sum += c;
      approx += c;
      changed = true;
      ++e.fp;
      --e.tn;
    }
  }
  visit(static_cast<const NabSweepEntry&>(e), static_cast<const double*>(nullptr), approx, exact);
}

// A bound on |approx - exact| over a whole sweep of `pool`. Every part of the sum is at most S in size
// (the fp parts together, plus one bounded accumulator per window), and each of the n running updates and
// of the windows + 1 adds of the re-sum rounds by at most one unit in the last place of a number <= S + 2
// times the largest accumulator step; doubled for the second-order terms.
double approx_error(const Pool& pool, const NabProfile& prof) {
  double fp_parts = 0.0;
  for (size_t r = 0; r < pool.score.size(); ++r)
    if (pool.slot[r] < 0) fp_parts += std::fabs(pool.unweighted[r] * prof.fp_weight);
  const double window_part = std::max(prof.fn_weight, prof.tp_weight / nab_max_tp());
  const double size = fp_parts + static_cast<double>(pool.slots + 2) * window_part;
  const double steps = static_cast<double>(pool.score.size() + static_cast<size_t>(pool.slots) + 2);
  return 2.0 * steps * std::numeric_limits<double>::epsilon() * size;
}

// NAB's pick at threshold t (spec 2.8) over one pool's sweep: the entry whose threshold is the smallest
// score >= t, i.e. detections {score >= t}, also where NAB finds none or another: below every score the
// last entry (all detected); above 1.1 the entry of the smallest score >= t, or none detected. Scores
// above 1.1 are the only way the sweep after the start entry can hold thresholds above t; where they come
// after it, t = 1.1 is not the start entry (NAB's match of the first entry equal to T) but the entry of
// the rows scored 1.1, or of the smallest score above 1.1, as the optimizer's entry at 1.1 is. Knowing the
// next entry's threshold, an entry is the pick when it is t itself, or when it is above t (or the start
// entry) and the next one is below t or none.
NabSweepEntry pick_at(const Pool& pool, const NabProfile& prof, double t) {
  NabSweepEntry chosen;
  bool first = true;
  run_sweep(pool, prof, [&](const NabSweepEntry& e, const double* next, double, auto& exact) {
    const bool start = first;
    first = false;
    const bool later_above = start && next != nullptr && *next > t;  // scores above 1.1 still to come
    if ((e.threshold == t && !later_above) ||
        ((e.threshold > t || start) && (next == nullptr || *next < t))) {
      chosen = e;
      chosen.score = exact();
      if (start && e.threshold < t && e.tp + e.fp > 0) {
        // The start entry holds the rows scored exactly 1.1, which a threshold above 1.1 does not detect:
        // the pick is the state before any row, NAB's parts summed in its order.
        chosen.tp = chosen.fp = 0;
        chosen.fn = pool.window_rows;
        chosen.tn = pool.other_rows;
        chosen.score = 0.0;
        for (int k = 0; k < pool.slots; ++k) chosen.score += -prof.fn_weight;
      }
      return false;
    }
    return true;
  });
  return chosen;
}

std::vector<const NabFileInput*> pointers(const std::vector<NabFileInput>& files) {
  std::vector<const NabFileInput*> out;
  out.reserve(files.size());
  for (const auto& f : files) {
    nab_validate(f);
    out.push_back(&f);
  }
  return out;
}

// A weight is the size of a reward (tpWeight) or of a cost (fnWeight, fpWeight): finite and not negative,
// as in NAB's profiles. A negative fpWeight would reward false positives.
double weight(const nlohmann::json& cm, const char* key, const std::string& where) {
  if (!cm.contains(key) || !cm[key].is_number())
    throw DataError(where, 0, std::string("profile needs a number \"") + key + "\" in its CostMatrix");
  const double w = cm[key].get<double>();
  if (!std::isfinite(w) || w < 0)
    throw DataError(where, 0,
                    std::string("\"") + key + "\" must be a finite weight >= 0, got " + cm[key].dump());
  return w;
}

}  // namespace

std::vector<NabProfile> nab_default_profiles() {
  return {{"standard", 1.0, 1.0, 0.11, 1.0},
          {"reward_low_FP_rate", 1.0, 1.0, 0.22, 1.0},
          {"reward_low_FN_rate", 1.0, 2.0, 0.11, 1.0}};
}

std::vector<NabProfile> nab_parse_profiles(const std::string& json_text, const std::string& source) {
  // Checked strictly first (malformed text, a repeated profile or key, a number beyond double range, each
  // with its line), then read again keeping the profiles' order.
  (void)parse_json_text(json_text, source);
  const auto j = nlohmann::ordered_json::parse(json_text);
  if (!j.is_object() || j.empty())
    throw DataError(source, 0,
                    "expected {profile: {\"CostMatrix\": {\"tpWeight\": .., \"fnWeight\": .., "
                    "\"fpWeight\": .., \"tnWeight\": ..}}}");
  std::vector<NabProfile> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string where = source + " (profile \"" + it.key() + "\")";
    if (!it.value().is_object() || !it.value().contains("CostMatrix") ||
        !it.value()["CostMatrix"].is_object())
      throw DataError(where, 0, "expected an object with a \"CostMatrix\" object");
    nlohmann::json cm = it.value()["CostMatrix"];
    NabProfile p;
    p.name = it.key();
    p.tp_weight = weight(cm, "tpWeight", where);
    p.fn_weight = weight(cm, "fnWeight", where);
    p.fp_weight = weight(cm, "fpWeight", where);
    p.tn_weight = cm.contains("tnWeight") ? weight(cm, "tnWeight", where) : 1.0;  // NAB never uses it
    // The normalized score divides by S_perfect - S_null = N_win (tpWeight + fnWeight).
    if (p.tp_weight + p.fn_weight <= 0)
      throw DataError(where, 0,
                      "tpWeight and fnWeight are both 0: every detector would score as the null one");
    out.push_back(p);
  }
  return out;
}

std::vector<NabProfile> nab_read_profiles(const std::string& path) {
  return nab_parse_profiles(files::read(path), path);
}

double nab_scaled_sigmoid(double x) {
  if (x > 3.0) return -1.0;
  return 2.0 / (1.0 + std::exp(5.0 * x)) - 1.0;
}

double nab_max_tp() {
  static const double v = nab_scaled_sigmoid(-1.0);
  return v;
}

void nab_validate(const NabFileInput& f) {
  if (f.rows < 0) throw DataError(f.relpath, 0, "negative row count");
  if (f.scores.size() != static_cast<size_t>(f.rows))
    throw DataError(f.relpath, 0,
                    "has " + std::to_string(f.scores.size()) + " anomaly scores for " +
                        std::to_string(f.rows) + " data rows");
  for (size_t i = 0; i < f.scores.size(); ++i)
    if (!std::isfinite(f.scores[i]))
      throw DataError(f.relpath, 0, "row " + std::to_string(i) + ": anomaly score is not a finite number");
  int prev_end = -1;
  for (const auto& w : f.windows) {
    if (w.start < 0 || w.end >= f.rows || w.end < w.start || w.start <= prev_end)
      throw DataError(f.relpath, 0,
                      "label window rows [" + std::to_string(w.start) + ", " + std::to_string(w.end) +
                          "] must be ordered, non-overlapping and inside 0.." + std::to_string(f.rows - 1));
    prev_end = w.end;
  }
}

std::vector<double> nab_row_sweep_scores(int rows, const std::vector<LabelWindow>& windows,
                                         const NabProfile& prof) {
  std::vector<double> unweighted;
  std::vector<int> window_of;
  row_parts(rows, windows, 0, unweighted, window_of);
  const double max_tp = nab_max_tp();
  for (size_t i = 0; i < unweighted.size(); ++i)
    unweighted[i] =
        window_of[i] >= 0 ? unweighted[i] * prof.tp_weight / max_tp : unweighted[i] * prof.fp_weight;
  return unweighted;
}

std::vector<NabSweepEntry> nab_sweep(const std::vector<NabFileInput>& files, const NabProfile& profile) {
  Pool pool = make_pool(pointers(files));
  std::vector<NabSweepEntry> out;
  run_sweep(pool, profile, [&](const NabSweepEntry& e, const double*, double, auto& exact) {
    out.push_back(e);
    out.back().score = exact();
    return true;
  });
  return out;
}

long nab_window_count(const std::vector<NabFileInput>& files) {
  long n = 0;
  for (const auto& f : files) {
    const int p = probation_length(f.rows);
    for (const auto& w : f.windows)
      if (w.end >= p) ++n;
  }
  return n;
}

double nab_normalize(double raw, const NabProfile& profile, long windows) {
  if (windows <= 0) return std::nan("");
  const double perfect = static_cast<double>(windows) * profile.tp_weight;
  const double null = -profile.fn_weight * static_cast<double>(windows);
  return 100.0 * (raw - null) / (perfect - null);
}

std::vector<NabThresholdResult> nab_optimize(const std::vector<NabFileInput>& files,
                                             const std::vector<NabProfile>& profiles) {
  Pool pool = make_pool(pointers(files));
  const long windows = nab_window_count(files);
  std::vector<NabThresholdResult> out;
  for (const auto& prof : profiles) {
    // Two passes: the best running total, then NAB's re-sum only at the entries whose running total is
    // within twice the error bound of it; no other entry can reach the best entry's exact score.
    double best_approx = -std::numeric_limits<double>::infinity();
    run_sweep(pool, prof, [&](const NabSweepEntry&, const double*, double approx, auto&) {
      best_approx = std::max(best_approx, approx);
      return true;
    });
    const double floor = best_approx - 2.0 * approx_error(pool, prof);
    NabSweepEntry best;
    bool any = false;
    // Entries come in descending threshold order, so the first maximum is the highest tied threshold.
    run_sweep(pool, prof, [&](const NabSweepEntry& e, const double*, double approx, auto& exact) {
      if (approx < floor) return true;
      const double score = exact();
      if (!any || score > best.score) {
        best = e;
        best.score = score;
        any = true;
      }
      return true;
    });
    NabThresholdResult r;
    r.profile = prof.name;
    r.threshold = best.threshold;
    // The start entry with nothing detected where scores of 1.1 and above exist: scored again, T = 1.1
    // detects them ({score >= T}). The smallest threshold above every score detects nothing, as the entry.
    if (best.tp + best.fp == 0 && !pool.score.empty() && pool.score.front() >= kSweepStart)
      r.threshold = std::nextafter(pool.score.front(), std::numeric_limits<double>::infinity());
    r.raw_score = best.score;
    r.normalized = nab_normalize(best.score, prof, windows);
    r.tp = best.tp;
    r.tn = best.tn;
    r.fp = best.fp;
    r.fn = best.fn;
    out.push_back(r);
  }
  return out;
}

namespace {

// Each file's own sweep, one file at a time (its pool is dropped before the next is built), picked at
// every profile's threshold.
std::vector<NabProfileScores> score_files(const std::vector<NabFileInput>& files,
                                          const std::vector<NabProfile>& profiles,
                                          const std::vector<double>& thresholds) {
  const long windows = nab_window_count(files);
  std::vector<NabProfileScores> out(profiles.size());
  for (size_t k = 0; k < profiles.size(); ++k) {
    if (std::isnan(thresholds[k]))
      throw ConfigError("the threshold for profile \"" + profiles[k].name + "\" is NaN");
    out[k].profile = profiles[k].name;
    out[k].threshold = thresholds[k];
    out[k].windows = windows;
    out[k].totals.file = "Totals";
  }
  std::vector<double> sums(profiles.size(), 0.0);
  for (const auto& f : files) {
    nab_validate(f);
    const Pool pool = make_pool({&f});
    for (size_t k = 0; k < profiles.size(); ++k) {
      const NabSweepEntry e = pick_at(pool, profiles[k], thresholds[k]);
      NabFileScore fs;
      fs.file = f.relpath;
      fs.threshold = thresholds[k];
      fs.score = e.score;
      fs.tp = e.tp;
      fs.tn = e.tn;
      fs.fp = e.fp;
      fs.fn = e.fn;
      fs.total_count = f.rows;
      sums[k] += fs.score;  // in file order, as before: the same total to the bit
      NabProfileScores& ps = out[k];
      ps.totals.tp += fs.tp;
      ps.totals.tn += fs.tn;
      ps.totals.fp += fs.fp;
      ps.totals.fn += fs.fn;
      ps.totals.total_count += fs.total_count;
      ps.files.push_back(std::move(fs));
    }
  }
  for (size_t k = 0; k < profiles.size(); ++k) {
    out[k].totals.score = sums[k];
    out[k].normalized = nab_normalize(sums[k], profiles[k], windows);
  }
  return out;
}

}  // namespace

NabProfileScores nab_score_at(const std::vector<NabFileInput>& files, const NabProfile& profile,
                              double threshold) {
  return score_files(files, {profile}, {threshold}).front();
}

std::vector<NabProfileScores> nab_score_at(const std::vector<NabFileInput>& files,
                                           const std::vector<NabProfile>& profiles,
                                           const std::map<std::string, double>& thresholds) {
  std::vector<double> t;
  for (const auto& p : profiles) {
    auto it = thresholds.find(p.name);
    if (it == thresholds.end()) throw ConfigError("no threshold given for profile \"" + p.name + "\"");
    t.push_back(it->second);
  }
  return score_files(files, profiles, t);
}

std::string nab_format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // shortest round-trip digits: [-]d[.ddd]e(+|-)xx
  std::string sign;
  size_t pos = 0;
  if (sci[0] == '-') {
    sign = "-";
    pos = 1;
  }
  const size_t epos = sci.find('e');
  std::string digits;
  for (size_t i = pos; i < epos; ++i)
    if (sci[i] != '.') digits += sci[i];
  const int exp = std::stoi(sci.substr(epos + 1));
  // Python's repr: positional for 1e-4 <= |v| < 1e16, else scientific with a two-digit exponent at least.
  if (exp >= -4 && exp < 16) {
    std::string s;
    if (exp >= 0) {
      if (digits.size() <= static_cast<size_t>(exp) + 1) {
        s = digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
      } else {
        s = digits.substr(0, static_cast<size_t>(exp) + 1) + "." +
            digits.substr(static_cast<size_t>(exp) + 1);
      }
    } else {
      s = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
    return sign + s;
  }
  std::string mant = digits.substr(0, 1);
  if (digits.size() > 1) mant += "." + digits.substr(1);
  const int ae = std::abs(exp);
  std::string es = std::to_string(ae);
  if (es.size() < 2) es = "0" + es;
  return sign + mant + "e" + (exp < 0 ? "-" : "+") + es;
}

std::string nab_scores_csv(const std::string& detector, const NabProfileScores& s) {
  std::ostringstream os;
  os << "Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count\n";
  for (const auto& f : s.files)
    os << detector << "," << s.profile << "," << f.file << "," << nab_format_number(f.threshold) << ","
       << nab_format_number(f.score) << "," << f.tp << "," << f.tn << "," << f.fp << "," << f.fn << ","
       << f.total_count << "\n";
  os << "Totals,,,," << nab_format_number(s.totals.score) << "," << s.totals.tp << "," << s.totals.tn << ","
     << s.totals.fp << "," << s.totals.fn << "," << s.totals.total_count << "\n";
  return os.str();
}

}  // namespace lstmad
