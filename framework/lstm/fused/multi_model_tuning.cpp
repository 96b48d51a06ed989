// MultiModelBlock's autotuning (multi_model_block.hpp): the time loops' choices that give the same bits,
// timed on the block's own first training steps (why: choice_timing.hpp).
#include <algorithm>
#include <string>
#include <vector>

#include "core/gpu/check.hpp"
#include "core/log.hpp"
#include "kernels/lstm_fused_mma.hpp"
#include "kernels/lstm_wavefront.hpp"
#include "lstm/fused/fused_switches.hpp"
#include "lstm/fused/multi_model_block.hpp"

namespace lstmad {

std::vector<MultiModelBlock::LoopChoice> MultiModelBlock::loop_choices(std::string& pinned) const {
  std::vector<LoopChoice> out;
  LoopChoice now;
  now.tiled = tiled_;
  now.mma = mma_;
  if (mma_.grid > 0) {
    now.name = inference_ ? "tensor cores" : backward_parts_name(mma_.bwd_parts);
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
      other.name = backward_parts_name(other.mma.bwd_parts);
      out.push_back(other);
    }
    return out;
  }
  // The one-block kernels' choices: their tiled products or not, where a block holds many rows (an
  // inference block runs only the forward's), the split kernels of version 4 for H = 16, 32, 64, which
  // sum in their order, and at L = 2 the wavefront in the layers' order. A switch set by hand pins its own
  // choice (LSTMAD_FUSED_WAVEFRONT=1 the wavefront alone).
  now.split = split_;
  now.wavefront = wavefront_;
  if (wavefront_.grid > 0) {
    now.name = "wavefront";
    out.push_back(now);
    pinned = "LSTMAD_FUSED_WAVEFRONT";
    return out;
  }
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
  if (wavefront_plan_.grid > 0) {
    LoopChoice wave = now;
    wave.split = kernels::SplitLaunch{};
    wave.wavefront = wavefront_plan_;
    wave.name = "wavefront";
    out.push_back(wave);
  } else if (shape_.layers == 2 && !fused_switch("LSTMAD_FUSED_WAVEFRONT", true)) {  // pinned off
    pinned += (pinned.empty() ? "" : ", ") + std::string("LSTMAD_FUSED_WAVEFRONT");
  }
  return out;
}

// Makes c the block's time loops. The kernels of a tensor-core plan get their shared-memory limit here;
// a step captured as a graph with other loops is dropped, to be captured again.
void MultiModelBlock::run_choice(const LoopChoice& c) {
  tiled_ = c.tiled;
  split_ = c.split;
  wavefront_ = c.wavefront;
  CUDA_CHECK(kernels::prepare_wavefront_layers(wavefront_));
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
  return ChoiceTiming::steps_for(tuner_.choices.size());
}

void MultiModelBlock::begin_autotune() {
  tuner_ = Tuner();
  TimeLoopTuning& t = tuner_.result;
  std::string pinned;
  std::vector<LoopChoice> choices = loop_choices(pinned);
  std::vector<std::string> names;
  for (const LoopChoice& c : choices) names.push_back(c.name);
  const int recalled = tuner_.timing.decide(std::move(names), pinned, tuning_key(choices), t);
  if (recalled >= 0) run_choice(choices[static_cast<std::size_t>(recalled)]);
  if (!tuner_.timing.active()) return;
  tuner_.choices = std::move(choices);
  t.how = std::string("not timed: the batch ran fewer ") + (inference_ ? "forecasting" : "training") +
          " steps than the " + std::to_string(autotune_steps()) + " the timing takes";
}

// One step (training, or forecasting in an inference block) with the next choice in turn.
void MultiModelBlock::tuned_step() {
  ChoiceTiming& timing = tuner_.timing;
  run_choice(tuner_.choices[timing.next()]);
  timing.begin(stream_);
  enqueue(inference_ ? Pass::Predict : Pass::Train);
  if (timing.end(stream_)) finish_tuning();
}

void MultiModelBlock::finish_tuning() {
  TimeLoopTuning& t = tuner_.result;
  run_choice(tuner_.choices[tuner_.timing.finish(tuning_key(tuner_.choices), t)]);
  log::info("fused engine: time loops for " + std::to_string(N_) + " model(s) of " + shape_.str() +
            ", T=" + std::to_string(T_) + ", B=" + std::to_string(B_) + " (" + to_string(precision_) +
            (inference_ ? ", forecasting" : "") + "), per step: " + to_string(t) +
            " (the same bits either way)");
}

TimeLoopTuning MultiModelBlock::autotune_result() const {
  TimeLoopTuning t = tuner_.result;
  if (tuner_.timing.active()) t.chosen = tuner_.choices.front().name;  // what the block starts from
  return t;
}

}  // namespace lstmad
