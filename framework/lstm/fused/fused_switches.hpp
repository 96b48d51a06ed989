// The fused engine's environment switches (docs/kernels.md, "What the engine takes"), read in one way: a
// path on by default is turned off by NAME=0, a path off by default is turned on by NAME=1, and any other
// value (or none) keeps the default (LSTMAD_FUSED_MMA_SPLIT also takes "all", below).
#pragma once
#include <cstdlib>
#include <string>

#include "kernels/lstm_fused_plan.hpp"  // kFusedInputMax
#include "kernels/lstm_mma_plan.hpp"    // BwdSplit
#include "lstm/engine.hpp"              // Precision

namespace lstmad {

inline bool fused_switch(const char* name, bool by_default) {
  const char* v = std::getenv(name);
  if (v == nullptr) return by_default;
  const std::string s(v);
  return by_default ? s != "0" : s == "1";
}

// Whether the fused engine computes layer 0's input projection inside its forward time loops
// (kernels::FusedInput: at most kFusedInputMax inputs, at every precision: the FMA loops and, since
// version 3.2, the tensor-core ones, in fp32 FMAs; LSTMAD_FUSED_INPUT=0 keeps the GEMM). The buffers and
// the memory the engine and the scheduler count for it follow this one answer.
inline bool fused_input_in_loop(int input) {
  return input <= kernels::kFusedInputMax && fused_switch("LSTMAD_FUSED_INPUT", true);
}

// When the tensor-core backward time loop splits each 16-unit tile's k-steps over several warps (version
// 3.4, kernels::mma_bwd_parts: the same bits, the cell math over more lanes, R in registers up to H = 64):
// by default where the launch's blocks fit the SMs; LSTMAD_FUSED_MMA_SPLIT=0 never (one warp per tile),
// LSTMAD_FUSED_MMA_SPLIT=all at any number of blocks (many models), both to compare.
inline kernels::BwdSplit fused_mma_split() {
  const char* v = std::getenv("LSTMAD_FUSED_MMA_SPLIT");
  const std::string s = v != nullptr ? v : "";
  return s == "0"     ? kernels::BwdSplit::Off
         : s == "all" ? kernels::BwdSplit::Always
                      : kernels::BwdSplit::FitSms;
}

// Whether a multi-model batch times its time-loop choices that give the same bits on its first training
// steps (MultiModelBlock::begin_autotune); LSTMAD_FUSED_AUTOTUNE=0 keeps the defaults.
inline bool fused_autotune() {
  return fused_switch("LSTMAD_FUSED_AUTOTUNE", true);
}

// Whether NAME is set at all: a switch set by hand pins its choice, which the autotuner then leaves alone.
inline bool fused_switch_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

}  // namespace lstmad
