#include "experiments/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "data/csv_fields.hpp"
#include "data/series.hpp"
#include "experiments/config.hpp"
#include "experiments/results.hpp"

namespace lstmad {
namespace fs = std::filesystem;

namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string num(double v, int digits = 3) {
  if (std::isnan(v)) return "&ndash;";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// A run's results.csv, split by the project's RFC 4180 splitter (data/csv_fields.hpp). The run writes it
// atomically, so a damaged file was edited by hand: its rows before the damage are kept and the rest is
// named in a warning, as the report does for the other files it reads.
std::vector<std::vector<std::string>> parse_csv(const std::string& text, const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  CsvRecord rec;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    if (split_csv_record(text, pos, rec) != CsvSplit::Ok) {
      const long line = 1 + static_cast<long>(std::count(
                                text.begin(), text.begin() + static_cast<std::ptrdiff_t>(start), '\n'));
      log::warn("report: " + path + " line " + std::to_string(line) +
                ": not a CSV record (an unclosed quote or text after one); the rows from it on are left out");
      break;
    }
    if (rec.fields.size() == 1 && rec.fields[0].empty()) continue;  // a blank line
    rows.emplace_back(rec.fields.begin(), rec.fields.end());
  }
  return rows;
}

struct ScoredSeries {
  std::vector<double> value, score;
  std::vector<int> label;
};

// A detector's file of one series, read as strictly as the run's own NAB scoring reads it (a damaged row
// names the file and line).
ScoredSeries read_scored(const ResultsStore& store, const std::string& detector, const std::string& series) {
  auto columns = store.read_nab_columns(detector, series, {"value", "anomaly_score", "label"});
  ScoredSeries s;
  s.value = std::move(columns[0]);
  s.score = std::move(columns[1]);
  for (double v : columns[2]) s.label.push_back(v != 0);
  return s;
}

// A polyline of min/max per pixel column, so a 20k-row series stays a small path.
std::string polyline(const std::vector<double>& y, double lo, double hi, double x0, double width, double y0,
                     double height, const char* color) {
  const size_t n = y.size();
  if (n == 0) return "";
  const size_t cols = std::min<size_t>(n, static_cast<size_t>(width));
  std::ostringstream os;
  os << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1\" points=\"";
  auto ypix = [&](double v) {
    double t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    return y0 + height - t * height;
  };
  for (size_t c = 0; c < cols; ++c) {
    size_t a = c * n / cols, b = std::max(a + 1, (c + 1) * n / cols);
    double mn = y[a], mx = y[a];
    for (size_t i = a; i < b; ++i) {
      if (std::isnan(y[i])) continue;
      mn = std::min(mn, y[i]);
      mx = std::max(mx, y[i]);
    }
    double x = x0 + width * static_cast<double>(c) / static_cast<double>(cols);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f,%.1f %.1f,%.1f ", x, ypix(mx), x, ypix(mn));
    os << buf;
  }
  os << "\"/>";
  return os.str();
}

std::string plot(const std::string& title, const ScoredSeries& s, double threshold, int probation) {
  const double W = 900, H1 = 150, H2 = 70, L = 40;
  const size_t n = s.value.size();
  double lo = 1e300, hi = -1e300;
  for (double v : s.value)
    if (!std::isnan(v)) { lo = std::min(lo, v); hi = std::max(hi, v); }
  auto xpix = [&](size_t i) { return L + W * static_cast<double>(i) / std::max<double>(1.0, static_cast<double>(n)); };
  std::ostringstream os;
  os << "<figure class=\"series\"><figcaption>" << esc(title) << "</figcaption>"
     << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W + L + 10 << "\" height=\"" << H1 + H2 + 30
     << "\" role=\"img\" aria-label=\"" << esc(title) << "\">";
  // Label windows (shaded), the probationary part (hatched grey).
  os << "<rect x=\"" << L << "\" y=\"5\" width=\"" << xpix(static_cast<size_t>(probation)) - L << "\" height=\""
     << H1 + H2 + 10 << "\" fill=\"#eeeeee\"/>";
  for (size_t i = 0; i < n;) {
    if (!s.label[i]) { ++i; continue; }
    size_t j = i;
    while (j < n && s.label[j]) ++j;
    os << "<rect class=\"window\" x=\"" << xpix(i) << "\" y=\"5\" width=\"" << std::max(1.0, xpix(j) - xpix(i))
       << "\" height=\"" << H1 + H2 + 10 << "\" fill=\"#ffd6d6\"/>";
    i = j;
  }
  os << polyline(s.value, lo, hi, L, W, 5, H1, "#1f4e9c");
  os << polyline(s.score, 0.0, 1.0, L, W, H1 + 15, H2, "#555555");
  if (!std::isnan(threshold)) {
    double ty = H1 + 15 + H2 - threshold * H2;
    os << "<line x1=\"" << L << "\" x2=\"" << L + W << "\" y1=\"" << ty << "\" y2=\"" << ty
       << "\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>";
    for (size_t i = static_cast<size_t>(probation); i < n; ++i)
      if (s.score[i] >= threshold)
        os << "<circle class=\"detection\" cx=\"" << xpix(i) << "\" cy=\"" << H1 + 12 << "\" r=\"3\" fill=\"#c00\"/>";
  }
  os << "<text x=\"2\" y=\"15\" font-size=\"10\">" << num(hi, 2) << "</text><text x=\"2\" y=\"" << H1
     << "\" font-size=\"10\">" << num(lo, 2) << "</text><text x=\"2\" y=\"" << H1 + 25
     << "\" font-size=\"10\">score</text></svg></figure>\n";
  return os.str();
}

// The model's training curve from its cell's loss_curve: the training MSE (blue) and the validation MSE
// (orange) per epoch, the kept epoch dashed. Empty when the cell recorded no curve (an ensemble's cell,
// whose members carry theirs, or a run made before cells recorded it).
std::string loss_plot(const json& cell) {
  if (!cell.contains("loss_curve") || !cell["loss_curve"].is_object()) return "";
  std::vector<double> curves[2];
  const char* keys[2] = {"train", "val"};
  double lo = 1e300, hi = -1e300;
  size_t epochs = 0;
  for (int k = 0; k < 2; ++k) {
    const json& c = cell["loss_curve"].value(keys[k], json::array());
    for (const auto& v : c) curves[k].push_back(v.is_number() ? v.get<double>() : std::nan(""));
    for (double v : curves[k])
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    epochs = std::max(epochs, curves[k].size());
  }
  if (epochs == 0 || lo > hi) return "";
  const double W = 300, H = 80, L = 40, T = 5;
  auto x = [&](size_t e) {
    return L + (epochs > 1 ? W * static_cast<double>(e) / static_cast<double>(epochs - 1) : W / 2);
  };
  auto y = [&](double v) { return T + H - (hi > lo ? (v - lo) / (hi - lo) : 0.5) * H; };
  std::ostringstream os;
  os << "<figure class=\"loss\"><figcaption>training: MSE per epoch (training blue, validation orange; the "
        "kept "
        "epoch dashed)</figcaption>"
     << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W + L + 10 << "\" height=\"" << H + 25
     << "\" role=\"img\" aria-label=\"loss per epoch\">";
  const int best = cell.value("best_epoch", -1);
  if (best >= 0 && static_cast<size_t>(best) < epochs)
    os << "<line class=\"kept-epoch\" x1=\"" << x(static_cast<size_t>(best)) << "\" x2=\""
       << x(static_cast<size_t>(best)) << "\" y1=\"" << T << "\" y2=\"" << T + H
       << "\" stroke=\"#888\" stroke-dasharray=\"3 3\"/>";
  const char* colors[2] = {"#1f4e9c", "#e07b00"};
  for (int k = 0; k < 2; ++k) {
    if (curves[k].empty()) continue;
    os << "<polyline class=\"" << keys[k] << "-loss\" fill=\"none\" stroke=\"" << colors[k] << "\" points=\"";
    for (size_t e = 0; e < curves[k].size(); ++e)
      if (std::isfinite(curves[k][e])) os << num(x(e), 1) << "," << num(y(curves[k][e]), 1) << " ";
    os << "\"/>";
  }
  auto mse = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return std::string(buf);
  };
  os << "<text x=\"2\" y=\"" << T + 10 << "\" font-size=\"10\">" << mse(hi) << "</text><text x=\"2\" y=\""
     << T + H << "\" font-size=\"10\">" << mse(lo) << "</text><text x=\"" << L << "\" y=\"" << T + H + 15
     << "\" font-size=\"10\">epoch 1</text><text x=\"" << L + W - 40 << "\" y=\"" << T + H + 15
     << "\" font-size=\"10\">epoch " << epochs << "</text></svg></figure>\n";
  return os.str();
}

// A run's results.csv, read by column name.
struct ResultsTable {
  std::vector<std::vector<std::string>> rows;  // rows[0] is the header
  std::map<std::string, int> col;
  explicit ResultsTable(const std::string& path) {
    if (files::exists(path)) rows = parse_csv(files::read(path), path);
    if (!rows.empty())
      for (size_t i = 0; i < rows[0].size(); ++i) col[rows[0][i]] = static_cast<int>(i);
  }
  // Row i's value in column `name` ("" where it has none).
  std::string get(size_t i, const std::string& name) const {
    auto it = col.find(name);
    const auto& row = rows[i];
    return it == col.end() || static_cast<size_t>(it->second) >= row.size() ? "" : row[static_cast<size_t>(it->second)];
  }
  size_t size() const { return rows.size(); }
};

// The detector to plot: the given one, else the best by NAB standard score, else the first with results.
// A given name the run does not hold (a typo) would give a report without plots: refused, naming those it
// has.
std::string choose_detector(const std::string& run_dir, const std::string& given, const json& scores,
                            const std::string& scores_file, const ResultsTable& results) {
  std::string detector = given;
  bool in_results = false;  // a detector of the run whose cells all failed has rows but no NAB files
  for (size_t i = 1; i < results.size(); ++i) in_results |= results.get(i, "detector") == detector;
  if (!detector.empty() && !in_results && !fs::is_directory(fs::path(run_dir) / "nab" / detector)) {
    // Every detector the run holds: those of its cells (a detector whose cells all failed has no NAB
    // files) and those with NAB files.
    std::vector<std::string> names;
    for (size_t i = 1; i < results.size(); ++i) names.push_back(results.get(i, "detector"));
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(run_dir) / "nab", ec))
      if (e.is_directory()) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    names.erase(std::remove(names.begin(), names.end(), std::string()), names.end());
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw ConfigError("--detector " + detector + ": no such detector in " + run_dir +
                      " (it has: " + (list.empty() ? std::string("none") : list) + ")");
  }
  if (detector.empty()) {
    double best = -1e300;
    for (auto it = scores.begin(); it != scores.end(); ++it)
      if (it.value().contains("standard") &&
          json_get<double>(scores, {it.key(), "standard"}, scores_file) > best) {
        best = json_get<double>(scores, {it.key(), "standard"}, scores_file);
        detector = it.key();
      }
    if (detector.empty() && results.size() > 1) detector = results.get(1, "detector");
  }
  return detector;
}

// How many of the run's cells finished, from its summary.json; an unfinished run (cells missing, or no
// summary at all: killed before its tables) is said in the report and on stderr.
// `run_own`: the report a run writes at its end, whose missing cells (an interrupt, a shard) the run has
// already named with the command that finishes them: said in the page only, not again on stderr.
void cells_line(std::ostringstream& h, const std::string& run_dir, bool run_own) {
  const std::string summary_file = run_dir + "/summary.json";
  if (!files::exists(summary_file)) {
    const std::string what = run_dir +
                             ": no summary.json (a run stopped before it wrote its tables); "
                             "finish it with lstmad run --resume " +
                             run_dir;
    log::warn("report: " + what);
    h << "<p class=\"err\">" << esc(what) << "</p>\n";
    return;
  }
  const json summary = read_json_file(summary_file);
  const auto count = [&](const char* key) { return json_get<long>(summary, {key}, summary_file); };
  const long cells = count("cells"), ok = count("ok"), failed = count("failed"), missing = count("missing");
  h << "<p>Cells: " << cells << " (" << ok << " OK, " << failed << " failed, " << missing
    << " without a result).</p>\n";
  if (missing > 0) {
    const std::string what = std::to_string(missing) + " of " + std::to_string(cells) +
                             " cells have no result (an unfinished run, or one shard of it): finish it with "
                             "lstmad run --resume " +
                             run_dir + " (or merge its shards)";
    if (!run_own) log::warn("report: " + run_dir + ": " + what);
    h << "<p class=\"err\">" << esc(what) << "</p>\n";
  }
}

// The NAB scores table.
void scores_section(std::ostringstream& h, const json& scores, const std::string& scores_file) {
  // A column per profile scored: NAB's three in NAB's order, then those of an eval.profiles file.
  std::vector<std::string> profiles{"standard", "reward_low_FP_rate", "reward_low_FN_rate"};
  bool nab_three = scores.empty();
  std::set<std::string> own;
  for (auto it = scores.begin(); it != scores.end(); ++it)
    for (auto p = it.value().begin(); it.value().is_object() && p != it.value().end(); ++p) {
      if (std::find(profiles.begin(), profiles.begin() + 3, p.key()) != profiles.begin() + 3)
        nab_three = true;
      else
        own.insert(p.key());
    }
  if (!nab_three) profiles.clear();
  profiles.insert(profiles.end(), own.begin(), own.end());
  h << "<h2>NAB scores</h2><table><tr><th>detector</th>";
  for (const auto& p : profiles) h << "<th>" << esc(p) << "</th>";
  h << "</tr>\n";
  for (auto it = scores.begin(); it != scores.end(); ++it) {
    h << "<tr><td class=\"l\">" << esc(it.key()) << "</td>";
    for (const auto& p : profiles)
      h << "<td>"
        << (it.value().contains(p) ? num(json_get<double>(scores, {it.key(), p}, scores_file), 2) : "&ndash;")
        << "</td>";
    h << "</tr>\n";
  }
  if (scores.empty())
    h << "<tr><td class=\"l\" colspan=\"" << profiles.size() + 1
      << "\">no NAB scores in this run</td></tr>\n";
  h << "</table>\n";
}

// The settings of the run's config.json that the report shows or uses, each type-checked (an edited file
// is named with its key, not read as a default).
struct ReportConfig {
  std::string engine, precision, seed, format;
  double train_fraction = 0;  // 0: NAB's probationary part
};

ReportConfig read_report_config(const json& cfg, const std::string& file) {
  ReportConfig c;
  c.engine = json_get<std::string>(cfg, {"engine", "name"}, file);
  c.precision = json_get<std::string>(cfg, {"engine", "precision"}, file);
  c.seed = std::to_string(json_get<uint64_t>(cfg, {"run", "seed"}, file));
  c.format = json_get<std::string>(cfg, {"data", "format"}, file);
  c.train_fraction = json_get_or<double>(cfg, {"data", "train_fraction"}, file, 0.0);
  return c;
}

// Per-series metrics and timings; failures with their messages.
void results_section(std::ostringstream& h, const ReportConfig& cfg, const ResultsTable& results) {
  std::vector<std::string> metric_cols = {"roc_auc", "pr_auc", "best_f1", "event_f1", "vus_pr"};
  if (cfg.format == "ucr") metric_cols.push_back("ucr_score");
  h << "<h2>Per-series results</h2><table><tr><th>detector</th><th>series</th><th>status</th>";
  for (const auto& m : metric_cols) h << "<th>" << m << "</th>";
  h << "<th>epochs</th><th>train s</th><th>predict s</th></tr>\n";
  std::ostringstream failures;
  for (size_t i = 1; i < results.size(); ++i) {
    auto get = [&](const std::string& name) { return results.get(i, name); };
    h << "<tr><td class=\"l\">" << esc(get("detector")) << "</td><td class=\"l\">" << esc(get("series"))
      << "</td><td>" << esc(get("status")) << "</td>";
    for (const auto& m : metric_cols) {
      std::string v = get(m);
      h << "<td>" << (v.empty() || v == "nan" ? "&ndash;" : num(std::strtod(v.c_str(), nullptr))) << "</td>";
    }
    h << "<td>" << esc(get("epochs")) << "</td><td>"
      << num(std::strtod(get("seconds_train").c_str(), nullptr), 2) << "</td><td>"
      << num(std::strtod(get("seconds_predict").c_str(), nullptr), 2) << "</td></tr>\n";
    if (get("status") != "OK")
      failures << "<li><b>" << esc(get("series")) << "</b> (" << esc(get("detector")) << ", "
               << esc(get("status")) << "): <span class=\"err\">" << esc(get("error")) << "</span></li>\n";
  }
  h << "</table>\n<h2>Failures</h2>";
  std::string f = failures.str();
  h << (f.empty() ? "<p>none</p>\n" : "<ul>" + f + "</ul>\n");
}

// A plot of each series `detector` scored (values, labels, training part; scores, threshold, detections)
// and its training curve.
void plots_section(std::ostringstream& h, const std::string& run_dir, const ReportConfig& cfg,
                   const std::string& detector, const json& thresholds, const std::string& thresholds_file,
                   const ResultsTable& results) {
  double threshold = std::nan("");
  if (thresholds.contains(detector) && thresholds[detector].contains("standard"))
    threshold = json_get<double>(thresholds, {detector, "standard", "threshold"}, thresholds_file);
  h << "<h2>Series: " << esc(detector)
    << "</h2><p>Values (blue) with label windows (red bands) and the "
       "training part (grey; NAB's probationary part); below, the anomaly score (grey) with the "
       "standard-profile "
       "threshold (dashed) and the detections at it (red dots).</p>\n";
  // The series to plot: each finished (OK) cell's of the detector, and any other file of it on disk. A
  // finished cell whose file is missing, damaged or of another length than the cell scored is said, in
  // the report and on stderr, not left out without a word.
  const ResultsStore store(run_dir);
  std::vector<std::string> series;
  std::map<std::string, long> rows_of;         // series -> the rows its cell scored
  std::map<std::string, int> train_rows;       // each series' training part as its cell recorded it
  std::map<std::string, std::string> cell_of;  // series -> its cell id, for the training curve
  for (size_t i = 1; i < results.size(); ++i) {
    if (results.get(i, "detector") != detector || detector.empty()) continue;
    const std::string name = results.get(i, "series");
    const std::string t = results.get(i, "train_rows");
    if (!t.empty() && std::atoi(t.c_str()) >= 0) train_rows[name] = std::atoi(t.c_str());
    cell_of[name] = results.get(i, "cell_id");
    if (results.get(i, "status") != "OK") continue;
    series.push_back(name);
    if (const std::string r = results.get(i, "rows"); !r.empty()) rows_of[name] = std::atol(r.c_str());
  }
  const fs::path nab = fs::path(run_dir) / "nab" / detector;
  if (!detector.empty() && fs::exists(nab))
    for (const auto& e : fs::recursive_directory_iterator(nab))
      if (e.is_regular_file() && e.path().extension() == ".csv" && e.path().parent_path() != nab) {
        // The series id: the folders below nab/<detector>/ and the file name without the detector's
        // prefix (ResultsStore::nab_scores_path), so ids nested several folders deep find their cell.
        const std::string name = fs::relative(e.path().parent_path(), nab).generic_string() + "/" +
                                 e.path().filename().string().substr(detector.size() + 1);
        if (std::find(series.begin(), series.end(), name) == series.end()) series.push_back(name);
      }
  std::sort(series.begin(), series.end());
  if (series.empty() && !detector.empty())
    h << "<p>No series of " << esc(detector) << " was scored: every cell failed (above).</p>\n";
  for (const auto& name : series) {
    ScoredSeries s;
    std::string problem;
    try {
      s = read_scored(store, detector, name);
      const auto it = rows_of.find(name);
      if (it != rows_of.end() && static_cast<long>(s.value.size()) != it->second)
        problem = store.nab_scores_path(detector, name) + ": " + std::to_string(s.value.size()) +
                  " rows, where its cell scored " + std::to_string(it->second);
    } catch (const Error& e) {
      problem = e.what();
    }
    if (!problem.empty()) {
      log::warn("report: " + problem + "; the plot of " + name + " is left out");
      h << "<p class=\"err\"><b>" << esc(name) << "</b>: no plot: " << esc(problem) << "</p>\n";
      continue;
    }
    const int n = static_cast<int>(s.value.size());
    int probation = 0;
    if (auto it = train_rows.find(name); it != train_rows.end()) {
      probation = it->second;
    } else {
      const double tf = cfg.train_fraction;
      probation = tf > 0 ? static_cast<int>(std::floor(tf * n)) : probation_length(n);
    }
    h << plot(name, s, threshold, probation);
    if (auto it = cell_of.find(name); it != cell_of.end()) {
      const std::string cell_file = run_dir + "/cells/" + it->second + ".json";
      if (files::exists(cell_file)) {
        // The cell's own reader checks every key the plot reads; a damaged file loses its plot, not the
        // report.
        try {
          const json cell = read_json_file(cell_file);
          (void)CellResult::from_json(cell, cell_file);
          h << loss_plot(cell);
        } catch (const Error& e) {
          log::warn(std::string("report: ") + e.what() + "; the loss plot of " + name + " is left out");
        }
      }
    }
  }
}

}  // namespace

std::string write_report(const std::string& run_dir, const std::string& out_file,
                         const std::string& detector_in, bool run_own) {
  if (!files::exists(run_dir + "/config.json"))
    throw IoError(run_dir + ": not a run folder (no config.json)");
  const std::string cfg_file = run_dir + "/config.json", scores_file = run_dir + "/nab_scores.json",
                    thresholds_file = run_dir + "/nab_thresholds.json";
  const ReportConfig cfg = read_report_config(read_json_file(cfg_file), cfg_file);
  json scores = files::exists(scores_file) ? read_json_file(scores_file) : json::object();
  json thresholds = files::exists(thresholds_file) ? read_json_file(thresholds_file) : json::object();
  if (!scores.is_object()) throw DataError(scores_file, 0, "expected an object {detector: {profile: score}}");
  const ResultsTable results(run_dir + "/results.csv");
  const std::string detector = choose_detector(run_dir, detector_in, scores, scores_file, results);

  std::ostringstream h;
  h << "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>lstmad report: " << esc(run_dir)
    << "</"
       "title><style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:"
       "1em 0}"
       "td,th{border:1px solid #ccc;padding:3px "
       "8px;text-align:right}th{background:#f3f3f3}td.l{text-align:left}"
       "figure{margin:1.5em "
       "0}figcaption{font-weight:bold;margin-bottom:4px}.err{color:#a00}</style></head><body>\n";
  h << "<h1>lstmad run report</h1><p>Run folder <code>" << esc(run_dir) << "</code>; engine "
    << esc(cfg.engine) << " (" << esc(cfg.precision) << "), seed " << cfg.seed << ".</p>\n";
  cells_line(h, run_dir, run_own);
  scores_section(h, scores, scores_file);
  results_section(h, cfg, results);
  plots_section(h, run_dir, cfg, detector, thresholds, thresholds_file, results);
  h << "</body></html>\n";
  std::string out = out_file.empty() ? run_dir + "/report.html" : out_file;
  if (const fs::path p(out); p.has_parent_path())
    files::make_dirs(p.parent_path().string());  // as table --out
  files::write_atomic(out, h.str());
  return out;
}

}  // namespace lstmad
