// Where one step of the fp32 forward time loop spends its time, measured on the device without a profiler
// (benchmarks/gpu_bench_anatomy.cpp, docs/kernels.md "One step's anatomy"). Plain C++ header.
//
// The one-block forward kernel at one batch row per block (lstm_fused_fwd.cu with MAXR = 1, R in shared
// memory, H a constant: the engine's kernel for one model's small batch, where a step's latency is the
// whole time) runs per step: the next step's gx loaded a step ahead, gx + bias, the recurrent product
// R^T h_{t-1} from shared memory, the cell math, the new h into shared memory, the stores of y, the gates
// and c, one barrier. The ladder here runs that loop with the parts switched on one at a time, from the
// barrier and the exchange of h alone up to all of them, built from the same device functions; its top
// rung computes the engine kernel's bits (the benchmark checks it), so its rungs take the real step apart.
// The probes time the hardware's primitive latencies on the same device (one block, dependent chains,
// clock64) and the SM clock (clock64 against %globaltimer), the constants of docs/kernels.md's counts.
#pragma once
#include <cuda_runtime.h>

namespace lstmad::kernels::anatomy {

// The parts of a step, as bits of the ladder's `parts`. Without kProduct h_{t-1} enters the step as
// h_{t-1}[j] (so the step still waits for the last one); without kCell h_t is the sum of the four
// pre-activations; without kInput each chain starts at the bias.
enum Part : unsigned {
  kProduct = 1u,  // the recurrent product, R^T in shared memory (add_recurrent_product)
  kCell = 2u,     // the cell math (cell::forward, precise activations)
  kInput = 4u,    // the next step's gx loaded a step ahead, added to the bias (load_fwd_input)
  kStores = 8u,   // y, the four gates and c to global memory, as the training forward keeps them
};
constexpr unsigned kAllParts = kProduct | kCell | kInput | kStores;

// The rungs the ladder is built for: from the barrier and the exchange of h alone, each adding one part up
// to the whole step; then the whole step without one part at a time.
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

// One row per block: blocks = B, H threads each. Layouts as lstm_fused_fwd.hpp: Rt is R^T (H x 4H), gx
// T x B x 4H, y (T+1) x B x H (y[0] left as it is), gates T x B x 4H, c T x B x H. `cycles` gets each
// block's clock64 count over its whole time loop (B values).
struct LadderArgs {
  int H = 0, B = 0, T = 0;
  const float* Rt = nullptr;
  const float* gx = nullptr;
  const float* bW = nullptr;
  const float* bR = nullptr;
  float* y = nullptr;
  float* gates = nullptr;
  float* c = nullptr;
  long long* cycles = nullptr;
};

// Launches the ladder's kernel for `parts` (one of kLadder). Returns the launch's status;
// cudaErrorInvalidValue for other parts or an H the ladder is not built for.
cudaError_t launch_step_ladder(unsigned parts, const LadderArgs& args, cudaStream_t stream);

// The primitive latency probes: each runs `n` dependent operations in every thread of one block of
// `threads` threads and writes thread 0's clock64 count for the chain to out[0], the %globaltimer
// nanoseconds over it to out[1] and the chain's result to out[2] (as bits, so that nothing is optimised
// away).
enum class Probe {
  Fma,         // x = fmaf(x, a, b)
  SharedLoad,  // i = s[i], a chase through shared memory
  L2Load,      // i = buf[i] with ld.global.cg (L1 bypassed), a chase through `chase` (in L2)
  Expf,        // x = expf(-x): expf's latency, with its argument's negation
  Tanhf,       // x = tanhf(x) + 1 (tanhf on arguments in 1.7..2, its exponential branch)
  Cell,        // the cell of cell::forward, the next step's four pre-activations from h: precise
  CellFast,    // the same with the special-function units' activations (the tensor-core paths')
  Shuffle,     // x = __shfl_xor_sync(x, 1) + x
  Exchange,    // each thread writes its value to shared memory, a barrier, it reads its neighbour's
};
constexpr int kProbeCount = 9;
static_assert(static_cast<int>(Probe::Exchange) + 1 == kProbeCount, "kProbeCount names every probe");
const char* probe_name(Probe p);

// `chase`: for L2Load, an int buffer where chase[i] is the next index (the caller builds the cycle);
// unused otherwise. threads: 32..1024, a multiple of 32.
cudaError_t launch_probe(Probe p, int threads, int n, const int* chase, long long* out, cudaStream_t stream);

}  // namespace lstmad::kernels::anatomy
