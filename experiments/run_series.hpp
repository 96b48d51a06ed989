// The series of a run's plan, each loaded and prepared once up front (a series that fails fails its own
// cells only), then kept in memory or read again when needed.
//
// What scheduling and the closing step read of a series (rows, training part, input width, label windows)
// is kept for the whole run. Its prepared rows (the raw values and timestamps NAB-format files repeat, the
// normalized model inputs) cost about 65 bytes a row for one value column, so a corpus of a few hundred
// million rows would not fit a machine's memory at once: they are kept only while the kept series fit
// run.series_memory_mb; the rest are read and prepared again when a ModelBatch (or a rescore's cell) needs
// them, shared by every batch in flight on the same series, and released when the last of those ends.
// Reading a file again gives the same rows (checked: a file changed during the run fails the cells that
// read it again), so which series were kept changes no result, only memory and time.
#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "experiments/config.hpp"
#include "experiments/corpus.hpp"
#include "experiments/plan.hpp"
#include "experiments/prepare.hpp"

namespace lstmad {

// The bytes of run.series_memory_mb: the value given, or where it is 0 a quarter of this machine's memory
// (the cgroup's limit where that is lower).
std::size_t series_memory_budget(const json& cfg);

// Per series of `plan`: whether one of `todo` is a cell of it (RunSeries' `in_use`).
std::vector<bool> series_in_use(const Plan& plan, const std::vector<const Cell*>& todo);

// What the run reads of a prepared series besides its rows.
struct SeriesFacts {
  std::string path;  // the file, for error messages
  int rows = 0;
  int train_end = 0;
  int input_dims = 1;
  std::vector<std::string> time_features;  // the calendar inputs it got (data.time_features_gate)
  std::vector<LabelWindow> windows;
};

class RunSeries {
 public:
  // Loads and prepares every series of `plan` on `threads` threads, keeping those that fit `keep_bytes`
  // (0: none). `in_use[i]` false: series i has no cell to train or score here (a resume's finished one,
  // another shard's), so only its facts are wanted and it takes none of the budget; empty: all in use.
  // `corpus` and `cfg` must outlive this object: series are read again from them.
  RunSeries(const Plan& plan, const Corpus& corpus, const json& cfg, int threads, std::size_t keep_bytes,
            const std::vector<bool>& in_use = {});
  ~RunSeries();
  RunSeries(const RunSeries&) = delete;
  RunSeries& operator=(const RunSeries&) = delete;

  std::size_t size() const { return entries_.size(); }
  // Series i (plan.series[i]) loaded and prepared; else error(i) says why.
  bool ok(std::size_t i) const;
  const std::string& error(std::size_t i) const;
  double seconds(std::size_t i) const;  // its first load and preparation
  const SeriesFacts& facts(std::size_t i) const;

  // The prepared series i (ok(i) must hold): the copy kept, the one a caller holds now, or one read and
  // prepared again, which the callers holding it share until the last lets it go. DataError naming the
  // file when it no longer reads as it did at the start of the run (or no longer reads).
  std::shared_ptr<const PreparedSeries> get(std::size_t i) const;

  int loaded() const;      // series that loaded and prepared
  int in_use() const;      // of those, series with a cell to run (all of them without `in_use`)
  int kept() const;        // of those, kept in memory for the whole run
  long long rows() const;  // rows of the series that loaded
  int reloads() const;     // times a series was read again so far
  // Every series in use that loaded is kept: none is ever read again, and the cells' scores may stay in
  // memory.
  bool all_kept() const { return all_kept_; }

 private:
  struct Entry;
  const Plan& plan_;
  const Corpus& corpus_;
  const json& cfg_;
  std::vector<std::unique_ptr<Entry>> entries_;
  mutable std::atomic<int> reloads_{0};
  bool all_kept_ = true;
};

}  // namespace lstmad
