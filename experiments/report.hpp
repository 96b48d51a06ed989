// The HTML report of a run folder: one self-contained file (inline CSS and SVG, no scripts, no network)
// with the summary tables (NAB scores by profile, per-series metrics, timings, failures with their
// messages) and, per series, a plot of the values with the label windows, the anomaly score and the
// detections at the detector's NAB threshold (standard profile).
#pragma once
#include <string>

namespace lstmad {

// Writes the report of `run_dir` to `out_file` (default run_dir/report.html); returns the path. What is
// wrong with the run folder is said in the page and as a warning on stderr; `run_own` (the run's own
// report, at its end) leaves out the warning of cells without a result, which the run has given already.
std::string write_report(const std::string& run_dir, const std::string& out_file = "",
                         const std::string& detector = "", bool run_own = false);

}  // namespace lstmad
