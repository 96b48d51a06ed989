// Synthetic labeled corpus: deterministic univariate series (daily and weekly seasonality with harmonics,
// trend, slow wander, Gaussian or heavy-tailed noise) with injected anomalies of one kind per category, and
// NAB-style label windows. Written in NAB's layout (data/<category>/<name>.csv, labels/combined_windows.json)
// so the whole pipeline runs on a fresh machine with no download. docs/synthetic.md has the magnitudes.
//
// Every series depends only on (seed, length, step_seconds, start, its own name): selecting fewer kinds or
// fewer series per kind leaves the remaining files byte-identical.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "data/series.hpp"

namespace lstmad {

struct SyntheticOptions {
  uint64_t seed = 42;
  int series_per_kind = 2;                    // files per kind (category)
  int length = 4000;                          // rows per series, >= 500
  int step_seconds = 300;                     // fixed spacing of the timestamps
  std::vector<std::string> kinds;             // subset of synthetic_kinds(); empty = all
  std::string start = "2021-01-01 00:00:00";  // timestamp of row 0, a whole second
};

struct SyntheticSeries {
  Series series;                     // name "synthSpike/synth_spike_00.csv", windows attached
  std::string kind;                  // "spike", ..., "none"
  std::vector<int> anomaly_rows;     // onset row of each injected anomaly (= window centre), ascending
  std::vector<int> anomaly_lengths;  // rows affected from each onset (1 for a spike)
  double noise_sd = 0.0;             // sd of the noise term (the unit of every anomaly magnitude)
  std::vector<double> clean;         // the same series without the injected anomalies
};

// The anomaly kinds in canonical order: spike, level_shift, variance_change, frequency_change, flat_line,
// drift, none.
std::vector<std::string> synthetic_kinds();
// NAB-style category (folder) of a kind: "spike" -> "synthSpike", "none" -> "synthNoAnomaly".
// ConfigError listing the valid kinds when `kind` is unknown.
std::string synthetic_category(const std::string& kind);

// Generates the corpus one series at a time, kinds in canonical order, series_per_kind files each, and
// hands each to `each` (which may move it away); with `wanted`, only the series whose id it accepts are
// made. Values are already rounded to the 10 significant digits written to the files, so reading a
// written file back gives exactly these values. ConfigError on bad options, before any series.
void generate_synthetic_each(const SyntheticOptions& options,
                             const std::function<void(SyntheticSeries&)>& each,
                             const std::function<bool(const std::string&)>& wanted = {});

// The ids generate_synthetic_each would give, in its order, without making any series.
std::vector<std::string> synthetic_series_names(const SyntheticOptions& options);

// The whole corpus in memory (generate_synthetic_each's series in order).
std::vector<SyntheticSeries> generate_synthetic(const SyntheticOptions& options);

// Generates and writes root/data/<category>/<name>.csv and root/labels/combined_windows.json (every file a
// key, anomaly-free ones with an empty list), a series at a time. Each file is written atomically;
// identical options give identical bytes. Files named synth_*.csv in the generator's category folders that
// this corpus does not contain (left by a run with other options) are removed, so every listed file has
// its label key.
void write_synthetic_corpus(const SyntheticOptions& options, const std::string& root);

// Whether `root` holds exactly what write_synthetic_corpus(options, root) would write (the same bytes in
// every file, no other synth_*.csv in its folders): a command that only reads a run (rescore, detect)
// then uses it as it is, and writes nothing there.
bool synthetic_corpus_on_disk(const SyntheticOptions& options, const std::string& root);

// The CSV text of one series as written by write_synthetic_corpus (`timestamp,value`, LF, %.10g).
std::string synthetic_csv(const Series& series);

}  // namespace lstmad
