// The emulated device: CUDA threads as fibers, barriers, warp collectives, clusters and launches.
// See cuda_emulation.hpp for what this models and what it cannot.
#include <sys/mman.h>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "tests/emulation/cuda_emulation.hpp"
#include "tests/emulation/emu_internal.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define LSTMAD_EMU_ASAN 1
#endif

// Switching between fibers. On x86-64 a dozen instructions that save the callee-saved registers and the
// stack pointer (swapcontext also saves the signal mask, a system call per switch, which made a barrier-heavy
// kernel spend most of its time in the kernel); elsewhere ucontext.
#if defined(__x86_64__)
extern "C" void lstmad_emu_switch(void** save_sp, void* load_sp);
asm(R"(
.text
.globl lstmad_emu_switch
.type lstmad_emu_switch,@function
lstmad_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size lstmad_emu_switch,.-lstmad_emu_switch
.section .note.GNU-stack,"",@progbits
.text
)");
#endif

// The emulator's own bookkeeping (the scheduler loop, barrier release, the mma arithmetic that runs for
// every lane of every tensor-core instruction) needs no sanitizer checks; the kernels' accesses keep theirs.
#define LSTMAD_EMU_UNCHECKED __attribute__((no_sanitize("address"), no_sanitize("undefined")))

namespace lstmad::emu {

namespace {

struct Context {
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t uc;
#endif
};

void switch_context(Context& from, Context& to) {
#if defined(__x86_64__)
  lstmad_emu_switch(&from.sp, to.sp);
#else
  swapcontext(&from.uc, &to.uc);
#endif
}

// A context that starts `entry` (which never returns) on the given stack.
void make_context(Context& c, void* stack, std::size_t size, void (*entry)()) {
#if defined(__x86_64__)
  // The frame lstmad_emu_switch pops: six callee-saved registers (zero: rbp = 0 ends backtraces), then the
  // return address `entry`, which then starts as if called (rsp = 8 mod 16) with a null return address.
  auto* top = reinterpret_cast<uintptr_t*>((reinterpret_cast<uintptr_t>(stack) + size) & ~uintptr_t{15});
  top[-1] = 0;
  top[-2] = reinterpret_cast<uintptr_t>(entry);
  for (int i = 3; i <= 8; ++i) top[-i] = 0;
  c.sp = top - 8;
#else
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = size;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, entry, 0);
#endif
}

enum class Wait { None, Block, Warp, Cluster, Done };

struct Fiber {
  Context ctx;
  ThreadIdentity id;
  int block = 0;  // block of the cluster run
  int warp = 0;   // warp of the cluster run
  int lane = 0;
  unsigned mma_parity = 0;  // buffer of this lane's next mma.sync
  Wait wait = Wait::None;
  unsigned mask = 0;
  void* stack = nullptr;
  std::size_t stack_size = 0;
#if defined(LSTMAD_EMU_ASAN)
  void* fake_stack = nullptr;
#endif
};

struct WarpState {
  uint32_t words[32][16];  // shuffles
  // mma.sync operands, double-buffered: a lane may start the next mma while others still read this one's
  // (never two ahead: the next mma's barrier waits for every lane), so one barrier per mma suffices.
  uint32_t mma[2][32][6];
  int first = 0;  // first fiber
  int lanes = 0;  // lanes that exist (the last warp of a block may be partial)
};

// One cluster (a plain launch: one block) in flight on this host thread.
struct ClusterRun {
  std::vector<Fiber> fibers;
  std::vector<WarpState> warps;
  std::vector<std::unique_ptr<unsigned char[]>> smem;  // per block, exactly the launch's size
  std::size_t smem_bytes = 0;
  int blocks = 0, threads = 0;
  const std::function<void()>* body = nullptr;
  Context sched;
  Fiber* cur = nullptr;
  std::string error;
#if defined(LSTMAD_EMU_ASAN)
  void* sched_fake_stack = nullptr;
  const void* sched_bottom = nullptr;
  std::size_t sched_size = 0;
#endif
};

// initial-exec: the library is linked into executables, and every threadIdx reads this (the general TLS
// model calls __tls_get_addr, which AddressSanitizer intercepts: most of an emulated kernel's time).
__attribute__((tls_model("initial-exec"))) thread_local ClusterRun* t_run = nullptr;

// Fiber stacks, mmap'd with a guard page below (an overflow faults instead of corrupting a neighbour) and
// kept for the life of the process: a cluster takes what it needs and gives it back, so the host threads of
// later launches do not map them again.
constexpr std::size_t kStackBytes = 512 * 1024;
std::mutex g_stack_mu;
std::vector<void*> g_free_stacks;

std::vector<void*> take_stacks(std::size_t n) {
  std::vector<void*> out;
  {
    std::lock_guard<std::mutex> lock(g_stack_mu);
    while (out.size() < n && !g_free_stacks.empty()) {
      out.push_back(g_free_stacks.back());
      g_free_stacks.pop_back();
    }
  }
  while (out.size() < n) {
    void* p = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) throw DeviceError("emulation: cannot map a fiber stack");
    mprotect(p, 4096, PROT_NONE);
    out.push_back(p);
  }
  return out;
}

// The top of a stack that a fiber which ran to its end still holds frames in (fiber_main and the final
// switch). Every deeper frame has returned or been unwound, and so unpoisoned its own redzones.
constexpr std::size_t kExitFramesBytes = 16 * 1024;

// A cluster's stacks, one per fiber, returned to the pool however its run ends. A fiber abandoned
// mid-kernel (a failed launch) leaves its frames' redzones poisoned anywhere on its stack, so its whole
// stack is unpoisoned; a finished one only its top: unpoisoning every stack in full writes 64 KiB of
// shadow per fiber, which was half of an emulated test's time.
struct StackLease {
  std::vector<void*> stacks;
  const std::vector<Fiber>& fibers;
  explicit StackLease(const std::vector<Fiber>& f) : stacks(take_stacks(f.size())), fibers(f) {}
  ~StackLease() {
#if defined(LSTMAD_EMU_ASAN)
    for (std::size_t i = 0; i < stacks.size(); ++i) {
      const std::size_t bytes = fibers[i].wait == Wait::Done ? kExitFramesBytes : kStackBytes - 4096;
      __asan_unpoison_memory_region(static_cast<char*>(stacks[i]) + kStackBytes - bytes, bytes);
    }
#endif
    std::lock_guard<std::mutex> lock(g_stack_mu);
    g_free_stacks.insert(g_free_stacks.end(), stacks.begin(), stacks.end());
  }
  StackLease(const StackLease&) = delete;
  StackLease& operator=(const StackLease&) = delete;
};

Fiber& current() {
  if (t_run == nullptr || t_run->cur == nullptr) throw DeviceError("device code called outside a kernel");
  return *t_run->cur;
}

// Back to the scheduler; returns when the scheduler resumes this fiber.
void yield_to_scheduler(bool exiting) {
  ClusterRun& r = *t_run;
  Fiber& f = *r.cur;
#if defined(LSTMAD_EMU_ASAN)
  __sanitizer_start_switch_fiber(exiting ? nullptr : &f.fake_stack, r.sched_bottom, r.sched_size);
#else
  (void)exiting;
#endif
  switch_context(f.ctx, r.sched);
#if defined(LSTMAD_EMU_ASAN)
  __sanitizer_finish_switch_fiber(f.fake_stack, nullptr, nullptr);
#endif
}

void fiber_main() {
  ClusterRun& r = *t_run;
#if defined(LSTMAD_EMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &r.sched_bottom, &r.sched_size);
#endif
  try {
    (*r.body)();
  } catch (const std::exception& e) {
    if (r.error.empty()) r.error = e.what();
  }
  r.cur->wait = Wait::Done;
  yield_to_scheduler(true);
  std::abort();  // a finished fiber is never resumed
}

void resume(ClusterRun& r, Fiber& f) {
  r.cur = &f;
#if defined(LSTMAD_EMU_ASAN)
  __sanitizer_start_switch_fiber(&r.sched_fake_stack, f.stack, f.stack_size);
#endif
  switch_context(r.sched, f.ctx);
#if defined(LSTMAD_EMU_ASAN)
  __sanitizer_finish_switch_fiber(r.sched_fake_stack, nullptr, nullptr);
#endif
  r.cur = nullptr;
}

std::string describe(const uint3& v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}

// Releases the barriers every participant has reached; false when none could be released (a deadlock).
LSTMAD_EMU_UNCHECKED bool release(ClusterRun& r) {
  bool released = false;
  // Block barriers: every thread of the block that has not exited waits at __syncthreads.
  for (int b = 0; b < r.blocks; ++b) {
    Fiber* first = &r.fibers[static_cast<std::size_t>(b) * r.threads];
    int live = 0, waiting = 0;
    for (int t = 0; t < r.threads; ++t) {
      if (first[t].wait == Wait::Done) continue;
      ++live;
      if (first[t].wait == Wait::Block) ++waiting;
    }
    if (live > 0 && waiting == live) {
      for (int t = 0; t < r.threads; ++t)
        if (first[t].wait == Wait::Block) first[t].wait = Wait::None;
      released = true;
    }
  }
  // Warp collectives: every lane of the mask waits with the same mask.
  for (std::size_t w = 0; w < r.warps.size(); ++w) {
    WarpState& ws = r.warps[w];
    unsigned mask = 0;
    bool any = false;
    for (int l = 0; l < ws.lanes; ++l) {
      const Fiber& f = r.fibers[ws.first + l];
      if (f.wait != Wait::Warp) continue;
      if (any && f.mask != mask) {
        r.error = "warp " + std::to_string(w) + " of block " + describe(f.id.block_idx) +
                  ": lanes wait at warp collectives with different masks";
        return false;
      }
      mask = f.mask;
      any = true;
    }
    if (!any) continue;
    bool ready = true;
    for (int l = 0; l < 32; ++l) {
      if (((mask >> l) & 1u) == 0) continue;
      const Fiber& f = r.fibers[ws.first + l];
      if (f.wait == Wait::Done) {
        r.error = "warp " + std::to_string(w) + " of block " + describe(f.id.block_idx) + ": lane " +
                  std::to_string(l) + " is in a warp collective's mask but has exited";
        return false;
      }
      if (f.wait != Wait::Warp) ready = false;
    }
    if (!ready) continue;
    for (int l = 0; l < 32; ++l)
      if ((mask >> l) & 1u) r.fibers[ws.first + l].wait = Wait::None;
    released = true;
  }
  // The cluster barrier: every thread of every block of the cluster that has not exited.
  int live = 0, waiting = 0;
  for (const Fiber& f : r.fibers) {
    if (f.wait == Wait::Done) continue;
    ++live;
    if (f.wait == Wait::Cluster) ++waiting;
  }
  if (live > 0 && waiting == live) {
    for (Fiber& f : r.fibers)
      if (f.wait == Wait::Cluster) f.wait = Wait::None;
    released = true;
  }
  return released;
}

std::string deadlock(const ClusterRun& r) {
  std::ostringstream os;
  os << "deadlock: no barrier can complete;";
  for (int b = 0; b < r.blocks; ++b) {
    int n[5] = {0, 0, 0, 0, 0};
    const Fiber* first = &r.fibers[static_cast<std::size_t>(b) * r.threads];
    for (int t = 0; t < r.threads; ++t) ++n[static_cast<int>(first[t].wait)];
    os << " block " << describe(first[0].id.block_idx) << ": " << n[1] << " at __syncthreads, " << n[2]
       << " at a warp collective, " << n[3] << " at the cluster barrier, " << n[4] << " exited;";
  }
  return os.str();
}

// The order in which a block's runnable threads run between two barriers. On the GPU it is unspecified, so
// a kernel whose result depends on it has a race (a shared-memory read and write, or two writes, of one
// word with no barrier between them). Each pass of each cluster of each launch runs its threads forward
// or backward, chosen by a hash of (launch, cluster, pass): two runs of the same work take different
// orders, and the tests that compare reruns bit for bit fail on such a race. LSTMAD_EMU_SCHEDULE=forward
// fixes the order (to tell a race from another cause).
bool mixed_schedule() {
  static const bool mixed = [] {
    const char* v = std::getenv("LSTMAD_EMU_SCHEDULE");
    return v == nullptr || std::string(v) != "forward";
  }();
  return mixed;
}

bool backward_pass(uint64_t launch, uint64_t cluster, uint64_t pass) {
  uint64_t x = launch * 0x9E3779B97F4A7C15ULL ^ (cluster + 1) * 0xC2B2AE3D27D4EB4FULL ^
               (pass + 7) * 0x165667B19E3779F9ULL;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  return (x & 1u) != 0;
}

// Runs blocks [first, first + count) of the grid as one cluster.
void run_cluster(const LaunchShape& s, const std::function<void()>& body, unsigned first_block, int count,
                 uint64_t launch) {
  ClusterRun r;
  r.blocks = count;
  r.threads = static_cast<int>(s.block.x * s.block.y * s.block.z);
  r.body = &body;
  r.smem_bytes = s.smem;
  const int warps_per_block = (r.threads + 31) / 32;
  r.fibers.resize(static_cast<std::size_t>(count) * r.threads);
  const StackLease lease(r.fibers);
  r.warps.resize(static_cast<std::size_t>(count) * warps_per_block);
  for (int b = 0; b < count; ++b) {
    // Uninitialised shared memory reads as NaN (all bits set), so a kernel that relies on it fails.
    r.smem.emplace_back(new unsigned char[s.smem > 0 ? s.smem : 1]);
    std::memset(r.smem.back().get(), 0xFF, s.smem > 0 ? s.smem : 1);
    const unsigned lin = first_block + static_cast<unsigned>(b);
    const uint3 bidx = make_uint3(lin % s.grid.x, (lin / s.grid.x) % s.grid.y, lin / (s.grid.x * s.grid.y));
    for (int w = 0; w < warps_per_block; ++w) {
      WarpState& ws = r.warps[static_cast<std::size_t>(b) * warps_per_block + w];
      ws.first = b * r.threads + w * 32;
      ws.lanes = std::min(32, r.threads - w * 32);
    }
    for (int t = 0; t < r.threads; ++t) {
      Fiber& f = r.fibers[static_cast<std::size_t>(b) * r.threads + t];
      f.id.thread_idx = make_uint3(t % s.block.x, (t / s.block.x) % s.block.y, t / (s.block.x * s.block.y));
      f.id.block_idx = bidx;
      f.id.block_dim = s.block;
      f.id.grid_dim = s.grid;
      f.block = b;
      f.warp = b * warps_per_block + t / 32;
      f.lane = t % 32;
      f.stack = lease.stacks[static_cast<std::size_t>(b) * r.threads + t];
      f.stack_size = kStackBytes;
      make_context(f.ctx, f.stack, kStackBytes, fiber_main);
    }
  }
  ClusterRun* saved = t_run;
  t_run = &r;
  try {
    const bool mixed = mixed_schedule();
    const std::size_t n = r.fibers.size();
    for (uint64_t pass = 0;; ++pass) {
      bool all_done = true;
      const bool backward = mixed && backward_pass(launch, first_block, pass);
      for (std::size_t i = 0; i < n; ++i) {
        Fiber& f = r.fibers[backward ? n - 1 - i : i];
        if (f.wait == Wait::None) resume(r, f);
        if (!r.error.empty()) throw DeviceError(r.error);
        if (f.wait != Wait::Done) all_done = false;
      }
      if (all_done) break;
      if (!release(r)) throw DeviceError(r.error.empty() ? deadlock(r) : r.error);
    }
  } catch (...) {
    t_run = saved;
    throw;
  }
  t_run = saved;
}

// A kernel's dynamic shared-memory attribute, per (kernel, device): on the GPU it belongs to the current
// device's context, so a size set on one device says nothing about another. It outlives cudaDeviceReset
// here (the GPU clears it with the context); the product never resets a device, and the emulation tests
// that do would otherwise leave the engines' own record of raised limits stale.
std::mutex g_attr_mu;
std::map<std::pair<const void*, int>, std::size_t> g_smem_attr;

int host_threads() {
  static const int n = [] {
    const char* v = std::getenv("LSTMAD_EMU_THREADS");
    const int want = v != nullptr ? std::atoi(v) : static_cast<int>(std::thread::hardware_concurrency());
    return std::max(1, want);
  }();
  return n;
}

cudaError_t check_shape(const LaunchShape& s, std::string& why) {
  const unsigned long long threads = 1ULL * s.block.x * s.block.y * s.block.z;
  if (s.block.x == 0 || s.block.y == 0 || s.block.z == 0 || s.grid.x == 0 || s.grid.y == 0 || s.grid.z == 0) {
    why = "a zero grid or block dimension";
    return cudaErrorInvalidConfiguration;
  }
  if (threads > 1024 || s.block.z > 64) {
    why = std::to_string(threads) + " threads per block (at most 1024, z at most 64)";
    return cudaErrorInvalidConfiguration;
  }
  if (s.grid.y > 65535 || s.grid.z > 65535) {
    why = "grid y or z above 65535";
    return cudaErrorInvalidConfiguration;
  }
  const std::size_t limit = dynamic_smem_limit(s.kernel);
  if (s.smem > limit) {
    why = std::to_string(s.smem) + " bytes of dynamic shared memory; the kernel's limit is " +
          std::to_string(limit) +
          (limit == kDefaultDynamicSmem ? " (cudaFuncSetAttribute was not called)" : "");
    return cudaErrorInvalidValue;
  }
  const unsigned csize = s.cluster.x * s.cluster.y * s.cluster.z;
  if (csize > 1) {
    if (s.cluster.y != 1 || s.cluster.z != 1 || s.grid.x % s.cluster.x != 0) {
      why = "grid x " + std::to_string(s.grid.x) + " is not a multiple of the cluster size " +
            std::to_string(s.cluster.x);
      return cudaErrorInvalidValue;
    }
    if (csize > static_cast<unsigned>(kMaxClusterSize)) {
      why =
          "a cluster of " + std::to_string(csize) + " blocks (at most 8 without the non-portable attribute)";
      return cudaErrorInvalidClusterSize;
    }
    if (csize > static_cast<unsigned>(placeable_cluster_size())) {
      why = "a cluster of " + std::to_string(csize) + " blocks; this device places at most " +
            std::to_string(placeable_cluster_size()) + " (LSTMAD_EMU_MAX_CLUSTER)";
      return cudaErrorLaunchOutOfResources;
    }
  }
  return cudaSuccess;
}

std::atomic<uint64_t> g_launches{0};

void execute(const LaunchShape& s, const std::function<void()>& body) {
  const uint64_t launch = g_launches.fetch_add(1);
  const unsigned csize = s.cluster.x;
  const unsigned long long blocks = 1ULL * s.grid.x * s.grid.y * s.grid.z;
  const unsigned long long clusters = blocks / csize;
  std::atomic<unsigned long long> next{0};
  std::mutex mu;
  std::string error;
  auto worker = [&]() {
    for (;;) {
      const unsigned long long c = next.fetch_add(1);
      if (c >= clusters) return;
      try {
        run_cluster(s, body, static_cast<unsigned>(c * csize), static_cast<int>(csize), launch);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (error.empty()) error = e.what();
        next.store(clusters);
        return;
      }
    }
  };
  const int n = static_cast<int>(std::min<unsigned long long>(clusters, host_threads()));
  if (n <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int i = 1; i < n; ++i) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
  }
  if (!error.empty()) {
    std::fprintf(stderr, "[emulation] kernel grid %u,%u,%u block %u,%u,%u smem %zu failed: %s\n", s.grid.x,
                 s.grid.y, s.grid.z, s.block.x, s.block.y, s.block.z, s.smem, error.c_str());
    set_sticky_error(cudaErrorLaunchFailure, error);
  }
}

}  // namespace

const ThreadIdentity& identity() {
  return current().id;
}

int lane_id() {
  return current().lane;
}

uint32_t* warp_words(int lane) {
  Fiber& f = current();
  return t_run->warps[f.warp].words[lane];
}

void sync_block() {
  current().wait = Wait::Block;
  yield_to_scheduler(false);
}

void sync_warp(unsigned mask) {
  Fiber& f = current();
  const WarpState& ws = t_run->warps[f.warp];
  if (((mask >> f.lane) & 1u) == 0) device_fail("a warp collective whose mask leaves out the calling lane");
  if (ws.lanes < 32 && (mask >> ws.lanes) != 0)
    device_fail(("a warp collective's mask names lanes the block does not have (the warp has " +
                 std::to_string(ws.lanes) + ")")
                    .c_str());
  f.wait = Wait::Warp;
  f.mask = mask;
  yield_to_scheduler(false);
}

void sync_cluster() {
  current().wait = Wait::Cluster;
  yield_to_scheduler(false);
}

unsigned char* dynamic_smem() {
  return t_run->smem[current().block].get();
}
int cluster_block_rank() {
  return current().block;
}
int cluster_num_blocks() {
  current();
  return t_run->blocks;
}

void* map_shared_rank(const void* local, int rank) {
  Fiber& f = current();
  ClusterRun& r = *t_run;
  const unsigned char* base = r.smem[f.block].get();
  const auto* p = static_cast<const unsigned char*>(local);
  if (p < base || p > base + r.smem_bytes)
    device_fail("map_shared_rank of a pointer outside this block's shared memory");
  if (rank < 0 || rank >= r.blocks) device_fail("map_shared_rank to a rank outside the cluster");
  return r.smem[rank].get() + (p - base);
}

void device_fail(const char* what) {
  std::string where;
  if (t_run != nullptr && t_run->cur != nullptr)
    where = " (thread " + describe(t_run->cur->id.thread_idx) + " of block " +
            describe(t_run->cur->id.block_idx) + ")";
  throw DeviceError(std::string(what) + where);
}

uint32_t tf32_rna(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7F800000u) == 0x7F800000u) return u & 0xFFFFE000u;  // Inf, NaN
  return (u + 0x1000u) & 0xFFFFE000u;                            // magnitude rounds half away from zero
}

namespace {

LSTMAD_EMU_UNCHECKED inline float word_float(uint32_t w) {
  float v;
  std::memcpy(&v, &w, 4);
  return v;
}

LSTMAD_EMU_UNCHECKED inline float half_float(uint32_t word, int k) {
  return word_float(((k % 2) == 0 ? (word & 0xFFFFu) : (word >> 16)) << 16);
}

// This lane's 4 outputs of one m16n8k8 TF32 / m16n8k16 BF16 mma from the operands all 32 lanes published
// (A at words 0..3, B at 4..5), by the PTX ISA's fragment layout; fp32 accumulate onto d.
template <bool BF16>
LSTMAD_EMU_UNCHECKED void lane_mma(const uint32_t (&w)[32][6], int lane, const float (&d)[4],
                                   float (&out)[4]) {
  const int gid = lane / 4, tig = lane % 4;
  constexpr int K = BF16 ? 16 : 8;
  for (int i = 0; i < 4; ++i) {
    const int row = i < 2 ? gid : gid + 8, col = tig * 2 + (i & 1);
    double s = 0.0;
    for (int k = 0; k < K; ++k) {
      double a, b;
      if (BF16) {
        a = half_float(w[(row % 8) * 4 + (k % 8) / 2][(row < 8 ? 0 : 1) + (k < 8 ? 0 : 2)], k);
        b = half_float(w[col * 4 + (k % 8) / 2][k < 8 ? 4 : 5], k);
      } else {  // the hardware ignores a TF32 operand's low 13 bits
        a = word_float(w[(row % 8) * 4 + k % 4][(row < 8 ? 0 : 1) + (k < 4 ? 0 : 2)] & 0xFFFFE000u);
        b = word_float(w[col * 4 + k % 4][k < 4 ? 4 : 5] & 0xFFFFE000u);
      }
      s += a * b;
    }
    out[i] = static_cast<float>(s + static_cast<double>(d[i]));
  }
}

template <bool BF16>
void warp_mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  Fiber& f = current();
  WarpState& ws = t_run->warps[f.warp];
  if (ws.lanes != 32) device_fail("mma.sync in a partial warp");
  const unsigned p = f.mma_parity;
  f.mma_parity ^= 1u;
  uint32_t* mine = ws.mma[p][f.lane];
  for (int i = 0; i < 4; ++i) mine[i] = a[i];
  mine[4] = b0;
  mine[5] = b1;
  sync_warp(0xFFFFFFFFu);
  float out[4];
  lane_mma<BF16>(ws.mma[p], f.lane, d, out);
  for (int i = 0; i < 4; ++i) d[i] = out[i];
}

}  // namespace

void mma_tf32(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  warp_mma<false>(d, a, b0, b1);
}
void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  warp_mma<true>(d, a, b0, b1);
}

int placeable_cluster_size() {
  const char* v = std::getenv("LSTMAD_EMU_MAX_CLUSTER");
  const int n = v != nullptr ? std::atoi(v) : kMaxClusterSize;
  return n < 1 ? 1 : (n > kMaxClusterSize ? kMaxClusterSize : n);
}

std::size_t dynamic_smem_limit(const void* kernel) {
  const int device = current_device();
  std::lock_guard<std::mutex> lock(g_attr_mu);
  auto it = g_smem_attr.find({kernel, device});
  return it == g_smem_attr.end() ? kDefaultDynamicSmem : it->second;
}

void set_dynamic_smem_limit(const void* kernel, std::size_t bytes) {
  const int device = current_device();
  std::lock_guard<std::mutex> lock(g_attr_mu);
  g_smem_attr[{kernel, device}] = bytes;
}

bool pointer_argument_ok(const void* p, int index) {
  return not_foreign(p, current_device(), "kernel argument " + std::to_string(index));
}

bool launch_stream_ok(cudaStream_t stream) {
  if (stream_device(stream) == current_device()) return true;
  std::fprintf(stderr, "[emulation] launch refused: a stream of device %d while device %d is current\n",
               stream_device(stream), current_device());
  set_last_error(cudaErrorInvalidResourceHandle);
  return false;
}

void launch(cudaStream_t stream, const LaunchShape& shape, std::function<void()> body) {
  std::string why;
  const cudaError_t e = check_shape(shape, why);
  if (e != cudaSuccess) {
    std::fprintf(stderr, "[emulation] launch refused: %s\n", why.c_str());
    set_last_error(e);
    return;
  }
  submit(stream, [shape, body = std::move(body)]() { execute(shape, body); });
}

}  // namespace lstmad::emu
