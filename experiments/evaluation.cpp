#include "experiments/evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "eval/metrics.hpp"
#include "eval/nab_scorer.hpp"

namespace lstmad {
namespace {

std::string fixed(double v, int digits) {
  if (std::isnan(v)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

std::vector<std::pair<std::string, double>> series_metrics(const PreparedSeries& p, const std::vector<double>& scores,
                                                           const json& cfg) {
  metrics::SeriesMetricOptions o;
  o.threshold = at_path(cfg, "eval.threshold").get<double>();
  const int vb = at_path(cfg, "eval.vus_max_buffer").get<int>();
  if (vb > 0) o.vus_max_buffer = vb;
  o.vus_definition = metrics::parse_range_auc_definition(at_path(cfg, "eval.vus").get<std::string>());
  o.ucr_tolerance = at_path(cfg, "eval.ucr_tolerance").get<int>();
  // Only rows after the training part count: the model was fitted on the rest.
  return metrics::evaluate_series(scores, p.series.point_labels(), o, std::max(0, p.score_begin));
}

std::vector<NabProfile> eval_profiles(const json& cfg) {
  const std::string pf = at_path(cfg, "eval.profiles").get<std::string>();
  if (pf.empty()) return nab_default_profiles();
  try {
    return nab_read_profiles(pf);
  } catch (const Error& e) {  // IoError or DataError, naming the file
    throw ConfigError(std::string("eval.profiles: ") + e.what());
  }
}

CorpusEvaluation evaluate_corpus(const Plan& plan, const std::vector<CellResult>& cells,
                                 const std::map<std::string, std::vector<LabelWindow>>& windows, const json& cfg,
                                 const ResultsStore& store) {
  CorpusEvaluation ev;
  if (!at_path(cfg, "eval.nab").get<bool>()) {
    for (const auto& s : plan.settings) ev.skipped[s.detector] = "eval.nab is false";
    return ev;
  }
  // NAB's scoring needs only each series' windows as rows, so it runs on any labeled corpus: NAB's own
  // (windows from its label file) and the others (windows from their labels, taken as they are).
  bool labeled = false;
  for (const auto& [id, w] : windows) labeled |= !w.empty();
  if (!labeled) {
    // The windows come from the series that loaded: where none did, the cause is the failed cells.
    const bool any_ok = std::any_of(cells.begin(), cells.end(),
                                    [](const CellResult& c) { return c.status == CellStatus::Ok; });
    for (const auto& s : plan.settings)
      ev.skipped[s.detector] = any_ok ? "the corpus has no label windows"
                                      : "no cell finished OK (results.csv says why each failed)";
    return ev;
  }
  const std::vector<NabProfile> profiles = eval_profiles(cfg);

  std::map<int, std::vector<const CellResult*>> by_setting;
  for (const auto& c : cells) by_setting[c.setting].push_back(&c);
  for (const auto& s : plan.settings) {
    auto& list = by_setting[s.index];
    // Series order, not cell-id order: the files and sums come out the same for every run of these series.
    std::sort(list.begin(), list.end(), [](const CellResult* a, const CellResult* b) { return a->series < b->series; });
    std::string why;
    if (list.size() != plan.series.size())
      why = std::to_string(static_cast<long>(plan.series.size()) - static_cast<long>(list.size())) +
            " cells have no result";
    for (const auto* c : list)
      if (why.empty() && c->status != CellStatus::Ok) why = "cell " + c->series + " ended " + to_string(c->status);
    if (!why.empty()) {
      ev.skipped[s.detector] = why;
      log::warn(s.detector + ": no NAB score (" + why + ")");
      continue;
    }
    try {
      // Read back inside the try: a missing or damaged file fails this detector's score, not the others'.
      std::vector<NabFileInput> inputs;
      for (const auto* c : list) {
        NabFileInput in;
        in.relpath = c->series;
        in.rows = c->rows;
        in.scores = c->scores.empty() ? store.read_nab_scores(s.detector, c->series) : c->scores;
        auto it = windows.find(c->series);
        if (it != windows.end()) in.windows = it->second;
        inputs.push_back(std::move(in));
      }
      auto results = nab_optimize(inputs, profiles);
      std::map<std::string, double> thresholds;
      for (const auto& r : results) {
        ev.nab_scores[s.detector][r.profile] = r.normalized;
        ev.nab_thresholds[s.detector][r.profile] = {{"threshold", r.threshold}, {"score", r.raw_score}};
        thresholds[r.profile] = r.threshold;
      }
      // NAB's own per-file summaries at the chosen thresholds: nab/<det>/<det>_<profile>_scores.csv.
      for (const auto& ps : nab_score_at(inputs, profiles, thresholds))
        files::write_atomic(store.dir() + "/nab/" + s.detector + "/" + s.detector + "_" + ps.profile + "_scores.csv",
                            nab_scores_csv(s.detector, ps));
    } catch (const std::exception& e) {
      ev.skipped[s.detector] = e.what();
      ++ev.failed;
      log::error(s.detector + ": NAB scoring failed: " + e.what());
    }
  }
  files::write_atomic(store.dir() + "/nab_scores.json", json_text(ev.nab_scores, 4));
  files::write_atomic(store.dir() + "/nab_thresholds.json", json_text(ev.nab_thresholds, 4));
  return ev;
}

std::string summary_table(const Plan& plan, const std::vector<CellResult>& cells, const CorpusEvaluation& ev,
                          const json& cfg, double seconds) {
  std::vector<std::string> axes = grid_axes(plan.config);
  std::vector<std::string> shown = {"roc_auc", "pr_auc", "best_f1", "event_f1"};
  // The UCR archive's own figure: the mean ucr_score is the share of series whose anomaly was found.
  if (at_path(cfg, "data.format").get<std::string>() == "ucr") shown.push_back("ucr_score");
  std::ostringstream os;
  os << "| detector |";
  for (const auto& a : axes) os << " " << a << " |";
  // The profiles the run scored (eval.profiles, else NAB's three), each a column.
  std::vector<std::string> profiles;
  for (const NabProfile& p : eval_profiles(cfg)) profiles.push_back(p.name);
  os << " cells OK |";
  for (const auto& p : profiles)
    os << " "
       << (p == "standard"             ? "NAB standard"
           : p == "reward_low_FP_rate" ? "NAB low FP"
           : p == "reward_low_FN_rate" ? "NAB low FN"
                                       : "NAB " + p)
       << " |";
  for (const auto& m : shown) os << " " << m << " |";
  os << " train s/cell |\n|---|";
  for (size_t i = 0; i < axes.size() + 1 + profiles.size() + shown.size() + 1; ++i) os << "---:|";
  os << "\n";
  for (const auto& s : plan.settings) {
    int ok = 0, total = 0;
    std::map<std::string, std::pair<double, int>> sums;
    double train = 0;
    for (const auto& c : cells) {
      if (c.setting != s.index) continue;
      ++total;
      train += c.seconds_train;
      if (c.status != CellStatus::Ok) continue;
      ++ok;
      for (const auto& [k, v] : c.metrics)
        if (!std::isnan(v)) {
          sums[k].first += v;
          sums[k].second += 1;
        }
    }
    os << "| " << s.detector << " |";
    for (const auto& a : axes) os << " " << s.axes.at(a).dump() << " |";
    os << " " << ok << "/" << plan.series.size() << " |";
    for (const auto& prof : profiles) {
      double v = std::nan("");
      if (ev.nab_scores.contains(s.detector) && ev.nab_scores[s.detector].contains(prof))
        v = ev.nab_scores[s.detector][prof].get<double>();
      os << " " << fixed(v, 2) << " |";
    }
    for (const auto& m : shown) {
      auto it = sums.find(m);
      os << " " << (it == sums.end() ? "-" : fixed(it->second.first / it->second.second, 3)) << " |";
    }
    os << " " << fixed(total ? train / total : std::nan(""), 2) << " |\n";
  }
  os << "\n" << plan.series.size() << " series, " << plan.cells.size() << " cells, engine "
     << at_path(cfg, "engine.name").get<std::string>() << " (" << at_path(cfg, "engine.precision").get<std::string>()
     << "), " << fixed(seconds, 1) << " s wall. NAB scores: corpus-optimal threshold per profile (0 = null, 100 = "
     << "perfect); metrics: means over series.\n";
  std::map<std::string, int> fallback;  // engine.fallback's cells, by the engine that trained them
  for (const auto& c : cells)
    if (!c.engine_fallback.empty()) ++fallback[c.engine_fallback];
  for (const auto& [eng, n] : fallback)
    os << n << " cell(s) trained on engine.fallback " << eng << " (engine " << at_path(cfg, "engine.name").get<std::string>()
       << " refused their shape).\n";
  // One line per reason: a grid whose corpus has no label windows (or eval.nab false, an interrupted
  // run) gives every detector the same one.
  std::vector<std::pair<std::string, std::vector<std::string>>> reasons;  // why -> detectors, in order
  for (const auto& [det, why] : ev.skipped) {
    // A structured binding cannot be captured in C++17 (g++ accepts it, clang rejects it): capture a name.
    auto it =
        std::find_if(reasons.begin(), reasons.end(), [&w = why](const auto& r) { return r.first == w; });
    if (it == reasons.end()) it = reasons.insert(reasons.end(), {why, {}});
    it->second.push_back(det);
  }
  for (const auto& [why, dets] : reasons) {
    if (dets.size() == 1)
      os << "No NAB score for " << dets[0] << ": " << why << "\n";
    else if (dets.size() == plan.settings.size())
      os << "No NAB score for any of the " << dets.size() << " detectors: " << why << "\n";
    else {
      os << "No NAB score for " << dets.size() << " detectors (";
      for (size_t k = 0; k < dets.size(); ++k) os << (k ? ", " : "") << dets[k];
      os << "): " << why << "\n";
    }
  }
  return os.str();
}

}  // namespace lstmad
