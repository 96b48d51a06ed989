#include "experiments/report_svg.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <utility>

namespace lstmad::report_svg {
using json = nlohmann::json;

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string num(double v, int digits) {
  if (std::isnan(v)) return "&ndash;";
  char buf[48];
  // Fixed digits up to a billion; beyond, six significant digits (1e308 would print 309 digits).
  if (std::fabs(v) >= 1e9)
    std::snprintf(buf, sizeof buf, "%.6g", v);
  else
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string url_file_name(const std::string& name) {
  static const char* hex = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      o += static_cast<char>(c);
    } else {
      o += '%';
      o += hex[c >> 4];
      o += hex[c & 15];
    }
  }
  return o;
}

namespace {

// A coordinate in tenths of a pixel, without a trailing ".0" (most of a page's bytes are coordinates).
std::string coord(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

// A polyline of min/max per pixel column, so a 20k-row series stays a small path. A column whose min and
// max fall on one tenth of a pixel is one point, and the inner points of a horizontal run (a flat score)
// are left out: the line drawn is the same.
std::string polyline(const std::vector<double>& y, double lo, double hi, double x0, double width, double y0,
                     double height, const char* color) {
  const size_t n = y.size();
  if (n == 0) return "";
  const size_t cols = std::min<size_t>(n, static_cast<size_t>(width));
  auto ypix = [&](double v) {
    double t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    return y0 + height - t * height;
  };
  std::vector<std::pair<std::string, std::string>> points;
  for (size_t c = 0; c < cols; ++c) {
    size_t a = c * n / cols, b = std::max(a + 1, (c + 1) * n / cols);
    double mn = INFINITY, mx = -INFINITY;
    for (size_t i = a; i < b; ++i) {
      if (std::isnan(y[i])) continue;
      mn = std::min(mn, y[i]);
      mx = std::max(mx, y[i]);
    }
    if (mn > mx) continue;  // no value in this column (a missing row): a gap the line bridges
    const std::string x = coord(x0 + width * static_cast<double>(c) / static_cast<double>(cols));
    const std::string top = coord(ypix(mx)), bottom = coord(ypix(mn));
    points.emplace_back(x, top);
    if (bottom != top) points.emplace_back(x, bottom);
  }
  std::ostringstream os;
  os << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1\" points=\"";
  for (size_t i = 0; i < points.size(); ++i) {
    const bool inner_of_flat_run = i > 0 && i + 1 < points.size() &&
                                   points[i - 1].second == points[i].second &&
                                   points[i + 1].second == points[i].second;
    if (!inner_of_flat_run) os << points[i].first << "," << points[i].second << " ";
  }
  os << "\"/>";
  return os.str();
}

}  // namespace

std::string series_plot(const std::string& title, const ScoredSeries& s, double threshold, int probation) {
  const double W = 900, H1 = 150, H2 = 70, L = 40;
  const size_t n = s.value.size();
  double lo = 1e300, hi = -1e300;
  for (double v : s.value)
    if (!std::isnan(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  auto xpix = [&](size_t i) {
    return L + W * static_cast<double>(i) / std::max<double>(1.0, static_cast<double>(n));
  };
  std::ostringstream os;
  os << "<figure class=\"series\"><figcaption>" << esc(title) << "</figcaption>"
     << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W + L + 10 << "\" height=\"" << H1 + H2 + 30
     << "\" role=\"img\" aria-label=\"" << esc(title) << "\">";
  // Label windows (shaded), the probationary part (hatched grey).
  os << "<rect x=\"" << L << "\" y=\"5\" width=\"" << xpix(static_cast<size_t>(probation)) - L
     << "\" height=\"" << H1 + H2 + 10 << "\" fill=\"#eeeeee\"/>";
  // One band per labeled run, but runs less than half a pixel apart share one: a long series with an
  // event every few hundred rows would otherwise draw thousands of overlapping bands (4 MB of report).
  double band_x0 = -1, band_x1 = -1;
  auto band = [&] {
    if (band_x0 >= 0)
      os << "<rect class=\"window\" x=\"" << band_x0 << "\" y=\"5\" width=\"" << band_x1 - band_x0
         << "\" height=\"" << H1 + H2 + 10 << "\" fill=\"#ffd6d6\"/>";
  };
  for (size_t i = 0; i < n;) {
    if (!s.label[i]) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && s.label[j]) ++j;
    const double x0 = xpix(i), x1 = x0 + std::max(1.0, xpix(j) - x0);
    if (band_x0 >= 0 && x0 <= band_x1 + 0.5) {
      band_x1 = std::max(band_x1, x1);
    } else {
      band();
      band_x0 = x0;
      band_x1 = x1;
    }
    i = j;
  }
  band();
  os << polyline(s.value, lo, hi, L, W, 5, H1, "#1f4e9c");
  os << polyline(s.score, 0.0, 1.0, L, W, H1 + 15, H2, "#555555");
  if (!std::isnan(threshold)) {
    double ty = H1 + 15 + H2 - threshold * H2;
    os << "<line x1=\"" << L << "\" x2=\"" << L + W << "\" y1=\"" << ty << "\" y2=\"" << ty
       << "\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>";
    // One mark per pixel column that holds a detection (the marks are 6 pixels wide).
    long last_column = -1;
    for (size_t i = static_cast<size_t>(probation); i < n; ++i)
      if (s.score[i] >= threshold) {
        const long column = static_cast<long>(std::floor(xpix(i)));
        if (column == last_column) continue;
        last_column = column;
        os << "<circle class=\"detection\" cx=\"" << xpix(i) << "\" cy=\"" << H1 + 12
           << "\" r=\"3\" fill=\"#c00\"/>";
      }
  }
  os << "<text x=\"2\" y=\"15\" font-size=\"10\">" << num(hi, 2) << "</text><text x=\"2\" y=\"" << H1
     << "\" font-size=\"10\">" << num(lo, 2) << "</text><text x=\"2\" y=\"" << H1 + 25
     << "\" font-size=\"10\">score</text></svg></figure>\n";
  return os.str();
}

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
}  // namespace lstmad::report_svg
