// How many CPUs a control group's CPU quota allows this process. A container started with `--cpus=2`,
// or a Kubernetes pod's CPU limit, keeps every CPU of the host in the affinity mask and caps the CPU
// time instead: counting the mask alone, `-j 0` would start a worker per CPU of the host, each getting a
// sliver of the quota, and the run would be throttled.
#pragma once
#include <cstddef>
#include <string>

namespace lstmad {

// The quota of cgroup v2 (`cpu.max`) or v1 (`cpu.cfs_quota_us` / `cpu.cfs_period_us`) as CPUs, rounded
// up, the smallest along the process's group and its parents (each level's quota bounds those below
// it); 0 where none is set or none can be read. `root` prefixes /proc and /sys (a test's imitation).
std::size_t cgroup_cpu_quota(const std::string& root = "");

}  // namespace lstmad
