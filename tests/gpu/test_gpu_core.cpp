// The GPU foundation: check macros (run without a device: they only need the runtime's status strings),
// device presence, DeviceBuffer, streams and events.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/gpu/check.hpp"
#include "core/gpu/cublas_library.hpp"
#include "core/gpu/device.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/gpu/resources.hpp"
#include "gpu/gpu_test.hpp"
#include "support/test_support.hpp"  // run_command
#ifdef LSTMAD_WITH_CUDNN
#include "lstm/cudnn/cudnn_check.hpp"
#endif

namespace lstmad {
namespace {

TEST(GpuCheck, CudaCheckThrowsDeviceErrorWithCallStatusAndLocation) {
  try {
    CUDA_CHECK(cudaErrorInvalidValue);
    FAIL() << "CUDA_CHECK did not throw";
  } catch (const DeviceError& e) {
    const std::string m = e.what();
    // The call's text, the status name and string, and file:line without the file's folders.
    EXPECT_EQ(m.rfind("cudaErrorInvalidValue failed: cudaErrorInvalidValue (invalid argument) at "
                      "test_gpu_core.cpp:",
                      0),
              0u)
        << m;
    // The status survives for callers that act on it, and a CUDA error is not taken for a cuDNN one.
    const auto* cuda = dynamic_cast<const gpu::CudaError*>(&e);
    ASSERT_NE(cuda, nullptr) << m;
    EXPECT_EQ(cuda->status(), cudaErrorInvalidValue);
#ifdef LSTMAD_WITH_CUDNN
    EXPECT_EQ(dynamic_cast<const gpu::CudnnError*>(&e), nullptr);
#endif
  }
}

TEST(GpuCheck, CublasCheckThrowsDeviceError) {
  try {
    CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE);
    FAIL() << "CUBLAS_CHECK did not throw";
  } catch (const DeviceError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("CUBLAS_STATUS_INVALID_VALUE"), std::string::npos) << m;
    EXPECT_NE(m.find("test_gpu_core.cpp:"), std::string::npos) << m;
  }
}

#ifdef LSTMAD_WITH_CUDNN
TEST(GpuCheck, CudnnCheckThrowsCudnnErrorWithStatus) {
  try {
    CUDNN_CHECK(CUDNN_STATUS_NOT_SUPPORTED);
    FAIL() << "CUDNN_CHECK did not throw";
  } catch (const gpu::CudnnError& e) {
    EXPECT_EQ(e.status(), CUDNN_STATUS_NOT_SUPPORTED);
    const std::string m = e.what();
    EXPECT_EQ(
        m.rfind("CUDNN_STATUS_NOT_SUPPORTED failed: CUDNN_STATUS_NOT_SUPPORTED at test_gpu_core.cpp:", 0), 0u)
        << m;
    EXPECT_EQ(dynamic_cast<const gpu::CudaError*>(static_cast<const DeviceError*>(&e)), nullptr);
  }
}

// The cudnn engine's reruns give the same bits only with cuBLAS's per-stream workspaces fixed: a build
// with cuDNN sets CUBLAS_WORKSPACE_CONFIG before main where the environment does not.
TEST(GpuCheck, CudnnBuildsFixCublasWorkspaces) {
  const char* v = std::getenv("CUBLAS_WORKSPACE_CONFIG");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(std::string(v).rfind(':', 0), 0u) << v;  // ":4096:8", or the user's own ":SIZE:COUNT"
}
#endif

// cuBLAS is opened on first use, not linked (its start-up costs every process about 0.4 s): this program,
// which links the libraries lstmad is made of, needs no libcublas to start, and the first call finds every
// function lstmad calls. Runs without a device.
TEST(GpuCheck, CublasIsOpenedOnFirstUseNotLinked) {
  // Not lstmad_binary(): on the GPU machine the executables may have been built in another folder.
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string libraries;
  ASSERT_EQ(test::run_command("ldd '" + self + "'", &libraries), 0) << libraries;
  EXPECT_NE(libraries.find("libc.so"), std::string::npos) << libraries;  // ldd read the program
  EXPECT_EQ(libraries.find("libcublas"), std::string::npos) << self << " links cuBLAS:\n" << libraries;
  const gpu::CublasLibrary& lib = gpu::cublas();
  EXPECT_EQ(&lib, &gpu::cublas());  // opened once
  EXPECT_TRUE(lib.cublasCreate_v2 && lib.cublasDestroy_v2 && lib.cublasSetStream_v2 && lib.cublasSetMathMode &&
              lib.cublasSgemm_v2 && lib.cublasSgemv_v2 && lib.cublasGemmEx && lib.cublasGetStatusString &&
              lib.cublasGetProperty);
  EXPECT_GT(std::string(lib.cublasGetStatusString(CUBLAS_STATUS_NOT_SUPPORTED)).size(), 0u);
  // The library opened is the one this build was made against: the same major version.
  EXPECT_EQ(lib.version().rfind(std::to_string(CUBLAS_VER_MAJOR) + ".", 0), 0u) << lib.version();
  if (lib.path != "emulated") {
    EXPECT_NE(lib.path.find(gpu::cublas_soname()), std::string::npos) << lib.path;
  }
}

TEST(GpuCheck, SuccessDoesNotThrow) {
  EXPECT_NO_THROW(CUDA_CHECK(cudaSuccess));
  EXPECT_NO_THROW(CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
}

// Runs everywhere: without a device it must say why, without throwing.
TEST(GpuDevice, PresenceNeverThrowsAndGivesAReason) {
  std::string reason;
  bool present = false;
  EXPECT_NO_THROW(present = gpu::device_available(0, &reason));
  if (!present) {
    EXPECT_FALSE(reason.empty());
  }
  EXPECT_FALSE(gpu::device_available(1 << 20, &reason));
  EXPECT_FALSE(reason.empty());
  // With a device, no error is left behind for the next caller. (Without a driver every runtime call,
  // cudaGetLastError included, keeps returning the initialisation error.)
  if (present) {
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  }
}

TEST(GpuDevice, BufferRoundTripAndMove) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream stream;
  const auto host = test::random_vector(1000, 7);
  gpu::DeviceBuffer<float> a(host.size());
  a.fill_bytes_async(0xFF, stream);  // poison
  a.upload(host.data(), host.size(), stream);
  gpu::DeviceBuffer<float> b(std::move(a));
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.data(), nullptr);
  ASSERT_EQ(b.size(), host.size());
  const auto back = b.to_host(stream);
  EXPECT_EQ(back, host);
  gpu::DeviceBuffer<float> c;
  c = std::move(b);
  EXPECT_EQ(c.to_host(stream), host);
}

TEST(GpuDevice, EventsTimeAStream) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream stream;
  gpu::Event start, stop;
  gpu::DeviceBuffer<float> buf(1 << 22);
  start.record(stream);
  buf.zero_async(stream);
  stop.record(stream);
  stop.synchronize();
  EXPECT_GE(stop.elapsed_ms_since(start), 0.f);
  gpu::CublasHandle blas(stream);
  EXPECT_NE(blas.get(), nullptr);
}

TEST(GpuDevice, UploadLargerThanTheBufferIsRejected) {
  LSTMAD_REQUIRE_GPU();
  gpu::DeviceBuffer<float> small(4);
  EXPECT_THROW(small.upload(std::vector<float>(4).data(), 5), Error);  // larger than the buffer
}

}  // namespace
}  // namespace lstmad
