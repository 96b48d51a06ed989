// Each training kernel against a host reference in double: Adam (with clipping and weight decay, over
// several steps), the CUB sum of squares and clip factor, the window gather, the head and its MSE.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/gpu/check.hpp"
#include "core/gpu/device_buffer.hpp"
#include "core/gpu/resources.hpp"
#include "gpu/gpu_test.hpp"
#include "kernels/adam.hpp"
#include "kernels/gather_windows.hpp"
#include "kernels/head.hpp"
#include "kernels/reduce.hpp"

namespace lstmad {
namespace {

using gpu::DeviceBuffer;

TEST(GpuKernels, SumOfSquaresMatchesHost) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream s;
  for (std::size_t n : {1u, 7u, 1000u, 1u << 20}) {
    const auto x = test::random_vector(n, 11 + n);
    double ref = 0;
    for (float v : x) ref += static_cast<double>(v) * v;
    DeviceBuffer<float> dx(n);
    dx.upload(x, s);
    DeviceBuffer<double> out(1);
    out.fill_bytes_async(0xFF, s);
    DeviceBuffer<unsigned char> temp(kernels::sum_squares_temp_bytes(n));
    CUDA_CHECK(kernels::launch_sum_squares(dx.data(), n, out.data(), temp.data(), temp.size(), s));
    KERNEL_CHECK("sum_squares");
    double got = 0;
    out.download(&got, 1, s);
    EXPECT_NEAR(got, ref, 1e-12 * ref) << "n=" << n;
    EXPECT_GT(got, 0);
  }
}

TEST(GpuKernels, ClipFactorAndScale) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream s;
  const auto x = test::random_vector(5000, 3);
  DeviceBuffer<float> dx(x.size());
  dx.upload(x, s);
  DeviceBuffer<double> norm_sq(1);
  DeviceBuffer<unsigned char> temp(kernels::sum_squares_temp_bytes(x.size()));
  DeviceBuffer<float> scale(1);
  CUDA_CHECK(kernels::launch_sum_squares(dx.data(), x.size(), norm_sq.data(), temp.data(), temp.size(), s));
  kernels::launch_clip_factor(norm_sq.data(), 1.0f, scale.data(), s);
  kernels::launch_scale(dx.data(), x.size(), scale.data(), s);
  KERNEL_CHECK("clip");
  const auto y = dx.to_host(s);
  double n2 = 0;
  for (float v : x) n2 += static_cast<double>(v) * v;
  const double f = 1.0 / (std::sqrt(n2) + 1e-6);
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(y[i], x[i] * f, 1e-6) << i;
  // A norm below the threshold leaves the gradient alone.
  kernels::launch_clip_factor(norm_sq.data(), 1e9f, scale.data(), s);
  float sc = 0;
  scale.download(&sc, 1, s);
  EXPECT_EQ(sc, 1.0f);
}

// torch.optim.Adam in double, with clip_grad_norm_ before it.
void adam_reference(std::vector<double>& p, const std::vector<double>& g_in, std::vector<double>& m,
                    std::vector<double>& v, int t, const kernels::AdamHyper& h) {
  double n2 = 0;
  for (double x : g_in) n2 += x * x;
  double scale = 1.0;
  if (h.clip_norm > 0) scale = std::min(1.0, h.clip_norm / (std::sqrt(n2) + 1e-6));
  const double bc1 = 1 - std::pow(static_cast<double>(h.beta1), t);
  const double bc2 = 1 - std::pow(static_cast<double>(h.beta2), t);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double g = g_in[i] * scale + h.weight_decay * p[i];
    m[i] = h.beta1 * m[i] + (1 - h.beta1) * g;
    v[i] = h.beta2 * v[i] + (1 - h.beta2) * g * g;
    p[i] -= (h.lr / bc1) * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + h.eps);
  }
}

TEST(GpuKernels, AdamMatchesTorchSemantics) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream s;
  for (float wd : {0.f, 0.01f}) {
    for (float clip : {0.f, 0.5f}) {
      const std::size_t n = 10007;
      kernels::AdamHyper h;
      h.lr = 3e-3f;
      h.weight_decay = wd;
      h.clip_norm = clip;
      auto p = test::random_vector(n, 21);
      std::vector<double> pr(p.begin(), p.end()), mr(n, 0), vr(n, 0);
      DeviceBuffer<float> dp(n), dg(n), dm(n), dv(n);
      DeviceBuffer<kernels::AdamHyper> dh(1);
      DeviceBuffer<kernels::AdamStepState> ds(1);
      DeviceBuffer<double> norm_sq(1);
      DeviceBuffer<unsigned char> temp(kernels::sum_squares_temp_bytes(n));
      dp.upload(p, s);
      dm.zero_async(s);
      dv.zero_async(s);
      ds.zero_async(s);
      dh.upload(&h, 1, s);
      for (int t = 1; t <= 5; ++t) {
        const auto g = test::random_vector(n, 100 + t, -0.1, 0.1);
        dg.upload(g, s);
        CUDA_CHECK(kernels::launch_sum_squares(dg.data(), n, norm_sq.data(), temp.data(), temp.size(), s));
        kernels::launch_adam_prepare(dh.data(), norm_sq.data(), ds.data(), s);
        kernels::launch_adam_update(dp.data(), dg.data(), dm.data(), dv.data(), n, dh.data(), ds.data(), s);
        KERNEL_CHECK("adam");
        adam_reference(pr, std::vector<double>(g.begin(), g.end()), mr, vr, t, h);
      }
      const auto got = dp.to_host(s);
      const auto e = test::compare(got.data(), pr.data(), n);
      EXPECT_LT(e.max_abs, 2e-6) << "wd=" << wd << " clip=" << clip << ": " << e.str();
      kernels::AdamStepState st;
      ds.download(&st, 1, s);
      EXPECT_EQ(st.step, 5);
    }
  }
}

TEST(GpuKernels, GatherWindowsWithDeviceCursor) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream s;
  const int n = 500, D = 3, T = 17, hz = 2, B = 5;
  const auto xs = test::random_vector(static_cast<std::size_t>(n) * D, 1);
  const auto ys = test::random_vector(n, 2);
  const std::vector<int> starts{0, 40, 3, 480 - T, 7, 100, 200, 300, 11, 12};
  DeviceBuffer<float> dxs(xs.size()), dys(ys.size()), xb(B * T * D), yb(B * hz);
  DeviceBuffer<int> dst(starts.size()), cursor(1);
  dxs.upload(xs, s);
  dys.upload(ys, s);
  dst.upload(starts.data(), starts.size(), s);
  cursor.zero_async(s);
  for (int k = 0; k < 2; ++k) {
    xb.fill_bytes_async(0xFF, s);
    yb.fill_bytes_async(0xFF, s);
    kernels::launch_gather_windows(dxs.data(), dys.data(), D, dst.data(), cursor.data(), B, T, hz, xb.data(),
                                   yb.data(), s);
    kernels::launch_advance_cursor(cursor.data(), B, s);
    KERNEL_CHECK("gather");
    const auto x = xb.to_host(s), y = yb.to_host(s);
    for (int b = 0; b < B; ++b) {
      const int st = starts[k * B + b];
      for (int i = 0; i < T * D; ++i) ASSERT_EQ(x[b * T * D + i], xs[st * D + i]) << "k=" << k << " b=" << b;
      for (int j = 0; j < hz; ++j) ASSERT_EQ(y[b * hz + j], ys[st + T + j]) << "k=" << k << " b=" << b;
    }
  }
}

TEST(GpuKernels, HeadForwardBackwardAndMse) {
  LSTMAD_REQUIRE_GPU();
  gpu::Stream s;
  for (int H : {1, 7, 64, 100, 256}) {
    for (int hz : {1, 3}) {
      const int B = 33;
      const auto h = test::random_vector(static_cast<std::size_t>(B) * H, 5 + H);
      const auto W = test::random_vector(static_cast<std::size_t>(hz) * H, 6 + H);
      const auto bh = test::random_vector(hz, 7);
      const auto y = test::random_vector(static_cast<std::size_t>(B) * hz, 8);
      DeviceBuffer<float> dh_in(h.size()), dW(W.size()), db(bh.size()), dy(y.size()), yhat(y.size()),
          dyhat(y.size()), sq(y.size()), gW(W.size()), gb(bh.size()), gh(h.size());
      dh_in.upload(h, s);
      dW.upload(W, s);
      db.upload(bh, s);
      dy.upload(y, s);
      for (auto* buf : {&yhat, &dyhat, &sq, &gW, &gb, &gh}) buf->fill_bytes_async(0xFF, s);
      kernels::launch_head_forward(dh_in.data(), B, H, hz, dW.data(), db.data(), yhat.data(), dy.data(),
                                   dyhat.data(), sq.data(), s);
      kernels::launch_head_backward(dh_in.data(), dyhat.data(), B, H, hz, dW.data(), gW.data(), gb.data(),
                                    gh.data(), s);
      KERNEL_CHECK("head");
      std::vector<double> ryhat(y.size()), rdy(y.size()), rsq(y.size()), rgW(W.size(), 0), rgb(hz, 0),
          rgh(h.size(), 0);
      for (int b = 0; b < B; ++b)
        for (int j = 0; j < hz; ++j) {
          double a = bh[j];
          for (int k = 0; k < H; ++k) a += static_cast<double>(W[j * H + k]) * h[b * H + k];
          ryhat[b * hz + j] = a;
          const double d = a - y[b * hz + j];
          rsq[b * hz + j] = d * d;
          rdy[b * hz + j] = 2 * d / (B * hz);
        }
      for (int b = 0; b < B; ++b)
        for (int j = 0; j < hz; ++j) {
          rgb[j] += rdy[b * hz + j];
          for (int k = 0; k < H; ++k) {
            rgW[j * H + k] += rdy[b * hz + j] * h[b * H + k];
            rgh[b * H + k] += rdy[b * hz + j] * W[j * H + k];
          }
        }
      const std::string tag = "H=" + std::to_string(H) + " horizon=" + std::to_string(hz);
      auto check = [&](const DeviceBuffer<float>& got_d, const std::vector<double>& ref, const char* what) {
        const auto got = got_d.to_host(s);
        EXPECT_TRUE(test::finite_and_nonzero(got.data(), got.size())) << tag << " " << what;
        const auto e = test::compare(got.data(), ref.data(), ref.size());
        EXPECT_LT(e.rel_frobenius, 1e-5) << tag << " " << what << ": " << e.str();
      };
      check(yhat, ryhat, "yhat");
      check(sq, rsq, "sq");
      check(dyhat, rdy, "dyhat");
      check(gW, rgW, "dWh");
      check(gb, rgb, "dbh");
      check(gh, rgh, "dh");
    }
  }
}

}  // namespace
}  // namespace lstmad
