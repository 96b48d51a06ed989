// NAB v1.1 scoring of per-row anomaly scores (../shared/specs/nab-scoring.md, section 2): the scaled
// sigmoid, each row's sweep score, the threshold sweep over one file or a pooled corpus, the exhaustive
// threshold optimizer, scoring at a fixed threshold per file, and normalization to 0..100.
//
// Shapes: a file of n rows has n anomaly scores (row order = file order, never sorted) and its label
// windows as inclusive row ranges. The first probation_length(n) rows are never scored. Everything here
// works on rows only; reading NAB's folders lives in eval/nab_corpus.hpp.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/series.hpp"

namespace lstmad {

// An application profile: the weights of a true positive, false negative and false positive (NAB's
// CostMatrix). tn_weight is kept because profiles.json has it; NAB never uses it.
struct NabProfile {
  std::string name;
  double tp_weight = 1.0, fn_weight = 1.0, fp_weight = 0.11, tn_weight = 1.0;
};

// NAB's three profiles in NAB's order: standard, reward_low_FP_rate, reward_low_FN_rate.
std::vector<NabProfile> nab_default_profiles();
// A profiles.json-style document {name: {"CostMatrix": {tpWeight, fnWeight, fpWeight, tnWeight}}}, in the
// document's key order. DataError naming `source` for anything else.
std::vector<NabProfile> nab_parse_profiles(const std::string& json_text, const std::string& source);
std::vector<NabProfile> nab_read_profiles(const std::string& path);

// S(x) = 2/(1+exp(5x)) - 1, and exactly -1 for x > 3.
double nab_scaled_sigmoid(double x);
// S(-1): the unweighted score of a detection at a window's first row.
double nab_max_tp();

// One file of a detector: the corpus-relative path, the row count, the label windows as rows (ordered,
// non-overlapping, inside [0, rows)) and one anomaly score per row.
struct NabFileInput {
  std::string relpath;
  int rows = 0;
  std::vector<LabelWindow> windows;
  std::vector<double> scores;
  std::vector<int64_t> time_us;  // the data file's row times, where read from it (lstmad nab); else empty
};

// Checks the invariants above; DataError naming relpath (and the row, for a NaN or infinite score).
void nab_validate(const NabFileInput& file);

// The sweep score of every row (the S(t)_<profile> column of NAB's result files): what the row would add
// if it were a detection. Probationary rows get theirs as if they were scorable.
std::vector<double> nab_row_sweep_scores(int rows, const std::vector<LabelWindow>& windows,
                                         const NabProfile& profile);

// One point of the sweep: every scorable row with score >= threshold detected. Counts are rows.
struct NabSweepEntry {
  double threshold = 0.0;
  double score = 0.0;
  long tp = 0, tn = 0, fp = 0, fn = 0;
};

// The full sweep over the pooled scorable rows of `files`, in descending threshold order; the first entry
// is 1.1 with no detections.
std::vector<NabSweepEntry> nab_sweep(const std::vector<NabFileInput>& files, const NabProfile& profile);

// Windows that have at least one scorable row: the N_win of normalization. A window lying entirely in the
// probationary rows can be neither detected nor missed, so it counts in neither S_null nor S_perfect.
long nab_window_count(const std::vector<NabFileInput>& files);
// 100 (raw - S_null) / (S_perfect - S_null), S_null = -fnW N_win, S_perfect = tpW N_win. NaN when
// N_win = 0 (nothing to detect).
double nab_normalize(double raw, const NabProfile& profile, long windows);

// The corpus-wide best threshold of one profile: exhaustive over every distinct score, ties to the highest
// threshold; nab_score_at at that threshold detects the same rows (the start entry, nothing detected, is
// reported above every score where scores of 1.1 or more exist). raw_score is the corpus total at that
// threshold, normalized its 0..100 value.
struct NabThresholdResult {
  std::string profile;
  double threshold = 0.0;
  double raw_score = 0.0;
  double normalized = 0.0;
  long tp = 0, tn = 0, fp = 0, fn = 0;
};

// One result per profile, in the order of `profiles`.
std::vector<NabThresholdResult> nab_optimize(const std::vector<NabFileInput>& files,
                                             const std::vector<NabProfile>& profiles);

// One row of a <detector>_<profile>_scores.csv file. total_count is every row of the file, probation
// included (as in NAB's checked-in summary files).
struct NabFileScore {
  std::string file;
  double threshold = 0.0;
  double score = 0.0;
  long tp = 0, tn = 0, fp = 0, fn = 0, total_count = 0;
};

// A detector scored at a fixed threshold for one profile: per-file rows (in input order), their plain
// sums, and the normalized total.
struct NabProfileScores {
  std::string profile;
  double threshold = 0.0;
  std::vector<NabFileScore> files;
  NabFileScore totals;  // file = "Totals"
  long windows = 0;     // N_win used for `normalized`
  double normalized = 0.0;
};

// Per file: the sweep entry whose threshold is the smallest observed score >= threshold (NAB's pick), so
// detections are {score >= threshold} also where NAB finds no entry or another one: a threshold below
// every score of a file takes the last entry (all detected), one above 1.1 the entry of the smallest score
// >= it, if any, else none detected; 1.1 itself where scores above 1.1 exist takes {score >= 1.1} (NAB
// takes its start entry, nothing detected). A NaN threshold is a ConfigError.
NabProfileScores nab_score_at(const std::vector<NabFileInput>& files, const NabProfile& profile,
                              double threshold);
// Every profile at thresholds[profile.name]; a profile missing from `thresholds` is a ConfigError.
std::vector<NabProfileScores> nab_score_at(const std::vector<NabFileInput>& files,
                                           const std::vector<NabProfile>& profiles,
                                           const std::map<std::string, double>& thresholds);

// NAB's summary file: header Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count, one row per
// file, then Totals,,,,<sum>,... Numbers as Python's repr writes them.
std::string nab_scores_csv(const std::string& detector, const NabProfileScores& scores);
// Shortest text that reads back as the same double, in Python's repr layout ("2.0", "1e-05", "-0.22").
std::string nab_format_number(double v);

}  // namespace lstmad
