// The NASA SMAP/MSL telemetry set (Hundman et al. 2018) in its published layout:
//   <root>/train/<chan>.npy, <root>/test/<chan>.npy   float64 (n, k): column 0 the telemetry value,
//                                                      the other columns one-hot command flags
//   <root>/labeled_anomalies.csv                       chan_id, spacecraft, anomaly_sequences, class,
//                                                      num_values; anomaly_sequences is a list of
//                                                      inclusive [start, end] row ranges into the test array
// A channel may have several label rows (their sequences are combined) or none (no anomalies). Each
// channel becomes a train and a test Series (rows x k values, timestamps synthesized as one second per
// row from 1970-01-01 00:00:00 so NAB-format writers work) with the test windows from the sequences.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "data/series.hpp"

namespace lstmad {

struct NasaLabelRow {
  std::string chan_id;
  std::string spacecraft;
  std::vector<std::pair<int, int>> sequences;  // inclusive row ranges, as listed
  std::string anomaly_class;                   // the "class" text as written, e.g. "[point, contextual]"
  long num_values = -1;                        // -1 when the column is absent or empty
  std::string file;                            // the CSV it came from
  long line = 0;                               // 1-based line where the row starts
};

// Parses labeled_anomalies.csv (RFC 4180 quoting, LF or CRLF). Columns chan_id, spacecraft and
// anomaly_sequences are required, class and num_values optional, in any order. DataError naming the
// file and line for a bad header, a wrong field count or a sequence that is not a list of [start, end]
// integer pairs with 0 <= start <= end.
std::vector<NasaLabelRow> read_nasa_labels(const std::string& csv_path);
std::vector<NasaLabelRow> parse_nasa_labels(const std::string& text, const std::string& csv_path);

struct NasaChannel {
  std::string chan_id;
  std::string spacecraft;  // from the label rows; "" when the channel has none
  Series train;            // no windows
  Series test;             // windows from the channel's sequences (sorted, overlapping ones merged)
};

// The channels with a test file under root/test, sorted. With spacecraft "SMAP" or "MSL", only channels
// whose label rows name that spacecraft (channels without a label row are left out). IoError when
// root/test is missing; Error for another spacecraft name.
std::vector<std::string> list_nasa_channels(const std::string& root, const std::string& spacecraft = "");

// Loads one channel. Series::name is "<spacecraft>/<chan>.csv" ("unlabeled/<chan>.csv" without a label
// row) for both parts; Series::path tells the train and test files apart. DataError when the files'
// column counts differ, or (naming the CSV, its line and the channel) when a sequence lies outside the
// test rows.
// The events a channel is scored on: the sequences of all its label rows, sorted, overlapping ones merged
// into one (inclusive [start, end] rows of the test array).
std::vector<std::pair<int, int>> nasa_events(const std::vector<NasaLabelRow>& labels,
                                             const std::string& chan_id);

NasaChannel load_nasa_channel(const std::string& root, const std::string& chan_id,
                              const std::vector<NasaLabelRow>& labels);

// Every listed channel (see list_nasa_channels), labels read from root/labeled_anomalies.csv.
std::vector<NasaChannel> load_nasa(const std::string& root, const std::string& spacecraft = "");

}  // namespace lstmad
