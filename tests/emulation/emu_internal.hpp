// What the emulated device, runtime and cuBLAS share (tests/emulation only).
#pragma once
#include <cuda_runtime.h>

#include <functional>
#include <stdexcept>
#include <string>

namespace lstmad::emu {

// An error in emulated device code (a deadlock, a bad warp mask, an assertion); the launch reports it.
struct DeviceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs `work` in stream order: now, or into the stream's graph while it is being captured.
void submit(cudaStream_t stream, std::function<void()> work);
// The runtime's error state: the last error (cudaGetLastError) and the sticky one a failed kernel leaves.
cudaError_t set_last_error(cudaError_t e);
void set_sticky_error(cudaError_t e, const std::string& message);
cudaError_t sticky_error();
// The emulated devices (LSTMAD_EMU_DEVICES, 1 to kMaxDevices): identical H200s on the host's memory.
constexpr int kMaxDevices = 8;
int device_count();
int current_device();               // the calling thread's, as cudaSetDevice left it
int stream_device(cudaStream_t s);  // the device a stream was made on (the default stream: the current one)
// The device whose live cudaMalloc allocation holds all of [p, p + bytes), or -1 when none does.
int device_of(const void* p, std::size_t bytes);
// Whether [p, p + bytes) lies inside one live cudaMalloc allocation (device memory, as a library sees it).
bool is_device_range(const void* p, std::size_t bytes);
// How many pieces of work (kernels, copies, library calls, graph launches) the streams of `device` ran.
long long work_count(int device);
// A fault while work runs (an illegal address, a library's misuse): printed with `why`, and the sticky
// error `e` left for the next synchronising call, as after a failed kernel on the GPU.
void device_fault(cudaError_t e, const std::string& why);
// False (with device_fault(cudaErrorIllegalAddress)) when `p` lies in the memory of a device other than
// `device`: without peer access the access would fault. Host memory and null are not judged here.
bool not_foreign(const void* p, int device, const std::string& what);

// Launch limits (the H200's) and the per-kernel dynamic shared-memory attribute.
constexpr int kSmCount = 132;
constexpr std::size_t kDefaultDynamicSmem = 48 * 1024;
constexpr std::size_t kMaxDynamicSmemOptin = 232448;  // 227 KiB
constexpr std::size_t kSmemPerSm = 233472;            // 228 KiB
constexpr int kMaxClusterSize = 8;
// The largest cluster the emulated device can place: LSTMAD_EMU_MAX_CLUSTER (1 to 8, default 8) models a
// partitioned GPU (a MIG slice) whose GPCs hold fewer SMs than a portable cluster may have blocks. A
// larger cluster launch fails with cudaErrorLaunchOutOfResources, and cudaOccupancyMaxActiveClusters
// reports 0 for it.
int placeable_cluster_size();
// The calling thread's current device's attribute of `kernel` (cudaFuncSetAttribute sets it there).
std::size_t dynamic_smem_limit(const void* kernel);
void set_dynamic_smem_limit(const void* kernel, std::size_t bytes);

}  // namespace lstmad::emu
