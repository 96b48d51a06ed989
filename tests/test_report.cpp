// The HTML report rendered in headless Chromium: the page loads, has a plot per series with the label
// windows and the score, and its screenshot is a real image. Skips, saying so, without Chromium.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/files.hpp"
#include "experiments/report_svg.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace lstmad::test;

namespace {
std::string chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (fs::exists(p)) return p;
  return "";
}
int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}
// Runs the synthetic corpus (a small model per series, `train` the config's train section, `more` added
// to the config) into tmp/run; returns the exit status, the output in *out.
int run_synthetic(const TempDir& tmp, const std::string& train, std::string* out,
                  const std::string& more = "") {
  write_text(tmp.file("cfg.json"), R"({
    "data": {"format": "synthetic", "synthetic": {"seed": 1, "series_per_kind": 1, "length": 600}},
    "model": {"layers": 1, "hidden": 6, "window": 10}, "train": )" +
                                       train + R"(,
    "detector": {"likelihood": {"long_window": 200, "short_window": 4}})" +
                                       more + "}");
  return run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("run"), out);
}
}  // namespace

// Each plot shades the label windows of its series: as many bands as the series' NAB-format file has runs
// of rows labeled 1 (its `label` column, found by name: a run's files also hold `raw_score`).
TEST(Report, EachPlotShadesItsSeriesLabelWindows) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("report-windows");
  std::string out;
  ASSERT_EQ(run_synthetic(tmp, R"({"epochs": 2, "batch": 16})", &out), 0) << out;
  // Label runs per series, from the run's NAB-format files.
  std::map<std::string, int> expected;
  const fs::path nab = tmp.file("run/nab/lstmad");
  for (const auto& d : fs::recursive_directory_iterator(nab)) {
    if (d.path().extension() != ".csv" || d.path().parent_path() == nab) continue;
    std::istringstream in(lstmad::files::read(d.path().string()));
    std::string line, cell;
    std::getline(in, line);
    std::stringstream header(line);
    int label_col = -1;
    for (int c = 0; std::getline(header, cell, ','); ++c)
      if (cell == "label") label_col = c;
    ASSERT_GE(label_col, 0) << d.path();
    int runs = 0;
    bool prev = false;
    while (std::getline(in, line)) {
      std::stringstream row(line);
      for (int c = 0; c <= label_col; ++c) std::getline(row, cell, ',');
      const bool labeled = cell == "1";
      runs += labeled && !prev;
      prev = labeled;
    }
    const std::string name = fs::relative(d.path().parent_path(), nab).generic_string() + "/" +
                             d.path().filename().string().substr(std::string("lstmad_").size());
    expected[name] = runs;
  }
  ASSERT_GT(expected.size(), 3u);
  int labeled_series = 0;
  for (const auto& [name, runs] : expected) labeled_series += runs > 0;
  ASSERT_GT(labeled_series, 0) << "the synthetic corpus has label windows";
  // The bands drawn in each series' figure.
  const std::string html = lstmad::files::read(tmp.file("run/report.html"));
  std::map<std::string, int> drawn;
  const std::string open = "<figure class=\"series\"><figcaption>";
  for (size_t p = html.find(open); p != std::string::npos;) {
    const size_t caption = p + open.size();
    const std::string name = html.substr(caption, html.find("</figcaption>", caption) - caption);
    const size_t next = html.find(open, caption);
    drawn[name] =
        count(html.substr(p, next == std::string::npos ? std::string::npos : next - p), "class=\"window\"");
    p = next;
  }
  EXPECT_EQ(drawn, expected);
}

TEST(Report, RendersInHeadlessChromiumWithAPlotPerSeries) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  const std::string browser = chromium();
  if (browser.empty()) GTEST_SKIP() << "Chromium is not installed (Debian package chromium)";
  TempDir tmp("report");
  std::string out;
  ASSERT_EQ(run_synthetic(tmp, R"({"epochs": 2, "batch": 16})", &out), 0) << out;
  ASSERT_EQ(run_command(lstmad_binary() + " report " + tmp.file("run") + " --out " + tmp.file("r.html"), &out), 0) << out;
  size_t series = 0;
  for (const auto& d : fs::recursive_directory_iterator(tmp.file("run/corpus/data")))
    if (d.path().extension() == ".csv") ++series;
  ASSERT_GT(series, 3u);

  const std::string flags =
      " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
      " --disable-component-update --disable-sync --user-data-dir=" + tmp.file("profile");
  std::string dom;
  ASSERT_EQ(run_command(browser + flags + " --dump-dom file://" + tmp.file("r.html") + " 2>/dev/null", &dom), 0) << dom;
  EXPECT_EQ(count(dom, "<figure class=\"series\">"), static_cast<int>(series)) << "one plot per series";
  EXPECT_GE(count(dom, "<polyline"), static_cast<int>(2 * series)) << "values and score in every plot";
  EXPECT_GT(count(dom, "class=\"window\""), 0) << "label windows are drawn";
  EXPECT_NE(dom.find("NAB scores"), std::string::npos);

  ASSERT_EQ(run_command(browser + flags + " --window-size=1200,2000 --screenshot=" + tmp.file("r.png") + " file://" +
                            tmp.file("r.html") + " 2>/dev/null", &out), 0) << out;
  ASSERT_TRUE(fs::exists(tmp.file("r.png")));
  std::string png = lstmad::files::read(tmp.file("r.png"));
  ASSERT_GT(png.size(), 20000u) << "a rendered page with plots, not a blank image";
  EXPECT_EQ(png.substr(1, 3), "PNG");
}

// Each plotted series has its model's training curve: one training and one validation point per epoch the
// cell ran (its cells/<id>.json loss_curve), so the multiset of point counts is the cells' epochs.
TEST(Report, EachSeriesShowsItsModelsLossPerEpoch) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("report-loss");
  std::string out;
  ASSERT_EQ(run_synthetic(tmp, R"({"epochs": 7, "batch": 16, "patience": 2})", &out), 0) << out;
  ASSERT_EQ(run_command(lstmad_binary() + " report " + tmp.file("run") + " --out " + tmp.file("r.html"), &out), 0)
      << out;
  const std::string html = lstmad::files::read(tmp.file("r.html"));
  std::multiset<int> epochs;
  for (const auto& f : fs::directory_iterator(tmp.file("run/cells"))) {
    const std::string cell = lstmad::files::read(f.path().string());
    const size_t at = cell.find("\"epochs\":");
    ASSERT_NE(at, std::string::npos) << cell;
    epochs.insert(std::atoi(cell.c_str() + at + 9));
  }
  auto points = [&](const std::string& cls) {
    std::multiset<int> counts;
    const std::string tag = "<polyline class=\"" + cls + "\"";
    for (size_t p = html.find(tag); p != std::string::npos; p = html.find(tag, p + 1)) {
      const size_t a = html.find("points=\"", p) + 8, b = html.find('"', a);
      std::istringstream pts(html.substr(a, b - a));
      std::string xy;
      int n = 0;
      while (pts >> xy) ++n;
      counts.insert(n);
    }
    return counts;
  };
  EXPECT_EQ(count(html, "<figure class=\"loss\">"), count(html, "<figure class=\"series\">"));
  EXPECT_EQ(points("train-loss"), epochs);
  EXPECT_EQ(points("val-loss"), epochs);
  EXPECT_LT(*epochs.begin(), 7) << "patience 2 stops some model early: the curves' lengths differ from the limit";

  // A cell file edited by hand (a value of another type) loses its series' loss plot, named with its key
  // in a warning; the report is still written, with every other plot.
  const std::string cell = fs::directory_iterator(tmp.file("run/cells"))->path().string();
  auto damaged = nlohmann::json::parse(lstmad::files::read(cell));
  damaged["best_epoch"] = "x";
  write_text(cell, damaged.dump());
  ASSERT_EQ(
      run_command(lstmad_binary() + " report " + tmp.file("run") + " --out " + tmp.file("d.html"), &out), 0)
      << out;
  EXPECT_NE(
      out.find("[warn] report: " + cell + ": best_epoch: expected an integer, got \"x\"; the loss plot of"),
      std::string::npos)
      << out;
  const std::string with_damage = lstmad::files::read(tmp.file("d.html"));
  EXPECT_EQ(count(with_damage, "<figure class=\"loss\">"), count(html, "<figure class=\"loss\">") - 1);
  EXPECT_EQ(count(with_damage, "<figure class=\"series\">"), count(html, "<figure class=\"series\">"));
}

// --detector names what to plot: a name the run does not hold (a typo) is an error naming the run's
// detectors, not a report without plots and exit 0.
TEST(Report, AnUnknownDetectorIsAnErrorNamingTheRunsDetectors) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("report-detector");
  std::string out;
  ASSERT_EQ(run_synthetic(tmp, R"({"epochs": 1, "batch": 16})", &out), 0) << out;
  EXPECT_EQ(run_command(lstmad_binary() + " report " + tmp.file("run") + " --detector lstmda --out " +
                            tmp.file("r.html") + " 2>&1",
                        &out),
            2)
      << out;
  EXPECT_NE(out.find("--detector lstmda: no such detector in " + tmp.file("run") + " (it has: lstmad)"),
            std::string::npos)
      << out;
  EXPECT_FALSE(fs::exists(tmp.file("r.html")));
  ASSERT_EQ(run_command(lstmad_binary() + " report " + tmp.file("run") + " --detector lstmad --out " +
                            tmp.file("r.html"),
                        &out),
            0)
      << out;
  EXPECT_GT(count(lstmad::files::read(tmp.file("r.html")), "<figure class=\"series\">"), 3);
}

// A detector of the run whose every cell failed has no NAB-format files: its report is written, with the
// failures and a note instead of plots, not refused as an unknown name.
TEST(Report, ADetectorWhoseCellsAllFailedIsReportedNotUnknown) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("report-failed");
  std::string out;
  ASSERT_EQ(
      run_synthetic(tmp, R"({"epochs": 3, "batch": 16})", &out, R"(, "run": {"max_train_seconds": 1e-9})"), 1)
      << out;
  ASSERT_FALSE(fs::exists(tmp.file("run/nab/lstmad")));
  ASSERT_EQ(run_command(lstmad_binary() + " report " + tmp.file("run") + " --detector lstmad --out " +
                            tmp.file("r.html") + " 2>&1",
                        &out),
            0)
      << out;
  const std::string html = lstmad::files::read(tmp.file("r.html"));
  EXPECT_NE(html.find("No series of lstmad was scored"), std::string::npos);
  EXPECT_GT(count(html, "TIMEOUT"), 1) << "the failures are listed";
  EXPECT_EQ(count(html, "<figure class=\"series\">"), 0);
  // --out into a folder that is not there yet makes it, as table --out does.
  ASSERT_EQ(run_command(lstmad_binary() + " report " + tmp.file("run") + " --out " +
                            tmp.file("new/sub/r.html") + " 2>&1",
                        &out),
            0)
      << out;
  EXPECT_TRUE(fs::exists(tmp.file("new/sub/r.html")));
  // A wrong name is refused listing the detectors the run holds, this one among them.
  EXPECT_EQ(run_command(lstmad_binary() + " report " + tmp.file("run") + " --detector nope --out " +
                            tmp.file("n.html") + " 2>&1",
                        &out),
            2)
      << out;
  EXPECT_NE(out.find("--detector nope: no such detector in " + tmp.file("run") + " (it has: lstmad)"),
            std::string::npos)
      << out;
}

// A run folder damaged after the run: a finished cell's file missing, cut short or with a line that is
// not a number loses its plot with a line that names the file (in the page and on stderr), the other
// series are still plotted; a run with cells missing says how many and how to finish it.
TEST(Report, DamagedFilesAndMissingCellsAreSaidNotDropped) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("report-damaged");
  std::string out;
  ASSERT_EQ(run_synthetic(tmp, R"({"epochs": 2, "batch": 16})", &out), 0) << out;
  std::vector<fs::path> files;
  for (const auto& d : fs::recursive_directory_iterator(tmp.file("run/nab/lstmad")))
    if (d.path().extension() == ".csv" && d.path().parent_path() != fs::path(tmp.file("run/nab/lstmad")))
      files.push_back(d.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 4u);
  const int series = static_cast<int>(files.size());
  const std::string intact_html = tmp.file("intact.html");
  ASSERT_EQ(
      run_command(lstmad_binary() + " report " + tmp.file("run") + " --out " + intact_html + " 2>&1", &out),
      0)
      << out;
  EXPECT_EQ(out.find("[warn]"), std::string::npos) << "an intact run's report warns of nothing:\n" << out;
  EXPECT_EQ(count(lstmad::files::read(intact_html), "<figure class=\"series\">"), series);

  fs::remove(files[0]);
  std::string text = lstmad::files::read(files[1].string());
  write_text(files[1].string(), text.substr(0, text.find('\n', text.size() / 2) + 1));  // whole rows, half
  text = lstmad::files::read(files[2].string());
  const size_t line3 = text.find('\n', text.find('\n', text.find('\n') + 1) + 1);
  write_text(files[2].string(),
             text.substr(0, line3 + 1) + "garbage,line\n" + text.substr(text.find('\n', line3 + 1) + 1));
  // As if the run had been stopped with one cell to go.
  const std::string summary = lstmad::files::read(tmp.file("run/summary.json"));
  nlohmann::json s = nlohmann::json::parse(summary);
  s["missing"] = 1;
  write_text(tmp.file("run/summary.json"), s.dump());
  const std::string html_file = tmp.file("damaged.html");
  ASSERT_EQ(
      run_command(lstmad_binary() + " report " + tmp.file("run") + " --out " + html_file + " 2>&1", &out), 0)
      << out;
  const std::string html = lstmad::files::read(html_file);
  EXPECT_EQ(count(html, "<figure class=\"series\">"), series - 3) << "the intact series are still plotted";
  EXPECT_EQ(count(html, "no plot: "), 3) << html;
  for (int k = 0; k < 3; ++k)
    EXPECT_NE(out.find("[warn] report: " + files[static_cast<size_t>(k)].string()), std::string::npos)
        << files[static_cast<size_t>(k)] << ":\n"
        << out;
  EXPECT_NE(out.find("rows, where its cell scored"), std::string::npos) << out;
  EXPECT_NE(out.find("is not a number: `line`"), std::string::npos) << out;
  EXPECT_NE(out.find("1 of " + std::to_string(s["cells"].get<int>()) + " cells have no result"),
            std::string::npos)
      << out;
  EXPECT_NE(html.find("lstmad run --resume " + tmp.file("run")), std::string::npos);
}

// results.csv is read by the project's CSV splitter: a record damaged by hand (an unclosed quote) is named
// with its line in a warning, and the rows before it still give the report its cells and plots.
TEST(Report, ADamagedResultsCsvIsNamedAndItsEarlierRowsKept) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("report-results-csv");
  std::string out;
  ASSERT_EQ(run_synthetic(tmp, R"({"epochs": 2, "batch": 16})", &out), 0) << out;
  const std::string csv = tmp.file("run/results.csv");
  const std::string text = lstmad::files::read(csv);
  const long lines = static_cast<long>(std::count(text.begin(), text.end(), '\n'));
  ASSERT_GE(lines, 5);
  const std::string intact_html = tmp.file("intact.html");
  ASSERT_EQ(
      run_command(lstmad_binary() + " report " + tmp.file("run") + " --out " + intact_html + " 2>&1", &out),
      0)
      << out;
  ASSERT_GE(count(lstmad::files::read(intact_html), "<figure class=\"series\">"), 4);
  write_text(csv, text + "\"an unclosed quote,x,y\n");
  const std::string html_file = tmp.file("damaged.html");
  ASSERT_EQ(
      run_command(lstmad_binary() + " report " + tmp.file("run") + " --out " + html_file + " 2>&1", &out), 0)
      << out;
  EXPECT_NE(out.find("[warn] report: " + csv + " line " + std::to_string(lines + 1) + ": not a CSV record"),
            std::string::npos)
      << out;
  // Every row before the damaged line is kept: the page is the intact run's, byte for byte.
  EXPECT_EQ(lstmad::files::read(html_file), lstmad::files::read(intact_html));
}

namespace {
// Each series' figure of a report page, by caption: the text between <figcaption> and </figcaption>.
std::vector<std::string> captions(const std::string& html) {
  std::vector<std::string> out;
  const std::string open = "<figure class=\"series\"><figcaption>";
  for (size_t p = html.find(open); p != std::string::npos; p = html.find(open, p + 1)) {
    const size_t a = p + open.size();
    out.push_back(html.substr(a, html.find("</figcaption>", a) - a));
  }
  return out;
}
}  // namespace

// A grid's report: page 1 holds the tables (the detectors side by side, then the plotted detector's
// series, each linked to its plot) and the first plots; the others are on pages beside it, each series on
// exactly one page, and every link reaches a plot of the series it names. A shorter report over the same
// file removes the pages it no longer needs, and nothing that is not one of its pages.
TEST(Report, PagesHoldEveryPlotOnceAndTheTablesLinkToThem) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("report-pages");
  std::string out;
  ASSERT_EQ(run_synthetic(tmp, R"({"epochs": 1, "batch": 16})", &out,
                          R"(, "grid": {"detector.smoothing": [1, 3]})"),
            0)
      << out;
  ASSERT_EQ(run_command(lstmad_binary() + " report " + tmp.file("run") + " --per-page 2 --out " +
                            tmp.file("r/rep.html") + " 2>&1",
                        &out),
            0)
      << out;
  size_t series = 0;
  for (const auto& d : fs::recursive_directory_iterator(tmp.file("run/corpus/data")))
    if (d.path().extension() == ".csv") ++series;
  ASSERT_GE(series, 5u);
  const size_t pages = (series + 1) / 2;
  std::map<std::string, std::string> page_text;  // file name -> text
  std::multiset<std::string> plotted;
  for (size_t k = 1; k <= pages; ++k) {
    const std::string name = k == 1 ? "rep.html" : "rep-" + std::to_string(k) + ".html";
    ASSERT_TRUE(fs::exists(tmp.file("r/" + name))) << name;
    page_text[name] = lstmad::files::read(tmp.file("r/" + name));
    const auto here = captions(page_text[name]);
    EXPECT_EQ(here.size(), k < pages || series % 2 == 0 ? 2u : 1u) << name;
    plotted.insert(here.begin(), here.end());
  }
  EXPECT_FALSE(fs::exists(tmp.file("r/rep-" + std::to_string(pages + 1) + ".html")));
  std::set<std::string> distinct(plotted.begin(), plotted.end());
  EXPECT_EQ(plotted.size(), series) << "each series is plotted once";
  EXPECT_EQ(distinct.size(), series);

  const std::string& first = page_text["rep.html"];
  // Two detectors: their table, and the per-series rows of the plotted one only.
  const size_t detectors_at = first.find("<h2>Detectors</h2>");
  ASSERT_NE(detectors_at, std::string::npos);
  const std::string table = first.substr(detectors_at, first.find("</table>", detectors_at) - detectors_at);
  EXPECT_EQ(count(table, "<tr><td class=\"l\">lstmad-"), 2) << table;
  EXPECT_EQ(count(table,
                  "<td>" + std::to_string(series) + "</td><td>" + std::to_string(series) + "</td><td>0</td>"),
            2)
      << "cells, OK and failed of each detector: " << table;
  // Each link of the per-series table: the page it names holds id="sN", whose figure is of that series.
  int links = 0;
  for (size_t p = first.find("<a href=\""); p != std::string::npos; p = first.find("<a href=\"", p + 1)) {
    const size_t a = p + 9, hash = first.find('#', a), end = first.find('"', a);
    if (hash == std::string::npos || hash > end) continue;  // a link between pages
    const std::string file = hash == a ? "rep.html" : first.substr(a, hash - a);
    const std::string id = first.substr(hash + 1, end - hash - 1);
    const size_t text_at = first.find('>', end) + 1;
    const std::string named = first.substr(text_at, first.find("</a>", text_at) - text_at);
    ASSERT_TRUE(page_text.count(file)) << file;
    const std::string& page = page_text[file];
    const size_t target = page.find("<div id=\"" + id + "\">");
    ASSERT_NE(target, std::string::npos) << file << "#" << id;
    const auto there = captions(page.substr(target));
    ASSERT_FALSE(there.empty());
    EXPECT_EQ(there[0], named) << file << "#" << id;
    ++links;
  }
  EXPECT_EQ(links, static_cast<int>(series)) << "one row, with a link, per series of the plotted detector";

  // One page over the same file: the other pages go, a file that only shares a page's name stays.
  write_text(tmp.file("r/rep-" + std::to_string(pages + 1) + ".html"), "notes of my own\n");
  ASSERT_EQ(run_command(lstmad_binary() + " report " + tmp.file("run") + " --per-page 0 --out " +
                            tmp.file("r/rep.html") + " 2>&1",
                        &out),
            0)
      << out;
  EXPECT_EQ(captions(lstmad::files::read(tmp.file("r/rep.html"))).size(), series);
  for (size_t k = 2; k <= pages; ++k)
    EXPECT_FALSE(fs::exists(tmp.file("r/rep-" + std::to_string(k) + ".html"))) << k;
  EXPECT_EQ(lstmad::files::read(tmp.file("r/rep-" + std::to_string(pages + 1) + ".html")),
            "notes of my own\n");
  EXPECT_NE(run_command(lstmad_binary() + " report " + tmp.file("run") + " --per-page -1 2>&1", &out), 0);
}

// A series that no setting of a grid can read fails every detector's cell with the same message: the
// report lists it once, with how many detectors and which, not once per detector.
TEST(Report, AFailureSharedByEveryDetectorIsListedOnce) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("report-failures");
  write_text(tmp.file("flat/a.csv"),
             minute_series_csv(300, "2020-03", [](int i) { return std::to_string(std::sin(i * 0.2)); }));
  write_text(tmp.file("cfg.json"), R"({"data": {"format": "csv", "root": ")" + tmp.file("flat") +
                                       R"(", "files": ["flat/a.csv", "flat/nope.csv"]},
    "model": {"layers": 1, "hidden": 4, "window": 10}, "train": {"epochs": 1},
    "grid": {"detector.smoothing": [1, 2, 3, 4, 5, 6, 7]},
    "detector": {"likelihood": {"long_window": 100, "short_window": 3}}})");
  std::string out;
  ASSERT_EQ(
      run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("r"), &out), 1)
      << out;
  const std::string html = lstmad::files::read(tmp.file("r/report.html"));
  const size_t at = html.find("<h2>Failures</h2>");
  ASSERT_NE(at, std::string::npos);
  const std::string failures = html.substr(at);
  EXPECT_EQ(count(failures, "<li>"), 1) << failures;
  EXPECT_EQ(count(failures, "<b>flat/nope.csv</b> (7 detectors: lstmad-"), 1) << failures;
  EXPECT_EQ(count(failures, " and 2 more, ERROR): "), 1) << failures;
  EXPECT_NE(failures.find("data.files names series flat/nope.csv"), std::string::npos) << failures;
}

// The plot's polylines: a missing value (NaN) leaves a gap the line bridges, never a "nan" coordinate
// (which makes a browser drop the whole line); a flat stretch is its two ends; every column with values
// spans their min and max.
TEST(Report, PlotLinesSkipMissingValuesAndKeepEachColumnsRange) {
  lstmad::report_svg::ScoredSeries s;
  // 1,800 rows on 900 pixel columns: two rows a column, 0 and 1, but for columns 0 and 150 (missing).
  for (int i = 0; i < 1800; ++i) {
    s.value.push_back(i / 2 == 0 || i / 2 == 150 ? std::nan("") : (i % 2 ? 1.0 : 0.0));
    s.score.push_back(i < 1200 ? 0.0 : 0.5);
    s.label.push_back(0);
  }
  const std::string svg = lstmad::report_svg::series_plot("x", s, 0.7, 45);
  EXPECT_EQ(svg.find("nan"), std::string::npos) << svg;
  std::vector<std::vector<std::pair<double, double>>> lines;
  for (size_t p = svg.find("points=\""); p != std::string::npos; p = svg.find("points=\"", p + 1)) {
    const size_t a = p + 8;
    std::istringstream pts(svg.substr(a, svg.find('"', a) - a));
    lines.emplace_back();
    for (std::string xy; pts >> xy;)
      lines.back().emplace_back(std::stod(xy.substr(0, xy.find(','))),
                                std::stod(xy.substr(xy.find(',') + 1)));
  }
  ASSERT_EQ(lines.size(), 2u);
  // Values: 898 columns with values, each from 0 to 1: two points at each x.
  EXPECT_EQ(lines[0].size(), 2u * 898);
  // Scores: 0 then 0.5, flat on each side: the two ends of each stretch.
  ASSERT_EQ(lines[1].size(), 4u);
  EXPECT_EQ(lines[1][0].second, lines[1][1].second);
  EXPECT_EQ(lines[1][2].second, lines[1][3].second);
  EXPECT_GT(lines[1][1].second, lines[1][2].second) << "0.5 is drawn above 0";
}

// A long series with an event every few hundred rows and detections everywhere: one band per half pixel
// and one detection dot per pixel column, so the figure stays a few hundred elements; a short series
// keeps a band per window and a dot per detection.
TEST(Report, APlotsBandsAndDotsAreBoundedByItsPixels) {
  auto count_of = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  };
  lstmad::report_svg::ScoredSeries s;
  const int n = 2000000;
  for (int i = 0; i < n; ++i) {
    s.value.push_back(std::sin(i * 0.01));
    s.label.push_back(i % 211 < 3 ? 1 : 0);  // 9,479 one-to-three-row events
    s.score.push_back(i % 7 == 0 ? 0.9 : 0.1);
  }
  const std::string svg = lstmad::report_svg::series_plot("long", s, 0.5, 750);
  EXPECT_LE(count_of(svg, "class=\"window\""), 900u);
  EXPECT_GE(count_of(svg, "class=\"window\""), 1u);
  EXPECT_LE(count_of(svg, "class=\"detection\""), 901u);
  EXPECT_GE(count_of(svg, "class=\"detection\""), 899u) << "a detection in every column after the first";
  EXPECT_LT(svg.size(), 200000u);

  lstmad::report_svg::ScoredSeries t;
  for (int i = 0; i < 900; ++i) {
    t.value.push_back(i);
    t.label.push_back((i >= 100 && i < 110) || (i >= 500 && i < 502) || i == 800 ? 1 : 0);
    t.score.push_back(i % 100 == 5 ? 1.0 : 0.0);
  }
  const std::string small = lstmad::report_svg::series_plot("short", t, 0.5, 0);
  EXPECT_EQ(count_of(small, "class=\"window\""), 3u);
  EXPECT_EQ(count_of(small, "class=\"detection\""), 9u);
}

// A run of a grid over run.seed has a report like any run's, naming its seeds (its config's run.seed is a
// list, not one number).
TEST(Report, ARunOfASeedGridHasItsReport) {
  if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  TempDir tmp("report-seeds");
  std::string out;
  ASSERT_EQ(run_synthetic(tmp, R"({"epochs": 1, "batch": 16})", &out, R"(, "run": {"seed": [3, 5]})"), 0)
      << out;
  EXPECT_EQ(out.find("report not written"), std::string::npos) << out;
  ASSERT_TRUE(fs::exists(tmp.file("run/report.html"))) << out;
  EXPECT_NE(lstmad::files::read(tmp.file("run/report.html")).find("seeds 3, 5."), std::string::npos);
  ASSERT_EQ(
      run_command(lstmad_binary() + " report " + tmp.file("run") + " --out " + tmp.file("r.html") + " 2>&1",
                  &out),
      0)
      << out;
  EXPECT_GT(count(lstmad::files::read(tmp.file("r.html")), "<figure class=\"series\">"), 0);
}

// A page's file name in a link is percent-encoded ('#' would start a fragment, '%' an escape); numbers
// past a billion print with six significant digits, not every digit of 1e308.
TEST(Report, LinksEncodeFileNamesAndHugeNumbersStayShort) {
  EXPECT_EQ(lstmad::report_svg::url_file_name("a#b%20c-2.html"), "a%23b%2520c-2.html");
  EXPECT_EQ(lstmad::report_svg::url_file_name("report-2.html"), "report-2.html");
  EXPECT_EQ(lstmad::report_svg::num(1e308), "1e+308");
  EXPECT_EQ(lstmad::report_svg::num(-2.5e12, 2), "-2.5e+12");
  EXPECT_EQ(lstmad::report_svg::num(1.5), "1.500");
  EXPECT_EQ(lstmad::report_svg::num(123456789.0, 0), "123456789");
}
