#include "experiments/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <vector>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "data/csv_fields.hpp"
#include "data/series.hpp"
#include "experiments/config.hpp"
#include "experiments/report_svg.hpp"
#include "experiments/results.hpp"

namespace lstmad {
namespace fs = std::filesystem;

namespace {
using report_svg::esc;
using report_svg::num;
using report_svg::ScoredSeries;
using report_svg::url_file_name;

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
  // One seed, or a grid of them (`run.seed: [1, 2]`): the report names them all.
  const bool seed_grid = cfg.contains("run") && cfg["run"].is_object() && cfg["run"].contains("seed") &&
                         cfg["run"]["seed"].is_array();
  if (seed_grid) {
    for (const auto& v : json_get<std::vector<uint64_t>>(cfg, {"run", "seed"}, file))
      c.seed += (c.seed.empty() ? "" : ", ") + std::to_string(v);
  } else {
    c.seed = std::to_string(json_get<uint64_t>(cfg, {"run", "seed"}, file));
  }
  c.format = json_get<std::string>(cfg, {"data", "format"}, file);
  c.train_fraction = json_get_or<double>(cfg, {"data", "train_fraction"}, file, 0.0);
  return c;
}

// The metric columns the tables show.
std::vector<std::string> metric_columns(const ReportConfig& cfg) {
  std::vector<std::string> cols = {"roc_auc", "pr_auc", "best_f1", "event_f1", "vus_pr"};
  if (cfg.format == "ucr") cols.push_back("ucr_score");
  return cols;
}

double number_or_nan(const std::string& v) {
  if (v.empty() || v == "nan") return std::nan("");
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  return end == v.c_str() ? std::nan("") : d;
}

// A grid's detectors side by side (a run of one detector has no such table): cells, how many finished,
// the mean of each metric over the finished cells, and the training time, in the plan's order.
void detectors_section(std::ostringstream& h, const ReportConfig& cfg, const ResultsTable& results,
                       const std::vector<std::string>& detectors) {
  const auto cols = metric_columns(cfg);
  struct Totals {
    long cells = 0, ok = 0;
    std::vector<double> sum;
    std::vector<long> count;
    double train_seconds = 0;
  };
  std::map<std::string, Totals> by;
  for (size_t i = 1; i < results.size(); ++i) {
    Totals& t = by[results.get(i, "detector")];
    t.sum.resize(cols.size());
    t.count.resize(cols.size());
    ++t.cells;
    if (const double s = number_or_nan(results.get(i, "seconds_train")); std::isfinite(s))
      t.train_seconds += s;
    if (results.get(i, "status") != "OK") continue;
    ++t.ok;
    for (size_t c = 0; c < cols.size(); ++c)
      if (const double v = number_or_nan(results.get(i, cols[c])); std::isfinite(v)) {
        t.sum[c] += v;
        ++t.count[c];
      }
  }
  h << "<h2>Detectors</h2><p>Each metric is the mean over the detector's finished series.</p>"
       "<table><tr><th>detector</th><th>cells</th><th>OK</th><th>failed</th>";
  for (const auto& m : cols) h << "<th>" << m << "</th>";
  h << "<th>train s</th></tr>\n";
  for (const auto& d : detectors) {
    const Totals& t = by[d];
    h << "<tr><td class=\"l\">" << esc(d) << "</td><td>" << t.cells << "</td><td>" << t.ok << "</td><td>"
      << t.cells - t.ok << "</td>";
    for (size_t c = 0; c < cols.size(); ++c)
      h << "<td>" << num(t.count[c] > 0 ? t.sum[c] / static_cast<double>(t.count[c]) : std::nan(""))
        << "</td>";
    h << "<td>" << num(t.train_seconds, 1) << "</td></tr>\n";
  }
  h << "</table>\n";
}

// Per-series metrics and timings of `detector` (of every cell when the run has one detector), each series
// linked to its plot; then every failure. A failure shared by many detectors of a grid (a series whose
// data no setting can read) is one line naming how many, so a 4,096-setting grid stays readable.
void results_section(std::ostringstream& h, const ReportConfig& cfg, const ResultsTable& results,
                     const std::string& detector, bool several_detectors,
                     const std::map<std::string, std::string>& plot_link) {
  const auto cols = metric_columns(cfg);
  h << "<h2>Per-series results" << (several_detectors ? ": " + esc(detector) : "") << "</h2>";
  if (several_detectors) h << "<p>The other detectors' rows are in <code>results.csv</code>.</p>";
  h << "<table><tr><th>detector</th><th>series</th><th>status</th>";
  for (const auto& m : cols) h << "<th>" << m << "</th>";
  h << "<th>epochs</th><th>train s</th><th>predict s</th></tr>\n";
  struct Failure {
    std::string series, status, error;
    std::vector<std::string> detectors;
  };
  std::vector<Failure> failures;
  std::map<std::tuple<std::string, std::string, std::string>, size_t> failure_at;
  for (size_t i = 1; i < results.size(); ++i) {
    auto get = [&](const std::string& name) { return results.get(i, name); };
    if (get("status") != "OK") {
      const auto key = std::make_tuple(get("series"), get("status"), get("error"));
      auto [it, fresh] = failure_at.emplace(key, failures.size());
      if (fresh) failures.push_back({get("series"), get("status"), get("error"), {}});
      failures[it->second].detectors.push_back(get("detector"));
    }
    if (several_detectors && get("detector") != detector) continue;
    const std::string series = get("series");
    const auto link = plot_link.find(series);
    h << "<tr><td class=\"l\">" << esc(get("detector")) << "</td><td class=\"l\">"
      << (link == plot_link.end() ? esc(series)
                                  : "<a href=\"" + esc(link->second) + "\">" + esc(series) + "</a>")
      << "</td><td>" << esc(get("status")) << "</td>";
    for (const auto& m : cols) h << "<td>" << num(number_or_nan(get(m))) << "</td>";
    h << "<td>" << esc(get("epochs")) << "</td><td>" << num(number_or_nan(get("seconds_train")), 2)
      << "</td><td>" << num(number_or_nan(get("seconds_predict")), 2) << "</td></tr>\n";
  }
  h << "</table>\n<h2>Failures</h2>";
  if (failures.empty()) {
    h << "<p>none</p>\n";
    return;
  }
  h << "<ul>";
  for (const auto& f : failures) {
    std::string who =
        f.detectors.size() == 1 ? f.detectors[0] : std::to_string(f.detectors.size()) + " detectors: ";
    for (size_t k = 0; f.detectors.size() > 1 && k < std::min<size_t>(f.detectors.size(), 5); ++k)
      who += (k ? ", " : "") + f.detectors[k];
    if (f.detectors.size() > 5) who += " and " + std::to_string(f.detectors.size() - 5) + " more";
    h << "<li><b>" << esc(f.series) << "</b> (" << esc(who) << ", " << esc(f.status)
      << "): <span class=\"err\">" << esc(f.error) << "</span></li>\n";
  }
  h << "</ul>\n";
}

// One series' part of the plots: its figure and training curve, or the line that says why it has none.
struct SeriesPlot {
  std::string name, html;
};

// The plots of each series `detector` scored (values, labels, training part; scores, threshold,
// detections) with its training curve, in the order of their names.
std::vector<SeriesPlot> series_plots(const std::string& run_dir, const ReportConfig& cfg,
                                     const std::string& detector, double threshold,
                                     const ResultsTable& results) {
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
  std::vector<SeriesPlot> plots;
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
      plots.push_back(
          {name, "<p class=\"err\"><b>" + esc(name) + "</b>: no plot: " + esc(problem) + "</p>\n"});
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
    std::string html = report_svg::series_plot(name, s, threshold, probation);
    if (auto it = cell_of.find(name); it != cell_of.end()) {
      const std::string cell_file = run_dir + "/cells/" + it->second + ".json";
      if (files::exists(cell_file)) {
        // The cell's own reader checks every key the plot reads; a damaged file loses its plot, not the
        // report.
        try {
          const json cell = read_json_file(cell_file);
          (void)CellResult::from_json(cell, cell_file);
          html += report_svg::loss_plot(cell);
        } catch (const Error& e) {
          log::warn(std::string("report: ") + e.what() + "; the loss plot of " + name + " is left out");
        }
      }
    }
    plots.push_back({name, std::move(html)});
  }
  return plots;
}

// The file of page `page` (1-based): the report's own file, then <stem>-<page><extension> beside it.
std::string page_file(const std::string& out, int page) {
  if (page == 1) return out;
  const fs::path p(out);
  return (p.parent_path() / (p.stem().string() + "-" + std::to_string(page) + p.extension().string()))
      .string();
}

// The temporary files of this report's pages that a killed `lstmad report` left (NAME.tmp.<pid>.<n>, the
// writer gone): a report claims no folder, so a write in flight is told by its process being alive.
void remove_dead_page_writes(const std::string& out) {
  const fs::path p(out);
  const std::string stem = p.stem().string(), ext = p.extension().string();
  std::error_code ec;
  for (const auto& f :
       fs::directory_iterator(p.parent_path().empty() ? fs::path(".") : p.parent_path(), ec)) {
    const std::string page = files::abandoned_write_of(f.path().filename().string());
    if (page.compare(0, stem.size(), stem) != 0) continue;  // "" too
    bool ours = page == stem + ext;
    if (!ours && page.size() > stem.size() + 1 + ext.size() && page[stem.size()] == '-' &&
        page.compare(page.size() - ext.size(), ext.size(), ext) == 0) {
      const std::string k = page.substr(stem.size() + 1, page.size() - stem.size() - 1 - ext.size());
      ours = !k.empty() && k.find_first_not_of("0123456789") == std::string::npos;
    }
    if (ours) fs::remove(f.path(), ec);
  }
}

// The opening of every page this writes, which is how a page of an earlier, longer report is told from
// a file that is not ours before it is removed.
const char* const kPageHead =
    "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>lstmad report: ";

void page_head(std::ostringstream& h, const std::string& run_dir, const ReportConfig& cfg, int page,
               int pages) {
  h << kPageHead << esc(run_dir)
    << (pages > 1 ? " (page " + std::to_string(page) + " of " + std::to_string(pages) + ")" : "")
    << "</"
       "title><style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:"
       "1em 0}"
       "td,th{border:1px solid #ccc;padding:3px "
       "8px;text-align:right}th{background:#f3f3f3}td.l{text-align:left}"
       "figure{margin:1.5em "
       "0}figcaption{font-weight:bold;margin-bottom:4px}.err{color:#a00}nav{margin:1em "
       "0}</style></head><body>\n";
  h << "<h1>lstmad run report</h1><p>Run folder <code>" << esc(run_dir) << "</code>; engine "
    << esc(cfg.engine) << " (" << esc(cfg.precision) << "), seed"
    << (cfg.seed.find(',') != std::string::npos ? "s " : " ") << cfg.seed << ".</p>\n";
}

// Links to every page of plots (none when there is one page).
std::string page_nav(const std::string& out, int page, int pages, int per_page, size_t plots) {
  if (pages <= 1) return "";
  std::ostringstream n;
  n << "<nav>Pages of plots (" << per_page << " series each):";
  for (int k = 1; k <= pages; ++k) {
    const size_t first = static_cast<size_t>(k - 1) * static_cast<size_t>(per_page) + 1;
    const size_t last = std::min(plots, static_cast<size_t>(k) * static_cast<size_t>(per_page));
    const std::string range = std::to_string(first) + "&ndash;" + std::to_string(last);
    if (k == page)
      n << " <b>" << range << "</b>";
    else
      n << " <a href=\"" << esc(url_file_name(fs::path(page_file(out, k)).filename().string())) << "\">"
        << range << "</a>";
  }
  n << "</nav>\n";
  return n.str();
}

}  // namespace

std::string write_report(const std::string& run_dir, const ReportOptions& options) {
  if (!files::exists(run_dir + "/config.json"))
    throw IoError(run_dir + ": not a run folder (no config.json)");
  if (options.per_page < 0) throw ConfigError("--per-page: expected 0 (one page) or more series per page");
  const std::string cfg_file = run_dir + "/config.json", scores_file = run_dir + "/nab_scores.json",
                    thresholds_file = run_dir + "/nab_thresholds.json";
  const ReportConfig cfg = read_report_config(read_json_file(cfg_file), cfg_file);
  json scores = files::exists(scores_file) ? read_json_file(scores_file) : json::object();
  json thresholds = files::exists(thresholds_file) ? read_json_file(thresholds_file) : json::object();
  if (!scores.is_object()) throw DataError(scores_file, 0, "expected an object {detector: {profile: score}}");
  const ResultsTable results(run_dir + "/results.csv");
  const std::string detector = choose_detector(run_dir, options.detector, scores, scores_file, results);
  std::string out = options.out_file.empty() ? run_dir + "/report.html" : options.out_file;
  // Page 1 at --out: a folder is refused before the plots are made; a FIFO or device is streamed to.
  files::OutputFile first_page(out, "--out");

  double threshold = std::nan("");
  if (thresholds.contains(detector) && thresholds[detector].contains("standard"))
    threshold = json_get<double>(thresholds, {detector, "standard", "threshold"}, thresholds_file);
  const std::vector<SeriesPlot> plots = series_plots(run_dir, cfg, detector, threshold, results);
  const int per_page =
      options.per_page > 0 ? options.per_page : std::max<int>(1, static_cast<int>(plots.size()));
  const int pages = std::max(1, static_cast<int>((plots.size() + static_cast<size_t>(per_page) - 1) /
                                                 static_cast<size_t>(per_page)));
  const auto page_of = [&](size_t i) { return static_cast<int>(i / static_cast<size_t>(per_page)) + 1; };
  // Each series' plot, as a link from the tables on page 1.
  std::map<std::string, std::string> plot_link;
  for (size_t i = 0; i < plots.size(); ++i)
    plot_link[plots[i].name] =
        (page_of(i) == 1 ? "" : url_file_name(fs::path(page_file(out, page_of(i))).filename().string())) +
        "#s" + std::to_string(i + 1);
  std::vector<std::string> detectors;  // in the plan's order
  for (size_t i = 1; i < results.size(); ++i)
    if (std::find(detectors.begin(), detectors.end(), results.get(i, "detector")) == detectors.end())
      detectors.push_back(results.get(i, "detector"));

  for (int page = 1; page <= pages; ++page) {
    std::ostringstream h;
    page_head(h, run_dir, cfg, page, pages);
    if (page == 1) {
      cells_line(h, run_dir, options.run_own);
      scores_section(h, scores, scores_file);
      if (detectors.size() > 1) detectors_section(h, cfg, results, detectors);
      results_section(h, cfg, results, detector, detectors.size() > 1, plot_link);
    }
    h << "<h2>Series: " << esc(detector)
      << "</h2><p>Values (blue) with label windows (red bands) and the "
         "training part (grey; NAB's probationary part); below, the anomaly score (grey) with the "
         "standard-profile threshold (dashed) and the detections at it (red dots).</p>\n";
    if (plots.empty() && !detector.empty())
      h << "<p>No series of " << esc(detector) << " was scored: every cell failed (above).</p>\n";
    const std::string nav = page_nav(out, page, pages, per_page, plots.size());
    h << nav;
    for (size_t i = static_cast<size_t>(page - 1) * static_cast<size_t>(per_page);
         i < plots.size() && page_of(i) == page; ++i)
      h << "<div id=\"s" << i + 1 << "\">" << plots[i].html << "</div>\n";
    h << nav << "</body></html>\n";
    if (page == 1) {
      const std::string text = h.str();
      first_page.write(text.data(), text.size());
      first_page.commit();
    } else {
      files::write_atomic(page_file(out, page), h.str());
    }
  }
  remove_dead_page_writes(out);
  // The pages an earlier, longer report of the same file left beyond these.
  for (int page = pages + 1;; ++page) {
    const std::string stale = page_file(out, page);
    std::error_code ec;
    // Only the opening is read: a page of plots is megabytes.
    std::ifstream in(stale, std::ios::binary);
    std::string head(std::strlen(kPageHead), '\0');
    if (!fs::is_regular_file(stale, ec) || !in.read(&head[0], static_cast<std::streamsize>(head.size())) ||
        head != kPageHead)
      break;
    in.close();
    fs::remove(stale, ec);
  }
  return out;
}

}  // namespace lstmad
