#include "experiments/plan.hpp"

#include <cstdio>
#include <map>
#include <set>

#include "core/error.hpp"
#include "core/rng.hpp"

namespace lstmad {

json model_identity(const json& v) {
  json id = setting_identity(v);
  for (auto it = id.begin(); it != id.end();) {
    if (it.key().rfind("detector.", 0) == 0) it = id.erase(it);
    else ++it;
  }
  return id;
}

json setting_identity(const json& v) {
  // Only values that differ from the schema's defaults: a key added to the schema later (with a default
  // that keeps the old behaviour) leaves every existing setting id, and so every finished cell, valid.
  json id = json::object();
  for (const auto& d : config_schema()) {
    const std::string sec = d.path.substr(0, d.path.find('.'));
    if (sec != "model" && sec != "train" && sec != "detector") continue;
    if (d.path == "detector.name") continue;  // renaming a detector does not change what it computes
    const json& value = at_path(v, d.path);
    if (value != d.def) id[d.path] = value;
  }
  id["seed"] = at_path(v, "run.seed");
  // Absent from single-model settings, so that their ids (and finished cells) stay what they were.
  if (v.contains("ensemble") && !v.at("ensemble").empty()) id["ensemble"] = v.at("ensemble");
  return id;
}

std::string hash_hex(const std::string& text, int hex_digits) {
  uint64_t h = splitmix64(fnv1a64(text));
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf).substr(0, static_cast<size_t>(hex_digits));
}

Plan make_plan(const json& resolved, const std::vector<std::string>& series) {
  Plan plan;
  plan.config = resolved;
  plan.series = series;
  auto axes = grid_axes(resolved);
  auto values = expand_settings(resolved);
  std::set<std::string> ids;
  for (size_t i = 0; i < values.size(); ++i) {
    Setting s;
    s.index = static_cast<int>(i);
    s.values = values[i];
    // nlohmann's dump() sorts object keys, so this text is canonical.
    const std::string identity = setting_identity(s.values).dump();
    s.id = hash_hex(identity, 8);
    // Eight hex digits collide for about one grid in a hundred of 10,000 settings: two settings with one
    // id would share their cells' files, and one would be lost. The later setting in the grid's order
    // takes the hash of its identity with a suffix instead, which the order of a grid's values keeps
    // stable (a value added to an axis does not reorder the others), so a resume finds its cells.
    for (int k = 1; !ids.insert(s.id).second; ++k) s.id = hash_hex(identity + "#" + std::to_string(k), 8);
    std::string name = at_path(s.values, "detector.name").get<std::string>();
    s.detector = values.size() > 1 ? name + "-" + s.id : name;
    s.axes = json::object();
    for (const auto& a : axes) s.axes[a] = at_path(s.values, a);
    plan.settings.push_back(std::move(s));
  }
  std::set<std::string> cell_ids;
  for (const auto& s : plan.settings) {
    // The seed follows the model alone: settings that differ only in the detector train the same model.
    // Each ensemble member's seed is the one a single-model run of the member's values gives the series,
    // so an ensemble's members are those runs' models.
    const uint64_t run_seed = at_path(s.values, "run.seed").get<uint64_t>();
    const std::string model_id = model_identity(s.values).dump();
    std::vector<std::pair<uint64_t, std::string>> member_ids;
    for (const json& m : ensemble_members(s.values))
      member_ids.emplace_back(at_path(m, "run.seed").get<uint64_t>(), model_identity(m).dump());
    for (const auto& name : series) {
      Cell c;
      c.index = static_cast<int>(plan.cells.size());
      c.setting = s.index;
      c.series = name;
      c.id = hash_hex(s.id + "|" + name, 16);
      if (!cell_ids.insert(c.id).second)  // 64 bits: not expected, but never two cells in one file
        throw ConfigError("setting " + s.id + ", series " + name + ": its cell id " + c.id +
                          " is another cell's too; rename the series or change a setting");
      c.seed = derive_seed(run_seed, model_id + "|" + name);
      for (const auto& [seed, id] : member_ids) c.member_seeds.push_back(derive_seed(seed, id + "|" + name));
      plan.cells.push_back(std::move(c));
    }
  }
  return plan;
}

std::vector<std::string> inactive_key_warnings(const Plan& plan) {
  std::map<std::string, std::string> why;    // key -> the first reason given
  std::map<std::string, int> settings_with;  // key -> settings in which some member has it inactive
  std::vector<std::string> order;
  for (const auto& s : plan.settings) {
    std::set<std::string> here;
    // A section's value that every ensemble member replaces with its own.
    if (s.values.contains("ensemble") && s.values.at("ensemble").is_object())
      for (const auto& d : config_schema())
        if (s.values.at("ensemble").contains(d.path) && at_path(s.values, d.path) != d.def) {
          if (why.emplace(d.path, "every ensemble member takes its own from ensemble." + d.path).second)
            order.push_back(d.path);
          here.insert(d.path);
        }
    for (const json& m : ensemble_members(s.values))
      for (const auto& [key, reason] : inactive_keys(m)) {
        if (why.emplace(key, reason).second) order.push_back(key);
        here.insert(key);
      }
    for (const auto& k : here) ++settings_with[k];
  }
  std::vector<std::string> out;
  for (const auto& key : order) {
    const bool axis = !plan.settings.empty() && plan.settings.front().axes.contains(key);
    if (axis)
      out.push_back("grid axis " + key + " changes nothing in the " + std::to_string(settings_with[key]) +
                    " setting(s) that set it (" + why[key] + "): settings that differ in " + key +
                    " alone differ only by their models' seeds");
    else if (settings_with[key] < static_cast<int>(plan.settings.size()))
      out.push_back(key + " is set but changes nothing in " + std::to_string(settings_with[key]) + " of " +
                    std::to_string(plan.settings.size()) + " settings (" + why[key] + ")");
    else
      out.push_back(key + " is set but changes nothing (" + why[key] + ")");
  }
  return out;
}

ModelShape setting_shape(const json& v, int input_dims) {
  ModelShape s;
  s.layers = at_path(v, "model.layers").get<int>();
  s.hidden = at_path(v, "model.hidden").get<int>();
  s.horizon = at_path(v, "model.horizon").get<int>();
  s.input = input_dims;
  return s;
}

}  // namespace lstmad
