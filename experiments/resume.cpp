// Input hashes and their comparison for resumed runs (resume.hpp).
#include "experiments/resume.hpp"

#include <algorithm>
#include <filesystem>

#include "core/files.hpp"

namespace lstmad {
namespace fs = std::filesystem;

namespace {

std::string relative_to(const std::string& path, const std::string& root) {
  return fs::path(path).lexically_relative(root).string();
}

std::string listed(const std::vector<std::string>& names, const char* what) {
  if (names.empty()) return {};
  std::string s = std::to_string(names.size()) + " " + what + " (";
  for (size_t i = 0; i < names.size() && i < 5; ++i) s += (i ? ", " : "") + names[i];
  return s + (names.size() > 5 ? ", ...)" : ")");
}

}  // namespace

json input_hashes(const Corpus& corpus) {
  json inputs = json::object();
  for (const auto& f : corpus.input_files()) {
    const std::string rel = relative_to(f, corpus.root);
    try {
      inputs[rel] = files::sha256_file(f);
    } catch (const std::exception& e) {
      inputs[rel] = std::string("unreadable: ") + e.what();
    }
  }
  return inputs;
}

std::string InputChanges::summary() const {
  std::string s;
  for (const std::string& part :
       {listed(changed, "changed"), listed(added, "added"), listed(removed, "removed")})
    if (!part.empty()) s += (s.empty() ? "" : ", ") + part;
  return s;
}

json InputChanges::to_json() const {
  return json{{"changed", changed}, {"added", added}, {"removed", removed}};
}

InputChanges compare_input_hashes(const json& recorded, const json& current) {
  InputChanges c;
  for (const auto& [rel, hash] : current.items()) {
    if (!recorded.is_object() || !recorded.contains(rel))
      c.added.push_back(rel);
    else if (recorded.at(rel) != hash || hash.get<std::string>().rfind("unreadable", 0) == 0)
      c.changed.push_back(rel);
  }
  if (recorded.is_object())
    for (const auto& [rel, hash] : recorded.items())
      if (!current.contains(rel)) c.removed.push_back(rel);
  for (auto* v : {&c.changed, &c.added, &c.removed}) std::sort(v->begin(), v->end());
  return c;
}

std::set<std::string> series_with_changed_inputs(const Corpus& corpus, const InputChanges& changes) {
  std::set<std::string> touched(changes.changed.begin(), changes.changed.end());
  std::set<std::string> out;
  for (const auto& f : corpus.shared_files()) {
    const std::string rel = relative_to(f, corpus.root);
    const bool added = std::find(changes.added.begin(), changes.added.end(), rel) != changes.added.end();
    if (touched.count(rel) || added) return {corpus.series.begin(), corpus.series.end()};
  }
  for (const auto& id : corpus.series)
    for (const auto& f : corpus.files_of(id))
      if (touched.count(relative_to(f, corpus.root))) out.insert(id);
  return out;
}

}  // namespace lstmad
