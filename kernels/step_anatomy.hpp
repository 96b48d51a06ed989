// Where one step of the fp32 time loops spends its time, measured on the device without a profiler
// (benchmarks/gpu_bench_anatomy.cpp, docs/kernels.md "One step's anatomy"). Plain C++ header.
//
// The one-block time-loop kernels at one batch row per block (lstm_fused_fwd.cu, lstm_fused_bwd.cu with
// MAXR = 1, R in shared memory, H a constant: the engine's kernels for one model's small batch, where a
// step's latency is the whole time) run per step:
//   forward:  the next step's gx loaded a step ahead, gx + bias, the recurrent product R^T h_{t-1} from
//             shared memory, the cell, the new h into shared memory, the stores of y, the gates and c, one
//             barrier;
//   backward: the previous step's dy, gates and c loaded a step ahead, dh = dh_rec + dy, the cell's
//             backward, the gate gradients into shared memory, their store to global memory, one barrier,
//             the recurrent gradient dh_rec = R^T dgates from shared memory.
// The ladder runs those loops with the parts switched on one at a time, from the barrier and the exchange
// through shared memory alone up to all of them, built from the same device functions; its top rungs
// compute the engine kernels' bits (the benchmark checks it), so its rungs take the real steps apart.
// The probes time the hardware's primitive latencies on the same device (one block, dependent chains,
// clock64) and the SM clock (clock64 against %globaltimer), the constants of docs/kernels.md's counts.
#pragma once
#include <cuda_runtime.h>

namespace lstmad::kernels::anatomy {

enum class Direction { Forward, Backward };

// The parts of a step, as bits of the ladder's `parts`. A part switched off keeps the step's dependence
// on the one before: without kProduct the step takes its own unit's value from shared memory (h_{t-1}[j]
// forward, its first gate gradient backward); without kCell h_t is a quarter of the sum of the four
// pre-activations (forward) and each gate gradient a quarter of dh (backward); without kInput the chains
// start at the bias (forward) or the first step's inputs serve every step (backward).
enum Part : unsigned {
  kProduct = 1u,  // the recurrent product from shared memory (add_recurrent_product, recurrent_gradient)
  kCell = 2u,     // the cell (cell::forward, cell::backward; precise activations)
  kInput = 4u,    // the step's inputs loaded a step ahead (load_fwd_input; BwdStepInputs)
  kStores = 8u,   // what the step keeps in global memory: y, the gates and c; the gate gradients
};
constexpr unsigned kAllParts = kProduct | kCell | kInput | kStores;

// The rungs the ladder is built for: from the barrier and the exchange alone, each adding one part up to
// the whole step; then the whole step without one part at a time.
inline constexpr unsigned kLadder[8] = {0u,
                                        kProduct,
                                        kProduct | kCell,
                                        kProduct | kCell | kInput,
                                        kAllParts,
                                        kCell | kInput | kStores,
                                        kProduct | kInput | kStores,
                                        kProduct | kCell | kStores};
constexpr int kLadderRungs = 8;

// The hidden sizes the ladder is built for (the constants of const_hidden.hpp).
inline bool ladder_hidden_supported(int H) {
  return H == 16 || H == 32 || H == 64;
}

// One row per block: blocks = B, H threads each. Layouts as lstm_fused_fwd.hpp and lstm_fused_bwd.hpp:
// R 4H x H as stored and Rt its transpose (H x 4H), gx T x B x 4H, y (T+1) x B x H (y[0] left as it is),
// gates T x B x 4H, c T x B x H, dy T x B x H, dgates T x B x 4H. The forward reads Rt, gx, bW, bR and
// writes y, gates, c; the backward reads R, gates, c, dy and writes dgates. `cycles` gets each block's
// clock64 count over its whole time loop (B values).
struct LadderArgs {
  int H = 0, B = 0, T = 0;
  const float* R = nullptr;
  const float* Rt = nullptr;
  const float* gx = nullptr;
  const float* bW = nullptr;
  const float* bR = nullptr;
  float* y = nullptr;
  float* gates = nullptr;
  float* c = nullptr;
  const float* dy = nullptr;
  float* dgates = nullptr;
  long long* cycles = nullptr;
};

// Launches the ladder's kernel for `parts` (one of kLadder). Returns the launch's status;
// cudaErrorInvalidValue for other parts or an H the ladder is not built for.
cudaError_t launch_step_ladder(Direction d, unsigned parts, const LadderArgs& args, cudaStream_t stream);

// The primitive latency probes: each runs `n` dependent operations in every thread of one block of
// `threads` threads and writes thread 0's clock64 count for the chain to out[0], the %globaltimer
// nanoseconds over it to out[1] and the chain's result to out[2] (as bits, so that nothing is optimised
// away).
enum class Probe {
  Fma,           // x = fmaf(x, a, b)
  SharedLoad,    // i = s[i], a chase through shared memory
  L2Load,        // i = chase[i] with ld.global.cg (L1 bypassed), starting at i = thread index (in L2)
  Expf,          // x = expf(-x): expf's latency, with its argument's negation
  Tanhf,         // x = tanhf(x) + 1 (tanhf on arguments in 1.7..2, its exponential branch)
  Cell,          // the cell of cell::forward, the next step's four pre-activations from h: precise
  CellFast,      // the same with the special-function units' activations (the tensor-core paths')
  Shuffle,       // x = __shfl_xor_sync(x, 1) + x
  Exchange,      // each thread writes its value to shared memory, a barrier, it reads its neighbour's
  WarpExchange,  // the same within each warp, __syncwarp for the barrier (enough for a block of one warp)
};
constexpr int kProbeCount = 10;
static_assert(static_cast<int>(Probe::WarpExchange) + 1 == kProbeCount, "kProbeCount names every probe");
const char* probe_name(Probe p);

// `chase`: for L2Load, an int buffer where chase[i] is the next index (the caller builds the cycle);
// unused otherwise. threads: 32..1024, a multiple of 32.
cudaError_t launch_probe(Probe p, int threads, int n, const int* chase, long long* out, cudaStream_t stream);

}  // namespace lstmad::kernels::anatomy
