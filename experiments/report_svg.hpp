// The inline SVG of the HTML report: a series' values, label windows, anomaly score and detections, and a
// model's loss per epoch. No scripts and no external files, so a report opens offline.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lstmad::report_svg {

// Text for HTML: <, >, & and " as entities.
std::string esc(const std::string& s);
// A number with `digits` decimals; NaN as a dash.
std::string num(double v, int digits = 3);
// A file name as the path of a relative link: bytes other than letters, digits and -._~ percent-encoded
// (a '#', '%', '?' or space in a page's name would otherwise end or change the link).
std::string url_file_name(const std::string& name);

// One series as a detector's NAB-format file holds it.
struct ScoredSeries {
  std::vector<double> value, score;
  std::vector<int> label;
};

// The figure of one series: values (NaN rows left out) with the label windows shaded and the training
// part (`probation` rows) grey; below, the score in [0, 1] with `threshold` dashed and the detections at it
// after the training part (no line nor dots for a NaN threshold). At most one band per half pixel and one
// dot per pixel column: its size stays bounded however long the series.
std::string series_plot(const std::string& title, const ScoredSeries& s, double threshold, int probation);

// The model's training curve from its cell's loss_curve: the training MSE (blue) and the validation MSE
// (orange) per epoch, the kept epoch dashed. Empty when the cell recorded no curve (an ensemble's cell,
// whose members carry theirs, or a run made before cells recorded it).
std::string loss_plot(const nlohmann::json& cell);

}  // namespace lstmad::report_svg
