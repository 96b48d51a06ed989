#include "experiments/config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/rng.hpp"
#include "data/csv_reader.hpp"

namespace lstmad {

// The precisions each engine computes in. Each engine also refuses the others when it is made (a build
// need not have it, so the config is checked here); Config.EnginePrecisionsAreTheEnginesOwn keeps the two
// in step for the engines a build has.
const std::map<std::string, std::vector<std::string>> kEnginePrecisions = {
    {"cpu", {"fp32", "fp64"}}, {"cudnn", {"fp32", "tf32"}}, {"fused", {"fp32", "tf32", "bf16"}}};

std::string root_requirement(const std::string& format) {
  if (format == "nasa") return "the NASA SMAP/MSL data has no default location; give its path";
  if (format == "ucr")
    return "the UCR anomaly archive has no default location; give the folder that holds its .txt files (e.g. "
           "UCR_Anomaly_FullData)";
  if (format == "csv") return "a csv corpus has no default location; give the folder of its files";
  return "";
}

const std::vector<std::string>& engine_precisions(const std::string& engine) {
  static const std::vector<std::string> none;
  const auto it = kEnginePrecisions.find(engine);
  return it == kEnginePrecisions.end() ? none : it->second;
}

namespace {

std::string show(const json& v) {
  // Bytes that are not UTF-8 (a --set value from a shell) shown replaced, not thrown on.
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// Whether every string in `v` is UTF-8 text (JSON's, and what the run's files are written in).
bool utf8_text(const json& v) {
  try {
    (void)v.dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

std::vector<std::string> split_path(const std::string& dotted) {
  std::vector<std::string> out;
  std::stringstream ss(dotted);
  std::string part;
  while (std::getline(ss, part, '.')) out.push_back(part);
  return out;
}

void set_path(json& j, const std::string& dotted, const json& v) {
  json* cur = &j;
  for (const auto& p : split_path(dotted)) {
    if (!cur->is_object()) *cur = json::object();
    cur = &(*cur)[p];
  }
  *cur = v;
}

// Removes the value at a dotted path, where there is one, and the objects that this leaves empty (an
// empty "model": {} inside the ensemble section would be an unknown key there).
void erase_path(json& j, const std::vector<std::string>& parts, size_t at = 0) {
  if (!j.is_object() || !j.contains(parts[at])) return;
  if (at + 1 < parts.size()) {
    erase_path(j[parts[at]], parts, at + 1);
    if (!j[parts[at]].is_object() || !j[parts[at]].empty()) return;
  }
  j.erase(parts[at]);
}
void erase_path(json& j, const std::string& dotted) {
  erase_path(j, split_path(dotted));
}

// A bound of a key's range as its type reads: 4096 for an integer key (a double would print 4096.0),
// the number as it is for the others.
std::string bound(const KeyDef& d, double x) {
  if (d.type == KeyType::Int && std::fabs(x) <= 9007199254740992.0)
    return std::to_string(static_cast<long long>(x));
  return json(x).dump();
}

// Checks one scalar value against its definition; returns "" or the problem.
// A key's allowed values as the errors list them: "a", "b", "c".
std::string choice_list(const KeyDef& d) {
  std::string list;
  for (const auto& c : d.choices) list += (list.empty() ? "" : ", ") + ("\"" + c + "\"");
  return list;
}

std::string check_value(const KeyDef& d, const json& v) {
  auto expect = [&](const std::string& what) { return "expected " + what + ", got " + show(v); };
  if (!utf8_text(v)) return expect("UTF-8 text");
  // What a value written for the shell often is: a grid without brackets, a number without its leading
  // 0, a string that JSON read as a number.
  const auto hint = [&](const std::string& what) {
    std::string h = expect(what);
    if (!v.is_string()) {
      // Quoting helps where the quoted text is a value the key takes.
      const bool quoted_ok =
          d.choices.empty() || std::find(d.choices.begin(), d.choices.end(), v.dump()) != d.choices.end();
      if (d.type == KeyType::String && (v.is_number() || v.is_boolean()) && quoted_ok)
        h += " (quote it for the shell and JSON: --set '" + d.path + "=\"" + v.dump() + "\"')";
      return h;
    }
    const std::string t = v.get<std::string>();
    // "0,5" as a locale with a decimal comma writes 0.5: the grid [0,5] is named only beside the number,
    // and only where its items are JSON ("0,05" is no grid).
    const size_t comma = t.find(',');
    const auto digits = [&t](size_t from, size_t to) {
      return from < to && std::all_of(t.begin() + static_cast<std::ptrdiff_t>(from),
                                      t.begin() + static_cast<std::ptrdiff_t>(to),
                                      [](char ch) { return ch >= '0' && ch <= '9'; });
    };
    if ((d.type == KeyType::Number || d.type == KeyType::NumberOrNull) && comma != std::string::npos &&
        t.find(',', comma + 1) == std::string::npos && digits(t.front() == '-' ? 1 : 0, comma) &&
        digits(comma + 1, t.size())) {
      // Three digits after the comma may be a thousands separator (3,600 seconds): both readings named.
      std::string point = t, whole = t;
      point[comma] = '.';
      whole.erase(comma, 1);
      std::string meant;
      if (json::accept(point)) meant = "a decimal point: --set '" + d.path + "=" + point + "'";
      if (t.size() - comma - 1 == 3 && json::accept(whole))
        meant += (meant.empty() ? "" : ", or ") + std::string("no thousands separator: --set '") + d.path +
                 "=" + whole + "'";
      if (!meant.empty()) meant = "JSON numbers take " + meant;
      if (d.griddable && json::accept("[" + t + "]"))
        meant += (meant.empty() ? "" : "; ") + std::string("a grid is a JSON list: --set '") + d.path + "=[" +
                 t + "]'";
      if (!meant.empty()) h += " (" + meant + ")";
    } else if (d.griddable && t.find(',') != std::string::npos && t.front() != '[') {
      std::string list, item;
      std::stringstream items(t);
      while (std::getline(items, item, ',')) {
        const size_t a = item.find_first_not_of(' '), b = item.find_last_not_of(' ');
        item = a == std::string::npos ? "" : item.substr(a, b - a + 1);
        list += (list.empty() ? "" : ",") + (d.type == KeyType::String ? json(item).dump() : item);
      }
      h += " (a grid is a JSON list: --set '" + d.path + "=[" + list + "]')";
    } else if (!t.empty() && (t.front() == '.' || (t.front() == '-' && t.size() > 1 && t[1] == '.')))
      h += " (JSON numbers need the leading 0: " + std::string(t.front() == '-' ? "-0" : "0") +
           t.substr(t.front() == '-' ? 1 : 0) + ")";
    return h;
  };
  switch (d.type) {
    case KeyType::Int: {
      if (!v.is_number()) return hint("an integer");
      double x = v.get<double>();
      if (std::floor(x) != x) return expect("an integer");
      if (x < d.min || x > d.max)
        return expect("an integer in [" + bound(d, d.min) + ", " + bound(d, d.max) + "]");
      return "";
    }
    case KeyType::NumberOrNull:
      if (v.is_null()) return "";
      [[fallthrough]];
    case KeyType::Number: {
      if (!v.is_number()) return hint(d.type == KeyType::Number ? "a number" : "a number or null");
      double x = v.get<double>();
      if (d.zero_is_off && x == 0) return "";
      if (!std::isfinite(x) || x < d.min || x > d.max)
        return expect(std::string(d.zero_is_off ? "0 or " : "") + "a number in [" + bound(d, d.min) + ", " +
                      bound(d, d.max) + "]");
      return "";
    }
    case KeyType::String: {
      if (d.choices.empty()) return v.is_string() ? "" : hint("a string");
      if (v.is_string() &&
          std::find(d.choices.begin(), d.choices.end(), v.get<std::string>()) != d.choices.end())
        return "";
      return hint("one of " + choice_list(d));
    }
    case KeyType::Bool:
      return v.is_boolean() ? "" : expect("true or false");
    case KeyType::StringList: {
      if (!v.is_array()) return expect("a list of strings");
      for (std::size_t i = 0; i < v.size(); ++i) {
        const json& e = v[i];
        if (!e.is_string()) return expect("a list of strings");
        // Twice the same column, calendar input or series is a slip, not a second one.
        for (std::size_t k = 0; k < i; ++k)
          if (v[k] == e) return expect("a list naming each value once") + " (" + show(e) + " twice)";
        if (d.choices.empty()) continue;
        if (std::find(d.choices.begin(), d.choices.end(), e.get<std::string>()) != d.choices.end()) continue;
        return expect("a list of " + choice_list(d));
      }
      return "";
    }
  }
  return "";
}

// The stored form of a checked value: setting ids and seeds hash the dumped values, and 8 and 8.0 dump
// differently. An integer key given as an integral float (8.0, 1e3) is stored as the integer; a number
// key given as an integer (train.lr 1, detector.suppress 0) as the float, so `--set train.lr=1` names the
// setting that `"lr": 1.0` does.
json canonical(const KeyDef& d, const json& v) {
  if ((d.type == KeyType::Number || d.type == KeyType::NumberOrNull) && v.is_number_integer())
    return json(v.get<double>());
  if (d.type != KeyType::Int || !v.is_number_float()) return v;
  const double x = v.get<double>();
  return x < 0 ? json(static_cast<int64_t>(x)) : json(static_cast<uint64_t>(x));
}

// Checks each value of a grid axis or an ensemble list (`where` names it in messages) into `out`, in
// canonical form; false after adding the problems to `errors`. A value equal to an earlier one (0.003
// and 3e-3, 8 and 8.0) is a problem: it would be a second setting or member with the same id.
bool check_list(const KeyDef& d, const json& list, const std::string& where, std::vector<std::string>& errors,
                json& out) {
  out = json::array();
  std::vector<size_t> index;  // of each value in `out` within `list`
  bool ok = true;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    const std::string e = check_value(d, list[i]);
    if (!e.empty()) {
      errors.push_back(at + ": " + e);
      ok = false;
      continue;
    }
    const json value = canonical(d, list[i]);
    const auto same = std::find(out.begin(), out.end(), value);
    if (same != out.end()) {
      errors.push_back(at + ": " + show(list[i]) + " repeats " + where + "[" +
                       std::to_string(index[static_cast<size_t>(same - out.begin())]) +
                       "]; expected distinct values");
      ok = false;
      continue;
    }
    out.push_back(value);
    index.push_back(i);
  }
  return ok;
}

// Collects every leaf of a user config (objects are descended) with its dotted path.
void leaves(const json& j, const std::string& prefix, std::vector<std::pair<std::string, const json*>>& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string p = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it.value().is_object() && !it.value().empty()) leaves(it.value(), p, out);
    else out.emplace_back(p, &it.value());
  }
}

// A key holding a '.' in a section ({"model.hidden": 32}, "detector": {"likelihood.long_window": 500})
// would name the same key as its nested spelling, and one of two such would be dropped without a word
// (and a --set, which writes the nested one, could lose to the file). Sections are written nested; the
// dotted form is the grid's and the ensemble's.
void dotted_keys(const json& j, const std::string& prefix, std::vector<std::string>& errors) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string p = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it.key().find('.') != std::string::npos || it.key().empty())
      errors.push_back(p + ": a key " + (it.key().empty() ? "that is empty" : "holding a '.'") +
                       "; write sections nested ({\"model\": {\"hidden\": 32}}): dotted keys belong in "
                       "\"grid\" and \"ensemble\"");
    else if (it.value().is_object())
      dotted_keys(it.value(), p, errors);
  }
}

// The leaves of a section that may be written either way (the ensemble): a key given in both spellings
// is refused, naming it, rather than one of the two taken.
void repeated_leaves(const std::vector<std::pair<std::string, const json*>>& leaves_of,
                     const std::string& where, std::vector<std::string>& errors) {
  std::set<std::string> seen;
  for (const auto& [p, v] : leaves_of)
    if (!seen.insert(p).second)
      errors.push_back(where + p + ": given twice (nested and dotted); give it once");
}

bool is_known_prefix(const std::string& path) {
  for (const auto& d : config_schema())
    if (d.path.compare(0, path.size() + 1, path + ".") == 0) return true;
  return false;
}

const KeyDef* find_def(const std::string& path) {
  for (const auto& d : config_schema())
    if (d.path == path) return &d;
  return nullptr;
}

}  // namespace

std::string type_name(KeyType t) {
  switch (t) {
    case KeyType::Int: return "integer";
    case KeyType::Number: return "number";
    case KeyType::String: return "string";
    case KeyType::Bool: return "boolean";
    case KeyType::StringList: return "list of strings";
    case KeyType::NumberOrNull: return "number or null";
  }
  return "?";
}

void make_paths_absolute(json& config) {
  const std::pair<const char*, const char*> path_keys[] = {{"data", "root"}, {"eval", "profiles"}};
  for (const auto& [section, key] : path_keys) {
    if (!config.contains(section) || !config[section].contains(key) || !config[section][key].is_string())
      continue;
    const std::string path = config[section][key].get<std::string>();
    if (!path.empty() && std::filesystem::path(path).is_relative())
      config[section][key] = std::filesystem::absolute(path).lexically_normal().string();
  }
}

void apply_override(json& config, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set " + assignment + ": expected path=value, e.g. --set model.hidden=32");
  std::string path = assignment.substr(0, eq);
  std::string text = assignment.substr(eq + 1);
  // An empty part (`model.=`, `model..hidden`) would name the whole section and replace it.
  if (path.front() == '.' || path.back() == '.' || path.find("..") != std::string::npos)
    throw ConfigError("--set " + assignment + ": " + path +
                      ": an empty part in the path; e.g. --set model.hidden=32");
  // A path through a key that holds a value (`model.hidden.0`, `data.files.0`) sets a part of it, which
  // --set cannot: it would turn the value into an object.
  {
    std::string place, rest = path;
    for (const std::string p : {"grid.", "ensemble."})
      if (rest.size() > p.size() && rest.compare(0, p.size(), p) == 0) {
        place = p;
        rest = rest.substr(p.size());
      }
    for (size_t dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.', dot + 1))
      if (find_def(rest.substr(0, dot)))
        throw ConfigError("--set " + assignment + ": " + rest.substr(0, dot) +
                          " is a value, not a section: --set gives a whole value, e.g. --set " + place +
                          rest.substr(0, dot) + "=VALUE (a list as JSON: '[1, 2]')");
  }
  JsonProblem problem;
  json v;
  if (auto parsed = parse_json_strict(text, problem))
    v = std::move(*parsed);
  else if (problem.malformed)
    v = text;  // a bare word is a string
  else
    throw ConfigError("--set " + assignment + ": " +
                      (problem.path.empty() ? path : path + "." + problem.path) + ": " + problem.what);
  if (!config.is_object()) config = json::object();
  // An object given to a section is merged into it key by key, as each key given alone would be
  // (`--set 'model={"hidden": 16}'` is `--set model.hidden=16`, and leaves the section's other keys as the
  // config gives them); given to the grid, it is the whole grid, axis by axis (each axis leaves its section).
  if (v.is_object() && (path == "grid" || is_known_prefix(path))) {
    if (path == "grid") config["grid"] = json::object();
    for (auto it = v.begin(); it != v.end(); ++it)
      apply_override(config, path + "." + it.key() + "=" + it.value().dump());
    return;
  }
  // Everything after "grid." or "ensemble." is one key, itself dotted: grid.train.lr is the axis
  // "train.lr", not a section "train" of the grid.
  std::string place, key = path;
  for (const std::string p : {"grid", "ensemble"})
    if (path.size() > p.size() + 1 && path.compare(0, p.size() + 1, p + ".") == 0) {
      place = p;
      key = path.substr(p.size() + 1);
    }
  // The command line wins: a key set here leaves the other places that could give it (its section,
  // the grid, the ensemble in either of its forms), which would otherwise clash with it.
  if (find_def(key)) {
    if (place != "grid" && config.contains("grid") && config["grid"].is_object()) config["grid"].erase(key);
    if (place != "ensemble" && config.contains("ensemble") && config["ensemble"].is_object()) {
      config["ensemble"].erase(key);
      erase_path(config["ensemble"], key);
    }
    if (!place.empty()) erase_path(config, key);
  }
  if (place.empty()) {
    set_path(config, path, v);
    return;
  }
  if (!config.contains(place) || !config[place].is_object()) config[place] = json::object();
  // The ensemble takes a key nested or dotted: the one given here replaces either.
  if (place == "ensemble") erase_path(config[place], key);
  config[place][key] = v;
}

json read_config_file(const std::string& path) {
  std::string text;
  try {
    text = files::read(path);
  } catch (const IoError& e) {
    throw ConfigError(e.what());
  }
  JsonProblem p;
  auto j = parse_json_strict(text, p);
  if (!j)
    throw ConfigError(path + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": " +
                      (p.path.empty() ? "" : p.path + ": ") + p.what);
  return std::move(*j);
}

void keep_made_with_defaults(json& saved) {
  if (saved.is_object() && saved.contains("eval") && saved["eval"].is_object() &&
      !saved["eval"].contains("vus"))
    saved["eval"]["vus"] = "vldb2022";
}

json read_run_config(const std::string& path) {
  // lstmad wrote the file: one that does not parse was damaged (exit 3, as any damaged input the command
  // names), not a config for the user to correct.
  json j;
  try {
    j = read_config_file(path);
  } catch (const ConfigError& e) {
    throw IoError(std::string(e.what()) + " (the run folder's own config: unreadable or damaged)");
  }
  keep_made_with_defaults(j);
  return j;
}

namespace {

using Leaves = std::vector<std::pair<std::string, const json*>>;

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// What an unknown key `p` (where it appears: "", "grid." or "ensemble.") most likely meant: a known key
// under an object that was given in its place (model.hidden: {"x": 1}), the key of that name in another
// section (train.window is model.window), or the nearest key by spelling.
std::string unknown_key(const std::string& where, const std::string& p) {
  for (std::string k = p; k.find('.') != std::string::npos;) {
    k = k.substr(0, k.rfind('.'));
    if (const KeyDef* d = find_def(k))
      return where + k + ": expected " + (d->type == KeyType::Int ? "an " : "a ") + type_name(d->type) +
             ", got an object";
  }
  const std::string last = p.substr(p.rfind('.') + 1);
  std::vector<std::string> same_name;
  const KeyDef* nearest = nullptr;
  size_t best = std::max<size_t>(2, p.size() / 4) + 1;
  for (const auto& d : config_schema()) {
    if (d.path.substr(d.path.rfind('.') + 1) == last) same_name.push_back(d.path);
    const size_t e = edit_distance(p, d.path);
    if (e < best) {
      best = e;
      nearest = &d;
    }
  }
  std::string msg = where + p + ": unknown key";
  if (same_name.size() == 1) {
    msg += "; did you mean " + same_name.front() + "?";
  } else if (same_name.size() > 1) {
    msg += "; keys of that name:";
    for (size_t i = 0; i < same_name.size(); ++i) msg += (i ? ", " : " ") + same_name[i];
  } else if (nearest)
    msg += "; did you mean " + nearest->path + "?";
  return msg;
}

// The sections' keys (`given`, leaves of the user's config): each checked against the schema and set in
// `out`; a list makes the key a grid axis.
void apply_sections(const Leaves& given, json& out, std::vector<std::string>& errors) {
  for (const auto& [p, value] : given) {
    const KeyDef* d = find_def(p);
    const json& v = *value;
    if (!d && v.is_object() && is_known_prefix(p)) continue;  // an empty section
    if (!d && is_known_prefix(p)) {
      errors.push_back(p + ": expected an object of the section's keys, got " + show(v));
      continue;
    }
    if (!d) {
      errors.push_back(unknown_key("", p));
      continue;
    }
    if (v.is_array() && d->type != KeyType::StringList) {
      if (!d->griddable) { errors.push_back(p + ": expected a single " + type_name(d->type) + ", got a list (this key is not a grid axis)"); continue; }
      if (v.empty()) { errors.push_back(p + ": an empty list gives no settings"); continue; }
      json values;
      if (check_list(*d, v, p, errors, values)) set_path(out, p, values);
      continue;
    }
    std::string e = check_value(*d, v);
    if (!e.empty()) errors.push_back(p + ": " + e);
    else
      set_path(out, p, canonical(*d, v));
  }
}

// "grid": {"section.key": [values]}, the same axes given in one place.
void apply_grid(const json& grid, const Leaves& given, json& out, std::vector<std::string>& errors) {
  for (auto it = grid.begin(); it != grid.end(); ++it) {
    const KeyDef* d = find_def(it.key());
    if (!d) {
      errors.push_back(unknown_key("grid.", it.key()));
      continue;
    }
    if (!d->griddable) { errors.push_back("grid." + it.key() + ": this key is not a grid axis"); continue; }
    if (!it.value().is_array() || it.value().empty()) { errors.push_back("grid." + it.key() + ": expected a non-empty list of values, got " + show(it.value())); continue; }
    bool also_in_section = false;
    for (const auto& g : given) also_in_section |= g.first == it.key();
    if (also_in_section) { errors.push_back("grid." + it.key() + ": also set in its section; give it in one place"); continue; }
    json values;
    if (check_list(*d, it.value(), "grid." + it.key(), errors, values)) set_path(out, it.key(), values);
  }
}

// The ensemble: lists of model, train and seed values whose combinations are the members of every setting.
json checked_ensemble(const json& ensemble, const json& grid, const Leaves& given,
                      std::vector<std::string>& errors) {
  json ensemble_out = json::object();
  Leaves members;
  leaves(ensemble, "", members);
  repeated_leaves(members, "ensemble.", errors);
  for (const auto& [p, value] : members) {
    const std::string where = "ensemble." + p;
    if (p == "seeds") {  // replicas of every combination, each with its own seed
      const json& v = *value;
      // An integral float (2.0) counts, as for every integer key.
      if (!v.is_number() || std::floor(v.get<double>()) != v.get<double>() || v.get<double>() < 1 ||
          v.get<double>() > 1000)
        errors.push_back(where + ": expected an integer in [1, 1000] (models per combination, each with its own seed), got " + show(v));
      else
        ensemble_out[p] = static_cast<long long>(v.get<double>());
      continue;
    }
    const KeyDef* d = find_def(p);
    const std::string sec = p.substr(0, p.find('.'));
    if (!d) {
      errors.push_back(unknown_key("ensemble.", p));
      continue;
    }
    if (!d->griddable || (sec != "model" && sec != "train" && p != "run.seed")) {
      errors.push_back(where + ": an ensemble varies model.*, train.* or run.seed keys that may be grid axes");
      continue;
    }
    const json& v = *value;
    if (!v.is_array() || v.empty()) { errors.push_back(where + ": expected a non-empty list of values, got " + show(v)); continue; }
    bool grid_axis = grid.contains(p);
    for (const auto& g : given) grid_axis |= g.first == p && g.second->is_array();
    if (grid_axis) { errors.push_back(where + ": also a grid axis; a key varies across settings or across members, not both"); continue; }
    json values;
    if (check_list(*d, v, where, errors, values)) ensemble_out[p] = values;
  }
  return ensemble_out;
}

// Rules between keys, on a config whose keys each passed.
// The keys that `errors` name (the path before ": ", without an [index]): the rules between keys leave
// them out, since the value they would judge is not the one given. An error of a grid or ensemble entry
// (grid.X, ensemble.X) names X too, unless its section gives X (`given`): then X's value is the one given
// there, and the rules judge it.
std::set<std::string> keys_in_error(const std::vector<std::string>& errors, const Leaves& given) {
  std::set<std::string> keys;
  for (const auto& e : errors) {
    std::string k = e.substr(0, e.find(": "));
    k = k.substr(0, k.find('['));
    for (const char* prefix : {"grid.", "ensemble."})
      if (k.rfind(prefix, 0) == 0) {
        k.erase(0, std::char_traits<char>::length(prefix));
        if (std::any_of(given.begin(), given.end(), [&](const auto& g) { return g.first == k; })) k.clear();
      }
    if (!k.empty()) keys.insert(k);
  }
  return keys;
}

// The rules between keys. Each rule runs only where none of its keys (or the sections holding them) has an
// error of its own, so that one run of `validate` lists every error without judging a value nobody gave.
void cross_key_rules(const json& out, const std::set<std::string>& bad, std::vector<std::string>& errors) {
  const auto ok = [&bad](std::initializer_list<std::string> keys) {
    for (const std::string& key : keys)
      for (std::string k = key;; k = k.substr(0, k.rfind('.'))) {
        if (bad.count(k)) return false;
        if (k.find('.') == std::string::npos) break;
      }
    return true;
  };
  // The name is a folder (nab/<name>/), the first part of NAB's file names (<name>_<file>.csv, which NAB
  // splits at `_`) and a cell of Markdown tables: letters, digits, `-`, `.` and `+`, and not `.` or `..`.
  std::string name = out["detector"]["name"].get<std::string>();
  const bool name_ok =
      !name.empty() && name != "." && name != ".." && std::all_of(name.begin(), name.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '+';
      });
  if (ok({"detector.name"}) && !name_ok)
    errors.push_back(
        "detector.name: expected a name of letters, digits, `-`, `.` and `+` (a folder and the part of "
        "NAB's file names before their `_`), got " +
        show(json(name)));
  // The run folder is run.out/<timestamp>-<run.name>: a name with a `/` (or `..`) would put it elsewhere.
  const std::string run_name = out["run"]["name"].get<std::string>();
  if (ok({"run.name"}) && (run_name.find('/') != std::string::npos ||
                           run_name.find('\\') != std::string::npos || run_name == "." || run_name == ".."))
    errors.push_back("run.name: expected a folder name without `/` or `\\`, got " + show(json(run_name)));
  std::string prec = out["engine"]["precision"];
  std::string eng = out["engine"]["name"];
  if (const auto& own = engine_precisions(eng);
      ok({"engine.precision", "engine.name"}) && std::find(own.begin(), own.end(), prec) == own.end()) {
    std::string list, others;
    for (const auto& p : own) list += (list.empty() ? "" : ", ") + p;
    for (const auto& [other, theirs] : kEnginePrecisions)
      if (std::find(theirs.begin(), theirs.end(), prec) != theirs.end())
        others += (others.empty() ? "" : " or ") + other;
    errors.push_back("engine.precision: the " + eng + " engine computes in " + list + ", got \"" + prec +
                     "\"" + (others.empty() ? "" : " (engine.name " + others + " computes in " + prec + ")"));
  }
  if (ok({"engine.fallback", "engine.name"}) && out["engine"]["fallback"].get<std::string>() == eng)
    errors.push_back("engine.fallback: \"" + eng +
                     "\" is engine.name itself; name another engine or leave it empty");
  const std::string format = out["data"]["format"].get<std::string>();
  if (ok({"data.root", "data.format"}) && out["data"]["root"].get<std::string>().empty())
    if (const std::string why = root_requirement(format); !why.empty()) errors.push_back("data.root: " + why);
  // The csv columns are read only by the csv format: set for another, they would be ignored silently.
  const json& csv = out["data"]["csv"];
  if (const std::string why = csv_time_format_error(csv["time_format"].get<std::string>());
      ok({"data.csv.time_format"}) && !why.empty())
    errors.push_back("data.csv.time_format: " + why);
  auto given = [&](const std::string& key) {
    return ok({"data.csv." + key}) && csv[key] != find_def("data.csv." + key)->def;
  };
  if (!ok({"data.format"})) return;  // the rules below depend on it
  if (format != "csv")
    for (const char* key :
         {"time_column", "time_format", "label_column", "anomaly_labels", "label_windows", "value_columns"})
      if (given(key))
        errors.push_back(std::string("data.csv.") + key +
                         ": read only with data.format \"csv\", and data.format is \"" + format + "\"");
  if (format != "csv") return;
  const std::string label = csv["label_column"].get<std::string>();
  if (ok({"data.csv.label_column"}) && label.empty())
    for (const char* key : {"anomaly_labels", "label_windows"})
      if (given(key))
        errors.push_back(std::string("data.csv.") + key +
                         ": there is no data.csv.label_column to apply it to");
  // A column is a value, the label or the time, not two of them: every file of the corpus would fail.
  if (ok({"data.csv.value_columns"}))
    for (const auto& v : csv["value_columns"]) {
      const std::string column = v.get<std::string>();
      for (const auto& [other, key] : {std::pair{label, "label_column"},
                                       std::pair{csv["time_column"].get<std::string>(), "time_column"}})
        if (ok({std::string("data.csv.") + key}) && !other.empty() && column == other)
          errors.push_back("data.csv.value_columns: \"" + column + "\" is data.csv." + key +
                           "; a column is read as a value, the label or the time, not as two of them");
    }
}

// Takes `section` ("grid", "ensemble") out of `body`: an object, or an error and an empty object.
json take_section(json& body, const char* section, std::vector<std::string>& errors) {
  json taken = json::object();
  if (!body.contains(section)) return taken;
  if (!body[section].is_object())
    errors.push_back(std::string(section) + ": expected an object {\"section.key\": [values]}, got " +
                     show(body[section]));
  else
    taken = body[section];
  body.erase(section);
  return taken;
}

}  // namespace

json resolve_config(const json& user, const std::string& source) {
  std::vector<std::string> errors;
  if (!user.is_object()) throw ConfigError(source + ": the config must be a JSON object of sections");
  json out = json::object();
  for (const auto& d : config_schema()) set_path(out, d.path, d.def);

  json body = user;
  const json grid = take_section(body, "grid", errors);
  const json ensemble = take_section(body, "ensemble", errors);
  Leaves given;
  std::vector<std::string> dotted;
  dotted_keys(body, "", dotted);
  if (!dotted.empty()) {
    std::string msg = source + ": " + std::to_string(dotted.size()) + " error" +
                      (dotted.size() > 1 ? "s" : "") + " in the config:";
    for (const auto& e : dotted) msg += "\n  " + e;
    throw ConfigError(msg);
  }
  leaves(body, "", given);
  apply_sections(given, out, errors);
  apply_grid(grid, given, out, errors);
  out["ensemble"] = checked_ensemble(ensemble, grid, given, errors);
  cross_key_rules(out, keys_in_error(errors, given), errors);
  // The settings are expanded (each a copy of the config) by every command: a grid past this many would
  // take minutes and gigabytes before anything ran, and holds far more cells than one run can train.
  constexpr double kMostSettings = 100000;
  double settings = 1;
  std::string axes;
  for (const auto& d : config_schema()) {
    if (!d.griddable) continue;
    const json& v = at_path(out, d.path);
    if (!v.is_array() || v.size() < 2) continue;
    settings *= static_cast<double>(v.size());
    axes += (axes.empty() ? "" : ", ") + d.path + " (" + std::to_string(v.size()) + ")";
  }
  if (settings > kMostSettings) {
    char count[32];
    std::snprintf(count, sizeof count, "%.0f", settings);
    errors.push_back("grid: " + std::string(count) + " settings from the axes " + axes +
                     ", more than the 100000 one run takes; split the grid into several runs (--set an axis "
                     "to part of its values)");
  }
  if (!errors.empty()) {
    std::string msg = source + ": " + std::to_string(errors.size()) + " error" + (errors.size() > 1 ? "s" : "") + " in the config:";
    for (const auto& e : errors) msg += "\n  " + e;
    throw ConfigError(msg);
  }
  return out;
}

const json& at_path(const json& config, const std::string& dotted) {
  const json* cur = &config;
  for (const auto& p : split_path(dotted)) {
    if (!cur->is_object() || !cur->contains(p)) throw ConfigError(dotted + ": missing from the resolved config");
    cur = &(*cur)[p];
  }
  return *cur;
}

std::vector<std::string> grid_axes(const json& resolved) {
  std::vector<std::string> axes;
  for (const auto& d : config_schema()) {
    if (!d.griddable) continue;
    const json& v = at_path(resolved, d.path);
    if (v.is_array() && v.size() > 1) axes.push_back(d.path);
  }
  return axes;
}

std::vector<json> expand_settings(const json& resolved) {
  std::vector<json> settings{resolved};
  for (const auto& d : config_schema()) {
    if (!d.griddable) continue;
    const json& v = at_path(resolved, d.path);
    if (!v.is_array()) continue;
    std::vector<json> next;
    for (const auto& s : settings)
      for (const auto& value : v) {
        json c = s;
        set_path(c, d.path, value);
        next.push_back(std::move(c));
      }
    settings = std::move(next);
  }
  return settings;
}

std::vector<json> ensemble_members(const json& setting) {
  json base = setting;
  base["ensemble"] = json::object();
  std::vector<json> members{base};
  if (!setting.contains("ensemble")) return members;
  const json& ens = setting.at("ensemble");
  for (const auto& d : config_schema()) {  // schema order, last key fastest, as the grid
    if (!ens.contains(d.path)) continue;
    std::vector<json> next;
    for (const auto& m : members)
      for (const auto& value : ens.at(d.path)) {
        json c = m;
        set_path(c, d.path, value);
        next.push_back(std::move(c));
      }
    members = std::move(next);
  }
  // Replica k > 0 of a combination is the model that a single run with a seed derived from (its
  // run.seed, k) trains: distinct for every run seed and replica, so no two runs share a replica.
  const int seeds = ens.contains("seeds") ? ens.at("seeds").get<int>() : 1;
  if (seeds > 1) {
    std::vector<json> next;
    for (const auto& m : members)
      for (int k = 0; k < seeds; ++k) {
        json c = m;
        if (k > 0) {
          const uint64_t s = m.at("run").at("seed").get<uint64_t>();
          c["run"]["seed"] = derive_seed(s, "ensemble replica " + std::to_string(k)) % 9000000000000000ULL;  // a valid run.seed
        }
        next.push_back(std::move(c));
      }
    members = std::move(next);
  }
  return members;
}

std::vector<std::pair<std::string, std::string>> inactive_keys(const json& v) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string score = at_path(v, "detector.score").get<std::string>();
  const bool validation = at_path(v, "train.val_fraction").get<double>() > 0;
  const bool retraining = at_path(v, "train.retrain_every").get<int>() > 0;
  const bool horizon_one = at_path(v, "model.horizon").get<int>() == 1;
  const std::string format = at_path(v, "data.format").get<std::string>();
  for (const auto& d : config_schema()) {
    const auto under = [&](const char* prefix) { return d.path.rfind(prefix, 0) == 0; };
    std::string why;
    if ((d.path == "train.patience" || d.path == "train.min_delta") && !validation)
      why = "train.val_fraction is 0: no validation windows, every epoch runs and the last is kept";
    else if ((d.path == "train.retrain_rows" || d.path == "train.retrain_epochs") && !retraining)
      why = "train.retrain_every is 0: no fine-tuning";
    else if (d.path == "train.purge" && horizon_one)
      why = "model.horizon is 1: no window's targets reach past the split";
    else if (under("detector.likelihood.") && score != "likelihood")
      why = "read by detector.score likelihood only, and this is " + score;
    else if (under("detector.ndt.") && score != "dynamic_threshold")
      why = "read by detector.score dynamic_threshold only, and this is " + score;
    else if (under("detector.telemanom.") && score != "telemanom")
      why = "read by detector.score telemanom only, and this is " + score;
    else if (d.path == "detector.error_floor" && (score == "dynamic_threshold" || score == "telemanom"))
      why = "not read by detector.score " + score;
    else if (under("data.synthetic.") && format != "synthetic")
      why = "read with data.format synthetic only, and this is " + format;
    else if (d.path == "data.nasa.spacecraft" && format != "nasa")
      why = "read with data.format nasa only, and this is " + format;
    else if (d.path == "data.windows_file" && format != "nab")
      why = "read with data.format nab only, and this is " + format;
    else if (d.path == "eval.threshold" && at_path(v, d.path).get<double>() > 1)
      why = "scores lie in [0, 1]: no score reaches it, so the point, event and range metrics flag nothing";
    else if (d.path == "data.time_features_gate" && at_path(v, "data.time_features").empty())
      why = "data.time_features is empty: no calendar input to gate";
    if (why.empty() || at_path(v, d.path) == d.def) continue;
    out.emplace_back(d.path, why);
  }
  return out;
}

std::string member_problem(const json& member) {
  const int every = at_path(member, "train.retrain_every").get<int>();
  const int rows = at_path(member, "train.retrain_rows").get<int>();
  const int horizon = at_path(member, "model.horizon").get<int>();
  // A fine-tuning learns from the windows whose targets all lie in the latest retrain_rows rows
  // (stream_errors); fewer rows than the horizon hold none, and the model would silently never fine-tune.
  if (every > 0 && rows > 0 && rows < horizon)
    return "train.retrain_rows " + std::to_string(rows) + " is fewer than model.horizon " +
           std::to_string(horizon) +
           ": no window has all its targets in the latest rows, so fine-tuning would never run (0 = the "
           "training part's length)";
  // Read by the dynamic threshold alone: another score rule runs whatever these hold.
  const double z_min = at_path(member, "detector.ndt.z_min").get<double>();
  const double z_max = at_path(member, "detector.ndt.z_max").get<double>();
  if (z_min > z_max && at_path(member, "detector.score").get<std::string>() == "dynamic_threshold")
    return "detector.ndt.z_min " + json(z_min).dump() + " is above detector.ndt.z_max " + json(z_max).dump() +
           ": the dynamic threshold would have no z to try";
  const double fraction = at_path(member, "detector.suppress").get<double>();
  const int span = at_path(member, "detector.suppress_rows").get<int>();
  if (fraction > 0 && span > 0)
    return "detector.suppress " + json(fraction).dump() + " and detector.suppress_rows " +
           std::to_string(span) + " both set the span silenced after an alarm: set one of them, the other 0";
  return "";
}

std::string setting_problem(const json& setting_values) {
  std::vector<std::string> seen;
  std::string text;
  for (const json& m : ensemble_members(setting_values)) {
    const std::string why = member_problem(m);
    if (why.empty() || std::find(seen.begin(), seen.end(), why) != seen.end()) continue;
    seen.push_back(why);
    text += (text.empty() ? "" : "; ") + why;
  }
  return text;
}

std::string config_reference_markdown() {
  std::ostringstream os;
  os << "# Configuration reference\n\n"
     << "Generated by `lstmad config-reference` from the schema in experiments/config_schema.cpp; a test "
        "keeps "
        "this\n"
     << "file equal to it. Every key has a default; unknown keys, wrong types and values out of range are\n"
     << "errors naming the JSON path, the expected and the given value, and `validate` lists every error.\n"
     << "Sections are written nested (`{\"model\": {\"hidden\": 32}}`); a dotted key is the grid's and the\n"
     << "ensemble's form. A key set where it changes nothing (e.g. `train.purge` with `model.horizon` 1, "
        "the\n"
     << "likelihood's options under another `detector.score`) is warned of by `validate`, `plan` and `run`.\n"
     << "Keys marked *grid* may be given as a list of values (or under `\"grid\": {\"section.key\": "
        "[...]}`):\n"
     << "each combination becomes a setting, trained on every series. `--set path=value` overrides any key;\n"
     << "`--set grid.section.key=[...]` (or `ensemble.section.key`) gives that grid axis (ensemble key): "
        "all\n"
     << "after `grid.` is the key. The command line wins: a key it sets leaves the config's section, grid "
        "and\n"
     << "ensemble, so `--set train.lr=0.001` replaces a `grid` axis train.lr.\n\n"
     << "An optional `\"ensemble\": {\"section.key\": [values]}` makes every setting an ensemble: each\n"
     << "combination of the listed model.*, train.* or run.seed values (schema order, the last key fastest) "
        "is\n"
     << "a member model, trained on each series with the seed a single-model run of those values would use;\n"
     << "each row's error is the mean of the members' errors (unscored where any member has none), and the\n"
     << "detector scores that mean. A key is an ensemble key or a grid axis, not both. `\"seeds\": k` trains "
        "k\n"
     << "models of each combination: the first with run.seed, replica i > 0 with a seed derived from "
        "run.seed and i\n"
     << "(the model a single run with that run.seed would train). Example, four windows, two seeds each:\n"
     << "`\"ensemble\": {\"model.window\": [30, 50, 75, 100], \"seeds\": 2}`.\n";
  std::string section;
  for (const auto& d : config_schema()) {
    std::string sec = d.path.substr(0, d.path.find('.'));
    if (sec != section) {
      section = sec;
      os << "\n## " << section << "\n\n| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
    }
    std::string allowed;
    if (!d.choices.empty()) {
      for (const auto& c : d.choices) allowed += (allowed.empty() ? "" : ", ") + ("`\"" + c + "\"`");
    } else if (d.type == KeyType::Int || d.type == KeyType::Number || d.type == KeyType::NumberOrNull) {
      if (d.min > -1e299)
        allowed = (d.zero_is_off ? "0, or " : "") + bound(d, d.min) + " .. " + bound(d, d.max);
    }
    os << "| `" << d.path << "` | " << type_name(d.type) << (d.griddable ? ", grid" : "") << " | `" << d.def.dump()
       << "` | " << allowed << " | " << d.doc << " |\n";
  }
  return os.str();
}

json without_memory_keys(json config) {
  if (config.is_object() && config.contains("run") && config["run"].is_object())
    config["run"].erase("series_memory_mb");
  return config;
}

}  // namespace lstmad
