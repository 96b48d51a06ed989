// Resuming a run folder whose inputs may have changed since it started: the hashes of the input files,
// what changed against the manifest's record, and the series whose stored cells were computed from other
// bytes than the files now hold (those cells run again; nothing else does).
#pragma once
#include <set>
#include <string>
#include <vector>

#include "experiments/config.hpp"
#include "experiments/corpus.hpp"

namespace lstmad {

// SHA-256 of every input file, keyed by its path relative to the corpus root ("unreadable: ..." for a
// file that cannot be read, which then never equals a recorded hash).
json input_hashes(const Corpus& corpus);

struct InputChanges {
  std::vector<std::string> changed, added, removed;  // paths relative to the corpus root, sorted
  bool empty() const { return changed.empty() && added.empty() && removed.empty(); }
  // "1 changed (data/a.csv), 2 added (data/b.csv, data/c.csv)"; "" when empty.
  std::string summary() const;
  json to_json() const;
};
InputChanges compare_input_hashes(const json& recorded, const json& current);

// The series of `corpus` whose own files changed, or every series when a file they all depend on (the
// label file) changed or was added.
std::set<std::string> series_with_changed_inputs(const Corpus& corpus, const InputChanges& changes);

}  // namespace lstmad
