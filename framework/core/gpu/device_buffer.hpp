// DeviceBuffer<T>: a move-only owner of `size` elements of T in device memory (cudaMalloc/cudaFree),
// plus checked host<->device copies. No element access from the host: copy to a std::vector to look.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/gpu/check.hpp"

namespace lstmad::gpu {

template <typename T>
class DeviceBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "device buffers hold trivially copyable types");

 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t size) { resize(size); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }

  // Discards the contents; a no-op when the size is unchanged.
  void resize(std::size_t size) {
    if (size == size_) return;
    release();
    if (size > 0) CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr_), size * sizeof(T)));
    size_ = size;
  }
  // Grows (discarding the contents) only when more than the current size is needed.
  void reserve(std::size_t size) {
    if (size > size_) resize(size);
  }

  T* data() { return ptr_; }
  const T* data() const { return ptr_; }
  std::size_t size() const { return size_; }
  std::size_t bytes() const { return size_ * sizeof(T); }
  bool empty() const { return size_ == 0; }

  void zero_async(cudaStream_t stream) {
    if (size_ > 0) CUDA_CHECK(cudaMemsetAsync(ptr_, 0, bytes(), stream));
  }
  // Fills every byte with `byte` (0xFF makes NaNs of floats: the tests' poison).
  void fill_bytes_async(int byte, cudaStream_t stream) {
    if (size_ > 0) CUDA_CHECK(cudaMemsetAsync(ptr_, byte, bytes(), stream));
  }
  void upload(const T* host, std::size_t count, cudaStream_t stream = nullptr) {
    LSTMAD_CHECK(count <= size_, "upload larger than the device buffer");
    if (count > 0) {
      CUDA_CHECK(cudaMemcpyAsync(ptr_, host, count * sizeof(T), cudaMemcpyHostToDevice, stream));
      CUDA_CHECK(cudaStreamSynchronize(stream));
    }
  }
  void upload(const std::vector<T>& host, cudaStream_t stream = nullptr) {
    reserve(host.size());
    upload(host.data(), host.size(), stream);
  }
  void download(T* host, std::size_t count, cudaStream_t stream = nullptr) const {
    LSTMAD_CHECK(count <= size_, "download larger than the device buffer");
    if (count > 0) {
      CUDA_CHECK(cudaMemcpyAsync(host, ptr_, count * sizeof(T), cudaMemcpyDeviceToHost, stream));
      CUDA_CHECK(cudaStreamSynchronize(stream));
    }
  }
  std::vector<T> to_host(cudaStream_t stream = nullptr) const {
    std::vector<T> h(size_);
    download(h.data(), size_, stream);
    return h;
  }

 private:
  void release() noexcept {
    if (ptr_) cudaFree(ptr_);  // never throws from a destructor; a failed free leaves nothing to fix
    ptr_ = nullptr;
    size_ = 0;
  }
  T* ptr_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace lstmad::gpu
