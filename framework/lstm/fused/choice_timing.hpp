// Timing of time-loop choices that give the same bits, on a caller's own steps: what the fused engine's
// autotuning shares between one model (FusedLstm) and many (MultiModelBlock).
//
// Why at run time: which of these choices is faster depends on the device and on the launch (a second
// barrier per step against half the shared-memory loads; four threads per unit with R in registers
// against one; one block of 512 threads per SM against four of 128), and the defaults were chosen by
// counting, not measured on every device. Why on the caller's own steps: every choice gives every
// other's bits, so steps run with the choices in turn compute exactly what the default would. The timing
// costs no extra step and leaves nothing to undo; the timed steps run eagerly (no graph replay), each
// between two events, and the host waits once, when the rounds are done.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "core/gpu/resources.hpp"

namespace lstmad {

// What an autotuning did: each choice of time loops it timed with its median step in ms (none where it
// timed nothing), the choice that runs, and how that was decided ("timed", "as timed before in this
// process", or why nothing was timed).
struct TimeLoopTuning {
  std::vector<std::pair<std::string, double>> timed;
  std::string chosen, how;
};
// "tiled 1.234 ms, untiled 1.456 ms: tiled" where it timed; "tiled (not timed: one choice)" otherwise.
std::string to_string(const TimeLoopTuning& t);

// The index of the choice to run from the choices' median step times, the default first: the fastest,
// unless it is within `margin` of the default (faster by at most that fraction), where the default stays.
std::size_t fastest_choice(const std::vector<double>& median_ms, double margin);

// The name of a tensor-core backward choice: "backward in P parts of K" or "backward unsplit".
std::string backward_parts_name(int parts);

// The rounds over C choices: steps 0 .. C-1 warm up (lazy module loading, first touches), then each of
// kTimedRounds rounds times one step of every choice, the choices interleaved within a round so that a
// drift of the clock weighs on all of them alike. The caller runs next() before each step, begin() and
// end() around it on its stream, and finish() when end() says the last step ran.
class ChoiceTiming {
 public:
  static constexpr int kTimedRounds = 3;
  // A choice replaces the first (the default) only when faster by more than this: within it the two are
  // the same speed as far as a few steps can tell, and the default is kept.
  static constexpr double kMargin = 0.02;

  // The choice timed before in this process under `key` (the device, the sizes, the precision, the
  // limits and the set of choices), or "" where none was.
  static std::string remembered(const std::string& key);

  // What runs first among `choices` (names, the default first), t.chosen and t.how saying it: nothing is
  // timed where there is one choice (`pinned` naming the switch that pinned it, if any), with
  // LSTMAD_FUSED_AUTOTUNE=0, or where this process timed the set under `key` before (then the index of
  // that choice is returned, for the caller to run); otherwise the rounds start (active()), and t.how is
  // the caller's to set for rounds that do not finish. Returns -1 where the choice in force stays.
  int decide(std::vector<std::string> choices, const std::string& pinned, const std::string& key,
             TimeLoopTuning& t);
  // Starts the rounds over `choices` names (at least two, the default first).
  void start(std::vector<std::string> choices);
  bool active() const { return active_; }
  // The steps the rounds take: (kTimedRounds + 1) C.
  int steps() const { return static_cast<int>(names_.size()) * (kTimedRounds + 1); }
  static int steps_for(std::size_t choices) { return static_cast<int>(choices) * (kTimedRounds + 1); }
  // The index of the choice the next step runs.
  std::size_t next() const { return static_cast<std::size_t>(done_) % names_.size(); }
  // Around the step's launches on `stream`; end() returns true after the last step of the rounds.
  void begin(cudaStream_t stream);
  bool end(cudaStream_t stream);
  // Waits for the timed steps, fills t (timed, chosen, how = "timed"), remembers the choice under `key`
  // and returns its index: fastest_choice of the medians with kMargin.
  std::size_t finish(const std::string& key, TimeLoopTuning& t);

 private:
  bool active_ = false;
  int done_ = 0;  // steps ended
  std::vector<std::string> names_;
  std::vector<std::vector<std::pair<gpu::Event, gpu::Event>>> events_;  // by choice, then timed round
};

}  // namespace lstmad
