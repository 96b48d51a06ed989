// Where a run's series come from: the built-in synthetic corpus (generated into the run folder), a NAB-
// layout folder, NASA SMAP/MSL channels, the UCR anomaly archive, or a folder of labeled CSV files. Resolves the root, lists and filters the series, and loads
// one series with its label windows. Load errors belong to that series only.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/csv_reader.hpp"
#include "data/labels.hpp"
#include "data/nasa.hpp"
#include "data/series.hpp"
#include "data/ucr.hpp"
#include "experiments/config.hpp"

namespace lstmad {

struct Corpus {
  std::string format;                        // "synthetic" | "nab" | "nasa" | "ucr" | "csv"
  std::string root;
  std::string windows_file;                  // NAB layout: the labels file used
  std::vector<std::string> series;           // corpus-relative ids, sorted, after data.files / max_files
  std::map<std::string, WindowTexts> labels;
  std::map<std::string, std::string> malformed_labels;  // NAB layout: series whose label entry is malformed
  int total_windows = 0;                     // windows of the selected series (NAB normalisation)
  std::string spacecraft;                    // nasa filter
  std::vector<NasaLabelRow> nasa_labels;     // nasa: labeled_anomalies.csv rows
  std::map<std::string, std::string> files_by_id;  // ucr, csv: id -> path under root
  CsvColumns csv_columns;                    // csv: the columns' roles
  // A synthetic corpus generated for a command that only reads its run, where the run's own copy was
  // missing or differed: a scratch folder, removed with the last copy of this Corpus. `root` is then the
  // scratch folder and `run_root` the run's own corpus folder, which a manifest records (the scratch
  // folder is gone once the command ends).
  std::shared_ptr<const std::string> scratch;
  std::string run_root;

  // Loads one series; for NASA the train rows are followed by the test rows (train_rows says where); for
  // UCR train_rows is the training part its file name gives.
  Series load(const std::string& id, int* train_rows = nullptr) const;
  // Files whose bytes define the inputs (for the manifest's hashes): the shared ones, then each series'.
  std::vector<std::string> input_files() const;
  // The files every series depends on (a label file), and those of series `id` alone.
  std::vector<std::string> shared_files() const;
  std::vector<std::string> files_of(const std::string& id) const;
};

// The column roles of a data.format "csv" corpus (data.csv.*).
CsvColumns csv_columns_of(const json& resolved);

// Finds the NAB corpus: data.root, else $NAB_ROOT, else ../shared/nab (from the working folder or the
// source tree). Returns "" when none is found; a NAB_ROOT that is set and names no corpus is a ConfigError.
std::string default_nab_root();

// `run_dir` receives the synthetic corpus when data.format is "synthetic". With `read_only` (a command
// that only reads the run: rescore, detect) nothing is written there: the run's corpus is used as it is
// when it holds exactly the generated files, else the corpus is generated into a scratch folder.
Corpus resolve_corpus(const json& resolved, const std::string& run_dir, bool read_only = false);

// The series of `all` (corpus ids) that data.files and data.max_files select, sorted, as a run takes
// them; a plain data.files path that names no id is kept (its cells fail with the reason). ConfigError
// naming `root` when none is left.
std::vector<std::string> select_corpus_series(const std::vector<std::string>& all, const json& cfg,
                                              const std::string& root);

// Shell-style pattern match (`*`, `?`) of a corpus id against a data.files entry.
bool corpus_pattern_match(const std::string& pattern, const std::string& id);

}  // namespace lstmad
