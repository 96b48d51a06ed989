// Saved models of a run (see saved_models.hpp).
#include "experiments/saved_models.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "experiments/config.hpp"
#include "train/checkpoint.hpp"

namespace lstmad {

std::string saved_models_dir(const std::string& run_dir, const std::string& cell_id) {
  return run_dir + "/models/" + cell_id;
}

std::string member_checkpoint_path(const std::string& run_dir, const std::string& cell_id, size_t member) {
  return saved_models_dir(run_dir, cell_id) + "/member-" + std::to_string(member) + ".ckpt";
}

void save_member_model(const std::string& run_dir, const std::string& cell_id, size_t member,
                       const ModelShape& shape, int window, const std::vector<float>& params) {
  files::make_dirs(saved_models_dir(run_dir, cell_id));
  Checkpoint ck;
  ck.shape = shape;
  ck.window = window;
  ck.params = params;
  save_checkpoint(member_checkpoint_path(run_dir, cell_id, member), ck);
}

namespace {
// The digest model.json keeps of itself: SHA-256 of its other contents, compactly dumped (nlohmann's dump
// is one text for one value: keys in order, numbers in their shortest round-trip form).
std::string index_digest(json j) {
  j.erase("index_sha256");
  return files::sha256(j.dump());
}
}  // namespace

void save_cell_models(const std::string& run_dir, const SavedCell& c) {
  json seeds = json::array();
  for (uint64_t s : c.member_seeds) seeds.push_back(s);
  std::vector<std::string> digests = c.checkpoint_sha256;
  if (digests.size() != c.member_seeds.size()) {
    digests.clear();
    for (size_t m = 0; m < c.member_seeds.size(); ++m)
      digests.push_back(files::sha256_file(member_checkpoint_path(run_dir, c.cell, m)));
  }
  std::vector<int> constant(c.norm.constant.begin(), c.norm.constant.end());
  json j = {{"format", kSavedModelFormat},
            {"cell", c.cell},
            {"detector", c.detector},
            {"series", c.series},
            {"rows", c.rows},
            {"train_rows", c.train_end},
            {"train_sha256", c.train_sha256},
            {"normalize",
             {{"kind", to_string(c.norm.kind)},
              {"fit_rows", c.norm.fit_rows},
              {"offset", c.norm.offset},
              {"scale", c.norm.scale},
              {"constant", constant}}},
            {"time_features", c.time_features},
            {"member_seeds", seeds},
            {"checkpoints_sha256", digests},
            {"lstmad_version", LSTMAD_VERSION},
            {"git_hash", build_git_hash()}};
  j["index_sha256"] = index_digest(j);
  files::make_dirs(saved_models_dir(run_dir, c.cell));
  files::write_atomic(saved_models_dir(run_dir, c.cell) + "/model.json", json_text(j));
}

namespace {
// "" when `feature` is a calendar input data.time_features offers, else what is wrong.
std::string time_feature_problem(const std::string& feature) {
  for (const auto& d : config_schema()) {
    if (d.path != "data.time_features") continue;
    std::string list;
    for (const auto& c : d.choices) {
      if (c == feature) return "";
      list += (list.empty() ? "" : ", ") + c;
    }
    return "\"" + feature + "\" is not a calendar input (" + list + ")";
  }
  return "";
}
}  // namespace

SavedCell load_saved_cell(const std::string& run_dir, const std::string& cell_id) {
  const std::string path = saved_models_dir(run_dir, cell_id) + "/model.json";
  if (!files::exists(path)) throw IoError(path + ": no such file");
  SavedCell c;
  const json j = read_json_file(path);
  const int format = json_get<int>(j, {"format"}, path);
  if (format != 1 && format != kSavedModelFormat)
    throw DataError(path, 0,
                    "format " + std::to_string(format) + "; this lstmad reads formats 1 and " +
                        std::to_string(kSavedModelFormat));
  c.cell = json_get<std::string>(j, {"cell"}, path);
  c.detector = json_get<std::string>(j, {"detector"}, path);
  c.series = json_get<std::string>(j, {"series"}, path);
  c.rows = json_get<int>(j, {"rows"}, path);
  c.train_end = json_get<int>(j, {"train_rows"}, path);
  c.train_sha256 = json_get<std::string>(j, {"train_sha256"}, path);
  try {
    c.norm.kind = parse_norm_kind(json_get<std::string>(j, {"normalize", "kind"}, path));
  } catch (const DataError&) {
    throw;
  } catch (const Error& e) {
    throw DataError(path, 0, std::string("normalize.kind: ") + e.what());
  }
  c.norm.fit_rows = json_get<int>(j, {"normalize", "fit_rows"}, path);
  c.norm.offset = json_get<std::vector<double>>(j, {"normalize", "offset"}, path);
  c.norm.scale = json_get<std::vector<double>>(j, {"normalize", "scale"}, path);
  for (int k : json_get<std::vector<int>>(j, {"normalize", "constant"}, path))
    c.norm.constant.push_back(k != 0);
  c.time_features = json_get<std::vector<std::string>>(j, {"time_features"}, path);
  c.member_seeds = json_get<std::vector<uint64_t>>(j, {"member_seeds"}, path);
  if (format >= 2) {
    c.checkpoint_sha256 = json_get<std::vector<std::string>>(j, {"checkpoints_sha256"}, path);
    c.build = "lstmad " + json_get<std::string>(j, {"lstmad_version"}, path) + " (" +
              json_get<std::string>(j, {"git_hash"}, path) + ")";
  }
  // What the run wrote (fit_normalizer, save_cell_models) holds all of these; a file that breaks one was
  // edited or damaged, and scoring with it would be silently wrong.
  const bool scales_ok = std::all_of(c.norm.scale.begin(), c.norm.scale.end(),
                                     [](double s) { return std::isfinite(s) && s > 0; });
  const bool offsets_ok =
      std::all_of(c.norm.offset.begin(), c.norm.offset.end(), [](double o) { return std::isfinite(o); });
  const std::string problem =
      c.cell != cell_id ? "cell \"" + c.cell + "\" is not its folder's " + cell_id
      : c.train_end < 1 || c.rows < c.train_end
          ? "train_rows " + std::to_string(c.train_end) + " of rows " + std::to_string(c.rows)
      : c.norm.fit_rows < 1 || c.norm.fit_rows > c.train_end
          ? "normalize.fit_rows " + std::to_string(c.norm.fit_rows) + " is not within the " +
                std::to_string(c.train_end) + " training rows"
      : c.norm.offset.empty() || c.norm.offset.size() != c.norm.scale.size() ||
              c.norm.offset.size() != c.norm.constant.size()
          ? std::string("normalize holds no columns, or offset, scale and constant of different lengths")
      : !scales_ok || !offsets_ok
          ? std::string("normalize.scale must be finite and > 0, normalize.offset finite")
      : c.member_seeds.empty() ? std::string("member_seeds is empty")
      : format >= 2 && c.checkpoint_sha256.size() != c.member_seeds.size()
          ? "checkpoints_sha256 has " + std::to_string(c.checkpoint_sha256.size()) + " entries for " +
                std::to_string(c.member_seeds.size()) + " models"
          : std::string();
  if (!problem.empty()) throw DataError(path, 0, "inconsistent saved-model index: " + problem);
  for (const auto& f : c.time_features)
    if (const std::string why = time_feature_problem(f); !why.empty())
      throw DataError(path, 0, "inconsistent saved-model index: time_features: " + why);
  // Its own digest last: a value no run writes is named above; one that a run could have written but
  // this one did not (an edited scale, another seed) only here.
  if (format >= 2 && json_get<std::string>(j, {"index_sha256"}, path) != index_digest(j))
    throw DataError(path, 0,
                    "its contents differ from what the run wrote (index_sha256 does not match): edited or "
                    "damaged; the cell's models cannot be applied as it describes them");
  return c;
}

Checkpoint load_member_checkpoint(const std::string& run_dir, const SavedCell& c, size_t member,
                                  const ModelShape* expected) {
  const std::string path = member_checkpoint_path(run_dir, c.cell, member);
  const std::string bytes = files::read(path);
  if (member < c.checkpoint_sha256.size() && files::sha256(bytes) != c.checkpoint_sha256[member])
    throw DataError(path, 0,
                    "not the checkpoint cell " + c.cell +
                        " saved (its SHA-256 differs from model.json's): a " +
                        "checkpoint of another cell or run put in its place?");
  Checkpoint ck = parse_checkpoint(bytes, path);
  if (expected && ck.shape != *expected)
    throw DataError(path, 0, "checkpoint has shape " + ck.shape.str() + ", expected " + expected->str());
  return ck;
}

void copy_saved_models(const std::string& from_run, const std::string& from_cell, const std::string& to_run,
                       const std::string& to_cell, const std::string& detector) {
  SavedCell c = load_saved_cell(from_run, from_cell);
  files::make_dirs(saved_models_dir(to_run, to_cell));
  for (size_t m = 0; m < c.member_seeds.size(); ++m)
    files::write_atomic(member_checkpoint_path(to_run, to_cell, m),
                        files::read(member_checkpoint_path(from_run, from_cell, m)));
  c.cell = to_cell;
  c.detector = detector;
  save_cell_models(to_run, c);
}

std::string training_rows_sha256(const Series& s, int rows) {
  const int m = std::max(0, std::min(rows, s.rows()));
  const size_t count = static_cast<size_t>(m) * static_cast<size_t>(s.dims);
  std::string bytes(count * sizeof(double), '\0');
  if (count > 0) std::memcpy(bytes.data(), s.values.data(), bytes.size());
  return files::sha256(bytes);
}

}  // namespace lstmad
