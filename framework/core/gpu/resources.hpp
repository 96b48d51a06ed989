// RAII owners for CUDA streams, events and cuBLAS handles (move-only), and a scoped device selection.
// cuDNN handles and descriptors live in lstm/cudnn/cudnn_check.hpp (built only when cuDNN is found).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <utility>

#include "core/gpu/check.hpp"
#include "core/gpu/cublas_library.hpp"

namespace lstmad::gpu {

// A non-blocking stream: it does not synchronise with the legacy default stream.
class Stream {
 public:
  Stream() { CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (s_) cudaStreamDestroy(s_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept {
    if (this != &o) {
      if (s_) cudaStreamDestroy(s_);
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  cudaStream_t get() const { return s_; }
  operator cudaStream_t() const { return s_; }  // NOLINT: passes where a cudaStream_t is expected
  void synchronize() const { CUDA_CHECK(cudaStreamSynchronize(s_)); }

 private:
  cudaStream_t s_ = nullptr;
};

// An event with timing enabled (the benchmarks' clock) unless `timing` is false.
class Event {
 public:
  explicit Event(bool timing = true) {
    CUDA_CHECK(cudaEventCreateWithFlags(&e_, timing ? cudaEventDefault : cudaEventDisableTiming));
  }
  ~Event() {
    if (e_) cudaEventDestroy(e_);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&& o) noexcept {
    if (this != &o) {
      if (e_) cudaEventDestroy(e_);
      e_ = std::exchange(o.e_, nullptr);
    }
    return *this;
  }
  cudaEvent_t get() const { return e_; }
  void record(cudaStream_t s) { CUDA_CHECK(cudaEventRecord(e_, s)); }
  void synchronize() const { CUDA_CHECK(cudaEventSynchronize(e_)); }
  // Milliseconds from `start` to this event (both recorded and complete).
  float elapsed_ms_since(const Event& start) const {
    float ms = 0.f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start.e_, e_));
    return ms;
  }

 private:
  cudaEvent_t e_ = nullptr;
};

class CublasHandle {
 public:
  CublasHandle() { CUBLAS_CHECK(cublas().cublasCreate_v2(&h_)); }
  explicit CublasHandle(cudaStream_t s) : CublasHandle() { set_stream(s); }
  ~CublasHandle() {
    if (h_) cublas().cublasDestroy_v2(h_);
  }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  CublasHandle(CublasHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  CublasHandle& operator=(CublasHandle&& o) noexcept {
    if (this != &o) {
      if (h_) cublas().cublasDestroy_v2(h_);
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  cublasHandle_t get() const { return h_; }
  void set_stream(cudaStream_t s) { CUBLAS_CHECK(cublas().cublasSetStream_v2(h_, s)); }

 private:
  cublasHandle_t h_ = nullptr;
};

// Makes `device` current for this thread for the scope, restoring the previous one afterwards
// (engine threads may be shared with code that uses another device).
class ScopedDevice {
 public:
  explicit ScopedDevice(int device) {
    CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) CUDA_CHECK(cudaSetDevice(device));
  }
  ~ScopedDevice() { cudaSetDevice(previous_); }
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace lstmad::gpu
