// The CPU quota of a control group (core/cpu_quota.hpp), read from folders that imitate /proc and
// /sys/fs/cgroup as a container under cgroup v2 or v1 sees them.
#include <gtest/gtest.h>

#include <string>

#include "core/cpu_quota.hpp"
#include "core/thread_pool.hpp"
#include "support/test_support.hpp"

using namespace lstmad::test;
using lstmad::cgroup_cpu_quota;

// cgroup v2: the group's cpu.max and its parents'; the smallest quota counts, rounded up to whole CPUs.
TEST(CpuQuota, CgroupV2TakesTheSmallestQuotaUpTheTreeRoundedUp) {
  TempDir tmp("quota-v2");
  write_text(tmp.file("proc/self/cgroup"), "0::/pod/app\n");
  write_text(tmp.file("sys/fs/cgroup/cpu.max"), "max 100000\n");
  write_text(tmp.file("sys/fs/cgroup/pod/cpu.max"), "400000 100000\n");
  write_text(tmp.file("sys/fs/cgroup/pod/app/cpu.max"), "250000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(tmp.path()), 3u) << "2.5 CPUs: three workers";
  write_text(tmp.file("sys/fs/cgroup/pod/app/cpu.max"), "max 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(tmp.path()), 4u) << "the parent's quota bounds the group";
  write_text(tmp.file("sys/fs/cgroup/pod/cpu.max"), "max 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(tmp.path()), 0u) << "no quota anywhere";
  write_text(tmp.file("sys/fs/cgroup/pod/app/cpu.max"), "50000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(tmp.path()), 1u) << "half a CPU: one worker";
}

// A container with its own cgroup namespace: /proc names a group that is not under the mount, whose
// top is then the group itself.
TEST(CpuQuota, AGroupPathNotUnderTheMountReadsTheMountItself) {
  TempDir tmp("quota-ns");
  write_text(tmp.file("proc/self/cgroup"), "0::/kubepods/burstable/pod1/abc\n");
  write_text(tmp.file("sys/fs/cgroup/cpu.max"), "200000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(tmp.path()), 2u);
  // A path that climbs out of the mount reads the mount, not a folder beside it.
  write_text(tmp.file("proc/self/cgroup"), "0::/../other\n");
  write_text(tmp.file("sys/fs/other/cpu.max"), "100000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(tmp.path()), 2u);
  // The largest quota the file can hold rounds up without overflowing.
  write_text(tmp.file("proc/self/cgroup"), "0::/\n");
  write_text(tmp.file("sys/fs/cgroup/cpu.max"), "9223372036854775807 100000\n");
  EXPECT_EQ(cgroup_cpu_quota(tmp.path()), 92233720368548u);
}

// cgroup v1: the cpu hierarchy's cfs quota and period (-1: none); other controllers' lines are passed by.
TEST(CpuQuota, CgroupV1ReadsTheCpuHierarchysCfsQuota) {
  TempDir tmp("quota-v1");
  write_text(tmp.file("proc/self/cgroup"), "4:memory:/docker/x\n3:cpu,cpuacct:/docker/x\n0::/\n");
  write_text(tmp.file("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"), "-1\n");
  write_text(tmp.file("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us"), "100000\n");
  write_text(tmp.file("sys/fs/cgroup/cpu,cpuacct/docker/x/cpu.cfs_quota_us"), "150000\n");
  write_text(tmp.file("sys/fs/cgroup/cpu,cpuacct/docker/x/cpu.cfs_period_us"), "100000\n");
  EXPECT_EQ(cgroup_cpu_quota(tmp.path()), 2u);
  write_text(tmp.file("sys/fs/cgroup/cpu,cpuacct/docker/x/cpu.cfs_quota_us"), "-1\n");
  EXPECT_EQ(cgroup_cpu_quota(tmp.path()), 0u);
}

// Nothing to read (no /proc, no cgroup file system, text that is no number): no quota, not a failure.
TEST(CpuQuota, NothingReadableIsNoQuota) {
  TempDir tmp("quota-none");
  EXPECT_EQ(cgroup_cpu_quota(tmp.path()), 0u);
  write_text(tmp.file("proc/self/cgroup"), "0::/\n");
  write_text(tmp.file("sys/fs/cgroup/cpu.max"), "lots\n");
  EXPECT_EQ(cgroup_cpu_quota(tmp.path()), 0u);
  // This machine's own: whatever it is, the worker count stays at least one and within the quota.
  const std::size_t here = cgroup_cpu_quota();
  EXPECT_GE(lstmad::ThreadPool::hardware_threads(), 1u);
  if (here > 0) {
    EXPECT_LE(lstmad::ThreadPool::hardware_threads(), here);
  }
}
