// A Plan: the cells of an experiment. Settings (the expanded hyperparameter grid) x series; each cell's
// id is a hash of its canonical parameters and its seed derives from the run seed, the model's
// hyperparameters and the series, so a cell computes the same result whatever the order, thread count or
// shard that runs it, and settings that differ only in the detector share their trained models.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/config.hpp"
#include "lstm/shape.hpp"

namespace lstmad {

struct Setting {
  int index = 0;
  std::string id;        // 8 hex digits of the canonical hyperparameters' hash
  std::string detector;  // NAB detector name: detector.name, or "<name>-<id>" when there are several settings
  json values;           // the resolved config with every grid axis at this setting's value
  json axes;             // {dotted key: value} of the grid axes only (for tables)
};

struct Cell {
  int index = 0;         // position in the plan (setting-major, then series)
  int setting = 0;       // index into Plan::settings
  std::string series;    // corpus-relative id of the series
  std::string id;        // 16 hex digits: hash of setting id + series
  uint64_t seed = 0;     // derived from run.seed, the model identity and the series
  std::vector<uint64_t> member_seeds;  // per ensemble member (ensemble_members order); {seed} without one
};

struct Plan {
  json config;                    // resolved config
  std::vector<Setting> settings;
  std::vector<std::string> series;
  std::vector<Cell> cells;
};

// The hyperparameters that define a setting's identity: the model, train and detector keys that differ
// from their defaults (dotted paths), run.seed, and the ensemble lists when there are any.
json setting_identity(const json& setting_values);
// The part of the identity that defines the trained model (setting_identity without detector keys).
json model_identity(const json& setting_values);
std::string hash_hex(const std::string& text, int hex_digits);

Plan make_plan(const json& resolved, const std::vector<std::string>& series);

// One line per key that is set yet changes nothing in some settings (inactive_keys, over each setting's
// members): a grid axis whose settings then differ only in their models' seeds says so, since a table of
// them would show seed noise as the key's effect.
std::vector<std::string> inactive_key_warnings(const Plan& plan);

// Model shape of a setting (input dims given by the data).
ModelShape setting_shape(const json& values, int input_dims);

}  // namespace lstmad
