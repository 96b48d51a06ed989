#include "data/nab_windows.hpp"

#include <algorithm>
#include <cstddef>

#include "data/series.hpp"

namespace lstmad {
namespace {

// Steps 2-4: each run widened by the half-width of NAB's window for k = runs.size(), clipped to the file;
// the first dropped when it starts before the probation length.
std::vector<std::pair<int, int>> widened(int rows, const std::vector<std::pair<int, int>>& runs) {
  std::vector<std::pair<int, int>> ws;
  if (runs.empty() || rows <= 0) return ws;
  // Python 2's int(0.10 * n / k) and floor division, as the NAB labels were made.
  const int width = static_cast<int>(0.10 * rows / static_cast<double>(runs.size()));
  const int h = width / 2;
  for (const auto& [s, e] : runs) ws.emplace_back(std::max(s - h, 0), std::min(e + h, rows - 1));
  if (ws.front().first < probation_length(rows)) ws.erase(ws.begin());
  return ws;
}

}  // namespace

std::vector<std::pair<int, int>> nab_windows_from_points(int rows, const std::vector<int>& points) {
  std::vector<std::pair<int, int>> runs;
  for (int a : points) runs.emplace_back(a, a);
  std::vector<std::pair<int, int>> ws = widened(rows, runs);
  // NAB's merge loop advances its index after a merge, so three overlapping windows are not chained.
  for (size_t i = 0; i + 1 < ws.size(); ++i) {
    if (ws[i + 1].first <= ws[i].second) {
      ws[i].second = ws[i + 1].second;
      ws.erase(ws.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    }
  }
  return ws;
}

std::vector<std::pair<int, int>> nab_windows_from_runs(int rows,
                                                       const std::vector<std::pair<int, int>>& runs) {
  std::vector<std::pair<int, int>> merged;
  for (const auto& w : widened(rows, runs)) {
    if (!merged.empty() && w.first <= merged.back().second)
      merged.back().second = std::max(merged.back().second, w.second);
    else
      merged.push_back(w);
  }
  return merged;
}

}  // namespace lstmad
