#include "detect/dynamic_threshold.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/error.hpp"

namespace lstmad {

std::vector<double> ewma(const std::vector<double>& x, double span) {
  std::vector<double> out(x.size(), std::numeric_limits<double>::quiet_NaN());
  const double alpha = 2.0 / (span + 1.0);
  bool started = false;
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isnan(x[i])) {
      m = started ? alpha * x[i] + (1 - alpha) * m : x[i];
      started = true;
    }
    if (started) out[i] = m;
  }
  return out;
}

namespace {

struct Run {
  size_t begin, end;  // inclusive positions in the window
  double peak;
};

std::vector<Run> runs_above(const double* e, size_t n, double eps) {
  std::vector<Run> runs;
  for (size_t k = 0; k < n;) {
    if (e[k] < eps) {
      ++k;
      continue;
    }
    Run r{k, k, e[k]};
    while (k < n && e[k] >= eps) {
      r.peak = std::max(r.peak, e[k]);
      r.end = k++;
    }
    runs.push_back(r);
  }
  return runs;
}

// Candidate thresholds handled together in one pass over the window.
constexpr size_t kBlock = 8;
constexpr size_t kMaxCandidates = 1000000;  // z values of one sweep; the config allows at most 10000

// For each of the NV * kBlock thresholds eps[c]: the sum and the sum of squares of the window's errors
// below it, added in row order (as a pass per threshold adds them), their count, and the count of runs of
// errors at or above it. An error not below eps adds +0.0, which leaves a sum's bits as they are (a sum
// that starts at +0.0 is never -0.0). The NV vectors' sums are independent chains, run side by side.
template <int NV>
void candidate_block(const double* win, size_t wn, const double* eps, double* bs, double* bq, long* below,
                     long* nseq) {
  // GCC/Clang vector types: one lane per candidate, lowered to whatever vector unit the target has.
  typedef double D __attribute__((vector_size(kBlock * sizeof(double))));
  typedef long L __attribute__((vector_size(kBlock * sizeof(long))));
  static_assert(sizeof(double) == sizeof(long), "a mask lane covers a double lane");
  D e[NV], s[NV], q[NV];
  L nb[NV], ns[NV], prev[NV];
  for (int j = 0; j < NV; ++j) {
    s[j] = q[j] = e[j] = D{};
    nb[j] = ns[j] = L{};
    prev[j] = L{} - 1;  // "below": a run starts at the window's first position too
    for (size_t c = 0; c < kBlock; ++c) e[j][c] = eps[j * kBlock + c];
  }
  for (size_t k = 0; k < wn; ++k) {
    const double v = win[k];
    const double vv = v * v;
    long vbits, vvbits;
    std::memcpy(&vbits, &v, sizeof v);
    std::memcpy(&vvbits, &vv, sizeof vv);
    const L vl = L{} | vbits, vvl = L{} | vvbits;  // the bits of v and v * v in every lane
    for (int j = 0; j < NV; ++j) {
      const L m = reinterpret_cast<D>(vl) < e[j];  // -1 where the error is below the candidate, else 0
      s[j] += reinterpret_cast<D>(vl & m);         // v or +0.0
      q[j] += reinterpret_cast<D>(vvl & m);
      nb[j] -= m;
      ns[j] -= prev[j] & ~m;  // a run starts where the error is not below and the one before was
      prev[j] = m;
    }
  }
  for (int j = 0; j < NV; ++j)
    for (size_t c = 0; c < kBlock; ++c) {
      bs[j * kBlock + c] = s[j][c];
      bq[j * kBlock + c] = q[j][c];
      below[j * kBlock + c] = nb[j][c];
      nseq[j * kBlock + c] = ns[j][c];
    }
}

// The candidate thresholds eps = mu + z sigma of the sweep z = z_min, z_min + z_step, ... (accumulated as
// the sweep adds them), and per candidate the sums over the window's errors below it (in row order, as one
// pass per candidate would add them), the count of those errors and of the runs at or above eps. Padded to
// whole blocks; a padding candidate's eps is -inf (nothing below it) and is never rated.
class Candidates {
 public:
  explicit Candidates(const DynamicThresholdOptions& o) {
    // The sweep adds z_step until z passes z_max: a step that is not positive, or too small to move z,
    // would push candidates until memory ran out.
    for (double z = o.z_min; z <= o.z_max + 1e-12; z += o.z_step) {
      if (!(o.z_step > 0) || zs_.size() == kMaxCandidates)
        throw ConfigError("dynamic_threshold: z from " + std::to_string(o.z_min) + " to " +
                          std::to_string(o.z_max) + " by " + std::to_string(o.z_step) +
                          " is not a sweep of 1 to " + std::to_string(kMaxCandidates) +
                          " candidates (z_step must be > 0)");
      zs_.push_back(z);
    }
    const size_t padded = (zs_.size() + kBlock - 1) / kBlock * kBlock;
    eps_.assign(padded, -std::numeric_limits<double>::infinity());
    bs_.resize(padded);
    bq_.resize(padded);
    below_.resize(padded);
    nseq_.resize(padded);
  }

  // The best-rated threshold for the window's errors win[0 .. wn) (mean mu, deviation sigma): the one whose
  // removal of the errors at or above it lowers mean and deviation the most for the fewest errors and runs.
  // +inf where no candidate leaves errors on both sides, or the window has no spread.
  double best(const double* win, size_t wn, double mu, double sigma) {
    double best_rating = -std::numeric_limits<double>::infinity(),
           best_eps = std::numeric_limits<double>::infinity();
    const size_t nz = zs_.size(), padded = eps_.size();
    if (!(sigma > 0 && mu > 0 && nz > 0)) return best_eps;
    for (size_t c = 0; c < nz; ++c) eps_[c] = mu + zs_[c] * sigma;
    // One pass over the window per block of candidates, the block's sums held in registers.
    size_t first = 0;
    for (; first + 2 * kBlock <= padded; first += 2 * kBlock)
      candidate_block<2>(win, wn, &eps_[first], &bs_[first], &bq_[first], &below_[first], &nseq_[first]);
    if (first < padded)
      candidate_block<1>(win, wn, &eps_[first], &bs_[first], &bq_[first], &below_[first], &nseq_[first]);
    for (size_t c = 0; c < nz; ++c) {
      const size_t nb = static_cast<size_t>(below_[c]);
      const size_t above = wn - nb;
      if (above == 0 || nb == 0) continue;
      const double bmu = bs_[c] / static_cast<double>(nb);
      const double bsig = std::sqrt(std::max(0.0, bq_[c] / static_cast<double>(nb) - bmu * bmu));
      const double ns = static_cast<double>(nseq_[c]);
      const double rating =
          ((mu - bmu) / mu + (sigma - bsig) / sigma) / (static_cast<double>(above) + ns * ns);
      if (rating > best_rating) {
        best_rating = rating;
        best_eps = eps_[c];
      }
    }
    return best_eps;
  }

 private:
  std::vector<double> zs_, eps_, bs_, bq_;
  std::vector<long> below_, nseq_;
};

// The highest of win[from .. to) below eps (0 when none). Without a branch (whether an error lies below
// the threshold follows the data: the mispredicted jumps made this loop a fifth of the rule's time) and
// in four independent chains: the maximum of numbers (the window holds no NaN) is the same in any order,
// up to the sign of a zero, which the relative falls below do not see.
double max_below(const double* win, size_t from, size_t to, double eps) {
  double part[4] = {0, 0, 0, 0};
  size_t k4 = from;
  for (; k4 + 4 <= to; k4 += 4)
    for (size_t j = 0; j < 4; ++j) part[j] = std::max(part[j], win[k4 + j] < eps ? win[k4 + j] : 0.0);
  for (; k4 < to; ++k4) part[0] = std::max(part[0], win[k4] < eps ? win[k4] : 0.0);
  return std::max(std::max(part[0], part[1]), std::max(part[2], part[3]));
}

// The runs of errors at or above `eps` that survive pruning: ranked by peak, highest first, a run survives
// when it or a run after it falls by more than `prune` (relative) to the next peak, the last one to the
// highest nominal error: the highest below the threshold outside `buffer` positions around every run, as
// telemanom leaves out each anomaly's neighbourhood (a smoothed run's own flanks, just below eps, are no
// evidence that it is ordinary; compared with them a run survives only when its peak exceeds eps by more
// than 1 / (1 - prune)). Where the runs' neighbourhoods cover the window, every error below eps counts.
std::vector<Run> surviving_runs(const double* win, size_t wn, double eps, double prune, size_t buffer) {
  std::vector<Run> runs = runs_above(win, wn, eps);
  double below_max = 0;
  bool any_outside = false;
  size_t from = 0;             // the first position after the neighbourhoods so far
  for (const Run& r : runs) {  // in window order
    const size_t to = r.begin > buffer ? r.begin - buffer : 0;
    if (to > from) {
      below_max = std::max(below_max, max_below(win, from, to, eps));
      any_outside = true;
    }
    from = std::max(from, std::min(wn, r.end + 1 + buffer));
  }
  if (from < wn) {
    below_max = std::max(below_max, max_below(win, from, wn, eps));
    any_outside = true;
  }
  if (!any_outside) below_max = max_below(win, 0, wn, eps);
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.peak > b.peak; });
  size_t keep = 0;  // runs ranked before `keep` survive
  for (size_t k = 0; k < runs.size(); ++k) {
    double next = k + 1 < runs.size() ? runs[k + 1].peak : below_max;
    if ((runs[k].peak - next) / runs[k].peak > prune) keep = k + 1;
  }
  runs.resize(keep);
  return runs;
}

}  // namespace

std::vector<double> dynamic_threshold_detections(const std::vector<double>& errors, const DynamicThresholdOptions& o) {
  const size_t n = errors.size();
  std::vector<double> out(n, 0.0);
  // The window's non-NaN errors and their rows, in row order: buf[head ..]. Dropping the oldest moves
  // head; the dropped prefix is cut off once it is as long as the window, so a row costs O(1) on average
  // instead of a shift of the whole window.
  const size_t cap = static_cast<size_t>(std::max(o.window, 1));
  std::vector<double> buf;
  std::vector<size_t> buf_rows;
  size_t head = 0;
  Candidates candidates(o);
  size_t last_anomalous = std::numeric_limits<size_t>::max();
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(errors[i])) continue;
    buf.push_back(errors[i]);
    buf_rows.push_back(i);
    if (buf.size() - head > static_cast<size_t>(o.window)) ++head;
    if (head >= cap) {
      buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(head));
      buf_rows.erase(buf_rows.begin(), buf_rows.begin() + static_cast<std::ptrdiff_t>(head));
      head = 0;
    }
    const double* win = buf.data() + head;
    const size_t wn = buf.size() - head;
    const size_t* rows = buf_rows.data() + head;
    bool flagged = false;
    if (static_cast<int>(wn) >= o.min_history) {
      double sum = 0, sq = 0;
      for (size_t k = 0; k < wn; ++k) {
        sum += win[k];
        sq += win[k] * win[k];
      }
      const double cnt = static_cast<double>(wn);
      const double mu = sum / cnt;
      const double sigma = std::sqrt(std::max(0.0, sq / cnt - mu * mu));
      const double best_eps = candidates.best(win, wn, mu, sigma);
      if (std::isfinite(best_eps))
        for (const Run& r : surviving_runs(win, wn, best_eps, o.prune, static_cast<size_t>(o.buffer))) {
          if (r.end == wn - 1) flagged = true;  // the current row is the window's last position
          last_anomalous = last_anomalous == std::numeric_limits<size_t>::max()
                               ? rows[r.end]
                               : std::max(last_anomalous, rows[r.end]);
        }
    }
    if (flagged || (last_anomalous != std::numeric_limits<size_t>::max() && i <= last_anomalous + static_cast<size_t>(o.buffer)))
      out[i] = 1.0;
  }
  return out;
}

}  // namespace lstmad
