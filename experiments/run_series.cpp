#include "experiments/run_series.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/thread_pool.hpp"
#include "experiments/run_folder.hpp"

namespace lstmad {

namespace {

// The number in a cgroup limit file, 0 where there is none ("max", absent, unreadable).
std::size_t limit_in(const std::string& file) {
  std::ifstream in(file);
  std::string text;
  if (!(in >> text) || text.empty() || text == "max") return 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  return end != nullptr && *end == '\0' ? static_cast<std::size_t>(v) : 0;
}

// The smallest memory limit of this process's cgroups and their ancestors (v2, and v1's memory
// controller), as /proc/self/cgroup names them: a Slurm job or systemd unit sets it on the process's own
// cgroup, not on the hierarchy's root. 0 where none is set or readable.
std::size_t cgroup_memory_limit() {
  std::size_t least = 0;
  const auto consider = [&](const std::string& file) {
    const std::size_t v = limit_in(file);
    if (v > 0 && (least == 0 || v < least)) least = v;
  };
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {  // hierarchy-ID:controllers:path
    const std::size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = "," + line.substr(a + 1, b - a - 1) + ",";
    std::string dir, file;
    if (controllers == ",,") {
      dir = "/sys/fs/cgroup";
      file = "/memory.max";
    } else if (controllers.find(",memory,") != std::string::npos) {
      dir = "/sys/fs/cgroup/memory";
      file = "/memory.limit_in_bytes";
    } else {
      continue;
    }
    for (std::string path = line.substr(b + 1);;) {
      while (!path.empty() && path.back() == '/') path.pop_back();
      consider(dir + path + file);
      if (path.empty()) break;
      path.erase(path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
    }
  }
  consider("/sys/fs/cgroup/memory.max");  // a container's own hierarchy, mounted at its root
  consider("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  return least;
}

std::size_t machine_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  std::size_t bytes =
      pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : 0;
  const std::size_t limit = cgroup_memory_limit();
  if (limit > 0 && (bytes == 0 || limit < bytes)) bytes = limit;
  return bytes > 0 ? bytes : std::size_t{4} << 30;  // unknown: as if 4 GiB
}

// A word-wise FNV-1a over `n` bytes: the same rows hash the same.
uint64_t hash_bytes(uint64_t h, const void* data, std::size_t n) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    uint64_t w;
    std::memcpy(&w, bytes + k, 8);
    h = (h ^ w) * 0x100000001b3ULL;
  }
  for (; k < n; ++k) h = (h ^ bytes[k]) * 0x100000001b3ULL;
  return (h ^ n) * 0x100000001b3ULL;
}

template <class T>
uint64_t hash_words(uint64_t h, const std::vector<T>& v) {
  return hash_bytes(h, v.data(), v.size() * sizeof(T));
}

uint64_t hash_number(uint64_t h, long long v) {
  return hash_bytes(h, &v, sizeof v);
}

// What must be equal when a series is read again: everything the run's outputs take from it (values,
// timestamp texts and times, label windows, training part, model inputs).
uint64_t fingerprint(const PreparedSeries& p) {
  const Series& s = p.series;
  uint64_t h = 0xcbf29ce484222325ULL;
  h = hash_words(h, s.values);
  h = hash_words(h, s.time_us);
  for (std::size_t i = 0; i < s.timestamps.size(); ++i) {
    const std::string_view t = s.timestamps[i];
    h = hash_bytes(h, t.data(), t.size());
  }
  for (const LabelWindow& w : s.windows) {
    h = hash_number(h, w.start);
    h = hash_number(h, w.end);
    h = hash_bytes(h, w.start_text.data(), w.start_text.size());
    h = hash_bytes(h, w.end_text.data(), w.end_text.size());
  }
  h = hash_number(h, static_cast<long long>(s.windows.size()));
  h = hash_number(h, s.stand_in_times ? 1 : 0);
  h = hash_number(h, s.joined_at);
  h = hash_words(h, p.x);
  return hash_number(h, p.train_end);
}

}  // namespace

std::size_t series_memory_budget(const json& cfg) {
  const long long mb = at_path(cfg, "run.series_memory_mb").get<long long>();
  return mb > 0 ? static_cast<std::size_t>(mb) << 20 : machine_memory() / 4;
}

std::vector<bool> series_in_use(const Plan& plan, const std::vector<const Cell*>& todo) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < plan.series.size(); ++i) index[plan.series[i]] = i;
  std::vector<bool> in_use(plan.series.size(), false);
  for (const Cell* c : todo) in_use[index.at(c->series)] = true;
  return in_use;
}

struct RunSeries::Entry {
  std::string error;
  double seconds = 0;
  SeriesFacts facts;
  uint64_t fingerprint = 0;
  std::shared_ptr<const PreparedSeries> kept;
  bool in_use = true;                        // not kept although in use: read again when needed
  std::mutex mutex;                          // guards `live` and a read again
  std::weak_ptr<const PreparedSeries> live;  // the copy read again, while any caller holds it
};

namespace {

PreparedSeries load_prepared(const Corpus& corpus, const json& cfg, const std::string& id) {
  int train_rows = -1;
  Series s = corpus.load(id, &train_rows);
  return prepare_series(std::move(s), cfg, train_rows);
}

}  // namespace

RunSeries::RunSeries(const Plan& plan, const Corpus& corpus, const json& cfg, int threads,
                     std::size_t keep_bytes, const std::vector<bool>& in_use)
    : plan_(plan), corpus_(corpus), cfg_(cfg) {
  if (!in_use.empty() && in_use.size() != plan.series.size())
    throw Error("RunSeries: in_use has " + std::to_string(in_use.size()) + " entries for " +
                std::to_string(plan.series.size()) + " series");
  entries_.resize(plan.series.size());
  for (auto& e : entries_) e = std::make_unique<Entry>();
  std::atomic<std::size_t> kept_bytes{0};
  TimestampOrderTally tally;
  std::mutex tally_mutex;
  parallel_for(entries_.size(), static_cast<std::size_t>(std::max(threads, 1)), [&](std::size_t i) {
    Entry& e = *entries_[i];
    const auto t0 = Clock::now();
    try {
      auto p = std::make_shared<const PreparedSeries>(load_prepared(corpus_, cfg_, plan_.series[i]));
      e.facts.path = p->series.path;
      e.facts.rows = p->series.rows();
      e.facts.train_end = p->train_end;
      e.facts.input_dims = p->input_dims;
      e.facts.time_features = p->time_features;
      e.facts.windows = p->series.windows;
      {
        std::lock_guard<std::mutex> lock(tally_mutex);
        tally.add(p->series);
      }
      // Kept while the kept ones fit: claimed with a compare-exchange, so that two threads never both
      // take the last room, nor refuse a series that fits.
      const bool used_here = in_use.empty() || in_use[i];
      const std::size_t b = prepared_series_bytes(*p);
      std::size_t used = kept_bytes.load();
      while (used_here && used + b <= keep_bytes && !kept_bytes.compare_exchange_weak(used, used + b)) {
      }
      if (used_here && used + b <= keep_bytes) {
        e.kept = std::move(p);
      } else {  // only a series read again is compared with what was first read
        e.fingerprint = fingerprint(*p);
        e.in_use = used_here;
      }
    } catch (const std::exception& ex) {
      e.error = ex.what();
    }
    e.seconds = since(t0);
  });
  if (const std::string s = tally.summary(entries_.size()); !s.empty()) log::warn(s);
  all_kept_ = std::none_of(entries_.begin(), entries_.end(),
                           [](const auto& e) { return e->error.empty() && !e->kept && e->in_use; });
}

RunSeries::~RunSeries() = default;

bool RunSeries::ok(std::size_t i) const {
  return entries_.at(i)->error.empty();
}
const std::string& RunSeries::error(std::size_t i) const {
  return entries_.at(i)->error;
}
double RunSeries::seconds(std::size_t i) const {
  return entries_.at(i)->seconds;
}
const SeriesFacts& RunSeries::facts(std::size_t i) const {
  return entries_.at(i)->facts;
}

std::shared_ptr<const PreparedSeries> RunSeries::get(std::size_t i) const {
  Entry& e = *entries_.at(i);
  if (!e.error.empty()) throw Error(e.error);
  if (e.kept) return e.kept;
  std::lock_guard<std::mutex> lock(e.mutex);
  if (auto held = e.live.lock()) return held;
  std::shared_ptr<const PreparedSeries> p;
  try {
    const log::Repeat quiet;  // its warnings (filled values, ...) were given when it was first read
    p = std::make_shared<const PreparedSeries>(load_prepared(corpus_, cfg_, plan_.series[i]));
  } catch (const std::exception& ex) {
    std::string what = ex.what();
    if (what.find(e.facts.path) == std::string::npos) what = e.facts.path + ": " + what;
    throw Error("read again during the run: " + what);
  }
  if (fingerprint(*p) != e.fingerprint) {
    const int rows = p->series.rows();
    // Both files of a NASA channel (the error names its test array): either may be the one that changed.
    // A label file is read once, with the corpus, so is never read again.
    const std::vector<std::string> from = corpus_.files_of(plan_.series[i]);
    std::string read_from;
    if (from.size() > 1)
      for (std::size_t k = 0; k < from.size(); ++k)
        read_from += (k == 0                 ? " (read from "
                      : k + 1 == from.size() ? " and "
                                             : ", ") +
                     from[k] + (k + 1 == from.size() ? ")" : "");
    throw DataError(e.facts.path, 0,
                    "changed during the run: read again, " +
                        (rows != e.facts.rows ? "it has " + std::to_string(rows) + " rows where it had " +
                                                    std::to_string(e.facts.rows)
                                              : std::string("its values, timestamps, labels or training part "
                                                            "differ from those")) +
                        " when the run started" + read_from);
  }
  ++reloads_;
  e.live = p;
  return p;
}

int RunSeries::loaded() const {
  return static_cast<int>(
      std::count_if(entries_.begin(), entries_.end(), [](const auto& e) { return e->error.empty(); }));
}

int RunSeries::in_use() const {
  return static_cast<int>(std::count_if(entries_.begin(), entries_.end(), [](const auto& e) {
    return e->error.empty() && (e->kept || e->in_use);
  }));
}

int RunSeries::kept() const {
  return static_cast<int>(
      std::count_if(entries_.begin(), entries_.end(), [](const auto& e) { return e->kept != nullptr; }));
}

long long RunSeries::rows() const {
  long long n = 0;
  for (const auto& e : entries_)
    if (e->error.empty()) n += e->facts.rows;
  return n;
}

int RunSeries::reloads() const {
  return reloads_.load();
}

}  // namespace lstmad
