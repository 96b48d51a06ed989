// NAB's folders, for the scorer: the corpus (data/<category>/<name>.csv plus a windows file such as
// labels/combined_windows.json, windows mapped to rows), profiles, thresholds.json, detectors' result files
// (results/<detector>/<category>/<detector>_<name>.csv, read by their anomaly_score column), and the batch
// scoring of a whole results folder that `lstmad nab score` and `lstmad nab optimize` run.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "eval/nab_scorer.hpp"

namespace lstmad {

// The files a windows file names, each with its row count and windows as rows; `scores` left empty.
struct NabCorpus {
  std::string root;
  std::string windows_path;
  std::vector<NabFileInput> files;  // sorted by relpath
  long window_count() const { return nab_window_count(files); }
};

// Loads root/data/<key> for every key of the windows file (default root/labels/combined_windows.json) and
// maps its windows to rows (attach_windows: a window edge missing from, or repeated in, the data is a
// DataError). A key without a data file is a DataError.
NabCorpus nab_load_corpus(const std::string& nab_root, const std::string& windows_path = "");

// profiles_path when given, else root/config/profiles.json when present, else nab_default_profiles().
std::vector<NabProfile> nab_load_profiles(const std::string& nab_root, const std::string& profiles_path = "");

// results_dir/<detector>/<category>/<detector>_<name>.csv for relpath "<category>/<name>.csv".
std::string nab_result_path(const std::string& results_dir, const std::string& detector,
                            const std::string& relpath);

// The anomaly_score column (found by name) of a detector result CSV with exactly expected_rows data rows.
// A missing column, a column named twice, a row with more or fewer fields than the header, an empty,
// NaN, infinite or non-numeric score, a row count other than expected_rows, or (with expected_time_us,
// the data file's times) a timestamp column whose row is not the data file's time at that row is a
// DataError naming the file, its line and the data row.
std::vector<double> nab_read_result_scores(const std::string& path, int expected_rows,
                                           const std::vector<int64_t>* expected_time_us = nullptr);
std::vector<double> nab_parse_result_scores(const std::string& text, const std::string& path,
                                            int expected_rows,
                                            const std::vector<int64_t>* expected_time_us = nullptr);

// The corpus files with this detector's scores filled in (their row times left empty: the corpus holds them).
std::vector<NabFileInput> nab_load_detector(const NabCorpus& corpus, const std::string& results_dir,
                                            const std::string& detector);

// Sub-folders of results_dir (one per detector), sorted.
std::vector<std::string> nab_list_detectors(const std::string& results_dir);

// thresholds.json: {detector: {profile: {"threshold": t, ...}}}.
using NabThresholds = std::map<std::string, std::map<std::string, double>>;
NabThresholds nab_read_thresholds(const std::string& path);
NabThresholds nab_parse_thresholds(const std::string& json_text, const std::string& source);

struct NabBatchOptions {
  std::string nab_root;                // data/, labels/, config/
  std::string results_dir;             // <detector>/<category>/<detector>_<name>.csv
  std::string thresholds_path;         // score mode only
  std::string windows_path;            // default nab_root/labels/combined_windows.json
  std::string profiles_path;           // default nab_root/config/profiles.json, else the built-in three
  std::string write_scores_dir;        // when set: <dir>/<detector>/<detector>_<profile>_scores.csv
  std::vector<std::string> detectors;  // empty: every folder of results_dir
};

// One detector's outcome. error is set (and the results empty) when its files could not be scored.
struct NabDetectorReport {
  std::string detector;
  std::string error;
  std::vector<NabProfileScores> scores;     // at the given (score) or the best (optimize) thresholds
  std::vector<NabThresholdResult> optimum;  // optimize mode only
  bool ok() const { return error.empty(); }
};

// Score mode: every detector at its thresholds.json thresholds. Optimize mode: every detector's corpus-wide
// best threshold per profile. Problems with one detector's files (DataError, IoError, a detector or profile
// missing from thresholds.json) are logged and reported in its NabDetectorReport; the others are still
// scored. Problems with the corpus, profiles or thresholds file themselves throw.
std::vector<NabDetectorReport> nab_score_results(const NabBatchOptions& options);
std::vector<NabDetectorReport> nab_optimize_results(const NabBatchOptions& options);
// Same, on a corpus already loaded (the benchmark and tests reuse one).
std::vector<NabDetectorReport> nab_score_results(const NabBatchOptions& options, const NabCorpus& corpus,
                                                 const std::vector<NabProfile>& profiles, bool optimize);

// {detector: {profile: normalized}} as final_results.json (sorted keys, 4-space indent); failed detectors
// are left out.
std::string nab_results_json(const std::vector<NabDetectorReport>& reports);
// {detector: {profile: {"threshold": t, "score": raw, "normalized": n}}}: thresholds.json's shape (so it can
// be fed back to score mode) plus the normalized score.
std::string nab_thresholds_json(const std::vector<NabDetectorReport>& reports);

}  // namespace lstmad
