// FusedLstm's autotuning (fused_lstm.hpp): the time loops' choices that give the same bits, timed on the
// model's own first training steps at one batch size (why: choice_timing.hpp).
#include <string>
#include <vector>

#include "core/gpu/check.hpp"
#include "core/log.hpp"
#include "kernels/lstm_fused_mma.hpp"
#include "kernels/lstm_fused_split_plan.hpp"
#include "kernels/lstm_wavefront_plan.hpp"
#include "lstm/fused/fused_lstm.hpp"
#include "lstm/fused/fused_switches.hpp"

namespace lstmad {

std::vector<FusedLstm::LoopChoice> FusedLstm::loop_choices(int batch, std::string& pinned) const {
  std::vector<LoopChoice> out;
  LoopChoice now;
  now.split = split_enabled_;
  now.wavefront_split = wavefront_split_;
  now.mma_split = mma_split_;
  const kernels::MmaLaunch pm = mma_plan(batch);
  if (pm.grid > 0) {
    now.name = backward_parts_name(pm.bwd_parts);
    out.push_back(now);
    if (fused_switch_set("LSTMAD_FUSED_MMA_SPLIT")) {
      pinned = "LSTMAD_FUSED_MMA_SPLIT";
      return out;
    }
    // The other side of plan_fused_mma's rule at this batch: unsplit where it splits, split where it does
    // not (and where the device can).
    LoopChoice other = now;
    other.mma_split = pm.bwd_parts > 1 ? kernels::BwdSplit::Off : kernels::BwdSplit::Always;
    const kernels::MmaLaunch po =
        kernels::plan_fused_mma(pm.format, shape_.hidden, batch, limits_, 1, other.mma_split);
    if (po.grid > 0 && po.bwd_parts != pm.bwd_parts) {
      other.name = backward_parts_name(po.bwd_parts);
      out.push_back(other);
    }
    return out;
  }
  // fp32: the wavefront with four threads per unit beside the wavefront, where it runs; the split kernels of
  // version 4 beside the one-block kernels, where those run (the clusters have no split counterpart).
  now.name = path(batch);
  out.push_back(now);
  if (wavefront_plan(batch).grid > 0) {
    if (kernels::plan_wavefront_split(shape_.hidden, batch, limits_).grid == 0) return out;
    if (fused_switch_set("LSTMAD_FUSED_WAVEFRONT_SPLIT")) {
      pinned = "LSTMAD_FUSED_WAVEFRONT_SPLIT";
      return out;
    }
    LoopChoice other = now;
    other.wavefront_split = !wavefront_split_;
    other.name = other.wavefront_split ? "wavefront-split" : "wavefront";
    out.push_back(other);
    return out;
  }
  const bool one_block = wavefront_plan(batch).grid == 0 && cluster_plan(batch).cluster <= 1;
  if (!one_block || !kernels::split_hidden_supported(shape_.hidden) ||
      kernels::plan_fused_split(shape_.hidden, batch, limits_).grid == 0)
    return out;
  if (fused_switch_set("LSTMAD_FUSED_SPLIT")) {
    pinned = "LSTMAD_FUSED_SPLIT";
    return out;
  }
  LoopChoice other = now;
  other.split = !split_enabled_;
  other.name = other.split ? "split" : plan(batch).r_smem_fwd ? "one-block" : "one-block-L2";
  out.push_back(other);
  return out;
}

// Makes c the time loops of the next steps. A tensor-core plan's kernels get their shared-memory limit
// for the tuned batch here (eagerly: the caller captures no graph while it tunes).
void FusedLstm::run_choice(const LoopChoice& c) {
  split_enabled_ = c.split;
  wavefront_split_ = c.wavefront_split;
  if (mma_split_ != c.mma_split) {
    mma_split_ = c.mma_split;
    CUDA_CHECK(kernels::prepare_lstm_mma(mma_plan(tune_batch_)));
  }
}

std::string FusedLstm::tuning_key(int batch, const std::vector<LoopChoice>& choices) const {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  std::string key = std::to_string(device) + "|one model|" + shape_.str() + "|T=" + std::to_string(T_) +
                    "|B=" + std::to_string(batch) + "|" + to_string(precision_) + "|" +
                    std::to_string(limits_.sm_count) + "|" + std::to_string(limits_.smem_optin);
  for (const LoopChoice& c : choices) key += "|" + c.name;  // a switch that pins one changes the set
  return key;
}

int FusedLstm::autotune_steps(int batch) const {
  std::string pinned;
  const std::size_t n = loop_choices(batch, pinned).size();
  return n > 1 && fused_autotune() ? ChoiceTiming::steps_for(n) : 0;
}

void FusedLstm::begin_autotune(int batch) {
  check_batch(batch);
  tuning_ = TimeLoopTuning();
  tune_choices_.clear();
  tune_batch_ = batch;
  tune_step_open_ = false;
  std::string pinned;
  std::vector<LoopChoice> choices = loop_choices(batch, pinned);
  std::vector<std::string> names;
  for (const LoopChoice& c : choices) names.push_back(c.name);
  const int recalled = timing_.decide(std::move(names), pinned, tuning_key(batch, choices), tuning_);
  if (recalled >= 0) run_choice(choices[static_cast<std::size_t>(recalled)]);
  if (!timing_.active()) return;
  tune_choices_ = std::move(choices);
  tuning_.how = "not timed: the model ran fewer training steps of " + std::to_string(batch) +
                " rows than the " + std::to_string(timing_.steps()) + " the timing takes";
}

void FusedLstm::open_tuned_step(int batch, bool training) {
  if (!training || !timing_.active() || batch != tune_batch_) return;
  run_choice(tune_choices_[timing_.next()]);
  timing_.begin(stream_);
  tune_step_open_ = true;
}

void FusedLstm::close_tuned_step(int batch) {
  if (!tune_step_open_ || batch != tune_batch_) return;
  tune_step_open_ = false;
  if (!timing_.end(stream_)) return;
  run_choice(tune_choices_[timing_.finish(tuning_key(tune_batch_, tune_choices_), tuning_)]);
  log::info("fused engine: time loops for one model of " + shape_.str() + ", T=" + std::to_string(T_) +
            ", B=" + std::to_string(tune_batch_) + " (" + to_string(precision_) +
            "), per step: " + to_string(tuning_) + " (the same bits either way)");
}

TimeLoopTuning FusedLstm::autotune_result() const {
  TimeLoopTuning t = tuning_;
  if (timing_.active()) t.chosen = tune_choices_.front().name;  // what the model starts from
  return t;
}

}  // namespace lstmad
