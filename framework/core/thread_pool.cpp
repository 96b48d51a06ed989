#include "core/thread_pool.hpp"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <exception>

#include "core/cpu_quota.hpp"

namespace lstmad {

ThreadPool::ThreadPool(std::size_t threads) {
  threads = std::max<std::size_t>(1, threads);
  for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { worker(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_task_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push(std::move(task));
  }
  cv_task_.notify_one();
}

void ThreadPool::wait_idle() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_idle_.wait(lock, [this] { return tasks_.empty() && active_ == 0; });
}

std::size_t ThreadPool::hardware_threads() {
  // hardware_concurrency() counts every online CPU of the machine, also those the process may not use.
  std::size_t n = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    n = static_cast<std::size_t>(CPU_COUNT(&set));
  // Read once: a process's quota does not change under it, and -j 0 asks for it more than once.
  static const std::size_t quota = cgroup_cpu_quota();
  return quota > 0 ? std::min(n, quota) : n;
}

void ThreadPool::worker() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_task_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (stop_ && tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop();
      ++active_;
    }
    task();  // tasks catch their own exceptions (see parallel_for)
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --active_;
      if (tasks_.empty() && active_ == 0) cv_idle_.notify_all();
    }
  }
}

void parallel_for(std::size_t n, std::size_t threads, const std::function<void(std::size_t)>& body) {
  if (n == 0) return;
  threads = std::max<std::size_t>(1, std::min(threads, n));
  std::atomic<std::size_t> next{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto run = [&] {
    for (;;) {
      std::size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> extra;
  for (std::size_t t = 1; t < threads; ++t) extra.emplace_back(run);
  run();
  for (auto& t : extra) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace lstmad
