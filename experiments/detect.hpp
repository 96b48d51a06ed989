// `lstmad detect`: a finished run's saved models (run.save_models) score a series again, or a longer
// version of it, as the run's cell did: the same normalization and calendar inputs, the same causal
// fine-tuning schedule, the same detector, and alarms at the run's NAB threshold. Scoring the series the
// models were trained on, with the run's engine and build, gives the run's scores bit for bit (another
// build: within rounding, and said); on the CPU engine, rows appended to it leave the scores of the rows
// before them as they were, since every stage is causal, a window's forecast does not depend on the
// windows beside it in the engine's call, and the span that detector.suppress silences after an alarm
// stays the run's (a fraction of the learned series' rows).
#pragma once
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "data/series.hpp"

namespace lstmad {

struct DetectOptions {
  std::string run_dir;
  std::string detector;  // empty: the run's only detector with saved models
  std::string series;    // corpus id whose models score; empty: the detector's only one
  std::string file;      // the series to score (CSV in the corpus' layout); empty: `series` from the corpus
  std::string engine;    // empty: the run's engine.name
  std::string profile;   // NAB profile whose threshold makes alarms; empty: "standard", not checked
  double threshold = std::numeric_limits<double>::quiet_NaN();  // overrides the run's NAB threshold
  int threads = 0;                                              // 0: all cores
  std::string data_root;   // overrides the run's data.root (a run moved away from its corpus)
  std::string missing;     // overrides the run's data.missing (new rows with gaps)
  long long from_row = 0;  // the first row written (< 0: the last -from_row rows); every row is scored
};

struct Detection {
  std::string detector, series, cell, engine;
  Series data;                      // the scored series, missing values filled as the run fills them
  int train_rows = 0;               // the models' training part: scores start after it
  bool same_training_rows = false;  // the series' first train_rows rows are those the models learned
  std::vector<double> errors;       // per row, normalized units (NaN: no prediction)
  std::vector<double> scores;
  double threshold = std::numeric_limits<double>::quiet_NaN();  // NaN: no alarms (none known)
  std::string threshold_from;                                   // where the threshold came from
  bool threshold_given = false;  // --threshold's, not the run's NAB threshold of a profile
  int first_row = 0;  // the first row written (DetectOptions::from_row)
  int alarms = 0;     // written rows after the training part with score >= threshold
  // Per row, 1 where a value was missing and data.missing (or --missing) filled it: the `value` written
  // there, and the forecasts from it, stand on a filled value, not a measured one.
  std::vector<char> filled;
  int filled_rows = 0;  // written rows with a filled value
};

// ConfigError for a wrong choice (it lists the valid ones), IoError when the run folder or its models
// are missing (saying why: a cell that failed or did not finish, another shard's, an ensemble of runs),
// DataError naming the file when the series cannot be read or does not fit the models.
Detection detect(const DetectOptions& options);

// Every (detector, series) whose models the run saved, in that order.
std::vector<std::pair<std::string, std::string>> saved_model_list(const std::string& run_dir);

// CSV: timestamp,value,anomaly_score,raw_score,alarm,filled, rows from d.first_row, numbers in their
// shortest round-trip form, as the run's NAB-format files write them. alarm: 1 where a row after the
// training part scores at or above the threshold, else 0; empty on every row when no threshold is known.
// filled: 1 where the row had a missing value that was filled, else 0. Made a
// block at a time (a long series' CSV is over 100 MB): `sink` is given the text made since its last call
// whenever that passes 1 MB, and the rest at the end.
void detection_csv(const Detection& d, const std::function<void(std::string&)>& sink);

}  // namespace lstmad
