#include "experiments/corpus.hpp"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "data/nasa.hpp"
#include "data/synthetic.hpp"
#include "data/ucr.hpp"
#include "experiments/run_folder.hpp"

namespace lstmad {
namespace fs = std::filesystem;

namespace {

// NASA ids are "<spacecraft>/<channel>.csv" so that NAB-format outputs get a category folder.
std::string nasa_channel_of(const std::string& id) {
  std::string f = fs::path(id).filename().string();
  return f.size() > 4 && f.compare(f.size() - 4, 4, ".csv") == 0 ? f.substr(0, f.size() - 4) : f;
}

void select_series(Corpus& c, const std::vector<std::string>& all, const json& cfg) {
  c.series = select_corpus_series(all, cfg, c.root);
}

// A corpus of one file per series under data.root (ucr, csv): `files` lists them (paths relative to the
// root), `id_of` names each; then data.files selects. A second file with an id already taken (the same
// archive file in two folders, a top-level file named like a category's) is left out, and said so.
void select_files(Corpus& c, const json& cfg, const std::function<std::vector<std::string>()>& files,
                  const std::function<std::string(const std::string&)>& id_of, const std::string& what) {
  std::vector<std::string> all;
  try {
    for (const auto& rel : files()) {
      const std::string id = id_of(rel);
      auto [it, added] = c.files_by_id.emplace(id, rel);
      if (added)
        all.push_back(id);
      else
        log::warn(c.root + "/" + rel + ": series id " + id + " is already " + c.root + "/" + it->second + "; left out");
    }
  } catch (const IoError& e) {
    throw ConfigError(std::string("data.root: ") + e.what());
  }
  if (all.empty()) throw ConfigError("data.root: no " + what + " under " + c.root);
  select_series(c, all, cfg);
}

}  // namespace

std::vector<std::string> select_corpus_series(const std::vector<std::string>& all, const json& cfg,
                                              const std::string& root) {
  std::vector<std::string> series;
  const json& patterns = at_path(cfg, "data.files");
  for (const auto& id : all) {
    bool keep = patterns.empty();
    for (const auto& p : patterns)
      if (corpus_pattern_match(p.get<std::string>(), id)) keep = true;
    if (keep) series.push_back(id);
  }
  // A plain path (no wildcard) that names no file is kept: its cells fail with the reason instead of the
  // series silently vanishing from the run.
  for (const auto& p : patterns) {
    std::string name = p.get<std::string>();
    if (name.find_first_of("*?[") != std::string::npos) continue;
    if (std::find(series.begin(), series.end(), name) == series.end()) series.push_back(name);
  }
  std::sort(series.begin(), series.end());
  int max_files = at_path(cfg, "data.max_files").get<int>();
  if (max_files > 0 && static_cast<int>(series.size()) > max_files)
    series.resize(static_cast<size_t>(max_files));
  if (series.empty()) throw ConfigError("data.files: no series of " + root + " matches " + patterns.dump());
  return series;
}

bool corpus_pattern_match(const std::string& pattern, const std::string& id) {
  return pattern == id || ::fnmatch(pattern.c_str(), id.c_str(), 0) == 0;
}

std::string default_nab_root() {
  auto ok = [](const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p / "data", ec) && fs::is_directory(p / "labels", ec);
  };
  // A NAB_ROOT that names no corpus is a mistake to say: the folders below could hold another corpus.
  if (const char* env = std::getenv("NAB_ROOT"); env && *env) {
    if (!ok(env))
      throw ConfigError(
          std::string("NAB_ROOT=") + env +
          ": not a NAB corpus (expected its data/ and labels/ folders there); point NAB_ROOT at "
          "one, or unset it");
    return fs::absolute(env).lexically_normal().string();
  }
  for (const fs::path& p :
       {fs::path("../shared/nab"), fs::path(LSTMAD_SOURCE_DIR_FOR_DATA) / ".." / "shared" / "nab"}) {
    if (ok(p)) return fs::weakly_canonical(p).string();
  }
  return "";
}

CsvColumns csv_columns_of(const json& cfg) {
  CsvColumns layout;
  layout.nab = false;
  layout.time = at_path(cfg, "data.csv.time_column").get<std::string>();
  layout.time_format = at_path(cfg, "data.csv.time_format").get<std::string>();
  layout.label = at_path(cfg, "data.csv.label_column").get<std::string>();
  layout.label_windows = at_path(cfg, "data.csv.label_windows").get<std::string>();
  layout.anomaly_labels = at_path(cfg, "data.csv.anomaly_labels").get<std::vector<std::string>>();
  layout.values = at_path(cfg, "data.csv.value_columns").get<std::vector<std::string>>();
  return layout;
}

namespace {

// The events the selected channels are scored on (a channel's label rows combined, overlapping sequences
// merged, as load_nasa_channel makes its windows), and what the label file leaves to a choice, said once:
// a channel with several label rows (the published file lists SMAP's P-2 twice, with overlapping
// sequences: telemanom runs each row on its own, OmniAnomaly's preprocessing drops the channel; here its
// rows make one series whose overlapping sequences are one event), and test files without a label row
// (telemanom evaluates only the channels the file lists; here they run as unlabeled/<channel>.csv).
void warn_of_nasa_label_rows(Corpus& c) {
  std::map<std::string, std::vector<const NasaLabelRow*>> rows;
  for (const auto& row : c.nasa_labels) rows[row.chan_id].push_back(&row);
  std::vector<std::string> repeated, unlabeled;
  c.total_windows = 0;
  for (const auto& id : c.series) {
    const std::string chan = nasa_channel_of(id);
    const auto it = rows.find(chan);
    if (it == rows.end()) {
      unlabeled.push_back(chan);
      continue;
    }
    c.total_windows += static_cast<int>(nasa_events(c.nasa_labels, chan).size());
    if (it->second.size() > 1) {
      std::string lines;
      for (const NasaLabelRow* r : it->second) lines += (lines.empty() ? "" : ", ") + std::to_string(r->line);
      repeated.push_back(chan + " (lines " + lines + ")");
    }
  }
  const auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : "; ") + x;
    return s;
  };
  if (!repeated.empty())
    log::warn(c.root + "/labeled_anomalies.csv: " + std::to_string(repeated.size()) +
              " channel(s) have several label rows: " + list(repeated) +
              ". Each is one series, scored on all its rows' sequences, overlapping ones merged into one "
              "event (telemanom runs each row on its own; OmniAnomaly's preprocessing leaves P-2 out)");
  if (!unlabeled.empty())
    log::warn(c.root + "/test: " + std::to_string(unlabeled.size()) +
              " channel(s) have no row in labeled_anomalies.csv (" + list(unlabeled) +
              "): they run as unlabeled/<channel>.csv, without anomalies, and count in the metrics' means; "
              "data.nasa.spacecraft SMAP or MSL leaves them out");
}

// NASA SMAP/MSL: the channels of data.nasa.spacecraft, ids <spacecraft>/<channel>.csv.
void resolve_nasa(Corpus& c, const json& cfg) {
  c.spacecraft = at_path(cfg, "data.nasa.spacecraft").get<std::string>();
  // As with NAB's label file: without it every channel would run as "unlabeled", every metric NaN, and
  // the run would end with exit 0 having measured nothing.
  const std::string labels_csv = c.root + "/labeled_anomalies.csv";
  if (!files::exists(labels_csv))
    throw ConfigError("data.root: " + labels_csv +
                      " does not exist; the SMAP/MSL telemetry is labeled by this file beside train/ and "
                      "test/ (Hundman et al.'s layout)");
  c.nasa_labels = read_nasa_labels(labels_csv);
  std::vector<std::string> channels;
  try {
    channels = list_nasa_channels(c.root, c.spacecraft);
  } catch (const std::exception& e) {
    throw ConfigError(std::string("data.root: ") + e.what());
  }
  if (channels.empty())
    throw ConfigError("data.root: " + c.root + "/test holds no channel (<channel>.npy)" +
                      (c.spacecraft.empty() ? "" : " of spacecraft " + c.spacecraft) +
                      "; the SMAP/MSL layout is train/*.npy, test/*.npy and labeled_anomalies.csv");
  std::map<std::string, std::string> craft;
  for (const auto& row : c.nasa_labels) craft[row.chan_id] = row.spacecraft;
  std::vector<std::string> all;
  for (const auto& ch : channels) {
    auto it = craft.find(ch);
    all.push_back((it != craft.end() && !it->second.empty() ? it->second : std::string("unlabeled")) + "/" +
                  ch + ".csv");
  }
  std::sort(all.begin(), all.end());
  select_series(c, all, cfg);
  warn_of_nasa_label_rows(c);
}

// The UCR anomaly archive: one anomaly per series, ids UCR/<file name>.csv.
void resolve_ucr(Corpus& c, const json& cfg) {
  select_files(
      c, cfg, [&] { return list_ucr_files(c.root); },
      [](const std::string& rel) {
        const std::string name = fs::path(rel).filename().string();
        return "UCR/" + name.substr(0, name.size() - 4) + ".csv";
      },
      "UCR archive files (NNN_UCR_Anomaly_<name>_<train end>_<begin>_<end>.txt)");
  c.total_windows = static_cast<int>(c.series.size());
}

// A folder of CSV files in the layout data.csv names.
void resolve_csv(Corpus& c, const json& cfg, const std::string& run_dir, bool read_only) {
  c.csv_columns = csv_columns_of(cfg);
  // A run folder below the root is left out of the listing (holds_run), but one that is the root itself
  // cannot be: its results.csv and score files would be series from its first resume on. Refused for the
  // commands that write it; a run made so is still read as it is.
  std::error_code ec;
  if (!read_only && !run_dir.empty() && fs::equivalent(run_dir, c.root, ec))
    throw ConfigError(
        "data.root: " + c.root + " is the run folder itself (--out), whose results.csv and score files " +
        "would then be read as series; give the run a folder of its own (one below data.root is " +
        "left out of the corpus)");
  // Ids keep a category folder (NAB-format result files are <category>/<file>): a file directly under
  // the root takes the root's own name as its category.
  fs::path root_path = fs::path(c.root).lexically_normal();
  if (root_path.filename().empty()) root_path = root_path.parent_path();  // "dir/" names dir
  const std::string top = root_path.filename().string();
  select_files(
      c, cfg, [&] { return list_csv_files(c.root, holds_run); },
      [&](const std::string& rel) { return rel.find('/') != std::string::npos ? rel : top + "/" + rel; },
      ".csv files");
}

// The NAB corpus a run found without data.root, as its manifest recorded it, where it still is one; else "".
// Resumed, rescored or scored by detect from another working folder (or under another NAB_ROOT), the run
// reads that corpus again, not one the search of default_nab_root finds from there.
std::string recorded_nab_root(const std::string& run_dir) {
  std::error_code ec;
  const std::string path = run_dir + "/manifest.json";
  if (run_dir.empty() || !fs::is_regular_file(path, ec)) return "";
  try {
    const json m = read_json_file(path);
    if (!m.contains("corpus") || !m["corpus"].is_object() || !m["corpus"].contains("root") ||
        !m["corpus"]["root"].is_string())
      return "";
    const fs::path root = m["corpus"]["root"].get<std::string>();
    if (root.is_absolute() && fs::is_directory(root / "data", ec) && fs::is_directory(root / "labels", ec))
      return root.string();
  } catch (const std::exception&) {
    // A damaged manifest is said where the run reads it; the corpus is then looked for as for a new run.
  }
  return "";
}

// NAB's layout (NAB itself, or the synthetic corpus written to the run folder): data/<category>/*.csv
// labeled by data.windows_file.
void resolve_nab_layout(Corpus& c, const json& cfg, const std::string& run_dir, bool read_only) {
  if (c.format == "synthetic") {
    if (c.root.empty()) c.root = run_dir + "/corpus";
    SyntheticOptions o;  // the generator writes atomically and identically for equal options
    o.seed = at_path(cfg, "data.synthetic.seed").get<uint64_t>();
    o.series_per_kind = at_path(cfg, "data.synthetic.series_per_kind").get<int>();
    o.length = at_path(cfg, "data.synthetic.length").get<int>();
    if (!read_only) {
      write_synthetic_corpus(o, c.root);
    } else if (!synthetic_corpus_on_disk(o, c.root)) {
      // A run folder that is read-only, archived without its corpus, or another process's to write: the
      // same bytes, generated where this command may write.
      // A folder of its own (mkdtemp: a fresh name, not one another user could have placed in /tmp), in
      // TMPDIR where it is set and not empty (as POSIX has it), else /tmp.
      const char* tmpdir = std::getenv("TMPDIR");
      const bool tmpdir_set = tmpdir && *tmpdir;
      std::string pattern = (fs::path(tmpdir_set ? tmpdir : "/tmp") / "lstmad-corpus-XXXXXX").string();
      if (!::mkdtemp(pattern.data())) {
        const int err = errno;
        throw IoError(pattern + ": cannot create a scratch folder for the synthetic corpus (" +
                      std::strerror(err) + "); " +
                      (tmpdir_set
                           ? "set TMPDIR (now " + std::string(tmpdir) + ") to a folder this user can write"
                           : std::string("set TMPDIR to a folder this user can write")) +
                      ", or put the run's corpus back at " + c.root);
      }
      const std::string scratch = pattern;
      c.scratch = std::shared_ptr<const std::string>(new std::string(scratch), [](const std::string* p) {
        std::error_code ec;
        fs::remove_all(*p, ec);
        delete p;
      });
      std::error_code ec;
      if (fs::exists(c.root, ec))
        log::warn(c.root +
                  ": differs from the synthetic corpus its config generates (edited, or made by another "
                  "version); the generated one is used, from " +
                  scratch);
      else
        log::info(c.root + ": missing; the synthetic corpus is generated again in " + scratch);
      write_synthetic_corpus(o, scratch);
      c.run_root = c.root;
      c.root = scratch;
    }
    c.windows_file = "labels/combined_windows.json";
  } else {
    if (c.root.empty()) {
      c.root = recorded_nab_root(run_dir);
      // A NAB_ROOT set to another corpus does not move a run off the one it read: said once.
      static std::atomic<bool> said{false};
      const char* env = std::getenv("NAB_ROOT");
      if (!c.root.empty() && env && *env && fs::absolute(env).lexically_normal() != fs::path(c.root) &&
          !said.exchange(true))
        log::warn(std::string("NAB_ROOT=") + env + " is not the corpus this run read; it reads its own, " +
                  c.root + " (manifest.json's corpus.root)");
    }
    if (c.root.empty()) c.root = default_nab_root();
    if (c.root.empty())
      throw ConfigError("data.root: no NAB corpus found; give data.root (or --set data.root=PATH, or NAB_ROOT), "
                        "or fetch it with scripts/get-nab.sh");
  }
  std::vector<std::string> all;
  try {
    all = list_corpus_files(c.root);
  } catch (const IoError& e) {
    throw ConfigError(std::string("data.root: ") + e.what());
  }
  // The label file is what makes the folder a benchmark: without it every series would be scored as
  // unlabeled and the run would end without a NAB score, so a wrong path is an error, not a silent default.
  const std::string wpath = c.root + "/" + c.windows_file;
  if (!files::exists(wpath))
    throw ConfigError(
        "data.windows_file: " + wpath +
        " does not exist; a NAB-layout corpus is labeled by this file (give its path relative to "
        "data.root, or use data.format \"csv\" for a folder of CSV files)");
  c.labels = read_label_windows(wpath, &c.malformed_labels);
  // A label key that names no data file is a typo or a file missing from data/: its windows would
  // silently label nothing.
  std::vector<std::string> orphans;
  const std::set<std::string> listed(all.begin(), all.end());
  for (const auto& [id, w] : c.labels)
    if (!listed.count(id)) orphans.push_back(id);
  if (!orphans.empty()) {
    std::string names;
    for (size_t i = 0; i < orphans.size() && i < 5; ++i) names += (i ? ", " : "") + orphans[i];
    log::warn(wpath + ": " + std::to_string(orphans.size()) + " label key(s) name no file under " + c.root +
              "/data: " + names + (orphans.size() > 5 ? ", ..." : "") + "; their windows label nothing");
  }
  select_series(c, all, cfg);
  for (const auto& id : c.series) {
    auto it = c.labels.find(id);
    if (it != c.labels.end()) c.total_windows += static_cast<int>(it->second.size());
  }
}

}  // namespace

Corpus resolve_corpus(const json& cfg, const std::string& run_dir, bool read_only) {
  Corpus c;
  c.format = at_path(cfg, "data.format").get<std::string>();
  c.root = at_path(cfg, "data.root").get<std::string>();
  c.windows_file = at_path(cfg, "data.windows_file").get<std::string>();
  // The config check says this already; a config that did not come through resolve_config is held to it.
  if (const std::string why = root_requirement(c.format); c.root.empty() && !why.empty())
    throw ConfigError("data.root: " + why);
  if (c.format == "nasa")
    resolve_nasa(c, cfg);
  else if (c.format == "ucr")
    resolve_ucr(c, cfg);
  else if (c.format == "csv")
    resolve_csv(c, cfg, run_dir, read_only);
  else
    resolve_nab_layout(c, cfg, run_dir, read_only);
  return c;
}

Series Corpus::load(const std::string& id, int* train_rows) const {
  if (train_rows) *train_rows = -1;  // NAB layout: the runner uses the probationary length
  if (format == "ucr" || format == "csv") {
    auto it = files_by_id.find(id);
    // An id is not a path (a top-level file's id carries the root's own name), so name the root and the id.
    if (it == files_by_id.end())
      throw DataError(root, 0, "data.files names series " + id + ", and no file under this folder has that id");
    if (format == "ucr") return load_ucr_series(root, it->second, id, train_rows);
    return read_series_csv(root + "/" + it->second, id, nullptr, csv_columns);
  }
  if (format != "nasa") {
    // One series' malformed label entry fails that series' cells, not the run.
    if (auto bad = malformed_labels.find(id); bad != malformed_labels.end())
      throw DataError(root + "/" + windows_file, 0, bad->second);
    return load_corpus_series(root, id, labels);
  }
  // NASA: the train rows followed by the test rows, with timestamps one second apart so that NAB-format
  // outputs stay valid; the label windows move by the train length. The two files are separate
  // recordings: the test rows are predicted from test rows only (joined_at), as telemanom does.
  NasaChannel ch = load_nasa_channel(root, nasa_channel_of(id), nasa_labels);
  Series s = ch.test;
  s.name = id;
  const int ntrain = ch.train.rows();
  if (ch.train.dims != ch.test.dims)
    throw DataError(ch.test.path, 0, "test has " + std::to_string(ch.test.dims) + " columns, train " +
                                         std::to_string(ch.train.dims));
  s.values.insert(s.values.begin(), ch.train.values.begin(), ch.train.values.end());
  for (auto& w : s.windows) {
    w.start += ntrain;
    w.end += ntrain;
  }
  set_stand_in_times(s);
  for (auto& w : s.windows) {
    w.start_text = s.timestamps[static_cast<size_t>(w.start)];
    w.end_text = s.timestamps[static_cast<size_t>(w.end)];
  }
  s.joined_at = ntrain;
  if (train_rows) *train_rows = ntrain;
  return s;
}

std::vector<std::string> Corpus::shared_files() const {
  if (format == "nasa")
    return files::exists(root + "/labeled_anomalies.csv")
               ? std::vector<std::string>{root + "/labeled_anomalies.csv"}
               : std::vector<std::string>{};
  if (format == "ucr" || format == "csv") return {};
  const std::string w = root + "/" + windows_file;
  return files::exists(w) ? std::vector<std::string>{w} : std::vector<std::string>{};
}

std::vector<std::string> Corpus::files_of(const std::string& id) const {
  if (format == "nasa")
    return {root + "/train/" + nasa_channel_of(id) + ".npy", root + "/test/" + nasa_channel_of(id) + ".npy"};
  if (format == "ucr" || format == "csv") {
    auto it = files_by_id.find(id);
    return it != files_by_id.end() ? std::vector<std::string>{root + "/" + it->second}
                                   : std::vector<std::string>{};
  }
  return {root + "/data/" + id};
}

std::vector<std::string> Corpus::input_files() const {
  std::vector<std::string> out = shared_files();
  for (const auto& id : series)
    for (auto& f : files_of(id)) out.push_back(std::move(f));
  return out;
}

}  // namespace lstmad
