// MultiModelBlock's autotuning (multi_model_block.hpp): the time loops' choices that give the same bits,
// timed on the block's own first training steps.
//
// Why at run time: which of these choices is faster depends on the device and on the launch (the tiled
// products trade a second barrier per step for half the shared-memory loads; the split tensor-core
// backward trades SMs shared among four blocks for one block of 512 threads), and the defaults were
// chosen by counting, not measured on every device. Why on the training's own steps: every choice gives
// every other's bits, so steps run with the choices in turn train the models exactly as the default
// would. The timing costs no extra step and leaves nothing to undo; the timed steps run eagerly (no graph
// replay) and the host waits once, when the rounds are done.
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
// A choice replaces the first (the default) only when faster by more than this: within it the two are
// the same speed as far as a few steps can tell, and the default is kept.
constexpr double kMargin = 0.02;

// The choices made in this process, by MultiModelBlock::tuning_key(): the device, the block's sizes and
// precision, the limits it was planned for, and the set of choices.
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
    now.name = inference_ ? "tensor cores" : parts_name(mma_.bwd_parts);
    out.push_back(now);
    if (inference_) return out;  // the split is the backward's
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
  // The one-block kernels' choices: their tiled products or not, where a block holds many rows (an
  // inference block runs only the forward's), and the split kernels of version 4 for H = 16, 32, 64, which
  // sum in their order. A switch set by hand pins its own choice.
  now.split = split_;
  const bool one_block = split_.grid == 0 && cluster_.cluster <= 1;
  const bool tiles =
      one_block && (inference_ ? kernels::fused_fwd_tiled(plan_) : kernels::fused_bwd_tiled(plan_));
  now.name = !tiles ? time_loops() : tiled_ ? "tiled" : "untiled";
  out.push_back(now);
  if (tiles) {
    if (fused_switch_set("LSTMAD_FUSED_TILED")) {
      pinned = "LSTMAD_FUSED_TILED";
    } else {
      LoopChoice other = now;
      other.tiled = !tiled_;
      other.name = other.tiled ? "tiled" : "untiled";
      out.push_back(other);
    }
  }
  if (one_block && kernels::split_hidden_supported(shape_.hidden)) {
    if (fused_switch_set("LSTMAD_FUSED_SPLIT")) {
      pinned += (pinned.empty() ? "" : ", ") + std::string("LSTMAD_FUSED_SPLIT");
    } else {
      // The SMs shared out among the models as for the constructor's plans.
      kernels::FusedLimits per = limits_;
      per.sm_count = std::max(1, limits_.sm_count / std::max(1, N_));
      LoopChoice split = now;
      split.split = kernels::plan_fused_split(shape_.hidden, B_, per);
      split.name = "split";
      if (split.split.grid > 0) out.push_back(split);
    }
  }
  return out;
}

// Makes c the block's time loops. The kernels of a tensor-core plan get their shared-memory limit here;
// a step captured as a graph with other loops is dropped, to be captured again.
void MultiModelBlock::run_choice(const LoopChoice& c) {
  tiled_ = c.tiled;
  split_ = c.split;
  if (mma_.grid > 0) {
    mma_ = c.mma;
    CUDA_CHECK(kernels::prepare_lstm_mma(mma_));
  }
  for (int k = 0; k < 3; ++k) {
    graphs_[k] = gpu::GraphExec();
    warmed_[k] = false;
  }
}

std::string MultiModelBlock::tuning_key(const std::vector<LoopChoice>& choices) const {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  std::string key = std::to_string(device) + "|" + shape_.str() + "|T=" + std::to_string(T_) +
                    "|B=" + std::to_string(B_) + "|N=" + std::to_string(N_) +
                    (inference_ ? "|forecast|" : "|train|") + to_string(precision_) + "|" +
                    std::to_string(limits_.sm_count) + "|" + std::to_string(limits_.smem_optin);
  for (const LoopChoice& c : choices) key += "|" + c.name;  // a switch that pins one changes the set
  return key;
}

int MultiModelBlock::autotune_steps() const {
  return static_cast<int>(tuner_.choices.size()) * (kTimedRounds + 1);
}

void MultiModelBlock::begin_autotune() {
  tuner_ = Tuner();
  TimeLoopTuning& t = tuner_.result;
  std::string pinned;
  std::vector<LoopChoice> choices = loop_choices(pinned);
  t.chosen = choices.front().name;
  if (choices.size() < 2) {
    t.how = pinned.empty() ? "not timed: one choice" : "not timed: pinned by " + pinned;
    return;
  }
  if (!fused_autotune()) {
    t.how = "not timed: LSTMAD_FUSED_AUTOTUNE=0";
    return;
  }
  {
    const std::lock_guard<std::mutex> lock(tuned_mutex);
    const auto it = tuned().find(tuning_key(choices));
    if (it != tuned().end())
      for (const LoopChoice& c : choices)
        if (c.name == it->second) {
          run_choice(c);
          t.chosen = c.name;
          t.how = "as timed before in this process";
          return;
        }
  }
  tuner_.choices = std::move(choices);
  tuner_.events.resize(tuner_.choices.size());
  for (auto& e : tuner_.events)
    for (int r = 0; r < kTimedRounds; ++r) e.emplace_back(gpu::Event(), gpu::Event());
  tuner_.active = true;
  t.how = std::string("not timed: the batch ran fewer ") + (inference_ ? "forecasting" : "training") +
          " steps than the " + std::to_string(autotune_steps()) + " the timing takes";
}

// One step (training, or forecasting in an inference block) with the next choice in turn: steps 0 .. C-1
// warm up, then each round times one step of every choice.
void MultiModelBlock::tuned_step() {
  const Pass pass = inference_ ? Pass::Predict : Pass::Train;
  const int C = static_cast<int>(tuner_.choices.size());
  const int i = tuner_.steps % C, round = tuner_.steps / C;
  run_choice(tuner_.choices[static_cast<std::size_t>(i)]);
  if (round == 0) {
    enqueue(pass);
  } else {
    auto& [start, stop] = tuner_.events[static_cast<std::size_t>(i)][static_cast<std::size_t>(round - 1)];
    start.record(stream_);
    enqueue(pass);
    stop.record(stream_);
  }
  if (++tuner_.steps == autotune_steps()) finish_tuning();
}

void MultiModelBlock::finish_tuning() {
  TimeLoopTuning& t = tuner_.result;
  std::size_t best = 0;
  for (std::size_t i = 0; i < tuner_.choices.size(); ++i) {
    std::vector<double> ms;
    for (auto& [start, stop] : tuner_.events[i]) {
      stop.synchronize();
      ms.push_back(stop.elapsed_ms_since(start));
    }
    std::sort(ms.begin(), ms.end());
    t.timed.emplace_back(tuner_.choices[i].name, ms[ms.size() / 2]);
  }
  for (std::size_t i = 1; i < t.timed.size(); ++i)
    if (t.timed[i].second < t.timed[best].second * (1.0 - kMargin)) best = i;
  run_choice(tuner_.choices[best]);
  t.chosen = tuner_.choices[best].name;
  t.how = "timed";
  tuner_.active = false;
  tuner_.events.clear();
  {
    const std::lock_guard<std::mutex> lock(tuned_mutex);
    tuned()[tuning_key(tuner_.choices)] = t.chosen;
  }
  log::info("fused engine: time loops for " + std::to_string(N_) + " model(s) of " + shape_.str() +
            ", T=" + std::to_string(T_) + ", B=" + std::to_string(B_) + " (" + to_string(precision_) +
            (inference_ ? ", forecasting" : "") + "), per step: " + to_string(t) +
            " (the same bits either way)");
}

TimeLoopTuning MultiModelBlock::autotune_result() const {
  TimeLoopTuning t = tuner_.result;
  if (tuner_.active) t.chosen = tuner_.choices.front().name;  // what the block starts from
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
