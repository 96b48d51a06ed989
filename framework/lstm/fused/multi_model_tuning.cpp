// MultiModelBlock::autotune (multi_model_block.hpp): the time loops' choices that give the same bits,
// timed on the block's own jobs before it trains.
//
// Why at run time: which of these choices is faster depends on the device and on the launch (the tiled
// products trade a second barrier per step for half the shared-memory loads; the split tensor-core
// backward trades SMs shared among four blocks for one block of 512 threads), and the defaults were
// chosen by counting, not measured on every device. Since every choice gives the same bits, timing them
// changes no result: a model trains to the same parameters whichever is chosen, run after run, alone or in
// a batch.
#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/gpu/check.hpp"
#include "core/log.hpp"
#include "kernels/lstm_fused_mma.hpp"
#include "lstm/fused/fused_switches.hpp"
#include "lstm/fused/multi_model_block.hpp"

namespace lstmad {

namespace {

// One warm-up round (lazy module loading, first touches), then this many timed rounds, the choices
// interleaved within each round so that a drift of the clock weighs on all of them alike.
constexpr int kTimedRounds = 3;
// The timing may cost at most this share of the steps the batch plans (under Autotune::Auto).
constexpr long long kPlannedStepsPerTimedStep = 20;
// A choice replaces the first (the default) only when faster by more than this: within it the two are
// the same speed as far as a few steps can tell, and the default is kept.
constexpr double kMargin = 0.02;

// The choices made in this process, by MultiModelBlock::tuning_key().
std::mutex tuned_mutex;
std::map<std::string, std::string>& tuned() {
  static std::map<std::string, std::string> m;
  return m;
}

std::string parts_name(int parts) {
  return parts > 1 ? "backward in " + std::to_string(parts) + " parts of K" : "backward unsplit";
}

}  // namespace

std::vector<MultiModelBlock::LoopChoice> MultiModelBlock::loop_choices(std::string& pinned) const {
  std::vector<LoopChoice> out;
  LoopChoice now;
  now.tiled = tiled_;
  now.mma = mma_;
  if (mma_.grid > 0) {
    now.name = parts_name(mma_.bwd_parts);
    out.push_back(now);
    if (fused_switch_set("LSTMAD_FUSED_MMA_SPLIT")) {
      pinned = "LSTMAD_FUSED_MMA_SPLIT";
      return out;
    }
    // The other side of plan_fused_mma's rule at this N: unsplit where it splits, split where it does not
    // (and where the device can).
    const kernels::mma::Format f = mma_.format;
    LoopChoice other = now;
    other.mma =
        kernels::plan_fused_mma(f, shape_.hidden, B_, limits_, N_,
                                mma_.bwd_parts > 1 ? kernels::BwdSplit::Off : kernels::BwdSplit::Always);
    if (other.mma.bwd_parts != mma_.bwd_parts) {
      other.name = parts_name(other.mma.bwd_parts);
      out.push_back(other);
    }
    return out;
  }
  // The tiled products are taken only by the one-block kernels, where a block holds many rows.
  const bool tiles = split_.grid == 0 && cluster_.cluster <= 1 && kernels::fused_bwd_tiled(plan_);
  now.name = !tiles ? time_loops() : tiled_ ? "tiled" : "untiled";
  out.push_back(now);
  if (!tiles) return out;
  if (fused_switch_set("LSTMAD_FUSED_TILED")) {
    pinned = "LSTMAD_FUSED_TILED";
    return out;
  }
  LoopChoice other = now;
  other.tiled = !tiled_;
  other.name = other.tiled ? "tiled" : "untiled";
  out.push_back(other);
  return out;
}

// Makes c the block's time loops. The kernels of a tensor-core plan get their shared-memory limit here;
// a step captured as a graph with other loops is dropped, to be captured again.
void MultiModelBlock::run_choice(const LoopChoice& c) {
  tiled_ = c.tiled;
  if (mma_.grid > 0) {
    mma_ = c.mma;
    CUDA_CHECK(kernels::prepare_lstm_mma(mma_));
  }
  for (int k = 0; k < 3; ++k) {
    graphs_[k] = gpu::GraphExec();
    warmed_[k] = false;
  }
}

std::string MultiModelBlock::tuning_key() const {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  return std::to_string(device) + "|" + shape_.str() + "|T=" + std::to_string(T_) +
         "|B=" + std::to_string(B_) + "|N=" + std::to_string(N_) + "|" + to_string(precision_) + "|" +
         std::to_string(limits_.sm_count) + "|" + std::to_string(limits_.smem_optin);
}

TimeLoopTuning MultiModelBlock::autotune(const std::vector<ModelJob*>& jobs, long long planned_steps) {
  TimeLoopTuning t;
  std::string pinned;
  const std::vector<LoopChoice> choices = loop_choices(pinned);
  t.chosen = choices.front().name;
  const Autotune mode = fused_autotune();
  if (inference_) {
    t.how = "not timed: an inference block";
    return t;
  }
  if (choices.size() < 2) {
    t.how = pinned.empty() ? "not timed: one choice" : "not timed: " + pinned + " pins it";
    return t;
  }
  if (mode == Autotune::Off) {
    t.how = "not timed: LSTMAD_FUSED_AUTOTUNE=0";
    return t;
  }
  const std::string key = tuning_key();
  {
    const std::lock_guard<std::mutex> lock(tuned_mutex);
    const auto it = tuned().find(key);
    if (it != tuned().end()) {
      for (const LoopChoice& c : choices)
        if (c.name == it->second) {
          run_choice(c);
          t.chosen = c.name;
          t.how = "as timed before in this process";
          return t;
        }
    }
  }
  const long long timing_steps = static_cast<long long>(choices.size()) * (kTimedRounds + 1);
  if (mode == Autotune::Auto && planned_steps < timing_steps * kPlannedStepsPerTimedStep) {
    t.how = "not timed: " + std::to_string(planned_steps) + " planned steps, fewer than " +
            std::to_string(timing_steps * kPlannedStepsPerTimedStep);
    return t;
  }
  // Each model runs its first B windows; the cursor rewinds before every step.
  load_for_steps(jobs);
  std::vector<std::vector<double>> ms(choices.size());
  gpu::Event start, stop;
  for (int round = 0; round <= kTimedRounds; ++round)
    for (std::size_t i = 0; i < choices.size(); ++i) {
      run_choice(choices[i]);
      cursor_.zero_async(stream_);
      start.record(stream_);
      enqueue(Pass::Train);
      stop.record(stream_);
      stop.synchronize();
      if (round > 0) ms[i].push_back(stop.elapsed_ms_since(start));
    }
  std::size_t best = 0;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    std::sort(ms[i].begin(), ms[i].end());
    t.timed.emplace_back(choices[i].name, ms[i][ms[i].size() / 2]);
  }
  for (std::size_t i = 1; i < choices.size(); ++i)
    if (t.timed[i].second < t.timed[best].second * (1.0 - kMargin)) best = i;
  run_choice(choices[best]);
  t.chosen = choices[best].name;
  t.how = "timed";
  {
    const std::lock_guard<std::mutex> lock(tuned_mutex);
    tuned()[key] = t.chosen;
  }
  // The buffers back to zero as the constructor left them; the parameters, Adam moments and step counts
  // the timed steps moved are the caller's load() to restore.
  zero_buffers();
  log::info("fused engine: time loops for " + std::to_string(N_) + " model(s) of " + shape_.str() +
            ", T=" + std::to_string(T_) + ", B=" + std::to_string(B_) + " (" + to_string(precision_) +
            "), per step: " + to_string(t) + " (the same bits either way)");
  return t;
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
