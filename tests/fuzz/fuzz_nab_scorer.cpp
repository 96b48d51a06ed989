// libFuzzer target: NAB scoring (eval/nab_scorer.hpp) of arbitrary detectors on arbitrary small corpora.
// The bytes decode to one to three files (row counts, label windows anywhere, probation included, and one
// score a row in [0, 1] with many ties, some above NAB's 1.1 start threshold). For each of NAB's three
// profiles and one with the input's own weights, what must hold whatever the input:
// - the optimizer's normalized score is at most 100 (a detection scores at most S(-1) of a window's
//   weight, and the perfect detector's total is the full weight; up to NAB's rounding), NaN exactly when
//   no window has a scorable row;
// - scoring at the optimizer's threshold (nab_score_at: per file, then summed) gives the optimizer's raw
//   score, counts and normalized score: two code paths, one answer;
// - no threshold scores higher than the optimizer's (it is exhaustive over every distinct score).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/log.hpp"
#include "eval/nab_scorer.hpp"
#include "tests/fuzz/same_bits.hpp"

namespace {

// Reads the input a byte at a time; past its end, zeros.
struct Bytes {
  const uint8_t* data;
  size_t size, at = 0;
  int next() { return at < size ? data[at++] : 0; }
};

bool near(double a, double b) {
  return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(b));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = (lstmad::log::set_level(lstmad::log::Level::Off), true);
  (void)quiet;
  Bytes in{data, size};
  // NAB's three profiles and one of the input's own (weights 0 to 2 in steps of 1/8, tp + fn above 0).
  std::vector<lstmad::NabProfile> profiles = lstmad::nab_default_profiles();
  lstmad::NabProfile own{"own", in.next() % 17 / 8.0, in.next() % 17 / 8.0, in.next() % 17 / 8.0, 1.0};
  if (own.tp_weight + own.fn_weight > 0) profiles.push_back(own);
  std::vector<lstmad::NabFileInput> files(1 + in.next() % 3);
  for (size_t f = 0; f < files.size(); ++f) {
    lstmad::NabFileInput& file = files[f];
    file.relpath = "cat/file" + std::to_string(f) + ".csv";
    file.rows = 1 + ((in.next() << 8 | in.next()) % 1500);
    // Windows: a gap then a length, each a share of the file, until the file ends or five are placed.
    int row = 0;
    const int count = in.next() % 6;
    for (int w = 0; w < count; ++w) {
      const int start = row + in.next() * file.rows / 512;
      const int end = start + in.next() * file.rows / 1024;
      if (end >= file.rows) break;
      file.windows.push_back({start, end, "", ""});
      row = end + 1;
    }
    // One byte a row, the bytes left repeated where the file has more rows than they are.
    file.scores.resize(static_cast<size_t>(file.rows));
    const size_t from = in.at, left = size > in.at ? size - in.at : 0;
    for (size_t i = 0; i < file.scores.size(); ++i) {
      const int b = left > 0 ? data[from + i % left] : 0;
      file.scores[i] = b >= 250 ? 1.2 : (b % 32) / 31.0;
    }
    in.at += std::min(left, file.scores.size());
    lstmad::nab_validate(file);  // well-formed by construction: a refusal here is a bug
  }
  const std::vector<lstmad::NabThresholdResult> best = lstmad::nab_optimize(files, profiles);
  if (best.size() != profiles.size()) __builtin_trap();
  const long windows = lstmad::nab_window_count(files);
  for (size_t p = 0; p < profiles.size(); ++p) {
    const lstmad::NabThresholdResult& b = best[p];
    if (b.profile != profiles[p].name) __builtin_trap();
    if (std::isnan(b.normalized) != (windows == 0)) __builtin_trap();
    // Up to rounding: a first-row detection adds S(-1) tpW / S(-1) as NAB computes it, which rounds above
    // tpW for some weights (1.75 gives 1.7500000000000002).
    if (b.normalized > 100 + 1e-9) __builtin_trap();
    const lstmad::NabProfileScores at = lstmad::nab_score_at(files, profiles[p], b.threshold);
    if (!near(at.totals.score, b.raw_score)) __builtin_trap();
    if (at.totals.tp != b.tp || at.totals.fp != b.fp || at.totals.fn != b.fn || at.totals.tn != b.tn)
      __builtin_trap();
    if (!(lstmad::fuzz::same_bits(at.normalized, b.normalized) || near(at.normalized, b.normalized)))
      __builtin_trap();
    // Other thresholds: both ends, a value between two score levels, and each score level of the first file.
    std::vector<double> thresholds = {-1.0, 0.0, 0.5 / 31.0, 1.0, 1.1, 1.2, 2.0};
    for (double s : files[0].scores)
      if (std::find(thresholds.begin(), thresholds.end(), s) == thresholds.end()) thresholds.push_back(s);
    for (double t : thresholds)
      if (lstmad::nab_score_at(files, profiles[p], t).totals.score >
          b.raw_score + 1e-9 * std::max(1.0, std::fabs(b.raw_score)))
        __builtin_trap();
  }
  return 0;
}
