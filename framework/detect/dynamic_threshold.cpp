#include "detect/dynamic_threshold.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

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

std::vector<Run> runs_above(const std::vector<double>& e, double eps) {
  std::vector<Run> runs;
  for (size_t k = 0; k < e.size();) {
    if (e[k] < eps) {
      ++k;
      continue;
    }
    Run r{k, k, e[k]};
    while (k < e.size() && e[k] >= eps) {
      r.peak = std::max(r.peak, e[k]);
      r.end = k++;
    }
    runs.push_back(r);
  }
  return runs;
}

}  // namespace

std::vector<double> dynamic_threshold_detections(const std::vector<double>& errors, const DynamicThresholdOptions& o) {
  const size_t n = errors.size();
  std::vector<double> out(n, 0.0);
  std::vector<double> win;  // the window's non-NaN errors, in row order
  std::vector<size_t> rows;
  size_t last_anomalous = std::numeric_limits<size_t>::max();
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(errors[i])) continue;
    win.push_back(errors[i]);
    rows.push_back(i);
    if (static_cast<int>(win.size()) > o.window) {
      win.erase(win.begin());
      rows.erase(rows.begin());
    }
    bool flagged = false;
    if (static_cast<int>(win.size()) >= o.min_history) {
      double sum = 0, sq = 0;
      for (double v : win) {
        sum += v;
        sq += v * v;
      }
      const double cnt = static_cast<double>(win.size());
      const double mu = sum / cnt;
      const double sigma = std::sqrt(std::max(0.0, sq / cnt - mu * mu));
      double best_rating = -std::numeric_limits<double>::infinity(), best_eps = std::numeric_limits<double>::infinity();
      if (sigma > 0 && mu > 0) {
        for (double z = o.z_min; z <= o.z_max + 1e-12; z += o.z_step) {
          const double eps = mu + z * sigma;
          double bs = 0, bq = 0;
          size_t below = 0;
          for (double v : win)
            if (v < eps) {
              bs += v;
              bq += v * v;
              ++below;
            }
          const size_t above = win.size() - below;
          if (above == 0 || below == 0) continue;
          const double bmu = bs / static_cast<double>(below);
          const double bsig = std::sqrt(std::max(0.0, bq / static_cast<double>(below) - bmu * bmu));
          const double nseq = static_cast<double>(runs_above(win, eps).size());
          const double rating = ((mu - bmu) / mu + (sigma - bsig) / sigma) / (static_cast<double>(above) + nseq * nseq);
          if (rating > best_rating) {
            best_rating = rating;
            best_eps = eps;
          }
        }
      }
      if (std::isfinite(best_eps)) {
        std::vector<Run> runs = runs_above(win, best_eps);
        // Pruning over the runs' peaks, highest first, closed by the highest error below the threshold.
        std::vector<Run> sorted = runs;
        std::sort(sorted.begin(), sorted.end(), [](const Run& a, const Run& b) { return a.peak > b.peak; });
        double below_max = 0;
        for (double v : win)
          if (v < best_eps) below_max = std::max(below_max, v);
        size_t keep = 0;  // runs ranked before `keep` survive
        for (size_t k = 0; k < sorted.size(); ++k) {
          double next = k + 1 < sorted.size() ? sorted[k + 1].peak : below_max;
          if ((sorted[k].peak - next) / sorted[k].peak > o.prune) keep = k + 1;
        }
        for (size_t k = 0; k < keep; ++k) {
          // The current row is the window's last position.
          if (sorted[k].end == win.size() - 1) flagged = true;
          last_anomalous = last_anomalous == std::numeric_limits<size_t>::max()
                               ? rows[sorted[k].end]
                               : std::max(last_anomalous, rows[sorted[k].end]);
        }
      }
    }
    if (flagged || (last_anomalous != std::numeric_limits<size_t>::max() && i <= last_anomalous + static_cast<size_t>(o.buffer)))
      out[i] = 1.0;
  }
  return out;
}

}  // namespace lstmad
