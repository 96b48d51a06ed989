// A run's saved models (run.save_models): per cell, models/<cell id>/ holds one checkpoint per model
// (member-<m>.ckpt, train/checkpoint.hpp: shape, window, fp32 parameters) and model.json, what applying
// them to a series needs besides the run's config: the training part's length, the normalization fitted
// on it, the calendar inputs the models read, and a hash of the training rows they were fitted on.
//
// The checkpoints hold the parameters as training left them, before any fine-tuning
// (train.retrain_every): `lstmad detect` replays the fine-tuning schedule on the series it scores, as the
// run did, so that a prediction for row i comes from a model that saw rows < i only.
//
// Order of writes: each checkpoint when its model's training ends, model.json when the cell is scored,
// before the cell's result file; so a finished OK cell of a run that saves models has all of them.
//
// model.json (format 2) records each checkpoint's SHA-256 and its own (of the rest of its contents): a
// checkpoint of the right shape from another cell or run (a copy mixed up), or a number edited in
// model.json, is refused instead of scoring silently wrong. Format 1 (no digests) is still read.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/normalize.hpp"
#include "data/series.hpp"
#include "lstm/shape.hpp"
#include "train/checkpoint.hpp"

namespace lstmad {

constexpr int kSavedModelFormat = 2;

struct SavedCell {
  std::string cell;                        // the cell's id (16 hex digits)
  std::string detector;                    // its setting's NAB detector name
  std::string series;                      // corpus id of the series its models were trained on
  int rows = 0;                            // rows of that series
  int train_end = 0;                       // its training part: rows [0, train_end)
  Normalizer norm;                         // fitted on those rows
  std::vector<std::string> time_features;  // calendar inputs, in input order
  std::string train_sha256;                // training_rows_sha256 of the series the models learned
  std::vector<uint64_t> member_seeds;      // one per model, in ensemble_members order
  std::vector<std::string> checkpoint_sha256;  // one per model; empty where not recorded (format 1)
  std::string build;                           // the lstmad that saved them ("lstmad V (hash)"); format 1: ""
};

std::string saved_models_dir(const std::string& run_dir, const std::string& cell_id);
std::string member_checkpoint_path(const std::string& run_dir, const std::string& cell_id, size_t member);

// Writes member m's checkpoint atomically (IoError when it cannot).
void save_member_model(const std::string& run_dir, const std::string& cell_id, size_t member,
                       const ModelShape& shape, int window, const std::vector<float>& params);
// Writes models/<cell>/model.json atomically, with the SHA-256 of each member's checkpoint (those in
// `cell`, else read from the checkpoints written before it).
void save_cell_models(const std::string& run_dir, const SavedCell& cell);
// Reads models/<cell>/model.json: IoError when absent, DataError naming it when it is damaged or edited.
SavedCell load_saved_cell(const std::string& run_dir, const std::string& cell_id);
// Member m's checkpoint of `cell`, checked against model.json's SHA-256 of it (where recorded) and
// `expected` (where given): DataError naming the file when it is another checkpoint than the cell saved.
Checkpoint load_member_checkpoint(const std::string& run_dir, const SavedCell& cell, size_t member,
                                  const ModelShape* expected = nullptr);

// Copies cell `from_cell`'s saved models of run `from_run` to cell `to_cell` of `to_run`, whose
// detector is `detector` (a rescore: the same models under another detector setting). Checkpoints first,
// model.json last.
void copy_saved_models(const std::string& from_run, const std::string& from_cell, const std::string& to_run,
                       const std::string& to_cell, const std::string& detector);

// SHA-256 of the values (every column, as doubles, little-endian) of rows [0, min(rows, n)).
std::string training_rows_sha256(const Series& series, int rows);

}  // namespace lstmad
