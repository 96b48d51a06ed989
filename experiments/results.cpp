#include "experiments/results.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "data/csv_fields.hpp"
#include "eval/metrics.hpp"

namespace lstmad {
namespace fs = std::filesystem;

std::string to_string(CellStatus s) {
  switch (s) {
    case CellStatus::Ok: return "OK";
    case CellStatus::Error: return "ERROR";
    case CellStatus::NonFinite: return "NONFINITE";
    case CellStatus::Timeout: return "TIMEOUT";
  }
  return "ERROR";
}

CellStatus parse_cell_status(const std::string& s) {
  if (s == "OK") return CellStatus::Ok;
  if (s == "NONFINITE") return CellStatus::NonFinite;
  if (s == "TIMEOUT") return CellStatus::Timeout;
  if (s == "ERROR") return CellStatus::Error;
  throw Error("\"" + s + "\" is not a cell status (OK, ERROR, NONFINITE, TIMEOUT)");
}

json finite_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json finite_or_null(const std::vector<double>& values) {
  json a = json::array();
  for (double x : values) a.push_back(finite_or_null(x));
  return a;
}

json model_facts(uint64_t seed, CellStatus status, int epochs, int best_epoch, double train_loss,
                 double val_loss, const json& loss_curve) {
  json j{{"seed", seed},
         {"status", to_string(status)},
         {"epochs", epochs},
         {"best_epoch", best_epoch},
         {"train_loss", finite_or_null(train_loss)},
         {"val_loss", finite_or_null(val_loss)}};
  if (!loss_curve.is_null()) j["loss_curve"] = loss_curve;
  return j;
}

namespace {
// A number, or null (a non-finite one, see finite_or_null), which reads back as NaN; anything else is a
// DataError naming the file and the key.
double number_or_null(const json& j, const std::vector<std::string>& keys, const std::string& file) {
  const json& v = json_at(j, keys, file);
  return v.is_null() ? std::nan("") : json_as<double>(v, json_key_path(keys), file);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string fmt_double(double v) {
  if (std::isnan(v)) return "nan";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}
}  // namespace

json CellResult::to_json() const {
  json m = json::object();
  json order = json::array();
  for (const auto& [k, v] : metrics) {
    m[k] = finite_or_null(v);
    order.push_back(k);
  }
  json j{{"id", id},
         {"index", index},
         {"setting", setting},
         {"detector", detector},
         {"series", series},
         {"seed", seed},
         {"status", to_string(status)},
         {"error", error},
         {"rows", rows},
         {"train_rows", train_rows},
         {"epochs", epochs},
         {"best_epoch", best_epoch},
         {"train_loss", finite_or_null(train_loss)},
         {"val_loss", finite_or_null(val_loss)},
         {"seconds",
          {{"prepare", seconds_prepare},
           {"train", seconds_train},
           {"predict", seconds_predict},
           {"total", seconds_total}}},
         {"metrics", m},
         {"metric_order", order}};
  if (!time_features.empty()) j["time_features"] = time_features;
  if (!engine_fallback.empty()) j["engine_fallback"] = engine_fallback;
  if (!members.empty()) j["members"] = members;
  if (!loss_curve.is_null()) j["loss_curve"] = loss_curve;
  return j;
}

namespace {
// A cell's (or an ensemble member's) status at `path` of `file`: a text naming a status, else a DataError
// naming the file and the path.
CellStatus status_at(const json& v, const std::string& path, const std::string& file) {
  try {
    return parse_cell_status(json_as<std::string>(v, path, file));
  } catch (const DataError&) {
    throw;
  } catch (const Error& e) {
    throw DataError(file, 0, path + ": " + e.what());
  }
}
}  // namespace

CellResult CellResult::from_json(const json& j, const std::string& file) {
  CellResult r;
  const auto get_int = [&](const char* key) { return json_get<int>(j, {key}, file); };
  const auto get_text = [&](const char* key) { return json_get<std::string>(j, {key}, file); };
  r.id = get_text("id");
  r.index = get_int("index");
  r.setting = get_int("setting");
  r.detector = get_text("detector");
  r.series = get_text("series");
  r.seed = json_get<uint64_t>(j, {"seed"}, file);
  r.status = status_at(json_at(j, {"status"}, file), "status", file);
  r.error = get_text("error");
  r.rows = get_int("rows");
  // train_rows is absent in cells written before it was recorded.
  r.train_rows = json_get_or<int>(j, {"train_rows"}, file, -1);
  r.epochs = get_int("epochs");
  r.best_epoch = get_int("best_epoch");
  r.train_loss = number_or_null(j, {"train_loss"}, file);
  r.val_loss = number_or_null(j, {"val_loss"}, file);
  r.seconds_prepare = json_get<double>(j, {"seconds", "prepare"}, file);
  r.seconds_train = json_get<double>(j, {"seconds", "train"}, file);
  r.seconds_predict = json_get<double>(j, {"seconds", "predict"}, file);
  r.seconds_total = json_get<double>(j, {"seconds", "total"}, file);
  r.time_features = json_get_or<std::vector<std::string>>(j, {"time_features"}, file, {});
  r.engine_fallback = json_get_or<std::string>(j, {"engine_fallback"}, file, "");
  // Kept as JSON, but rescore and the report read into them: an ensemble's members are objects holding
  // each model's facts (model_facts; a rescore adds the run it came from), a model's curve is
  // {"train": [...], "val": [...]}.
  if (j.contains("members")) {
    r.members = j.at("members");
    if (!r.members.is_array())
      throw DataError(file, 0, "members: expected a list, got " + json_excerpt(r.members));
    for (std::size_t m = 0; m < r.members.size(); ++m) {
      const json& e = r.members[m];
      const std::string at = "members[" + std::to_string(m) + "]";
      if (!e.is_object()) throw DataError(file, 0, at + ": expected an object, got " + json_excerpt(e));
      const auto need = [&](const char* key) -> const json& {
        if (!e.contains(key)) throw DataError(file, 0, at + "." + key + ": missing");
        return e.at(key);
      };
      json_as<uint64_t>(need("seed"), at + ".seed", file);
      status_at(need("status"), at + ".status", file);
      json_as<int>(need("epochs"), at + ".epochs", file);
      json_as<int>(need("best_epoch"), at + ".best_epoch", file);
      for (const char* key : {"train_loss", "val_loss"})
        if (!need(key).is_null()) json_as<double>(e.at(key), at + "." + key, file);
      if (e.contains("run")) json_as<std::string>(e.at("run"), at + ".run", file);
      if (e.contains("values") && !e.at("values").is_object())
        throw DataError(file, 0, at + ".values: expected an object, got " + json_excerpt(e.at("values")));
    }
  }
  if (j.contains("loss_curve")) {
    r.loss_curve = j.at("loss_curve");
    if (!r.loss_curve.is_null())
      for (const char* part : {"train", "val"}) {
        const json& list = json_at(j, {"loss_curve", part}, file);
        const std::string path = std::string("loss_curve.") + part;
        if (!list.is_array()) throw DataError(file, 0, path + ": expected a list, got " + json_excerpt(list));
        for (std::size_t e = 0; e < list.size(); ++e)
          if (!list[e].is_null()) (void)json_as<double>(list[e], path + "[" + std::to_string(e) + "]", file);
      }
  }
  const auto order = json_get<std::vector<std::string>>(j, {"metric_order"}, file);
  for (const auto& key : order) r.metrics.emplace_back(key, number_or_null(j, {"metrics", key}, file));
  return r;
}

ResultsStore::ResultsStore(std::string run_dir) : dir_(std::move(run_dir)) {
  files::make_dirs(dir_ + "/cells");
  files::make_dirs(dir_ + "/nab");
}

void ResultsStore::write_cell(const CellResult& r) const {
  files::write_atomic(dir_ + "/cells/" + r.id + ".json", json_text(r.to_json()));
}

std::vector<CellResult> ResultsStore::read_cells() const {
  std::vector<CellResult> out;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir_ + "/cells", ec)) {
    if (f.path().extension() != ".json") continue;
    try {
      out.push_back(CellResult::from_json(read_json_file(f.path().string()), f.path().string()));
    } catch (const DataError& e) {  // names the file and the key already
      log::warn(std::string(e.what()) + ": an unreadable cell result (a resume runs the cell again)");
    } catch (const std::exception& e) {
      log::warn(f.path().string() +
                ": an unreadable cell result (a resume runs the cell again): " + e.what());
    }
  }
  return out;
}

std::string ResultsStore::nab_scores_path(const std::string& detector, const std::string& series) const {
  fs::path rel(series);
  std::string category = rel.parent_path().string();
  std::string file = rel.filename().string();
  return dir_ + "/nab/" + detector + "/" + (category.empty() ? "" : category + "/") + detector + "_" + file;
}

void append_shortest(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void ResultsStore::write_nab_scores(const std::string& detector, const Series& series,
                                    const std::vector<double>& scores, const std::vector<double>* raw) const {
  std::string path = nab_scores_path(detector, series.name);
  files::make_dirs(fs::path(path).parent_path().string());
  auto labels = series.point_labels();
  // Written as it is made, a block at a time: a 2-million-row file is 140 MB.
  files::AtomicWriter file(path);
  std::string& out = file.buffer();
  out += raw ? "timestamp,value,anomaly_score,raw_score,label\n" : "timestamp,value,anomaly_score,label\n";
  // Shortest round-trip text of each number: reading the file back gives the same doubles (rescore relies
  // on it), without the noise digits of %.17g.
  auto put = [&out](double v) { append_shortest(out, v); };
  for (int i = 0; i < series.rows(); ++i) {
    const size_t k = static_cast<size_t>(i);
    out += series.timestamps[k];
    out += ',';
    put(series.value(i));
    out += ',';
    put(scores[k]);
    if (raw) {
      out += ',';
      put((*raw)[k]);
    }
    out += labels[k] ? ",1\n" : ",0\n";
    file.flush_if_full();
  }
  file.commit();
}

std::vector<std::vector<double>> ResultsStore::read_nab_columns(
    const std::string& detector, const std::string& series, const std::vector<std::string>& columns) const {
  const std::string path = nab_scores_path(detector, series);
  // Read line by line in blocks: a 2-million-row file is 140 MB, of which only three numbers a row are kept.
  std::vector<std::string> header;
  std::vector<size_t> col(columns.size());
  std::vector<std::vector<double>> out(columns.size());
  std::vector<const char*> starts;  // where each field of the line starts
  files::read_lines(path, [&](const char* b, const char* e, long line_no) {
    if (line_no == 1) {
      for (const char* f = b;;) {
        const char* comma = std::find(f, e, ',');
        header.emplace_back(f, comma);
        if (comma == e) break;
        f = comma + 1;
      }
      for (size_t k = 0; k < columns.size(); ++k) {
        col[k] = static_cast<size_t>(std::find(header.begin(), header.end(), columns[k]) - header.begin());
        if (col[k] == header.size()) throw DataError(path, 1, "no column `" + columns[k] + "` in the header");
      }
      return;
    }
    starts.assign(1, b);
    for (const char* c = std::find(b, e, ','); c != e; c = std::find(c + 1, e, ',')) starts.push_back(c + 1);
    for (size_t k = 0; k < columns.size(); ++k) {
      if (col[k] >= starts.size())
        throw DataError(path, line_no, "expected " + std::to_string(header.size()) + " columns");
      const char* field = starts[col[k]];
      const char* field_end = std::find(field, e, ',');
      double v = 0.0;
      // The whole field, not a number's prefix: "0.5xyz" is a damaged file, not 0.5.
      if (!parse_whole_number(std::string_view(field, static_cast<size_t>(field_end - field)), v))
        throw DataError(
            path, line_no,
            "column `" + columns[k] + "` is not a number: `" + std::string(field, field_end) + "`");
      out[k].push_back(v);
    }
  });
  if (header.empty()) throw DataError(path, 1, "is empty: no header");
  return out;
}

void ResultsStore::write_results_csv(const Plan& plan, const std::vector<CellResult>& cells) const {
  std::vector<std::string> axes = grid_axes(plan.config);
  // Metric columns: every per-series metric, whatever the cells hold, so that a run whose cells all failed
  // (or a shard of such cells) has the same columns as any other; then any other name a cell reports (a
  // cell file of another version), in first-seen order.
  std::vector<std::string> metric_cols = metrics::series_metric_names();
  for (const auto& c : cells)
    for (const auto& [k, v] : c.metrics)
      if (std::find(metric_cols.begin(), metric_cols.end(), k) == metric_cols.end()) metric_cols.push_back(k);
  std::ostringstream os;
  os << "cell_id,index,detector,setting_id,series,seed";
  for (const auto& a : axes) os << "," << a;
  os << ",status,error,rows,train_rows,epochs,best_epoch,train_loss,val_loss,seconds_prepare,seconds_train,seconds_predict,"
        "seconds_total";
  for (const auto& m : metric_cols) os << "," << m;
  os << "\n";
  std::vector<const CellResult*> by_index(plan.cells.size(), nullptr);
  for (const auto& c : cells)
    if (c.index >= 0 && c.index < static_cast<int>(by_index.size())) by_index[static_cast<size_t>(c.index)] = &c;
  for (const auto* c : by_index) {
    if (!c) continue;
    const Setting& s = plan.settings[static_cast<size_t>(c->setting)];
    os << c->id << "," << c->index << "," << csv_field(c->detector) << "," << s.id << "," << csv_field(c->series)
       << "," << c->seed;
    // A grid value as a spreadsheet or pandas reads it: text as it is, other values as JSON (3, 0.001,
    // true, [1,2]).
    for (const auto& a : axes) {
      const json& v = s.axes.at(a);
      os << "," << csv_field(v.is_string() ? v.get<std::string>() : v.dump());
    }
    os << "," << to_string(c->status) << "," << csv_field(c->error) << "," << c->rows << "," << c->train_rows << "," << c->epochs << ","
       << c->best_epoch << "," << fmt_double(c->train_loss) << "," << fmt_double(c->val_loss) << ","
       << fmt_double(c->seconds_prepare) << "," << fmt_double(c->seconds_train) << ","
       << fmt_double(c->seconds_predict) << "," << fmt_double(c->seconds_total);
    std::map<std::string, double> m(c->metrics.begin(), c->metrics.end());
    for (const auto& k : metric_cols) {
      auto it = m.find(k);
      os << "," << fmt_double(it == m.end() || c->status != CellStatus::Ok ? std::nan("") : it->second);
    }
    os << "\n";
  }
  files::write_atomic(dir_ + "/results.csv", os.str());
}

}  // namespace lstmad
