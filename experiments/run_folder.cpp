#include "experiments/run_folder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>

#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "core/thread_pool.hpp"
#include "experiments/evaluation.hpp"
#include "experiments/report.hpp"
#include "experiments/resume.hpp"
#ifdef LSTMAD_WITH_CUDA
#include "kernels/device_query.hpp"
#endif

namespace lstmad {

namespace fs = std::filesystem;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string seconds_text(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  return buf;
}

std::string utc_stamp(const char* fmt) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

namespace {
// The claim file of RunFolderLock; left in the folder (the flock, not the file, is the claim).
constexpr const char* kLockFile = ".lock";
}  // namespace

RunFolderLock::RunFolderLock(const std::string& dir) {
  const std::string path = dir + "/" + kLockFile;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd_ < 0) throw IoError(path + ": cannot open: " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder;  // the pid the holder wrote, for the message
    char buf[32] = {0};
    if (::pread(fd_, buf, sizeof(buf) - 1, 0) > 0)
      holder = std::string(buf).substr(0, std::string(buf).find('\n'));
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw IoError(dir + ": another lstmad process is writing this run folder" +
                    (holder.empty() ? std::string() : " (pid " + holder + ")") +
                    "; wait for it to end, or give this command another folder");
    // A file system without locks (some network mounts) must not stop the run: it goes ahead unclaimed.
    log::warn(path + ": cannot be locked (" + std::strerror(err) +
              "); a second lstmad process given this folder would not be refused");
    return;
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    // The pid is only for the message of a process refused; the claim holds without it.
  }
}

RunFolderLock::~RunFolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

namespace {

// What lstmad writes in a run folder: these folders, whole, and at the top the files below and report
// pages. Anything else there is the user's (an existing --out folder), whatever its name.
const char* const kRunSubfolders[] = {"cells", "nab", "failed", "corpus", "models", "superseded"};
const char* const kRunTopFiles[] = {"config.json",         "manifest.json", "results.csv",
                                    "summary.json",        "table.md",      "nab_scores.json",
                                    "nab_thresholds.json", ".merging",      "log.txt"};

// An unfinished write of lstmad's own whose writer has ended (a live one may be a `report` in flight,
// which claims no folder).
bool stale_write(const fs::path& f, bool top) {
  const std::string of = files::abandoned_write_of(f.filename().string());
  if (of.empty() || !top) return !of.empty();
  return std::find(std::begin(kRunTopFiles), std::end(kRunTopFiles), of) != std::end(kRunTopFiles) ||
         (of.size() > 5 && of.compare(of.size() - 5, 5, ".html") == 0);
}

}  // namespace

bool holds_run(const std::string& dir) {
  const fs::path d(dir);
  std::error_code ec;
  return files::exists((d / "config.json").string()) &&
         (files::exists((d / kLockFile).string()) || fs::is_directory(d / "cells", ec));
}

int remove_unfinished_writes(const std::string& dir) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const auto& f : fs::directory_iterator(dir, ec))
    if (f.is_regular_file(ec) && stale_write(f.path(), true)) stale.push_back(f.path());
  for (const char* sub : kRunSubfolders)
    for (const auto& f : fs::recursive_directory_iterator(fs::path(dir) / sub, ec))
      if (f.is_regular_file(ec) && stale_write(f.path(), false)) stale.push_back(f.path());
  for (const auto& f : stale) fs::remove(f, ec);
  if (!stale.empty())
    log::info(dir + ": removed " + std::to_string(stale.size()) + " unfinished temporary file(s)");
  return static_cast<int>(stale.size());
}

LegBuild last_leg_build(const json& manifest) {
  if (!manifest.is_object()) return {};
  const json* last = &manifest;
  if (const auto r = manifest.find("resumes");
      r != manifest.end() && r->is_array() && !r->empty() && r->back().is_object())
    last = &r->back();
  const auto text = [last](const char* key) {
    const auto v = last->find(key);
    return v != last->end() && v->is_string() ? v->get<std::string>() : std::string();
  };
  LegBuild b{text("lstmad_version"), text("git_hash")};
  if (b.hash == "unknown") b.hash.clear();
  return b;
}

std::string host_name() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return host;
}

json manifest_json(const json& cfg, const RunOptions& ro, const Corpus& corpus, const Plan& plan,
                   int threads) {
  json devices = json::array();
#ifdef LSTMAD_WITH_CUDA
  auto rt = kernels::query_devices();
  for (const auto& d : rt.devices)
    devices.push_back({{"ordinal", d.ordinal},
                       {"name", d.name},
                       {"sm", d.cc_major * 10 + d.cc_minor},
                       {"sms", d.sm_count},
                       {"memory_mib", d.global_mem_bytes >> 20}});
#endif
  const json inputs = input_hashes(corpus);
  // A synthetic corpus generated again in a scratch folder (a read-only source run) is recorded as the
  // run's corpus folder, with a word that it was regenerated: the scratch folder is gone after the command.
  json corpus_json{{"format", corpus.format},
                   {"root", corpus.scratch ? corpus.run_root : corpus.root},
                   {"series", corpus.series.size()},
                   {"windows", corpus.total_windows}};
  if (corpus.scratch) corpus_json["regenerated"] = true;
  return json{{"lstmad_version", LSTMAD_VERSION},
              {"git_hash", build_git_hash()},
              {"build_type", LSTMAD_BUILD_TYPE},
              {"host", host_name()},
              {"started_utc", utc_stamp("%Y-%m-%dT%H:%M:%SZ")},
              {"config_file", ro.config_path},
              {"overrides", ro.overrides},
              {"engine", cfg.at("engine")},
              {"threads", threads},
              {"hardware_threads", ThreadPool::hardware_threads()},
              {"devices", devices},
              {"seed", at_path(cfg, "run.seed")},
              {"shard", {{"index", ro.shard_index}, {"count", ro.shard_count}}},
              {"corpus", corpus_json},
              {"cells", plan.cells.size()},
              {"settings", plan.settings.size()},
              {"input_sha256", inputs}};
}

namespace {

std::map<std::string, std::vector<LabelWindow>> windows_of(const Plan& plan, const RunSeries& series) {
  std::map<std::string, std::vector<LabelWindow>> w;
  for (size_t i = 0; i < plan.series.size(); ++i)
    if (series.ok(i)) w[plan.series[i]] = series.facts(i).windows;
  return w;
}

}  // namespace

RunOutcome finalize(const std::string& dir, const json& cfg, const Plan& plan, const RunSeries& series,
                    std::vector<CellResult> in_memory, const ResultsStore& store, double seconds,
                    const std::string& partial_reason) {
  const auto t_final = Clock::now();  // this step's own time (NAB's threshold sweep) counts as the run's
  RunOutcome outcome;
  outcome.run_dir = dir;
  std::map<std::string, CellResult> by_id;
  for (auto& r : store.read_cells()) by_id[r.id] = std::move(r);
  for (auto& r : in_memory) by_id[r.id] = std::move(r);  // keeps the scores already in memory
  // Only the plan's cells, each placed by the plan: a resumed run's series may sort differently (one added
  // since), and a cell file whose id the plan does not hold (its series removed) is not a result of it.
  std::vector<CellResult> all;
  for (const auto& c : plan.cells) {
    auto it = by_id.find(c.id);
    if (it == by_id.end()) continue;
    CellResult& r = it->second;
    place_in_plan(r, plan, c);
    all.push_back(std::move(r));
    by_id.erase(it);
  }
  if (!by_id.empty())
    log::warn(std::to_string(by_id.size()) + " cell file(s) in " + dir +
              "/cells belong to no cell of this run's plan (a series no longer in the corpus, or a setting "
              "that config.json no longer makes) and are left out");
  store.write_results_csv(plan, all);
  for (const auto& r : all) (r.status == CellStatus::Ok ? outcome.ok : outcome.failed)++;
  outcome.cells = static_cast<int>(plan.cells.size());
  outcome.missing = outcome.cells - static_cast<int>(all.size());
  CorpusEvaluation ev;
  if (!partial_reason.empty()) {
    for (const auto& s : plan.settings) ev.skipped[s.detector] = partial_reason;
  } else {
    const auto t_nab = Clock::now();
    ev = evaluate_corpus(plan, all, windows_of(plan, series), cfg, store);
    if (at_path(cfg, "eval.nab").get<bool>())
      log::info("NAB scoring of " + std::to_string(plan.settings.size()) + " detector(s) in " +
                seconds_text(since(t_nab)));
  }
  outcome.nab_scores = ev.nab_scores;
  outcome.unscored = ev.failed;
  seconds += since(t_final);
  outcome.table = summary_table(plan, all, ev, cfg, seconds);
  files::write_atomic(dir + "/table.md", outcome.table);
  json summary{{"wall_seconds", seconds},  {"cells", outcome.cells},     {"ok", outcome.ok},
               {"failed", outcome.failed}, {"missing", outcome.missing}, {"nab_scores", outcome.nab_scores}};
  // Why a detector has no NAB score, for `lstmad table`, which reads this file.
  if (!ev.skipped.empty()) summary["nab_unscored"] = ev.skipped;
  files::write_atomic(dir + "/summary.json", json_text(summary));  // the report reads it
  const auto t_report = Clock::now();
  try {
    ReportOptions report;
    report.run_own = true;
    write_report(dir, report);
  } catch (const std::exception& e) {
    log::warn(std::string("report not written: ") + e.what());
  }
  // The report is part of the run's time (a long series' plots take seconds).
  log::info("report.html in " + seconds_text(since(t_report)));
  summary["wall_seconds"] = seconds + since(t_report);
  files::write_atomic(dir + "/summary.json", json_text(summary));
  return outcome;
}

void place_in_plan(CellResult& r, const Plan& plan, const Cell& c) {
  r.index = c.index;
  r.setting = c.setting;
  r.series = c.series;
  r.detector = plan.settings[static_cast<size_t>(c.setting)].detector;
}

void identify_cell(CellResult& r, const Plan& plan, const Cell& c) {
  r.id = c.id;
  r.seed = c.seed;
  place_in_plan(r, plan, c);
}

double recorded_wall_seconds(const std::string& dir) {
  const std::string summary = dir + "/summary.json";
  if (!files::exists(summary)) return 0.0;
  const json sm = read_json_file(summary);
  return sm.contains("wall_seconds") ? json_get<double>(sm, {"wall_seconds"}, summary) : 0.0;
}

}  // namespace lstmad
