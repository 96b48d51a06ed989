#include "experiments/run_series.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <mutex>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/thread_pool.hpp"

namespace lstmad {

namespace {

// The memory limit of this process's cgroup (v2, else v1), 0 where none is set or readable.
std::size_t cgroup_memory_limit() {
  for (const char* file : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(file);
    std::string text;
    if (!(in >> text) || text.empty() || text == "max") continue;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (end != nullptr && *end == '\0' && v > 0) return static_cast<std::size_t>(v);
  }
  return 0;
}

std::size_t machine_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  std::size_t bytes =
      pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : 0;
  const std::size_t limit = cgroup_memory_limit();
  if (limit > 0 && (bytes == 0 || limit < bytes)) bytes = limit;
  return bytes > 0 ? bytes : std::size_t{4} << 30;  // unknown: as if 4 GiB
}

// A word-wise FNV-1a over the bytes of `v`: the same rows hash the same.
template <class T>
uint64_t hash_words(uint64_t h, const std::vector<T>& v) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(v.data());
  const std::size_t n = v.size() * sizeof(T);
  std::size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    uint64_t w;
    std::memcpy(&w, bytes + k, 8);
    h = (h ^ w) * 0x100000001b3ULL;
  }
  for (; k < n; ++k) h = (h ^ bytes[k]) * 0x100000001b3ULL;
  return (h ^ n) * 0x100000001b3ULL;
}

// What must be equal when a series is read again: its values, times, training part and input width.
uint64_t fingerprint(const PreparedSeries& p) {
  uint64_t h = 0xcbf29ce484222325ULL;
  h = hash_words(h, p.series.values);
  h = hash_words(h, p.series.time_us);
  h = hash_words(h, p.x);
  return (h ^ static_cast<uint64_t>(p.train_end)) * 0x100000001b3ULL;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::size_t series_memory_budget(const json& cfg) {
  const long long mb = at_path(cfg, "run.series_memory_mb").get<long long>();
  return mb > 0 ? static_cast<std::size_t>(mb) << 20 : machine_memory() / 4;
}

struct RunSeries::Entry {
  std::string error;
  double seconds = 0;
  SeriesFacts facts;
  uint64_t fingerprint = 0;
  std::shared_ptr<const PreparedSeries> kept;
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
                     std::size_t keep_bytes)
    : plan_(plan), corpus_(corpus), cfg_(cfg) {
  entries_.resize(plan.series.size());
  for (auto& e : entries_) e = std::make_unique<Entry>();
  std::atomic<std::size_t> kept_bytes{0};
  TimestampOrderTally tally;
  std::mutex tally_mutex;
  parallel_for(entries_.size(), static_cast<std::size_t>(std::max(threads, 1)), [&](std::size_t i) {
    Entry& e = *entries_[i];
    const auto t0 = std::chrono::steady_clock::now();
    try {
      auto p = std::make_shared<const PreparedSeries>(load_prepared(corpus_, cfg_, plan_.series[i]));
      e.facts.path = p->series.path;
      e.facts.rows = p->series.rows();
      e.facts.train_end = p->train_end;
      e.facts.input_dims = p->input_dims;
      e.facts.windows = p->series.windows;
      e.fingerprint = fingerprint(*p);
      {
        std::lock_guard<std::mutex> lock(tally_mutex);
        tally.add(p->series);
      }
      const std::size_t b = prepared_series_bytes(*p);
      if (kept_bytes.fetch_add(b) + b <= keep_bytes)
        e.kept = std::move(p);
      else
        kept_bytes.fetch_sub(b);
    } catch (const std::exception& ex) {
      e.error = ex.what();
    }
    e.seconds = seconds_since(t0);
  });
  if (const std::string s = tally.summary(entries_.size()); !s.empty()) log::warn(s);
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
    p = std::make_shared<const PreparedSeries>(load_prepared(corpus_, cfg_, plan_.series[i]));
  } catch (const std::exception& ex) {
    throw Error(std::string("read again during the run: ") + ex.what());
  }
  if (fingerprint(*p) != e.fingerprint) {
    const int rows = p->series.rows();
    throw DataError(e.facts.path, 0,
                    "changed during the run: read again, " +
                        (rows != e.facts.rows ? "it has " + std::to_string(rows) + " rows where it had " +
                                                    std::to_string(e.facts.rows)
                                              : std::string("its values, times or training part differ")) +
                        " when the run started");
  }
  ++reloads_;
  e.live = p;
  return p;
}

int RunSeries::loaded() const {
  return static_cast<int>(
      std::count_if(entries_.begin(), entries_.end(), [](const auto& e) { return e->error.empty(); }));
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
