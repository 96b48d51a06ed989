// Whether a usable CUDA device is present, for tests and engines that must skip or refuse cleanly on
// machines without one. Never throws and leaves no sticky error behind.
#pragma once
#include <string>

namespace lstmad::gpu {

// True when device `ordinal` exists and a context can be created on it; otherwise false and, when
// `reason` is given, why not (e.g. "cudaErrorNoDevice: no CUDA-capable device is detected").
bool device_available(int ordinal = 0, std::string* reason = nullptr) noexcept;

// Number of usable devices (0 when there is no driver).
int device_count() noexcept;

}  // namespace lstmad::gpu
