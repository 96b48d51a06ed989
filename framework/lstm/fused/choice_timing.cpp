// ChoiceTiming (choice_timing.hpp): the rounds, the medians and the choices remembered in this process.
#include "lstm/fused/choice_timing.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>

#include "core/error.hpp"
#include "lstm/fused/fused_switches.hpp"

namespace lstmad {

namespace {

std::mutex remembered_mutex;
std::map<std::string, std::string>& remembered_choices() {
  static std::map<std::string, std::string> m;
  return m;
}

}  // namespace

std::string ChoiceTiming::remembered(const std::string& key) {
  const std::lock_guard<std::mutex> lock(remembered_mutex);
  const auto it = remembered_choices().find(key);
  return it == remembered_choices().end() ? std::string() : it->second;
}

int ChoiceTiming::decide(std::vector<std::string> choices, const std::string& pinned, const std::string& key,
                         TimeLoopTuning& t) {
  active_ = false;
  t = TimeLoopTuning();
  t.chosen = choices.front();
  if (choices.size() < 2) {
    t.how = pinned.empty() ? "not timed: one choice" : "not timed: pinned by " + pinned;
    return -1;
  }
  if (!fused_autotune()) {
    t.how = "not timed: LSTMAD_FUSED_AUTOTUNE=0";
    return -1;
  }
  const std::string before = remembered(key);
  for (std::size_t i = 0; i < choices.size(); ++i)
    if (!before.empty() && choices[i] == before) {
      t.chosen = before;
      t.how = "as timed before in this process";
      return static_cast<int>(i);
    }
  start(std::move(choices));
  return -1;
}

void ChoiceTiming::start(std::vector<std::string> choices) {
  if (choices.size() < 2) throw Error("time-loop autotuning needs at least two choices to time");
  names_ = std::move(choices);
  events_.clear();
  events_.resize(names_.size());
  for (auto& e : events_)
    for (int r = 0; r < kTimedRounds; ++r) e.emplace_back(gpu::Event(), gpu::Event());
  done_ = 0;
  active_ = true;
}

void ChoiceTiming::begin(cudaStream_t stream) {
  const int round = done_ / static_cast<int>(names_.size());
  if (round > 0) events_[next()][static_cast<std::size_t>(round - 1)].first.record(stream);
}

bool ChoiceTiming::end(cudaStream_t stream) {
  const int round = done_ / static_cast<int>(names_.size());
  if (round > 0) events_[next()][static_cast<std::size_t>(round - 1)].second.record(stream);
  return ++done_ == steps();
}

std::size_t ChoiceTiming::finish(const std::string& key, TimeLoopTuning& t) {
  t.timed.clear();
  for (std::size_t i = 0; i < names_.size(); ++i) {
    std::vector<double> ms;
    for (auto& [start, stop] : events_[i]) {
      stop.synchronize();
      ms.push_back(stop.elapsed_ms_since(start));
    }
    std::sort(ms.begin(), ms.end());
    t.timed.emplace_back(names_[i], ms[ms.size() / 2]);
  }
  std::vector<double> medians;
  for (const auto& [name, ms] : t.timed) medians.push_back(ms);
  const std::size_t best = fastest_choice(medians, kMargin);
  t.chosen = names_[best];
  t.how = "timed";
  active_ = false;
  events_.clear();
  {
    const std::lock_guard<std::mutex> lock(remembered_mutex);
    remembered_choices()[key] = t.chosen;
  }
  return best;
}

std::size_t fastest_choice(const std::vector<double>& median_ms, double margin) {
  if (median_ms.empty()) return 0;
  const std::size_t best =
      static_cast<std::size_t>(std::min_element(median_ms.begin(), median_ms.end()) - median_ms.begin());
  return median_ms[best] < median_ms[0] * (1.0 - margin) ? best : 0;
}

std::string backward_parts_name(int parts) {
  return parts > 1 ? "backward in " + std::to_string(parts) + " parts of K" : "backward unsplit";
}

std::string to_string(const TimeLoopTuning& t) {
  if (t.timed.empty()) return t.chosen + " (" + t.how + ")";
  std::string s;
  for (const auto& [name, ms] : t.timed) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.3f ms", ms);
    s += (s.empty() ? "" : ", ") + name + buf;
  }
  return s + ": " + t.chosen;
}

}  // namespace lstmad
