// The per-model training loop (trainer.hpp).
#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "train/adam.hpp"

namespace lstmad {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

template <typename Real>
void gather_windows(const float* x, const float* y, int D, int window, int horizon, const int* starts,
                    int count, Real* xb, Real* yb) {
  const std::size_t row = static_cast<std::size_t>(window) * D;
  for (int k = 0; k < count; ++k) {
    const float* src = x + static_cast<std::size_t>(starts[k]) * D;
    Real* dst = xb + static_cast<std::size_t>(k) * row;
    for (std::size_t i = 0; i < row; ++i) dst[i] = static_cast<Real>(src[i]);
    if (yb) {
      const float* ys = y + static_cast<std::size_t>(starts[k]) + window;
      for (int j = 0; j < horizon; ++j)
        yb[static_cast<std::size_t>(k) * horizon + j] = static_cast<Real>(ys[j]);
    }
  }
}

template <typename Real>
double windows_loss(TrainableModel<Real>& model, const Real* params, const WindowSource& data,
                    const std::vector<int>& starts) {
  const ModelShape& s = model.shape();
  const int T = model.window(), D = s.input, hz = s.horizon, maxB = model.max_batch();
  const int count = static_cast<int>(starts.size());
  if (count == 0) return std::numeric_limits<double>::quiet_NaN();
  const int B = std::min(maxB, count);
  std::vector<Real> xb(static_cast<std::size_t>(B) * T * D), yb(static_cast<std::size_t>(B) * hz),
      yhat(static_cast<std::size_t>(B) * hz);
  double sum = 0.0;
  for (int k = 0; k < count; k += B) {
    const int b = std::min(B, count - k);
    gather_windows(data.x, data.y, D, T, hz, starts.data() + k, b, xb.data(), yb.data());
    model.forward(params, xb.data(), b, yhat.data());
    for (std::size_t i = 0; i < static_cast<std::size_t>(b) * hz; ++i) {
      const double e = static_cast<double>(yhat[i]) - static_cast<double>(yb[i]);
      sum += e * e;
    }
  }
  return sum / (static_cast<double>(count) * hz);
}

template <typename Real>
void predict_windows(TrainableModel<Real>& model, const Real* params, const float* x, int n,
                     const std::vector<int>& starts, float* out) {
  const ModelShape& s = model.shape();
  const int T = model.window(), D = s.input, hz = s.horizon;
  check_window_starts(starts, n, T, 0, "prediction");
  const int count = static_cast<int>(starts.size());
  if (count == 0) return;
  // A series with rows appended calls with more windows at its end: where a window's output depends on
  // the windows beside it, every call holds max_batch() windows, the last padded with copies of its last
  // window, so that the earlier windows' forecasts keep their bits.
  const bool pad = !model.rows_independent();
  const int B = pad ? model.max_batch() : std::min(model.max_batch(), count);
  const std::size_t window_values = static_cast<std::size_t>(T) * D;
  std::vector<Real> xb(static_cast<std::size_t>(B) * window_values), yhat(static_cast<std::size_t>(B) * hz);
  for (int k = 0; k < count; k += B) {
    const int b = std::min(B, count - k);
    gather_windows<Real>(x, nullptr, D, T, hz, starts.data() + k, b, xb.data(), nullptr);
    const int call = pad ? B : b;
    for (int r = b; r < call; ++r)
      std::copy_n(xb.data() + static_cast<std::size_t>(b - 1) * window_values, window_values,
                  xb.data() + static_cast<std::size_t>(r) * window_values);
    model.forward(params, xb.data(), call, yhat.data());
    for (std::size_t i = 0; i < static_cast<std::size_t>(b) * hz; ++i)
      out[static_cast<std::size_t>(k) * hz + i] = static_cast<float>(yhat[i]);
  }
}

namespace {

// What train_model refuses: options that do not fit the model, and windows outside the data.
void check_train_inputs(const ModelShape& s, int T, std::size_t P, const WindowSource& data,
                        const TrainOptions& o) {
  check_param_count(s, P, "train_model");
  if (o.window != T)
    throw Error("train_model: options.window " + std::to_string(o.window) +
                " differs from the model's window " + std::to_string(T));
  if (o.batch < 1) throw Error("train_model: batch must be at least 1, got " + std::to_string(o.batch));
  if (o.epochs < 0) throw Error("train_model: epochs must be at least 0, got " + std::to_string(o.epochs));
  if (data.n > 0 && (data.x == nullptr || data.y == nullptr))
    throw Error("train_model: the window source has " + std::to_string(data.n) +
                " rows but no data pointers");
  check_window_starts(data.train, data.n, T, s.horizon, "training");
  check_window_starts(data.val, data.n, T, s.horizon, "validation");
}

// One model's training state: the minibatch buffers, the optimizer and the window order.
template <typename Real>
struct Training {
  Training(TrainableModel<Real>& m, std::size_t P, const WindowSource& d, const TrainOptions& opt, int batch)
      : model(m),
        data(d),
        o(opt),
        B(batch),
        xb(static_cast<std::size_t>(batch) * m.window() * m.shape().input),
        yb(static_cast<std::size_t>(batch) * m.shape().horizon),
        grad(P),
        adam(P, opt.adam),
        rng(opt.seed),
        order(d.train) {}

  // Epoch e: the windows in a fresh shuffled order, one Adam step per minibatch. Returns the mean training
  // loss; stops at the first non-finite loss or gradient, with res.status and res.message saying where.
  double epoch(int e, std::vector<Real>& params, TrainResult& res) {
    const ModelShape& s = model.shape();
    const int ntrain = static_cast<int>(order.size());
    rng.shuffle(order.begin(), order.end());
    double sum = 0.0;
    for (int k = 0; k < ntrain; k += B) {
      const int b = std::min(B, ntrain - k);
      gather_windows(data.x, data.y, s.input, model.window(), s.horizon, order.data() + k, b, xb.data(),
                     yb.data());
      const Real loss = model.loss_and_grad(params.data(), xb.data(), yb.data(), b, grad.data());
      sum += static_cast<double>(loss) * b;
      auto where = [&] {
        return "epoch " + std::to_string(e) + " (minibatch " + std::to_string(k / B) + ")";
      };
      if (!std::isfinite(static_cast<double>(loss))) {
        res.status = TrainStatus::NonFinite;
        res.message = "non-finite training loss at " + where();
        break;
      }
      const double norm = clip_grad_norm(grad.data(), grad.size(), o.clip_norm);
      if (!std::isfinite(norm)) {
        res.status = TrainStatus::NonFinite;
        res.message = "non-finite gradient at " + where();
        sum = std::numeric_limits<double>::quiet_NaN();
        break;
      }
      adam.step(params.data(), grad.data());
    }
    return sum / ntrain;
  }

  TrainableModel<Real>& model;
  const WindowSource& data;
  const TrainOptions& o;
  const int B;
  std::vector<Real> xb, yb, grad;
  Adam<Real> adam;
  Rng rng;
  std::vector<int> order;
};

}  // namespace

template <typename Real>
TrainResult train_model(TrainableModel<Real>& model, std::vector<Real>& params, const WindowSource& data,
                        const TrainOptions& o) {
  const auto t0 = Clock::now();
  check_train_inputs(model.shape(), model.window(), params.size(), data, o);
  TrainResult res;
  const int ntrain = static_cast<int>(data.train.size());
  if (ntrain == 0) {
    res.message = "no training windows";
    res.seconds = seconds_since(t0);
    return res;
  }
  const int B = std::min(o.batch, ntrain);
  if (B > model.max_batch())
    throw Error("train_model: minibatch of " + std::to_string(B) + " windows exceeds the model's max_batch " +
                std::to_string(model.max_batch()));

  Training<Real> training(model, params.size(), data, o, B);
  std::vector<Real> best;
  const std::vector<Real> initial = params;
  EarlyStopping stopping;
  for (int e = 0; e < o.epochs; ++e) {
    if (past_time_limit(o, seconds_since(t0), e, res)) break;
    const EpochClock clock(res);
    res.train_loss.push_back(training.epoch(e, params, res));
    res.epochs_run = e + 1;
    if (res.status != TrainStatus::Ok) break;
    if (data.val.empty()) continue;
    const auto verdict = stopping.after_epoch(o, e, windows_loss(model, params.data(), data, data.val), res);
    if (verdict == EarlyStopping::Verdict::Improved) best = params;
    if (verdict == EarlyStopping::Verdict::Stop) break;
  }
  if (stopping.have_best())
    params = best;
  else if (res.status != TrainStatus::Ok)
    params = initial;  // nothing trustworthy was reached
  if (res.status == TrainStatus::Ok && res.message.empty())
    res.message = "ran " + std::to_string(res.epochs_run) + " epochs";
  res.seconds = seconds_since(t0);
  return res;
}

template void gather_windows<float>(const float*, const float*, int, int, int, const int*, int, float*,
                                    float*);
template void gather_windows<double>(const float*, const float*, int, int, int, const int*, int, double*,
                                     double*);
template double windows_loss<float>(TrainableModel<float>&, const float*, const WindowSource&,
                                    const std::vector<int>&);
template double windows_loss<double>(TrainableModel<double>&, const double*, const WindowSource&,
                                     const std::vector<int>&);
template void predict_windows<float>(TrainableModel<float>&, const float*, const float*, int,
                                     const std::vector<int>&, float*);
template void predict_windows<double>(TrainableModel<double>&, const double*, const float*, int,
                                      const std::vector<int>&, float*);
template TrainResult train_model<float>(TrainableModel<float>&, std::vector<float>&, const WindowSource&,
                                        const TrainOptions&);
template TrainResult train_model<double>(TrainableModel<double>&, std::vector<double>&, const WindowSource&,
                                         const TrainOptions&);

}  // namespace lstmad
