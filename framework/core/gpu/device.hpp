// Whether a usable CUDA device is present, for tests and engines that must skip or refuse cleanly on
// machines without one. The queries never throw and leave no sticky error behind.
#pragma once
#include <string>

namespace lstmad::gpu {

// True when device `ordinal` exists and a context can be created on it; otherwise false and, when
// `reason` is given, why not (e.g. "cudaErrorNoDevice: no CUDA-capable device is detected").
bool device_available(int ordinal = 0, std::string* reason = nullptr) noexcept;

// Number of usable devices (0 when there is no driver).
int device_count() noexcept;

// Throws DeviceError("engine \"<engine>\" needs a CUDA device: <reason>; engine \"cpu\" runs without one
// (--engine cpu)") when `device` is not usable: the GPU engines before their first batch, and a run
// before it keeps its folder.
void require_gpu_device(const char* engine, int device);

}  // namespace lstmad::gpu
