// Synthetic labeled corpus (see synthetic.hpp). A series is
//   level + trend*i + daily(i) + weekly(i) + wander(i) + sd*noise(i)
// where daily has three harmonics of a 1-day period, weekly two harmonics of a 7-day period, wander is a
// slow AR(1) and noise is unit-variance Gaussian or Student-t(4). Anomalies are then applied on top; the
// kinds and their magnitudes (in units of sd) are listed in docs/synthetic.md and in kKinds below.
#include "data/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/rng.hpp"
#include "data/labels.hpp"
#include "data/nab_windows.hpp"
#include "data/timestamp.hpp"

namespace lstmad {
namespace {

constexpr double kTwoPi = 6.283185307179586;

struct KindInfo {
  const char* kind;
  const char* category;
};
// Canonical order; the index also decides which series get heavy-tailed noise, so it must not change.
constexpr KindInfo kKinds[] = {
    {"spike", "synthSpike"},
    {"level_shift", "synthLevelShift"},
    {"variance_change", "synthVarianceChange"},
    {"frequency_change", "synthFrequencyChange"},
    {"flat_line", "synthFlatLine"},
    {"drift", "synthDrift"},
    {"none", "synthNoAnomaly"},
};
constexpr int kKindCount = static_cast<int>(sizeof(kKinds) / sizeof(kKinds[0]));

std::string valid_kinds_text() {
  std::string s;
  for (const auto& k : kKinds) s += (s.empty() ? "" : ", ") + std::string(k.kind);
  return s;
}

int kind_index(const std::string& kind) {
  for (int i = 0; i < kKindCount; ++i)
    if (kind == kKinds[i].kind) return i;
  throw ConfigError("unknown synthetic anomaly kind \"" + kind + "\"; valid kinds: " + valid_kinds_text());
}

// The value as it will be read back from "%.10g": generating and reading then agree exactly.
double round10(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return std::strtod(buf, nullptr);
}

// Unit-variance Student-t with 4 degrees of freedom (variance 4/(4-2) = 2 before scaling): occasional
// 4-6 sd outliers that are not anomalies, so spikes cannot be found by a plain threshold on the noise.
double student_t4(Rng& rng) {
  double z = rng.normal();
  double v = 0.0;
  for (int k = 0; k < 4; ++k) {
    double g = rng.normal();
    v += g * g;
  }
  if (v < 1e-12) v = 1e-12;
  return z / std::sqrt(v / 4.0) / std::sqrt(2.0);
}

// Integer in [lo, hi] (hi >= lo).
int uniform_int(Rng& rng, int lo, int hi) {
  return lo + static_cast<int>(rng.below(static_cast<uint64_t>(hi - lo + 1)));
}

struct Shape {
  double level, trend, amp, sd;
  double harm[3], harm_phase[3];
  double weekly[2], weekly_phase[2];
  double day_rows, week_rows;
  double wander_sd;
};

double daily(const Shape& s, double phase) {
  double v = 0.0;
  for (int k = 0; k < 3; ++k) v += s.harm[k] * std::sin((k + 1) * phase + s.harm_phase[k]);
  return v;
}

// The series' shape parameters, drawn in a fixed order (the order is part of the corpus: changing it
// changes every series).
Shape draw_shape(Rng& rng, int n, int step_seconds) {
  Shape s{};
  const double scale = std::pow(10.0, rng.uniform(0.0, 3.0));  // 1 .. 1000: exercises normalization
  s.amp = scale;
  s.level = scale * rng.uniform(3.0, 6.0);
  s.sd = s.amp / rng.uniform(6.0, 15.0);         // seasonal amplitude is 6-15 noise sd
  s.trend = rng.uniform(-1.0, 1.0) * s.amp / n;  // total drift over the series within +-1 amplitude
  s.harm[0] = s.amp;
  s.harm[1] = s.amp * rng.uniform(0.2, 0.5);
  s.harm[2] = s.amp * rng.uniform(0.05, 0.25);
  for (double& p : s.harm_phase) p = rng.uniform(0.0, kTwoPi);
  s.weekly[0] = s.amp * rng.uniform(0.2, 0.5);
  s.weekly[1] = s.weekly[0] * rng.uniform(0.2, 0.5);
  for (double& p : s.weekly_phase) p = rng.uniform(0.0, kTwoPi);
  s.day_rows = 86400.0 / step_seconds;
  s.week_rows = 7.0 * s.day_rows;
  s.wander_sd = s.sd * rng.uniform(0.3, 1.0);
  return s;
}

// The anomalies' onsets: windows after the probationary period, inside the file, apart from each other;
// `h` is set to their windows' half-width.
std::vector<int> place_anomalies(Rng& rng, int n, int& h) {
  const int P = probation_length(n);
  int k = 1 + static_cast<int>(rng.below(3));
  int lo = 0, slot = 0, margin = 0;
  for (;; --k) {
    h = static_cast<int>(0.10 * n / k) / 2;
    lo = P + h;
    const int hi = n - 1 - h;
    slot = (hi - lo + 1) / k;
    margin = k == 1 ? 0 : h + 2;  // between anomalies: windows at least 3 rows apart
    if (k == 1 || slot >= 2 * margin + 1) break;
  }
  std::vector<int> rows;
  for (int j = 0; j < k; ++j) {
    int first = lo + j * slot + margin;
    int last = lo + (j + 1) * slot - 1 - margin;
    rows.push_back(uniform_int(rng, first, last));
  }
  return rows;
}

// Applies one anomaly of `kind` at onset `a` to `v` (`noise`: the unit-variance noise the series was made
// with; `h`: the window half-width). Returns the rows it affects.
int apply_anomaly(const std::string& kind, int a, int h, const Shape& s, const std::vector<double>& noise,
                  Rng& rng, std::vector<double>& v) {
  const double sign = rng.uniform() < 0.5 ? -1.0 : 1.0;
  int len = std::max(2, uniform_int(rng, (h + 1) / 2, h));  // extended anomalies: half to all of h
  const double omega = kTwoPi / s.day_rows;
  if (kind == "spike") {
    len = 1;
    v[static_cast<size_t>(a)] += sign * rng.uniform(6.0, 9.0) * s.sd;
  } else if (kind == "level_shift") {
    const double d = sign * rng.uniform(4.0, 6.0) * s.sd;
    for (int i = a; i < a + len; ++i) v[static_cast<size_t>(i)] += d;
  } else if (kind == "variance_change") {
    const double factor = rng.uniform(3.0, 5.0);
    for (int i = a; i < a + len; ++i)
      v[static_cast<size_t>(i)] += (factor - 1.0) * s.sd * noise[static_cast<size_t>(i)];
  } else if (kind == "frequency_change") {
    // The daily phase runs f times faster for `len` rows. f is chosen so that the extra phase over
    // the segment is a whole number m of cycles: after it the series is back in step with the clean
    // one (no lasting phase shift, which would be a second, unlabeled anomaly).
    const double target = rng.uniform(2.5, 4.0);
    const int m = std::max(1, static_cast<int>(std::lround((target - 1.0) * len / s.day_rows)));
    const double extra_rate = omega * (m * s.day_rows / len);  // omega * (f - 1)
    for (int i = a; i < a + len; ++i) {
      const double extra = extra_rate * (i - a + 1);
      v[static_cast<size_t>(i)] += daily(s, omega * i + extra) - daily(s, omega * i);
    }
  } else if (kind == "flat_line") {
    const double stuck = v[static_cast<size_t>(a - 1)];  // a sensor stuck at its last reading
    for (int i = a; i < a + len; ++i) v[static_cast<size_t>(i)] = stuck;
  } else if (kind == "drift") {
    // A ramp away from normal that ends with a sudden recalibration back to it.
    const double d = sign * rng.uniform(5.0, 8.0) * s.sd;
    for (int i = a; i < a + len; ++i) v[static_cast<size_t>(i)] += d * (i - a + 1) / len;
  }
  return len;
}

// Fills out.series (values as "%.10g" reads them back, timestamps, NAB windows) and out.clean.
void fill_series(SyntheticSeries& out, const std::string& name, const std::vector<double>& v,
                 const std::vector<double>& clean, int64_t start_us, int step_seconds) {
  const int n = static_cast<int>(v.size());
  Series& ser = out.series;
  ser.name = name;
  ser.path = name;
  ser.dims = 1;
  ser.values.resize(static_cast<size_t>(n));
  out.clean.resize(static_cast<size_t>(n));
  ser.timestamps.reserve(static_cast<size_t>(n), static_cast<size_t>(n) * kWholeSecondTimestampChars);
  ser.time_us.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    ser.values[static_cast<size_t>(i)] = round10(v[static_cast<size_t>(i)]);
    out.clean[static_cast<size_t>(i)] = round10(clean[static_cast<size_t>(i)]);
    const int64_t us = start_us + static_cast<int64_t>(i) * step_seconds * 1000000;
    ser.time_us.push_back(us);
    ser.timestamps.push_back(format_timestamp_us(us));
  }
  for (const auto& [first, last] : nab_windows_from_points(n, out.anomaly_rows)) {
    LabelWindow lw;
    lw.start = first;
    lw.end = last;
    lw.start_text = std::string(ser.timestamps[static_cast<size_t>(first)]) + ".000000";
    lw.end_text = std::string(ser.timestamps[static_cast<size_t>(last)]) + ".000000";
    ser.windows.push_back(lw);
  }
}

// "synthSpike/synth_spike_03.csv": the id of file `file_idx` of a kind.
std::string series_name(int kind_idx, int file_idx) {
  char fname[96];
  std::snprintf(fname, sizeof fname, "synth_%s_%02d.csv", kKinds[kind_idx].kind, file_idx);
  return std::string(kKinds[kind_idx].category) + "/" + fname;
}

SyntheticSeries make_series(const SyntheticOptions& o, int kind_idx, int file_idx, int64_t start_us) {
  const std::string kind = kKinds[kind_idx].kind;
  const std::string name = series_name(kind_idx, file_idx);
  const int n = o.length;
  Rng rng(derive_seed(o.seed, name));
  const Shape s = draw_shape(rng, n, o.step_seconds);
  const bool heavy = (kind_idx + file_idx) % 3 == 2;

  // Noise and wander streams (unit-variance noise kept separately: the variance change scales it).
  std::vector<double> noise(static_cast<size_t>(n)), wander(static_cast<size_t>(n));
  const double ar = 0.99;
  double w = rng.normal() * s.wander_sd;
  for (int i = 0; i < n; ++i) {
    w = ar * w + std::sqrt(1.0 - ar * ar) * s.wander_sd * rng.normal();
    wander[static_cast<size_t>(i)] = w;
    noise[static_cast<size_t>(i)] = heavy ? student_t4(rng) : rng.normal();
  }
  const double omega = kTwoPi / s.day_rows;
  std::vector<double> clean(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const double wk = kTwoPi * i / s.week_rows;
    clean[static_cast<size_t>(i)] = s.level + s.trend * i + s.weekly[0] * std::sin(wk + s.weekly_phase[0]) +
                                    s.weekly[1] * std::sin(2.0 * wk + s.weekly_phase[1]) +
                                    wander[static_cast<size_t>(i)] + s.sd * noise[static_cast<size_t>(i)] +
                                    daily(s, omega * i);
  }

  SyntheticSeries out;
  out.kind = kind;
  out.noise_sd = s.sd;
  std::vector<double> v = clean;
  if (kind != "none") {
    int h = 0;
    out.anomaly_rows = place_anomalies(rng, n, h);
    for (int a : out.anomaly_rows) out.anomaly_lengths.push_back(apply_anomaly(kind, a, h, s, noise, rng, v));
  }
  fill_series(out, name, v, clean, start_us, o.step_seconds);
  return out;
}

}  // namespace

std::vector<std::string> synthetic_kinds() {
  std::vector<std::string> out;
  for (const auto& k : kKinds) out.emplace_back(k.kind);
  return out;
}

std::string synthetic_category(const std::string& kind) {
  return kKinds[kind_index(kind)].category;
}

std::vector<std::string> synthetic_series_names(const SyntheticOptions& o) {
  std::vector<bool> selected(kKindCount, o.kinds.empty());
  for (const auto& k : o.kinds) selected[static_cast<size_t>(kind_index(k))] = true;
  std::vector<std::string> names;
  for (int ki = 0; ki < kKindCount; ++ki)
    if (selected[static_cast<size_t>(ki)])
      for (int j = 0; j < o.series_per_kind; ++j) names.push_back(series_name(ki, j));
  return names;
}

void generate_synthetic_each(const SyntheticOptions& o, const std::function<void(SyntheticSeries&)>& each,
                             const std::function<bool(const std::string&)>& wanted) {
  if (o.length < 500)
    throw ConfigError("synthetic length must be at least 500 rows (room for probation and windows), got " +
                      std::to_string(o.length));
  if (o.length > 10000000)
    throw ConfigError("synthetic length must be at most 10000000, got " + std::to_string(o.length));
  if (o.step_seconds < 1 || o.step_seconds > 3600)
    throw ConfigError("synthetic step_seconds must be in [1, 3600] (a day of at least 24 rows), got " +
                      std::to_string(o.step_seconds));
  if (o.series_per_kind < 0 || o.series_per_kind > 1000)
    throw ConfigError("synthetic series_per_kind must be in [0, 1000], got " +
                      std::to_string(o.series_per_kind));
  auto start = parse_timestamp_us(o.start);
  if (!start) throw ConfigError("synthetic start \"" + o.start + "\" is not a timestamp YYYY-MM-DD HH:MM:SS");
  // Timestamps and window edges are written as whole seconds (edges as NAB writes them, "...SS.000000"),
  // so a fraction would give edges that no row's timestamp matches.
  if (*start % 1000000 != 0)
    throw ConfigError("synthetic start \"" + o.start +
                      "\" has a fraction of a second; expected YYYY-MM-DD HH:MM:SS");

  std::vector<bool> selected(kKindCount, o.kinds.empty());
  for (const auto& k : o.kinds) selected[static_cast<size_t>(kind_index(k))] = true;

  for (int ki = 0; ki < kKindCount; ++ki) {
    if (!selected[static_cast<size_t>(ki)]) continue;
    for (int j = 0; j < o.series_per_kind; ++j) {
      if (wanted && !wanted(series_name(ki, j))) continue;
      SyntheticSeries s = make_series(o, ki, j, *start);
      each(s);
    }
  }
}

std::vector<SyntheticSeries> generate_synthetic(const SyntheticOptions& o) {
  std::vector<SyntheticSeries> out;
  generate_synthetic_each(o, [&](SyntheticSeries& s) { out.push_back(std::move(s)); });
  return out;
}

std::string synthetic_csv(const Series& series) {
  std::string text = "timestamp,value\n";
  text.reserve(text.size() + static_cast<size_t>(series.rows()) * 40);
  char buf[48];
  for (int i = 0; i < series.rows(); ++i) {
    text += series.timestamps[static_cast<size_t>(i)];
    std::snprintf(buf, sizeof buf, ",%.10g\n", series.value(i));
    text += buf;
  }
  return text;
}

namespace {

// A series' label windows as combined_windows.json lists them (every file a key, as NAB lists every file).
void add_labels(std::map<std::string, WindowTexts>& labels, const SyntheticSeries& ss) {
  WindowTexts& wt = labels[ss.series.name];
  for (const auto& w : ss.series.windows) wt.emplace_back(w.start_text, w.end_text);
}

// The files named synth_*.csv in the generator's category folders under `root` that `labels` does not
// hold: left by an earlier corpus with other options (more series per kind, other kinds), they would be
// listed by list_corpus_files without a label key, i.e. scored as anomaly-free.
std::vector<std::filesystem::path> stale_synthetic_files(const std::string& root,
                                                         const std::map<std::string, WindowTexts>& labels) {
  namespace fs = std::filesystem;
  std::vector<fs::path> stale;
  for (const auto& k : kKinds) {
    const fs::path folder = fs::path(root) / "data" / k.category;
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) continue;
    for (const auto& e : fs::directory_iterator(folder)) {
      const std::string fname = e.path().filename().string();
      if (e.is_regular_file() && fname.rfind("synth_", 0) == 0 && e.path().extension() == ".csv" &&
          !labels.count(std::string(k.category) + "/" + fname))
        stale.push_back(e.path());
    }
  }
  return stale;
}

}  // namespace

void write_synthetic_corpus(const SyntheticOptions& options, const std::string& root) {
  namespace fs = std::filesystem;
  // One series at a time: a corpus of millions of rows is never held whole.
  std::map<std::string, WindowTexts> labels;
  generate_synthetic_each(options, [&](SyntheticSeries& ss) {
    const fs::path file = fs::path(root) / "data" / ss.series.name;
    files::make_dirs(file.parent_path().string());
    files::write_atomic(file.string(), synthetic_csv(ss.series));
    add_labels(labels, ss);
  });
  // Only the files this generator names are removed.
  for (const auto& f : stale_synthetic_files(root, labels)) {
    std::error_code rm;
    fs::remove(f, rm);
    if (rm) throw IoError(f.string() + ": cannot remove a stale synthetic file (" + rm.message() + ")");
  }
  files::make_dirs((fs::path(root) / "labels").string());
  files::write_atomic((fs::path(root) / "labels" / "combined_windows.json").string(),
                      label_windows_json(labels));
}

bool synthetic_corpus_on_disk(const SyntheticOptions& options, const std::string& root) {
  namespace fs = std::filesystem;
  const auto same = [](const fs::path& file, const std::string& text) {
    try {
      return files::read(file.string()) == text;
    } catch (const std::exception&) {
      return false;
    }
  };
  std::map<std::string, WindowTexts> labels;
  bool all_same = true;
  generate_synthetic_each(options, [&](SyntheticSeries& ss) {
    if (all_same && !same(fs::path(root) / "data" / ss.series.name, synthetic_csv(ss.series)))
      all_same = false;
    add_labels(labels, ss);
  });
  if (!all_same) return false;
  try {
    if (!stale_synthetic_files(root, labels).empty()) return false;
  } catch (const std::exception&) {
    return false;
  }
  return same(fs::path(root) / "labels" / "combined_windows.json", label_windows_json(labels));
}

}  // namespace lstmad
