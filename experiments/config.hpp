// The experiment configuration: a JSON schema with every key's type, default, range and meaning in one
// table (config_schema()), validation that reports every error with its JSON path, `--set` overrides,
// and expansion of hyperparameter lists and the `grid` section into settings.
//
// Sections: data, model, train, detector, engine, eval, run, an optional grid {"model.hidden": [32, 64]}
// and an optional ensemble {"model.window": [30, 50]} (every setting is then a mean of member models).
// A scalar key given as a list (where the key is marked griddable) is a grid axis as well.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lstmad {

using json = nlohmann::json;

enum class KeyType { Int, Number, String, Bool, StringList, NumberOrNull };

struct KeyDef {
  std::string path;                  // dotted, e.g. "model.hidden"
  KeyType type;
  json def;                          // default value
  double min = -1e300, max = 1e300;  // inclusive range for numbers
  std::vector<std::string> choices;  // allowed strings (empty: any)
  bool griddable = false;            // may be given as a list of values (one setting per value)
  std::string doc;
  bool zero_is_off = false;  // a number: 0 (off) is allowed besides [min, max]
};

const std::vector<KeyDef>& config_schema();
std::string type_name(KeyType t);

// Applies "path=value" (value parsed as JSON when it parses, else taken as a string).
void apply_override(json& config, const std::string& assignment);

// Validates a user config; returns the resolved config: every key present, defaults filled, lists kept
// for grid axes, and the `grid` section normalized. Throws ConfigError listing every problem found, each
// naming the JSON path, the expected and the given value. `source` names the file in messages.
json resolve_config(const json& user, const std::string& source);

// A relative data.root or eval.profiles made absolute (from the working folder), as a run folder's
// config.json records them: a command run later from another working folder reads the same files.
void make_paths_absolute(json& config);

// `config` less the keys that change no result and may differ between the legs of a rescore or the
// shards of a run (run.series_memory_mb: each machine's memory), for comparing two configs of one run.
json without_memory_keys(json config);

// Parses a config file (malformed JSON is a ConfigError naming the file, line and column).
json read_config_file(const std::string& path);

// A run folder's saved config.json, as read_config_file reads it (but a file that does not parse is an
// IoError: lstmad wrote it, so it was damaged), with the values its run was made under
// for keys whose default has since changed what a run computes (keep_made_with_defaults): a resumed,
// merged, rescored or detected run computes what its finished cells did.
json read_run_config(const std::string& path);
// Those values, filled into a saved config that lacks them: eval.vus "vldb2022" (the default before the
// key existed; a saved config always has an eval section, so only one written earlier lacks the key).
void keep_made_with_defaults(json& saved);

// Expands grid axes into settings: each has every key scalar. Order: axes in schema order, last fastest.
std::vector<json> expand_settings(const json& resolved);
// The keys that vary across the expanded settings (dotted paths, schema order).
std::vector<std::string> grid_axes(const json& resolved);

// The member models of a setting: its values with each combination of its `ensemble` lists applied
// (schema order, last key fastest) and `ensemble` emptied; the setting alone when it has no ensemble.
std::vector<json> ensemble_members(const json& setting_values);

// Why a member model (an element of ensemble_members) cannot run on any series, or "" when it can: with
// train.retrain_every > 0, a train.retrain_rows above 0 but below model.horizon leaves every fine-tuning
// without a window. The text names the keys and their values; a cell of such a member fails with it.
std::string member_problem(const json& member);
// The distinct member_problem texts of a setting's members, joined by "; ", or "" when every member can
// run: the cells of such a setting fail whatever their series.
std::string setting_problem(const json& setting_values);

// The keys of a setting (or member) whose values differ from their defaults yet change nothing it
// computes, each with the reason (train.purge with model.horizon 1, the likelihood's options under
// another detector.score, data.synthetic.* under another data.format, ...). Such a key still enters the
// setting's identity and its models' seeds: settings that differ in it alone differ only by seed. Keys of the
// ensemble's members are judged per member.
std::vector<std::pair<std::string, std::string>> inactive_keys(const json& setting_values);

// Why a corpus of data.format `format` cannot do with an empty data.root (it has no default location,
// unlike `nab` and `synthetic`), or "" when it can. Both the config check and the corpus loader say this.
std::string root_requirement(const std::string& format);

// The precisions engine `engine` (cpu, cudnn, fused) computes in, as engine.precision names them.
const std::vector<std::string>& engine_precisions(const std::string& engine);

// Value at a dotted path of a resolved config/setting.
const json& at_path(const json& config, const std::string& dotted);

// Markdown reference of every key (docs/config.md is this text; a test keeps them equal).
std::string config_reference_markdown();

}  // namespace lstmad
