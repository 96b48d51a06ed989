// NAB's label windows from anomaly points (specs/nab-scoring.md 1.3, the procedure that regenerates
// labels/combined_windows.json from labels/combined_labels.json): a file of n rows with k anomalies gets
// windows of width int(0.10 n / k) rows (Python 2 arithmetic: the product in doubles, then truncation),
// half-width floor(width / 2), centred on each anomaly and clipped to the file; a first window starting
// before NAB's probation length is dropped, and a window overlapping the one before it is merged into it.
// The synthetic corpus labels its anomalies this way, and a CSV corpus can (data.csv.label_windows "nab").
#pragma once
#include <utility>
#include <vector>

namespace lstmad {

// Anomaly points `points` (ascending rows) of a series of `rows` rows -> [start, end] row pairs, both
// inclusive. Exactly NAB's loop, whose index advances after a merge, so a third overlapping window is not
// chained into the first two (no NAB file needs it; tests/test_csv_reader.cpp rebuilds NAB's windows).
std::vector<std::pair<int, int>> nab_windows_from_points(int rows, const std::vector<int>& points);

// The same for anomalies that span rows (a label column's maximal runs of labeled rows, ascending and
// disjoint): k is the number of runs, each run [s, e] becomes [s - h, e + h] clipped, so a one-row run gets
// NAB's window. Overlapping windows all merge, a chain of three or more too, since the scorer needs windows
// that do not overlap; only there can one-row runs give other windows than nab_windows_from_points.
std::vector<std::pair<int, int>> nab_windows_from_runs(int rows,
                                                       const std::vector<std::pair<int, int>>& runs);

}  // namespace lstmad
