// NAB label files and corpus layout: labels/combined_windows.json maps each corpus-relative data path
// ("realKnownCause/nyc_taxi.csv") to a list of [start, end] timestamp strings, both ends inclusive. Each end
// must equal exactly one row's timestamp; a missing or repeated edge is a DataError naming the file and
// the timestamp (as NAB raises).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "data/series.hpp"

namespace lstmad {

using WindowTexts = std::vector<std::pair<std::string, std::string>>;

// Reads a combined_windows.json-style file: {relpath: [[start, end], ...]}. A file that is no such object
// is a DataError. A series whose entry is malformed (not a list of [start, end] strings) is one too, unless
// `malformed` is given: then its message goes there under the series' key, and the others are read, so
// that a runner can fail that series alone.
std::map<std::string, WindowTexts> read_label_windows(
    const std::string& path, std::map<std::string, std::string>* malformed = nullptr);
// Writes one (used by the synthetic corpus); keys sorted, windows in the given order.
std::string label_windows_json(const std::map<std::string, WindowTexts>& windows);

// Maps window timestamps to row indices of `series` and stores them in series.windows.
void attach_windows(Series& series, const WindowTexts& windows);

// The corpus-relative paths of every data/<category>/<name>.csv under root, sorted.
std::vector<std::string> list_corpus_files(const std::string& root);

// Reads root/data/<relpath> and attaches its windows from `labels` (absent key: no windows).
Series load_corpus_series(const std::string& root, const std::string& relpath,
                          const std::map<std::string, WindowTexts>& labels);

}  // namespace lstmad
