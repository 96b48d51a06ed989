// Devices that only the emulation has (the GPU machine has one whole H200). Several GPUs: the runtime's
// rules across devices, and the GPU engines made for device 1 running every piece of their work there and
// leaving the calling thread on its own device. A partitioned GPU that cannot place a thread-block
// cluster: the fused engine asks before it launches one. Built only in the emulation build.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/gpu/device_buffer.hpp"
#include "core/gpu/resources.hpp"
#include "gpu/gpu_engine_test.hpp"
#include "gpu/gpu_test.hpp"
#include "kernels/launch.cuh"
#include "kernels/lstm_fused_cluster.hpp"
#include "lstm/engine.hpp"
#include "lstm/fused/fused_lstm.hpp"
#include "lstm/fused/fused_multi.hpp"
#include "lstm/init.hpp"
#include "tests/emulation/cuda_emulation.hpp"
#include "tests/emulation/emu_internal.hpp"

namespace lstmad {
namespace {

__global__ void fill_kernel(float* out, float v) {
  out[threadIdx.x] = v;
}

class EmulatedDevices : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("LSTMAD_EMU_DEVICES", "2", 1);
    cudaSetDevice(0);
    cudaDeviceReset();
  }
  void TearDown() override {
    cudaSetDevice(0);
    cudaDeviceReset();
  }
};

int current_device() {
  int d = -1;
  EXPECT_EQ(cudaGetDevice(&d), cudaSuccess);
  return d;
}

TEST_F(EmulatedDevices, StreamsEventsAndMemoryBelongToTheDeviceTheyWereMadeOn) {
  int n = 0;
  ASSERT_EQ(cudaGetDeviceCount(&n), cudaSuccess);
  ASSERT_EQ(n, 2);
  EXPECT_EQ(cudaSetDevice(2), cudaErrorInvalidDevice);
  cudaGetLastError();

  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  std::size_t free_before = 0, free_after = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_before, &total), cudaSuccess);
  cudaStream_t s1;
  cudaEvent_t e1;
  float* m1 = nullptr;
  ASSERT_EQ(cudaStreamCreate(&s1), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&e1), cudaSuccess);
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&m1), 64 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemGetInfo(&free_after, &total), cudaSuccess);
  EXPECT_EQ(free_before - free_after, 64 * sizeof(float)) << "device 1's memory pays for its allocation";

  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  std::size_t free0 = 0;
  ASSERT_EQ(cudaMemGetInfo(&free0, &total), cudaSuccess);
  EXPECT_GE(free0, free_after + 64 * sizeof(float)) << "device 0 does not";
  // A kernel goes only into a stream of the current device.
  kernels::launch_kernel(fill_kernel, 1, 64, 0, s1, m1, 1.f);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidResourceHandle);
  // An event is recorded only on a stream of its own device.
  cudaStream_t s0;
  ASSERT_EQ(cudaStreamCreate(&s0), cudaSuccess);
  EXPECT_EQ(cudaEventRecord(e1, s0), cudaErrorInvalidResourceHandle);
  // Device 0's kernel given device 1's memory would fault: no peer access.
  testing::internal::CaptureStderr();
  kernels::launch_kernel(fill_kernel, 1, 64, 0, s0, m1, 1.f);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorIllegalAddress);
  EXPECT_NE(log.find("kernel argument 0 points into device 1's memory, used on device 0"),
            std::string::npos)
      << log;
  cudaDeviceReset();
  // On its own device it runs.
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  const long long before = emu::work_count(1);
  kernels::launch_kernel(fill_kernel, 1, 64, 0, s1, m1, 2.f);
  ASSERT_EQ(cudaStreamSynchronize(s1), cudaSuccess);
  EXPECT_EQ(m1[63], 2.f);
  EXPECT_EQ(emu::work_count(1), before + 1);
  EXPECT_EQ(cudaEventRecord(e1, s1), cudaSuccess);
  cudaFree(m1);
  cudaEventDestroy(e1);
  cudaStreamDestroy(s1);
  cudaStreamDestroy(s0);
}

// A kernel's dynamic shared-memory limit belongs to the device it was raised on: two queues raising one
// kernel's limit to different sizes on their own devices must not change each other's.
TEST_F(EmulatedDevices, ASharedMemoryLimitBelongsToTheDeviceItWasRaisedOn) {
  const void* kernel = reinterpret_cast<const void*>(fill_kernel);
  float* m[2] = {nullptr, nullptr};
  for (int d = 0; d < 2; ++d) {
    ASSERT_EQ(cudaSetDevice(d), cudaSuccess);
    ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&m[d]), 64 * sizeof(float)), cudaSuccess);
  }
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  ASSERT_EQ(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 96 * 1024),
            cudaSuccess);
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  testing::internal::CaptureStderr();
  kernels::launch_kernel(fill_kernel, 1, 64, 96 * 1024, nullptr, m[1], 1.f);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue) << "raised on device 0 only";
  EXPECT_NE(log.find("cudaFuncSetAttribute was not called"), std::string::npos) << log;
  ASSERT_EQ(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024),
            cudaSuccess);
  kernels::launch_kernel(fill_kernel, 1, 64, 64 * 1024, nullptr, m[1], 1.f);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  kernels::launch_kernel(fill_kernel, 1, 64, 96 * 1024, nullptr, m[0], 2.f);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "device 1's smaller limit left device 0's as it was";
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(m[0][63], 2.f);
  for (int d = 0; d < 2; ++d) {
    ASSERT_EQ(cudaSetDevice(d), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    cudaFree(m[d]);
  }
  cudaSetDevice(0);
}

// What the runner does with engine.devices > 1: one engine per device, called from threads whose current
// device is 0. Training and prediction on the engine for device 1 must not touch device 0.
void expect_all_work_on_device_one(const std::string& name) {
  SCOPED_TRACE(name);
  EngineOptions o;
  o.name = name;
  o.device = 1;
  o.streams = 2;
  auto engine = make_engine(o);
  const ModelShape shape{1, 1, 8, 1};
  const int T = 20;
  const test::Series s = test::make_series(300, 1, 3);
  std::vector<ModelJob> jobs = test::make_jobs(shape, s, T, 16, 2, 3);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  const long long before0 = emu::work_count(0), before1 = emu::work_count(1);
  engine->train(shape, jobs);
  for (const ModelJob& j : jobs) ASSERT_EQ(j.result.status, TrainStatus::Ok) << j.result.message;
  EXPECT_EQ(current_device(), 0) << "train() left the thread on another device";
  std::vector<int> starts;
  for (int i = 0; i + T + shape.horizon <= s.n; i += 7) starts.push_back(i);
  std::vector<float> out(starts.size() * static_cast<std::size_t>(shape.horizon), std::nanf(""));
  engine->predict(shape, T, jobs[0].params, s.x.data(), s.n, starts, out.data());
  for (float v : out) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(current_device(), 0) << "predict() left the thread on another device";
  EXPECT_EQ(emu::work_count(0), before0) << "the engine for device 1 ran work on device 0";
  EXPECT_GT(emu::work_count(1), before1);
}

TEST_F(EmulatedDevices, FusedEngineForDeviceOneRunsThereAlone) {
  expect_all_work_on_device_one("fused");
}

#ifdef LSTMAD_WITH_CUDNN
TEST_F(EmulatedDevices, CudnnEngineForDeviceOneRunsThereAlone) {
  expect_all_work_on_device_one("cudnn");
}
#endif

// One forward and backward step of the fused LSTM at H = 128, where R (256 KiB) does not fit one block and
// the cluster kernels are enabled: the parameter gradient, and the cluster size the engine used.
struct ClusterStep {
  std::vector<float> grad;
  int cluster = 0;
  std::string log;
};

ClusterStep cluster_step() {
  const ModelShape shape{1, 1, 128, 1};
  const int T = 6, B = 5;
  gpu::Stream stream;
  gpu::CublasHandle cublas(stream.get());
  testing::internal::CaptureStderr();
  FusedLstm lstm(cublas.get(), stream.get(), shape, T, B, Precision::FP32, fused_device_limits(0));
  lstm.enable_cluster(true);
  ClusterStep r;
  r.log = testing::internal::GetCapturedStderr();
  r.cluster = lstm.cluster_plan(B).cluster;
  const std::vector<float> params = init_params(shape, 7);
  const std::vector<float> x = test::random_vector(static_cast<std::size_t>(B) * T, 8);
  const std::vector<float> dy = test::random_vector(B, 9);
  lstm.upload_params(params.data());
  gpu::DeviceBuffer<float> dx_in(x.size()), ddy(dy.size()), yhat(dy.size()), dx(x.size());
  dx_in.upload(x, stream.get());
  ddy.upload(dy, stream.get());
  lstm.forward(lstm.theta(), dx_in.data(), B, true);
  lstm.head(lstm.theta(), B, yhat.data(), nullptr, nullptr, nullptr);
  lstm.backward(lstm.theta(), dx_in.data(), B, ddy.data(), lstm.dtheta(), dx.data());
  CUDA_CHECK(cudaStreamSynchronize(stream.get()));
  r.grad.resize(lstm.theta_size());
  lstm.download_grad(r.grad.data());
  return r;
}

// On a MIG slice a GPC may hold fewer SMs than a cluster has blocks, and a cluster launch then fails; in a
// captured CUDA graph nothing could fall back. The engine asks cudaOccupancyMaxActiveClusters when it
// prepares the plan, warns, and runs the one-block kernels (R from L2), whose gradients agree.
TEST(EmulatedPartitionedDevice, AClusterTheDeviceCannotPlaceFallsBackToTheOneBlockKernels) {
  unsetenv("LSTMAD_EMU_MAX_CLUSTER");
  const ClusterStep whole = cluster_step();
  ASSERT_GT(whole.cluster, 1) << "H = 128 in fp32 should take the cluster kernels on an H200";
  EXPECT_EQ(whole.log.find("cannot place"), std::string::npos) << whole.log;

  // The kernel-level query says what the launch would meet.
  setenv("LSTMAD_EMU_MAX_CLUSTER", std::to_string(whole.cluster / 2).c_str(), 1);
  kernels::FusedLaunch plan = kernels::plan_fused_cluster(128, 5, fused_device_limits(0));
  ASSERT_EQ(plan.cluster, whole.cluster);
  ASSERT_EQ(kernels::prepare_lstm_fused_cluster(plan), cudaSuccess);
  int clusters = -1;
  ASSERT_EQ(kernels::lstm_fused_cluster_capacity(plan, &clusters), cudaSuccess);
  EXPECT_EQ(clusters, 0);

  const ClusterStep sliced = cluster_step();
  unsetenv("LSTMAD_EMU_MAX_CLUSTER");
  EXPECT_EQ(sliced.cluster, 0) << "the engine kept a cluster plan the device cannot place";
  EXPECT_NE(
      sliced.log.find("cannot place a thread-block cluster of " + std::to_string(whole.cluster) + " blocks"),
      std::string::npos)
      << sliced.log;
  ASSERT_EQ(sliced.grad.size(), whole.grad.size());
  ASSERT_TRUE(test::finite_and_nonzero(sliced.grad.data(), sliced.grad.size()));
  const auto err = test::compare(sliced.grad.data(), whole.grad.data(), whole.grad.size());
  EXPECT_LT(err.rel_frobenius, 1e-5) << "the two kernels compute the same gradient in another order";
}

// Where the device refuses the capacity question itself, the engine answers it as no room, says why, and
// leaves no error behind for the next CUDA call.
TEST(EmulatedPartitionedDevice, AClusterQueryTheDeviceRefusesFallsBackToTheOneBlockKernels) {
  unsetenv("LSTMAD_EMU_MAX_CLUSTER");
  const ClusterStep whole = cluster_step();
  ASSERT_GT(whole.cluster, 1);
  setenv("LSTMAD_EMU_CLUSTER_QUERY_FAILS", "1", 1);
  const ClusterStep refused = cluster_step();
  unsetenv("LSTMAD_EMU_CLUSTER_QUERY_FAILS");
  EXPECT_EQ(refused.cluster, 0) << "the engine kept a cluster plan it could not ask about";
  EXPECT_NE(refused.log.find("cudaOccupancyMaxActiveClusters gave cudaErrorNotSupported"), std::string::npos)
      << refused.log;
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  ASSERT_EQ(refused.grad.size(), whole.grad.size());
  const auto err = test::compare(refused.grad.data(), whole.grad.data(), whole.grad.size());
  EXPECT_LT(err.rel_frobenius, 1e-5);
}

// Two models of H = 128 trained together on the multi-model path: which time loops it took, what it
// logged while planning, and the parameters after training.
struct MultiClusterRun {
  std::string loops, log;
  std::vector<std::vector<float>> params;
};

MultiClusterRun multi_cluster_run() {
  const ModelShape shape{1, 1, 128, 1};
  const int T = 6, B = 5;
  const test::Series s = test::make_series(60, 1, 3);
  std::vector<ModelJob> jobs = test::make_jobs(shape, s, T, B, 2, 2);
  std::vector<ModelJob*> ptrs;
  for (auto& j : jobs) ptrs.push_back(&j);
  gpu::Stream stream;
  MultiClusterRun r;
  testing::internal::CaptureStderr();
  FusedMultiBatch batch(shape, T, B, fused_device_limits(0), ptrs, stream.get(), /*graphs=*/false);
  r.log = testing::internal::GetCapturedStderr();
  r.loops = batch.time_loops();
  batch.train();
  for (const ModelJob& j : jobs) r.params.push_back(j.params);
  return r;
}

// The multi-model path asks the same question before it takes the clusters (training v2.6): where the device
// cannot place them, or refuses to say, it warns and trains on the one-block kernels with R from L2, whose
// per-unit chains are the clusters' own, so every model ends with the same bits either way.
TEST(EmulatedPartitionedDevice, ModelsOfABatchFallBackFromClustersTheDeviceCannotPlace) {
  unsetenv("LSTMAD_EMU_MAX_CLUSTER");
  const MultiClusterRun whole = multi_cluster_run();
  ASSERT_EQ(whole.loops, "cluster 2");
  EXPECT_EQ(whole.log.find("cannot place"), std::string::npos) << whole.log;
  // A partitioned device with no room for a cluster of 2, and one that refuses the question.
  const std::pair<const char*, const char*> devices[] = {
      {"LSTMAD_EMU_MAX_CLUSTER", "cannot place a thread-block cluster of 2 blocks"},
      {"LSTMAD_EMU_CLUSTER_QUERY_FAILS", "cudaOccupancyMaxActiveClusters gave cudaErrorNotSupported"}};
  for (const auto& [knob, warning] : devices) {
    setenv(knob, "1", 1);
    const MultiClusterRun other = multi_cluster_run();
    unsetenv(knob);
    EXPECT_EQ(other.loops, "one-block, R from L2") << knob;
    EXPECT_NE(other.log.find(warning), std::string::npos) << knob << ": " << other.log;
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << knob;
    ASSERT_EQ(other.params.size(), whole.params.size()) << knob;
    for (std::size_t m = 0; m < whole.params.size(); ++m) {
      ASSERT_EQ(other.params[m].size(), whole.params[m].size()) << knob;
      EXPECT_TRUE(test::finite_and_nonzero(whole.params[m].data(), whole.params[m].size()));
      EXPECT_EQ(0, std::memcmp(other.params[m].data(), whole.params[m].data(),
                               whole.params[m].size() * sizeof(float)))
          << knob << ": model " << m << ": the one-block kernels' parameters differ from the clusters'";
    }
  }
}

}  // namespace
}  // namespace lstmad
