// A fixed-size thread pool. Work is split across independent models/cells, never inside one model's
// arithmetic, so results do not depend on the number of threads.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace lstmad {

class ThreadPool {
 public:
  explicit ThreadPool(std::size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void submit(std::function<void()> task);
  // Blocks until every submitted task has finished.
  void wait_idle();
  std::size_t size() const { return workers_.size(); }

  // Number of CPUs this process may run on, at least 1: its affinity mask (taskset, a Slurm job's or a
  // container's cpuset), else the machine's hardware threads; at most its control group's CPU quota
  // (cpu_quota.hpp: a container's --cpus, a pod's CPU limit), rounded up.
  static std::size_t hardware_threads();

 private:
  void worker();
  std::vector<std::thread> workers_;
  std::queue<std::function<void()>> tasks_;
  std::mutex mutex_;
  std::condition_variable cv_task_;
  std::condition_variable cv_idle_;
  std::size_t active_ = 0;
  bool stop_ = false;
};

// Runs body(i) for i in [0, n) on up to `threads` threads (the calling thread included); exceptions from
// body are rethrown (the first one) after all indices finish.
void parallel_for(std::size_t n, std::size_t threads, const std::function<void(std::size_t)>& body);

}  // namespace lstmad
