// The HTML report of a run folder: one self-contained file (inline CSS and SVG, no scripts, no network)
// with the summary tables (NAB scores by profile, a grid's detectors side by side, per-series metrics,
// timings, failures with their messages) and, per series, a plot of the values with the label windows, the
// anomaly score and the detections at the detector's NAB threshold (standard profile).
#pragma once
#include <string>

namespace lstmad {

struct ReportOptions {
  std::string out_file;  // default run_dir/report.html
  std::string detector;  // the detector to plot; default the best NAB standard score
  // Plots per page: page 1 is out_file (the tables, then the first plots), page k is <stem>-<k>.html
  // beside it; 0 puts every plot on one page. A report of thousands of series on one page is tens of
  // megabytes, which a browser opens slowly if at all.
  int per_page = 100;
  // The run's own report, at its end: leaves out the warning of cells without a result, which the run has
  // given already.
  bool run_own = false;
};

// Writes the report of `run_dir`; returns the path of its first page. What is wrong with the run folder
// is said in the page and as a warning on stderr.
std::string write_report(const std::string& run_dir, const ReportOptions& options = {});

}  // namespace lstmad
