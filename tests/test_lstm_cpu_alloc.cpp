// LstmCpu's contract that forward() and backward() never allocate: every workspace comes from the
// constructor, and Eigen's GEMM packing blocks stay on the stack. Counted by interposing malloc (glibc's
// __libc_malloc underneath) for the whole test binary, which is why this test has its own executable.
// Skipped under AddressSanitizer and ThreadSanitizer, which own malloc themselves.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "lstm/cpu/lstm_cpu.hpp"
#include "lstm/init.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LSTMAD_ALLOC_COUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LSTMAD_ALLOC_COUNTING 0
#endif
#endif
#if !defined(LSTMAD_ALLOC_COUNTING) && defined(__GLIBC__)
#define LSTMAD_ALLOC_COUNTING 1
#endif
#ifndef LSTMAD_ALLOC_COUNTING
#define LSTMAD_ALLOC_COUNTING 0
#endif

#if LSTMAD_ALLOC_COUNTING
namespace {
std::atomic<long> g_mallocs{0};
}
extern "C" void* __libc_malloc(std::size_t);
extern "C" void* malloc(std::size_t n) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
#endif

namespace lstmad {
namespace {

struct Case {
  int L, D, H, horizon, T, B;
};

template <typename Real>
void expect_no_allocation(const Case& c) {
  ModelShape s;
  s.layers = c.L;
  s.input = c.D;
  s.hidden = c.H;
  s.horizon = c.horizon;
  const std::vector<float> pf = init_params(s, 3);
  std::vector<Real> p(pf.begin(), pf.end()), x(static_cast<std::size_t>(c.B) * c.T * c.D, Real(0.25)),
      y(static_cast<std::size_t>(c.B) * c.horizon, Real(0.5)), g(p.size()), yhat(y.size()), dx(x.size());
  LstmCpu<Real> net(s, c.T, c.B);
  net.loss_and_grad(p.data(), x.data(), y.data(), c.B, g.data());  // warm-up outside the count
#if LSTMAD_ALLOC_COUNTING
  const long before = g_mallocs.load();
#endif
  for (int rep = 0; rep < 2; ++rep) {
    net.loss_and_grad(p.data(), x.data(), y.data(), c.B, g.data());
    net.forward(p.data(), x.data(), c.B - 1 > 0 ? c.B - 1 : 1, yhat.data());
    net.backward(p.data(), y.data(), g.data(), dx.data());
  }
#if LSTMAD_ALLOC_COUNTING
  EXPECT_EQ(g_mallocs.load() - before, 0) << (sizeof(Real) == 4 ? "fp32 " : "fp64 ") << s.str()
                                          << " T=" << c.T << " B=" << c.B << ": forward/backward allocated";
#endif
  EXPECT_TRUE(std::isfinite(static_cast<double>(g[0])));
}

TEST(LstmCpuAllocation, ForwardAndBackwardNeverAllocate) {
#if !LSTMAD_ALLOC_COUNTING
  GTEST_SKIP() << "malloc cannot be counted in this build (sanitizer or non-glibc)";
#endif
  // The stack-allocation limit in lstm_cpu.cpp covers fp32 up to H = 256 and fp64 up to H = 128.
  for (const Case& c : {Case{1, 1, 5, 1, 3, 2}, Case{2, 1, 64, 1, 50, 64}, Case{2, 3, 128, 2, 50, 64}}) {
    expect_no_allocation<float>(c);
    expect_no_allocation<double>(c);
  }
  expect_no_allocation<float>(Case{1, 4, 256, 1, 100, 128});
}

}  // namespace
}  // namespace lstmad
