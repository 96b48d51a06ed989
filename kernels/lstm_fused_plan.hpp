// Launch configuration of the fused LSTM time-loop kernels (lstm_fused_fwd.hpp, lstm_fused_bwd.hpp), from
// the hidden size H, the batch B and the device's limits, which the caller reads from the device at run
// time. Host-only and header-only (no CUDA headers), so that the decision is testable without a device.
//
// The kernels' geometry: a block is H x G threads; thread (j, g) owns hidden unit j of up to MAXR batch
// rows (local rows g, g + G, g + 2G, ...). A block owns `rows_per_block` (BB) batch rows for all T steps,
// so blocks never synchronise with each other; the batch is split over `grid` blocks. Shared memory holds
// R (4H x H fp32 = 16 H^2 bytes) when it fits next to the per-step buffers, otherwise the kernels read a
// pre-transposed R from global memory (it stays in L2: 1 MB at H = 256) - see docs/kernels.md.
#pragma once
#include <cstddef>
#include <string>

namespace lstmad::kernels {

struct FusedLimits {
  int sm_count = 1;            // cudaDevAttrMultiProcessorCount
  int smem_optin = 48 * 1024;  // cudaDevAttrMaxSharedMemoryPerBlockOptin, bytes
  int max_threads = 1024;      // cudaDevAttrMaxThreadsPerBlock
  int cluster_launch = 0;      // cudaDevAttrClusterLaunch (thread-block clusters, sm_90 and later)
};

struct FusedLaunch {
  int H = 0, B = 0;
  int grid = 0;            // blocks
  int rows_per_block = 0;  // BB
  int groups = 0;          // G = blockDim.y; blockDim.x = H
  int max_rows = 0;        // MAXR, the kernel instantiation: 1, 2 or 4 rows per thread
  bool r_smem_fwd = false, r_smem_bwd = false;
  std::size_t smem_fwd = 0, smem_bwd = 0;  // dynamic shared memory bytes
  // Thread-block cluster variant (lstm_fused_cluster.hpp): C > 1 blocks share one group of BB rows, each
  // holding the R slice of H / C hidden units; blockDim.x = H / C, grid = (row groups) x C. 0: not used.
  int cluster = 0;
};

// Several models side by side in one launch of the time-loop kernels (the multi-model path,
// lstm_multi.hpp): blockIdx.y is the model m, and each pointer of the launch moves by m times its stride
// (in floats; 0 for a single model). rows[m] of the B rows are real (null: all B); active[m] == 0 skips
// model m (null: all run). The single-model launches leave everything at its default.
struct ModelStrides {
  int models = 1;
  std::size_t param = 0;   // R, bW, bR: one model's flat parameter vector
  std::size_t rt = 0;      // forward: the transposed-R workspace, 4H x H per model
  std::size_t gx = 0;      // gx (forward)
  std::size_t gates = 0;   // gates (forward writes, backward reads), dgates
  std::size_t seq = 0;     // c; dy (backward)
  std::size_t y = 0;       // y, (T+1) x B x H
  std::size_t state = 0;   // hy, cy (forward), dhy (backward)
  std::size_t x = 0;       // x, where the forward takes the layer's input in place of gx (FusedInput)
  const int* rows = nullptr;
  const unsigned char* active = nullptr;
};

// The forward's input in place of gx: the layer's input x (T x B x D, rows (t, b), ModelStrides::x per
// model) and W (4H x D, row-major, at the model's parameter stride). The forward time loops (FMA and
// tensor-core) then compute each step's x W^T themselves, as the multi-model fp32 GEMM does: one fmaf
// chain over d = 0..D-1 from 0 per gate, so its bits at fp32, without writing and reading gx (T B 4H
// floats per model and layer). For small D only (kFusedInputMax): x is loaded a step ahead, as gx is,
// and projected when the step starts.
constexpr int kFusedInputMax = 4;
struct FusedInput {
  const float* x = nullptr;  // null: the caller computed gx
  const float* W = nullptr;
  int D = 0;
};

#if defined(__CUDACC__)
#define LSTMAD_PLAN_HD __host__ __device__ __forceinline__
#else
#define LSTMAD_PLAN_HD inline
#endif

// The real batch rows of model `m` of a launch: 0 for a skipped model (active[m] == 0), else rows[m], or B
// when no rows are given. A time-loop block whose first row is at or past it has nothing to do.
// Model m's FusedInput (x and W moved by their strides); unchanged where the caller gave gx instead.
LSTMAD_PLAN_HD FusedInput model_input(FusedInput in, const ModelStrides& ms, std::size_t m) {
  if (in.x != nullptr) {
    in.x += m * ms.x;
    in.W += m * ms.param;
  }
  return in;
}

// A time loop's per-model pointers moved to model m's slices (null ones stay null): the forward's gx, biases
// and outputs, the backward's inputs and gate gradients. The weights move at the caller, by their own stride
// (R at the parameters', R^T or staged fragments at the workspace's).
template <class CF, class F>
LSTMAD_PLAN_HD void forward_at_model(const ModelStrides& ms, std::size_t m, CF& gx, CF& bW, CF& bR, F& y,
                                     F& gates, F& c, F& hy, F& cy) {
  if (gx != nullptr) gx += m * ms.gx;
  bW += m * ms.param;
  bR += m * ms.param;
  y += m * ms.y;
  if (gates != nullptr) gates += m * ms.gates;
  if (c != nullptr) c += m * ms.seq;
  if (hy != nullptr) hy += m * ms.state;
  if (cy != nullptr) cy += m * ms.state;
}

template <class CF, class F>
LSTMAD_PLAN_HD void backward_at_model(const ModelStrides& ms, std::size_t m, CF& gates, CF& c, CF& dy,
                                      CF& dhy, F& dgates) {
  gates += m * ms.gates;
  c += m * ms.seq;
  if (dy != nullptr) dy += m * ms.seq;
  if (dhy != nullptr) dhy += m * ms.state;
  dgates += m * ms.gates;
}

LSTMAD_PLAN_HD int model_rows(const ModelStrides& ms, int m, int B) {
  if (ms.active != nullptr && ms.active[m] == 0) return 0;
  return ms.rows != nullptr ? ms.rows[m] : B;
}

// Limits of this version (v1): one hidden unit per thread, so H <= kFusedMaxHidden; 512 threads per block
// at most, which leaves 128 registers per thread.
constexpr int kFusedMaxHidden = 512;
constexpr int kFusedMaxThreads = 512;
constexpr int kFusedMaxRowsPerThread = 4;

inline std::size_t fused_r_bytes(int H) {
  return static_cast<std::size_t>(16) * H * H;  // 4H x H floats
}

inline FusedLaunch plan_fused(int H, int B, const FusedLimits& lim) {
  FusedLaunch p;
  p.H = H;
  p.B = B;
  if (H < 1 || B < 1) return p;
  const int threads_cap = lim.max_threads < kFusedMaxThreads ? lim.max_threads : kFusedMaxThreads;
  const int g_cap = threads_cap / H > 1 ? threads_cap / H : 1;
  // One block per SM first: the time loop is latency-bound, so fewer rows per block is a shorter step.
  const int sms = lim.sm_count > 0 ? lim.sm_count : 1;
  const int grid0 = B < sms ? B : sms;
  int bb = (B + grid0 - 1) / grid0;
  const int g = bb < g_cap ? bb : g_cap;
  int rpt = (bb + g - 1) / g;
  if (rpt > kFusedMaxRowsPerThread) {  // more rows than one wave of blocks holds: more blocks, in waves
    rpt = kFusedMaxRowsPerThread;
    bb = g * rpt;
  }
  p.rows_per_block = bb;
  p.groups = g;
  p.grid = (B + bb - 1) / bb;
  p.max_rows = rpt <= 1 ? 1 : (rpt <= 2 ? 2 : 4);
  const std::size_t fwd_buf = static_cast<std::size_t>(2) * bb * H * sizeof(float);  // h, double-buffered
  const std::size_t bwd_buf =
      static_cast<std::size_t>(2) * bb * 4 * H * sizeof(float);  // dgates, double-buffered
  const std::size_t optin = lim.smem_optin > 0 ? static_cast<std::size_t>(lim.smem_optin) : 0;
  p.r_smem_fwd = fused_r_bytes(H) + fwd_buf <= optin;
  p.r_smem_bwd = fused_r_bytes(H) + bwd_buf <= optin;
  p.smem_fwd = (p.r_smem_fwd ? fused_r_bytes(H) : 0) + fwd_buf;
  p.smem_bwd = (p.r_smem_bwd ? fused_r_bytes(H) : 0) + bwd_buf;
  return p;
}

// The tiled time loops (version 1.3): where a block holds many rows, shared memory, not the FMAs, bounds
// each step's product with one unit per thread, so the product runs in its own phase of the step by tiles
// that reuse each word read from shared memory more often, at the price of a second barrier per step. The
// chains are the same, so are the bits. R must be in shared memory.
//  - backward (lstm_fused_bwd.cu): dh_rec = dgates R by kBwdTileRows rows x kBwdTileUnits units per
//    thread, so that every gate gradient read serves kBwdTileUnits FMAs and every weight kBwdTileRows
//    (one unit per thread and its rows: 1 and MAXR);
//  - forward (lstm_fused_fwd.cu): R^T h by kFwdTileRows rows x one unit's 4 gates per thread (one unit
//    per thread and its rows: MAXR <= 4 rows), through a BB x 4H buffer of pre-activations, which
//    fused_fwd_tiled_smem adds to smem_fwd: at most the backward's smem_bwd, since the backward holds two
//    BB x 4H buffers and the forward two BB x H.
constexpr int kBwdTileUnits = 4, kBwdTileRows = 4, kFwdTileRows = 8, kFusedTiledMinRows = 16;
inline bool fused_bwd_tiled(const FusedLaunch& p) {
  return p.grid > 0 && p.cluster == 0 && p.r_smem_bwd && p.H % kBwdTileUnits == 0 &&
         p.rows_per_block >= kFusedTiledMinRows;
}
inline bool fused_fwd_tiled(const FusedLaunch& p) {
  return fused_bwd_tiled(p) && p.r_smem_fwd;
}
inline std::size_t fused_fwd_tiled_smem(const FusedLaunch& p) {
  return p.smem_fwd + static_cast<std::size_t>(p.rows_per_block) * 4 * p.H * sizeof(float);
}

// The cluster plan for H where R does not fit one block: the smallest cluster C in {2, 4, 8} (8 is the
// portable maximum) that divides H and puts 16 H^2 / C bytes of R plus the step buffers (a full copy of
// h, or of the 4H gate gradients, per block) in each block's shared memory. cluster = 0 when none fits
// or the device has no cluster launch.
inline FusedLaunch plan_fused_cluster(int H, int B, const FusedLimits& lim) {
  FusedLaunch p;
  p.H = H;
  p.B = B;
  if (H < 1 || B < 1 || lim.cluster_launch == 0) return p;
  const std::size_t optin = lim.smem_optin > 0 ? static_cast<std::size_t>(lim.smem_optin) : 0;
  for (int C : {2, 4, 8}) {
    if (H % C != 0) continue;
    const int hc = H / C;
    FusedLimits per = lim;
    per.sm_count = lim.sm_count / C > 0 ? lim.sm_count / C : 1;  // one row group per cluster of C SMs
    FusedLaunch q = plan_fused(hc, B, per);                      // rows, groups, MAXR for H / C units
    const std::size_t r = fused_r_bytes(H) / C;
    if (r >= optin) continue;
    // Fewer rows per block when the full-width step buffers (4H gate gradients per row) do not fit.
    const std::size_t per_row = static_cast<std::size_t>(2) * 4 * H * sizeof(float);
    const int bb_max = static_cast<int>((optin - r) / per_row);
    if (bb_max < 1) continue;
    if (q.rows_per_block > bb_max) {
      const int bb = bb_max;
      const int g = q.groups < bb ? q.groups : bb;
      const int rpt = (bb + g - 1) / g;
      q.rows_per_block = bb;
      q.groups = g;
      q.max_rows = rpt <= 1 ? 1 : (rpt <= 2 ? 2 : 4);
      q.grid = (B + bb - 1) / bb;
    }
    const std::size_t fwd = r + static_cast<std::size_t>(2) * q.rows_per_block * H * sizeof(float);
    const std::size_t bwd = r + static_cast<std::size_t>(q.rows_per_block) * per_row;
    if (fwd > optin || bwd > optin || q.groups * hc > lim.max_threads) continue;
    q.H = H;
    q.grid *= C;
    q.cluster = C;
    q.r_smem_fwd = q.r_smem_bwd = true;
    q.smem_fwd = fwd;
    q.smem_bwd = bwd;
    return q;
  }
  return p;
}

// Empty when the fused kernels can run hidden size H at batch B on a device with these limits; otherwise
// why not, naming the engine that can.
inline std::string fused_unsupported_reason(int H, int B, const FusedLimits& lim) {
  if (H > kFusedMaxHidden)
    return "the fused kernels take hidden sizes up to " + std::to_string(kFusedMaxHidden) +
           " (one hidden unit per thread), not " + std::to_string(H) + "; engine \"cudnn\" takes this shape";
  if (H < 1 || B < 1) return "the fused kernels need H >= 1 and batch >= 1";
  const FusedLaunch p = plan_fused(H, B, lim);
  if (p.groups * H > lim.max_threads)
    return "the device allows " + std::to_string(lim.max_threads) + " threads per block, hidden size " +
           std::to_string(H) + " needs " + std::to_string(p.groups * H) +
           "; engine \"cudnn\" takes this shape";
  if (p.smem_fwd > static_cast<std::size_t>(lim.smem_optin) ||
      p.smem_bwd > static_cast<std::size_t>(lim.smem_optin))
    return "the fused kernels need " + std::to_string(p.smem_bwd) +
           " bytes of shared memory per block at H=" + std::to_string(H) + ", the device allows " +
           std::to_string(lim.smem_optin) + "; engine \"cudnn\" takes this shape";
  return {};
}

}  // namespace lstmad::kernels
