// The run folder's results: one atomic JSON file per finished cell (cells/<id>.json), the per-series
// scores in NAB's result layout (nab/<detector>/<category>/<detector>_<file>.csv), and results.csv with
// one row per cell. Every file is written atomically, so a crash loses at most the cells in flight.
#pragma once
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "data/series.hpp"
#include "experiments/config.hpp"
#include "experiments/plan.hpp"

namespace lstmad {

enum class CellStatus { Ok, Error, NonFinite, Timeout };
std::string to_string(CellStatus s);
// The inverse of to_string; Error for any other text.
CellStatus parse_cell_status(const std::string& s);

// JSON has no NaN: non-finite numbers are stored as null (and read back as NaN).
json finite_or_null(double v);
json finite_or_null(const std::vector<double>& values);
// One model's training facts as a cell's `members` list holds them (an ensemble member, or a model a
// rescore averages); loss_curve is left out when null.
json model_facts(uint64_t seed, CellStatus status, int epochs, int best_epoch, double train_loss,
                 double val_loss, const json& loss_curve);

// Appends the shortest text that reads back as exactly `v` (the number form of the NAB-format files).
void append_shortest(std::string& out, double v);

struct CellResult {
  std::string id;
  int index = 0;
  int setting = 0;
  std::string detector;
  std::string series;
  uint64_t seed = 0;
  CellStatus status = CellStatus::Ok;
  std::string error;
  int rows = 0;
  int train_rows = -1;  // the training part (scores and metrics start after it); -1 where not recorded
  int epochs = 0;       // an ensemble's: the members' sum
  int best_epoch = -1;  // an ensemble's: -1 (each member's is in `members`)
  // The MSEs of the epoch whose parameters were kept (best_epoch, else the last one run). An ensemble's:
  // the members' mean. NaN until training reports them (a cell that failed before has none).
  double train_loss = std::numeric_limits<double>::quiet_NaN(), val_loss = std::numeric_limits<double>::quiet_NaN();
  double seconds_prepare = 0, seconds_train = 0, seconds_predict = 0, seconds_total = 0;
  std::vector<std::string> time_features;  // calendar inputs the series' models read (data.time_features_gate)
  std::string engine_fallback;  // "engine (precision)" when engine.fallback trained the cell's models
  json members = json::array();  // ensemble cells: per member {values, seed, status, epochs, best_epoch,
                                 // losses, loss_curve}
  // A single model's per-epoch MSEs, {"train": [...], "val": [...]} (null where non-finite); null when it
  // was not trained (or for an ensemble, whose members carry their own).
  json loss_curve;
  std::vector<std::pair<std::string, double>> metrics;
  std::vector<double> scores;  // per row; kept in memory for the corpus evaluation, not in the JSON

  json to_json() const;
  // `j` as read from `file`: a missing key, a value of another type or an unknown status is a DataError
  // naming the file and the key.
  static CellResult from_json(const json& j, const std::string& file);
};

class ResultsStore {
 public:
  explicit ResultsStore(std::string run_dir);
  const std::string& dir() const { return dir_; }

  void write_cell(const CellResult& r) const;
  // Every finished cell's JSON (unreadable files are skipped with a warning).
  std::vector<CellResult> read_cells() const;
  // NAB-format result file: timestamp,value,anomaly_score[,raw_score],label (value: the raw column-0 value;
  // raw_score: the absolute prediction error per row, NaN where there is none, which `rescore` reuses).
  void write_nab_scores(const std::string& detector, const Series& series, const std::vector<double>& scores,
                        const std::vector<double>* raw_errors = nullptr) const;
  std::string nab_scores_path(const std::string& detector, const std::string& series) const;
  // Reads back columns ("anomaly_score", "raw_score", "value", "label") of a file written by
  // write_nab_scores, in one pass: one vector per column, in the order asked. A row with too few fields
  // or a field that is not wholly a number is a DataError naming the file and line.
  std::vector<std::vector<double>> read_nab_columns(const std::string& detector, const std::string& series,
                                                    const std::vector<std::string>& columns) const;
  std::vector<double> read_nab_column(const std::string& detector, const std::string& series,
                                      const std::string& column) const {
    return read_nab_columns(detector, series, {column})[0];
  }
  std::vector<double> read_nab_scores(const std::string& detector, const std::string& series) const {
    return read_nab_column(detector, series, "anomaly_score");
  }
  // results.csv: one row per cell of the plan, in plan order; cells without a result are absent.
  void write_results_csv(const Plan& plan, const std::vector<CellResult>& cells) const;

 private:
  std::string dir_;
};

}  // namespace lstmad
