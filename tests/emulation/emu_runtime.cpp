// The CUDA runtime API as far as lstmad calls it, on the emulated device: LSTMAD_EMU_DEVICES devices (1 to 8,
// default 1) with the H200's limits, memory from the host heap, streams, events, graphs, the dynamic
// shared-memory attribute and the error state.
//
// Streams run their work in order, but late: a stream's queue runs only when something waits for it (a
// stream or event synchronisation, cudaStreamWaitEvent on another stream's queue, a copy to host memory,
// cudaFree, cudaDeviceSynchronize, which runs the newest stream first), so that work on two streams with
// no event between them runs in whichever order exposes it, as the GPU may run it concurrently. The
// legacy default stream runs its work at once after every blocking stream's (never a cudaStreamNonBlocking
// one's, which it does not wait for). Copies from host memory take the host bytes at the call, copies to
// host memory return complete, as with pageable memory. Work a library call issues while it runs goes
// inline. While a stream is captured its work goes into the graph instead. Memory from cudaMalloc starts as all-ones bytes (NaN floats): code that reads what it
// never wrote fails. Each allocation, stream and event belongs to the device current when it was made, and
// the runtime's rules across devices hold: a kernel goes only into a stream of the current device
// (cudaErrorInvalidResourceHandle otherwise), an event is recorded only on a stream of its own device, and
// a kernel argument that points into another device's memory fails the launch (no peer access here).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tests/emulation/emu_internal.hpp"

struct CUgraph_st {
  std::vector<std::function<void()>> work;
  std::vector<cudaStream_t> joined;  // streams that joined the capture through an event
  bool invalid = false;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> work;
};
struct CUstream_st {
  int device = 0;
  CUgraph_st* capture = nullptr;
  CUgraph_st* origin = nullptr;  // set on the stream that began the capture
  bool nonblocking = false;      // cudaStreamNonBlocking: the legacy default stream does not wait for it
  std::deque<std::function<void()>> pending;  // work not yet run, in stream order
  long long enqueued = 0, done = 0;           // items ever queued, items run
};
struct CUevent_st {
  int device = 0;
  // Set when the stream reaches the record (shared: an event may be destroyed before that).
  std::shared_ptr<std::chrono::steady_clock::time_point> when =
      std::make_shared<std::chrono::steady_clock::time_point>();
  CUgraph_st* capture = nullptr;
  bool recorded = false;
  CUstream_st* stream = nullptr;  // where it was last recorded (null: complete at the record)
  long long position = 0;         // complete once stream->done reaches it
};

namespace lstmad::emu {

namespace {

thread_local cudaError_t t_last = cudaSuccess;
std::mutex g_mu;
cudaError_t g_sticky = cudaSuccess;
std::string g_sticky_message;
struct Allocation {
  std::size_t bytes;
  int device;
};
std::map<void*, Allocation> g_allocs;
// Stream queues: one lock for queueing and running (work runs on one host thread at a time, as before; a
// kernel's blocks still spread over the launch's own threads). Live streams in creation order; destroyed
// ones stay until exit, since a queued cudaStreamWaitEvent may still name them.
std::recursive_mutex g_exec;
std::vector<CUstream_st*> g_streams;
std::vector<std::unique_ptr<CUstream_st>> g_destroyed;
thread_local int t_running = 0;  // > 0 while this thread runs a piece of work
std::size_t g_allocated[kMaxDevices] = {0};
thread_local int t_device = 0;
constexpr std::size_t kGlobalMemory = 143771172864ULL;  // 141 GB (134 GiB usable is not modelled)

bool is_default(cudaStream_t s) {
  return reinterpret_cast<std::uintptr_t>(s) <= 2;
}

bool valid_device(int d) {
  return d >= 0 && d < device_count();
}

CUgraph_st* capture_of(cudaStream_t s) {
  return is_default(s) ? nullptr : s->capture;
}

}  // namespace

namespace {

// How many pieces of work (kernels, copies, library calls, graph launches) each device's streams ran. With
// more than one device the counts are printed at exit, so a test can see that every device did work (a
// program that never selected a device runs everything, consistently, on device 0).
struct WorkCounts {
  std::atomic<long long> n[kMaxDevices] = {};
  ~WorkCounts() {
    if (device_count() < 2) return;
    std::string line = "[emulation] work per device:";
    for (int d = 0; d < device_count(); ++d)
      line += " " + std::to_string(d) + "=" + std::to_string(n[d].load());
    std::fprintf(stderr, "%s\n", line.c_str());
  }
} g_work;

}  // namespace

long long work_count(int device) {
  return device >= 0 && device < kMaxDevices ? g_work.n[device].load() : 0;
}

namespace {

void run_now(const std::function<void()>& work, int device) {
  if (sticky_error() != cudaSuccess) return;  // a failed kernel leaves the context unusable
  ++g_work.n[device];
  struct Running {
    Running() { ++t_running; }
    ~Running() { --t_running; }
  } running;
  work();
}

}  // namespace

void drain(CUstream_st* s, long long upto) {
  std::lock_guard<std::recursive_mutex> lock(g_exec);
  while (s->done < upto && !s->pending.empty()) {
    std::function<void()> w = std::move(s->pending.front());
    s->pending.pop_front();
    run_now(w, s->device);
    ++s->done;
  }
}

void drain_device(int device, bool nonblocking_too) {
  std::lock_guard<std::recursive_mutex> lock(g_exec);
  for (auto it = g_streams.rbegin(); it != g_streams.rend(); ++it)  // newest first
    if ((*it)->device == device && (nonblocking_too || !(*it)->nonblocking)) drain(*it, (*it)->enqueued);
}

void submit(cudaStream_t stream, std::function<void()> work) {
  if (CUgraph_st* g = capture_of(stream)) {
    g->work.push_back(std::move(work));
    return;
  }
  const int device = stream_device(stream);
  std::lock_guard<std::recursive_mutex> lock(g_exec);
  if (t_running > 0) {  // issued by work that is running (a library call's own kernels): part of it
    run_now(work, device);
    return;
  }
  if (is_default(stream)) {  // the legacy default stream: after every blocking stream's work, at once
    drain_device(device, false);
    run_now(work, device);
    return;
  }
  stream->pending.push_back(std::move(work));
  ++stream->enqueued;
}

cudaError_t set_last_error(cudaError_t e) {
  if (e != cudaSuccess) t_last = e;
  return e;
}

void set_sticky_error(cudaError_t e, const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_sticky == cudaSuccess) {
    g_sticky = e;
    g_sticky_message = message;
  }
  t_last = e;
}

cudaError_t sticky_error() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_sticky;
}

int device_count() {
  const char* v = std::getenv("LSTMAD_EMU_DEVICES");
  const int n = v != nullptr ? std::atoi(v) : 1;
  return n < 1 ? 1 : (n > kMaxDevices ? kMaxDevices : n);
}

int current_device() {
  return t_device;
}

int stream_device(cudaStream_t s) {
  return is_default(s) ? t_device : s->device;
}

int device_of(const void* p, std::size_t bytes) {
  const auto* c = static_cast<const unsigned char*>(p);
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_allocs.upper_bound(const_cast<unsigned char*>(c));
  if (it == g_allocs.begin()) return -1;
  --it;
  const auto* base = static_cast<const unsigned char*>(it->first);
  return c >= base && c + bytes <= base + it->second.bytes ? it->second.device : -1;
}

bool is_device_range(const void* p, std::size_t bytes) {
  return device_of(p, bytes) >= 0;
}

void device_fault(cudaError_t e, const std::string& why) {
  std::fprintf(stderr, "[emulation] %s\n", why.c_str());
  set_sticky_error(e, why);
}

bool not_foreign(const void* p, int device, const std::string& what) {
  const int d = device_of(p, 1);
  if (d < 0 || d == device) return true;
  device_fault(cudaErrorIllegalAddress, what + " points into device " + std::to_string(d) +
                                            "'s memory, used on device " + std::to_string(device));
  return false;
}

std::atomic<int> g_failing_allocations{0};

void fail_next_device_allocations(int n) {
  g_failing_allocations = n;
}

}  // namespace lstmad::emu

using lstmad::emu::drain;
using lstmad::emu::drain_device;
using lstmad::emu::set_last_error;
using lstmad::emu::sticky_error;
using lstmad::emu::submit;

namespace {

cudaError_t sync_status() {
  const cudaError_t s = sticky_error();
  return s != cudaSuccess ? set_last_error(s) : cudaSuccess;
}

// A synchronising call on a stream being captured invalidates the capture, as the runtime does.
cudaError_t refuse_if_capturing(cudaStream_t s) {
  if (!lstmad::emu::is_default(s) && s->capture != nullptr) {
    s->capture->invalid = true;
    return set_last_error(cudaErrorStreamCaptureUnsupported);
  }
  return cudaSuccess;
}

}  // namespace

extern "C" {

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = lstmad::emu::t_last;
  lstmad::emu::t_last = sticky_error();
  return e;
}

cudaError_t cudaPeekAtLastError(void) {
  return lstmad::emu::t_last;
}

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
    case cudaErrorInvalidClusterSize:
      return "cudaErrorInvalidClusterSize";
    case cudaErrorLaunchOutOfResources:
      return "cudaErrorLaunchOutOfResources";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
      return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorNotSupported:
      return "cudaErrorNotSupported";
    default:
      return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure (emulated kernel failed; see stderr)";
    case cudaErrorInvalidClusterSize:
      return "invalid cluster size";
    case cudaErrorLaunchOutOfResources:
      return "too many resources requested for launch";
    case cudaErrorStreamCaptureUnsupported:
      return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
      return "operation failed due to a previous error during capture";
    case cudaErrorNotSupported:
      return "operation not supported";
    default:
      return "unknown error";
  }
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = lstmad::emu::device_count();
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (!lstmad::emu::valid_device(device)) return set_last_error(cudaErrorInvalidDevice);
  lstmad::emu::t_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = lstmad::emu::t_device;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp* p, int device) {
  if (!lstmad::emu::valid_device(device)) return set_last_error(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof(p->name), "host emulation of an H200 (sm_90)");
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = lstmad::emu::kSmCount;
  p->totalGlobalMem = lstmad::emu::kGlobalMemory;
  p->sharedMemPerBlock = lstmad::emu::kDefaultDynamicSmem;
  p->sharedMemPerBlockOptin = lstmad::emu::kMaxDynamicSmemOptin;
  p->sharedMemPerMultiprocessor = lstmad::emu::kSmemPerSm;
  p->regsPerBlock = 65536;
  p->regsPerMultiprocessor = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsPerMultiProcessor = 2048;
  p->maxThreadsDim[0] = 1024;
  p->maxThreadsDim[1] = 1024;
  p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647;
  p->maxGridSize[1] = 65535;
  p->maxGridSize[2] = 65535;
  p->l2CacheSize = 50 * 1024 * 1024;
  p->memoryBusWidth = 6144;
  p->clusterLaunch = 1;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, enum cudaDeviceAttr attr, int device) {
  if (!lstmad::emu::valid_device(device)) return set_last_error(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMultiProcessorCount:
      *value = lstmad::emu::kSmCount;
      break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(lstmad::emu::kMaxDynamicSmemOptin);
      break;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *value = static_cast<int>(lstmad::emu::kDefaultDynamicSmem);
      break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
      *value = static_cast<int>(lstmad::emu::kSmemPerSm);
      break;
    case cudaDevAttrClusterLaunch:
      *value = 1;
      break;
    case cudaDevAttrComputeCapabilityMajor:
      *value = 9;
      break;
    case cudaDevAttrComputeCapabilityMinor:
      *value = 0;
      break;
    case cudaDevAttrMaxThreadsPerBlock:
      *value = 1024;
      break;
    case cudaDevAttrWarpSize:
      *value = 32;
      break;
    case cudaDevAttrMaxRegistersPerBlock:
      *value = 65536;
      break;
    case cudaDevAttrL2CacheSize:
      *value = 50 * 1024 * 1024;
      break;
    default:
      std::fprintf(stderr, "[emulation] cudaDeviceGetAttribute: attribute %d is not emulated\n",
                   static_cast<int>(attr));
      return set_last_error(cudaErrorNotSupported);
  }
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  std::lock_guard<std::mutex> lock(lstmad::emu::g_mu);
  *total = lstmad::emu::kGlobalMemory;
  *free_bytes = lstmad::emu::kGlobalMemory - lstmad::emu::g_allocated[lstmad::emu::t_device];
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** ptr, size_t size) {
  *ptr = nullptr;
  if (size == 0) return cudaSuccess;
  for (int left = lstmad::emu::g_failing_allocations.load(); left > 0;)
    if (lstmad::emu::g_failing_allocations.compare_exchange_weak(left, left - 1))
      return set_last_error(cudaErrorMemoryAllocation);
  void* p = std::malloc(size);
  if (p == nullptr) return set_last_error(cudaErrorMemoryAllocation);
  std::memset(p, 0xFF, size);
  std::lock_guard<std::mutex> lock(lstmad::emu::g_mu);
  lstmad::emu::g_allocs[p] = {size, lstmad::emu::t_device};
  lstmad::emu::g_allocated[lstmad::emu::t_device] += size;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  // cudaFree synchronises with the device: queued work that reads the memory runs first.
  const int device = lstmad::emu::device_of(ptr, 1);
  if (device >= 0) drain_device(device, true);
  std::lock_guard<std::mutex> lock(lstmad::emu::g_mu);
  auto it = lstmad::emu::g_allocs.find(ptr);
  if (it == lstmad::emu::g_allocs.end()) return set_last_error(cudaErrorInvalidValue);
  lstmad::emu::g_allocated[it->second.device] -= it->second.bytes;
  lstmad::emu::g_allocs.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind,
                            cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  if (lstmad::emu::capture_of(stream) != nullptr) {
    submit(stream, [=]() { std::memmove(dst, src, count); });
    return sync_status();
  }
  if (lstmad::emu::device_of(dst, 1) < 0) {
    // To host memory (pageable): returns once the copy is done, after the stream's earlier work.
    if (lstmad::emu::is_default(stream))
      drain_device(lstmad::emu::current_device(), false);
    else
      drain(stream, stream->enqueued);
    if (sticky_error() == cudaSuccess) std::memmove(dst, src, count);
    return sync_status();
  }
  if (lstmad::emu::device_of(src, 1) < 0) {
    // From host memory: its bytes are taken now (staged), so the caller may reuse them at once.
    auto staged = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(src),
                                                               static_cast<const unsigned char*>(src) + count);
    submit(stream, [=]() { std::memmove(dst, staged->data(), count); });
    return sync_status();
  }
  submit(stream, [=]() { std::memmove(dst, src, count); });
  return sync_status();
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind) {
  return cudaMemcpyAsync(dst, src, count, kind, nullptr);
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  submit(stream, [=]() { std::memset(ptr, value, count); });
  return sync_status();
}

cudaError_t cudaMemset(void* ptr, int value, size_t count) {
  return cudaMemsetAsync(ptr, value, count, nullptr);
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int flags) {
  *s = new CUstream_st;
  (*s)->device = lstmad::emu::t_device;
  (*s)->nonblocking = (flags & cudaStreamNonBlocking) != 0;
  std::lock_guard<std::recursive_mutex> lock(lstmad::emu::g_exec);
  lstmad::emu::g_streams.push_back(*s);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* s) {
  return cudaStreamCreateWithFlags(s, 0);
}

cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (lstmad::emu::is_default(s)) return cudaSuccess;
  // Work still queued completes, as the runtime lets it; the stream is kept until exit for any queued
  // wait that names it.
  drain(s, s->enqueued);
  std::lock_guard<std::recursive_mutex> lock(lstmad::emu::g_exec);
  auto& live = lstmad::emu::g_streams;
  live.erase(std::remove(live.begin(), live.end(), s), live.end());
  lstmad::emu::g_destroyed.emplace_back(s);
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (const cudaError_t e = refuse_if_capturing(s); e != cudaSuccess) return e;
  if (lstmad::emu::is_default(s))
    drain_device(lstmad::emu::current_device(), false);  // its own work ran at once; blocking streams'
  else
    drain(s, s->enqueued);
  return sync_status();
}

cudaError_t cudaDeviceSynchronize(void) {
  drain_device(lstmad::emu::current_device(), true);
  return sync_status();
}

// Clears the sticky error of a failed kernel (the context is recreated on a GPU); allocations stay valid
// here, which a program must not rely on.
cudaError_t cudaDeviceReset(void) {
  {  // the context's queued work is gone with it
    std::lock_guard<std::recursive_mutex> exec(lstmad::emu::g_exec);
    for (CUstream_st* s : lstmad::emu::g_streams) {
      s->pending.clear();
      s->done = s->enqueued;
    }
  }
  std::lock_guard<std::mutex> lock(lstmad::emu::g_mu);
  lstmad::emu::g_sticky = cudaSuccess;
  lstmad::emu::g_sticky_message.clear();
  lstmad::emu::t_last = cudaSuccess;
  return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, enum cudaStreamCaptureMode) {
  if (lstmad::emu::is_default(s) || s->capture != nullptr)
    return set_last_error(cudaErrorStreamCaptureUnsupported);
  s->capture = new CUgraph_st;
  s->origin = s->capture;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
  *graph = nullptr;
  if (lstmad::emu::is_default(s) || s->origin == nullptr) return set_last_error(cudaErrorIllegalState);
  CUgraph_st* g = s->origin;
  for (cudaStream_t j : g->joined) j->capture = nullptr;
  s->capture = nullptr;
  s->origin = nullptr;
  if (g->invalid) {
    delete g;
    return set_last_error(cudaErrorStreamCaptureInvalidated);
  }
  *graph = g;
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t s, enum cudaStreamCaptureStatus* status) {
  *status =
      lstmad::emu::capture_of(s) != nullptr ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  *exec = new CUgraphExec_st{graph->work};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
  auto work = exec->work;
  submit(s, [work]() {
    for (const auto& w : work) {
      if (sticky_error() != cudaSuccess) return;
      w();
    }
  });
  return sync_status();
}

cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  delete g;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) {
  delete e;
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  *e = new CUevent_st;
  (*e)->device = lstmad::emu::t_device;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* e) {
  return cudaEventCreateWithFlags(e, 0);
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (lstmad::emu::stream_device(s) != e->device) {
    std::fprintf(stderr, "[emulation] cudaEventRecord: event of device %d on a stream of device %d\n",
                 e->device, lstmad::emu::stream_device(s));
    return set_last_error(cudaErrorInvalidResourceHandle);
  }
  e->capture = lstmad::emu::capture_of(s);
  e->recorded = true;
  e->stream = nullptr;
  if (e->capture != nullptr) return cudaSuccess;
  auto when = e->when;
  std::lock_guard<std::recursive_mutex> lock(lstmad::emu::g_exec);
  submit(s, [when]() { *when = std::chrono::steady_clock::now(); });
  if (!lstmad::emu::is_default(s) && lstmad::emu::t_running == 0) {  // queued, not run at once
    e->stream = s;
    e->position = s->enqueued;
  }
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int) {
  // An event recorded inside a capture pulls the waiting stream into it.
  if (e->capture != nullptr && !lstmad::emu::is_default(s) && s->capture == nullptr) {
    s->capture = e->capture;
    e->capture->joined.push_back(s);
    return cudaSuccess;
  }
  if (e->stream == nullptr) return cudaSuccess;  // never recorded, or complete when recorded
  CUstream_st* src = e->stream;
  const long long position = e->position;
  if (lstmad::emu::is_default(s) || lstmad::emu::capture_of(s) != nullptr) {
    drain(src, position);
    return cudaSuccess;
  }
  // s's later work runs only after the recorded point of src's.
  submit(s, [src, position]() { drain(src, position); });
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  if (e->stream != nullptr) drain(e->stream, e->position);
  return sync_status();
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!start->recorded || !end->recorded) return set_last_error(cudaErrorInvalidResourceHandle);
  for (cudaEvent_t e : {start, end})  // an event whose stream has not reached it has no time yet
    if (e->stream != nullptr && e->stream->done < e->position) return set_last_error(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(*end->when - *start->when).count();
  return cudaSuccess;
}

// Clusters of the configuration's shape that fit the device at once: 0 when a block's dynamic shared memory
// exceeds the kernel's limit or the cluster is larger than the device places (placeable_cluster_size),
// otherwise one cluster per group of cluster-size SMs, each block filling its SM's shared memory.
cudaError_t cudaOccupancyMaxActiveClusters(int* clusters, const void* func,
                                           const cudaLaunchConfig_t* config) {
  if (clusters == nullptr || config == nullptr) return set_last_error(cudaErrorInvalidValue);
  unsigned size = 1;
  for (unsigned i = 0; i < config->numAttrs; ++i)
    if (config->attrs[i].id == cudaLaunchAttributeClusterDimension) {
      const auto& d = config->attrs[i].val.clusterDim;
      size = d.x * d.y * d.z;
    }
  const unsigned long long threads = 1ULL * config->blockDim.x * config->blockDim.y * config->blockDim.z;
  if (size < 1 || size > static_cast<unsigned>(lstmad::emu::kMaxClusterSize) || threads < 1 || threads > 1024)
    return set_last_error(cudaErrorInvalidClusterSize);
  *clusters = 0;
  // A device that refuses the question itself (a MIG slice or driver without cluster support).
  if (const char* v = std::getenv("LSTMAD_EMU_CLUSTER_QUERY_FAILS"); v != nullptr && *v == '1')
    return set_last_error(cudaErrorNotSupported);
  if (config->dynamicSmemBytes > lstmad::emu::dynamic_smem_limit(func)) return cudaSuccess;
  if (size > static_cast<unsigned>(lstmad::emu::placeable_cluster_size())) return cudaSuccess;
  *clusters = lstmad::emu::kSmCount / static_cast<int>(size);
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, enum cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  if (value < 0 || static_cast<std::size_t>(value) > lstmad::emu::kMaxDynamicSmemOptin)
    return set_last_error(cudaErrorInvalidValue);
  lstmad::emu::set_dynamic_smem_limit(func, static_cast<std::size_t>(value));
  return cudaSuccess;
}

}  // extern "C"

namespace lstmad::emu {

cudaError_t max_active_clusters(const void* kernel, dim3 grid, dim3 block, std::size_t smem, unsigned cluster,
                                int* clusters) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cudaLaunchAttribute attr;
  attr.id = cudaLaunchAttributeClusterDimension;
  attr.val.clusterDim.x = cluster;
  attr.val.clusterDim.y = 1;
  attr.val.clusterDim.z = 1;
  cfg.attrs = &attr;
  cfg.numAttrs = 1;
  return cudaOccupancyMaxActiveClusters(clusters, kernel, &cfg);
}

}  // namespace lstmad::emu
