#include "experiments/merge.hpp"

#include <filesystem>
#include <map>
#include <optional>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "core/thread_pool.hpp"
#include "experiments/resume.hpp"
#include "experiments/run_folder.hpp"

namespace lstmad {
namespace fs = std::filesystem;

namespace {

// The first path of `c` (changed, then added, then removed).
std::string first_input(const InputChanges& c) {
  return !c.changed.empty() ? c.changed.front() : !c.added.empty() ? c.added.front() : c.removed.front();
}

// Shards' results rest on the input files each recorded in its manifest. Shards that ran on other bytes (a
// file changed between them), or on bytes the files no longer hold (`current`: the corpus as it is now;
// null for a synthetic corpus, which the shared config generates), merge into a run that equals no
// unsharded run: refused, naming the file. A resume of each shard reruns its series whose files changed.
void check_shard_inputs(const std::vector<std::string>& shard_dirs, const Corpus* current) {
  const std::string fix =
      "; resume the shards (lstmad run --resume SHARD) to rerun the series whose files changed, "
      "then merge them";
  std::string first_path, build_path;
  json first;
  LegBuild build;
  for (const auto& d : shard_dirs) {
    const std::string mpath = d + "/manifest.json";
    if (!files::exists(mpath)) {
      log::warn(mpath + ": missing; the input files this shard ran on are not checked");
      continue;
    }
    const json m = read_json_file(mpath);
    // Shards run by two builds merge into results of both (a fix between them shows in some series
    // only): said, as a resume by another build is.
    if (const LegBuild b = last_leg_build(m); !b.hash.empty()) {
      if (build_path.empty()) {
        build_path = mpath;
        build = b;
      } else if (b.hash != build.hash) {
        log::warn(mpath + ": computed by " + b.text() + ", " + build_path + " by " + build.text() +
                  ": the merged results mix the two builds' cells");
      }
    }
    if (!m.contains("input_sha256")) continue;
    if (first_path.empty()) {
      first_path = mpath;
      first = m.at("input_sha256");
      continue;
    }
    const InputChanges c = compare_input_hashes(first, m.at("input_sha256"));
    if (!c.empty())
      throw ConfigError(mpath + ": input " + first_input(c) + " differs from " + first_path + " (" +
                        c.summary() + "): the shards ran on other files" + fix);
  }
  if (first_path.empty() || !current) return;
  const InputChanges now = compare_input_hashes(first, input_hashes(*current));
  if (!now.empty())
    throw ConfigError(first_path + ": input " + first_input(now) + " has changed since the shards ran (" +
                      now.summary() + ")" + fix);
}

}  // namespace

std::string merge_marker(const std::string& out_dir) {
  return out_dir + "/.merging";
}

void refuse_unfinished_merge(const std::string& dir, const std::string& then) {
  if (files::exists(merge_marker(dir)))
    throw IoError(dir +
                  ": an unfinished merge (killed before it ended); run the same lstmad merge again to "
                  "finish it" +
                  then);
}

RunOutcome merge_runs(const std::vector<std::string>& shard_dirs, const std::string& out_dir) {
  const auto t0 = Clock::now();
  if (shard_dirs.empty()) throw ConfigError("merge: give at least one run folder");
  json cfg;
  for (const auto& d : shard_dirs) {
    if (!files::exists(d + "/config.json")) throw IoError(d + ": not a run folder (no config.json)");
    json c = read_json_file(d + "/config.json");
    keep_made_with_defaults(c);
    if (cfg.is_null())
      cfg = c;
    else if (without_memory_keys(c) != without_memory_keys(cfg))
      throw ConfigError(d + "/config.json: differs from " + shard_dirs[0] +
                        "/config.json; only shards of one run merge");
  }
  // A merge that was killed left its marker: what it wrote is redone, so the retried command finishes it.
  const std::string marker = merge_marker(out_dir);
  // An existing folder is claimed before its marker is read: a merge still running there is not undone.
  std::optional<RunFolderLock> lock;
  std::error_code dir_ec;
  if (fs::is_directory(out_dir, dir_ec)) lock.emplace(out_dir);
  if (files::exists(marker)) {
    for (const char* part : {"config.json", "manifest.json", "cells", "nab", "failed", "corpus", "models"})
      fs::remove_all(fs::path(out_dir) / part);
    remove_unfinished_writes(out_dir);
    log::info(out_dir + ": an unfinished merge; merging again");
  }
  if (files::exists(out_dir + "/config.json")) throw IoError(out_dir + ": already holds a run");
  if (lock) remove_unfinished_writes(out_dir);  // a merge killed as it wrote its marker
  json resolved = resolve_config(cfg, shard_dirs[0] + "/config.json");
  // A corpus on disk is resolved before anything is written, to check the shards' inputs against it; a
  // synthetic one is generated into the merged folder below.
  std::optional<Corpus> current;
  if (at_path(resolved, "data.format").get<std::string>() != "synthetic")
    current = resolve_corpus(resolved, shard_dirs[0], /*read_only=*/true);  // a NAB root found: shard 0's
  check_shard_inputs(shard_dirs, current ? &*current : nullptr);
  // A cell is one shard's: the same cell in two folders (a shard given twice, or two attempts at one shard)
  // would keep whichever copy came last, e.g. an attempt that failed over one that finished, with its
  // failure log. Refused, naming both, before anything is written.
  std::map<std::string, std::string> cell_owner;
  for (const auto& d : shard_dirs) {
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(fs::path(d) / "cells", ec)) {
      if (f.path().extension() != ".json") continue;
      const std::string name = f.path().filename().string();
      // A damaged cell file (a shard killed as a disk filled, say) would be copied and then left out of the
      // merged run, with a warning naming the copy: refused here, naming the shard's file.
      try {
        CellResult::from_json(read_json_file(f.path().string()), f.path().string());
      } catch (const std::exception& e) {
        throw IoError(f.path().string() + ": an unreadable cell result (" + e.what() +
                      "); resume that shard (" + "lstmad run --resume " + d + " runs it again), then merge");
      }
      auto [it, fresh] = cell_owner.emplace(name, d);
      if (!fresh)
        throw ConfigError(d + "/cells/" + name + ": the same cell is in " + it->second +
                          "; give each shard's folder once (one attempt per shard)");
    }
  }
  if (!lock) {
    files::make_dirs(out_dir);
    lock.emplace(out_dir);
    // Checked again under the claim: another merge may have made this folder since the check above.
    if (files::exists(out_dir + "/config.json")) throw IoError(out_dir + ": already holds a run");
  }
  files::write_atomic(marker, "lstmad merge in progress; run the same merge again to finish it\n");
  files::write_atomic(out_dir + "/config.json", json_text(cfg));
  // Every shard's finished cells and their NAB-format files (identical across shards for a synthetic corpus).
  for (const auto& d : shard_dirs) {
    for (const char* sub : {"cells", "nab", "failed", "corpus", "models"}) {
      fs::path src = fs::path(d) / sub;
      if (!fs::exists(src)) continue;
      for (const auto& f : fs::recursive_directory_iterator(src)) {
        if (!f.is_regular_file()) continue;
        // A killed shard's unfinished writes were never renamed into results: leave them behind.
        if (files::unfinished_write_name(f.path().filename().string())) continue;
        fs::path dst = fs::path(out_dir) / fs::relative(f.path(), d);
        files::make_dirs(dst.parent_path().string());
        files::write_atomic(dst.string(), files::read(f.path().string()));
      }
    }
  }
  Corpus corpus = current ? std::move(*current) : resolve_corpus(resolved, out_dir);
  Plan plan = make_plan(resolved, corpus.series);
  RunOptions ro;
  ro.config_path = shard_dirs[0] + "/config.json";
  json manifest = manifest_json(resolved, ro, corpus, plan, 0);
  manifest["merged_from"] = shard_dirs;
  files::write_atomic(out_dir + "/manifest.json", json_text(manifest));
  ResultsStore store(out_dir);
  // The closing step reads only the series' label windows: none is kept.
  const RunSeries series(plan, corpus, resolved, static_cast<int>(ThreadPool::hardware_threads()), 0);
  // The merged run's time is what its cells cost: every shard's recorded run time, plus the merge's own
  // (as a rescore counts its source's), not the few seconds of the merge alone, which `lstmad table` would
  // show as the run time of the whole experiment.
  double shard_seconds = 0;
  for (const auto& d : shard_dirs) shard_seconds += recorded_wall_seconds(d);
  RunOutcome outcome = finalize(out_dir, resolved, plan, series, {}, store, since(t0) + shard_seconds, "");
  fs::remove(marker);
  return outcome;
}

}  // namespace lstmad
