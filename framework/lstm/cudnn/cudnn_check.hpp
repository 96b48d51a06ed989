// cuDNN error checking and RAII owners for the handle and the descriptors the RNN path uses. Only
// compiled when cuDNN is found (LSTMAD_WITH_CUDNN), so a CUDA build without cuDNN still builds.
//
// CUDNN_CHECK(call) throws CudnnError (a DeviceError) carrying the status, with the call's text, the
// status name and string, and file:line in its message.
#pragma once
#include <cudnn.h>

#include <utility>

#include "core/error.hpp"

namespace lstmad::gpu {

using CudnnError = DeviceStatusError<cudnnStatus_t>;

[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line);

// "9.19.0" from cudnnGetVersion() (the library loaded at run time, which may differ from the header).
std::string cudnn_version_string();

// Owner of a cuDNN object created by Create and destroyed by Destroy (handles and descriptors).
template <typename T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class CudnnObject {
 public:
  CudnnObject() {
    const cudnnStatus_t s = Create(&obj_);
    if (s != CUDNN_STATUS_SUCCESS) throw_cudnn_error(s, "cudnnCreate*", __FILE__, __LINE__);
  }
  ~CudnnObject() {
    if (obj_) Destroy(obj_);
  }
  CudnnObject(const CudnnObject&) = delete;
  CudnnObject& operator=(const CudnnObject&) = delete;
  CudnnObject(CudnnObject&& o) noexcept : obj_(std::exchange(o.obj_, nullptr)) {}
  CudnnObject& operator=(CudnnObject&& o) noexcept {
    if (this != &o) {
      if (obj_) Destroy(obj_);
      obj_ = std::exchange(o.obj_, nullptr);
    }
    return *this;
  }
  T get() const { return obj_; }
  operator T() const { return obj_; }  // NOLINT: passes where the raw cuDNN type is expected

 private:
  T obj_ = nullptr;
};

using CudnnHandle = CudnnObject<cudnnHandle_t, cudnnCreate, cudnnDestroy>;
using RnnDescriptor = CudnnObject<cudnnRNNDescriptor_t, cudnnCreateRNNDescriptor, cudnnDestroyRNNDescriptor>;
using RnnDataDescriptor =
    CudnnObject<cudnnRNNDataDescriptor_t, cudnnCreateRNNDataDescriptor, cudnnDestroyRNNDataDescriptor>;
using TensorDescriptor =
    CudnnObject<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using DropoutDescriptor =
    CudnnObject<cudnnDropoutDescriptor_t, cudnnCreateDropoutDescriptor, cudnnDestroyDropoutDescriptor>;

}  // namespace lstmad::gpu

#define CUDNN_CHECK(call)                                                                \
  do {                                                                                   \
    const cudnnStatus_t lstmad_cudnn_status_ = (call);                                   \
    if (lstmad_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                    \
      ::lstmad::gpu::throw_cudnn_error(lstmad_cudnn_status_, #call, __FILE__, __LINE__); \
  } while (0)
