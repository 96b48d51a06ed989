// The training loop (train/trainer.hpp) on a scripted model whose only trainable value is the head bias
// (the prediction for every window), so every number the trainer reports can be checked by hand:
// minibatch sizes and order, the epoch loss as a window-weighted mean, the shuffle's determinism, early
// stopping with min_delta and patience, and the non-finite paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.hpp"
#include "train/trainer.hpp"

namespace lstmad {
namespace {

// Predicts params[last] for every window; records the windows of each loss_and_grad call (x holds the
// row index, so a window's first input is its start).
class ScriptedModel final : public TrainableModel<double> {
 public:
  ScriptedModel(int window, int max_batch) : T_(window), max_batch_(max_batch) {
    shape_.layers = 1;
    shape_.input = 1;
    shape_.hidden = 1;
    shape_.horizon = 1;
  }
  const ModelShape& shape() const override { return shape_; }
  int window() const override { return T_; }
  int max_batch() const override { return max_batch_; }
  void forward(const double* params, const double*, int batch, double* yhat) override {
    for (int b = 0; b < batch; ++b) yhat[b] = params[param_count(shape_) - 1];
  }
  double loss_and_grad(const double* params, const double* xb, const double* yb, int batch,
                       double* grad) override {
    std::vector<int> starts;
    const double p = params[param_count(shape_) - 1];
    double loss = 0.0, g = 0.0;
    for (int b = 0; b < batch; ++b) {
      starts.push_back(static_cast<int>(xb[static_cast<std::size_t>(b) * T_]));
      loss += (p - yb[b]) * (p - yb[b]);
      g += 2.0 * (p - yb[b]);
    }
    calls.push_back(starts);
    losses.push_back(loss / batch);
    std::fill(grad, grad + param_count(shape_), 0.0);
    grad[param_count(shape_) - 1] = g / batch;
    if (static_cast<int>(calls.size()) == nan_grad_at) grad[0] = std::numeric_limits<double>::quiet_NaN();
    return loss / batch;
  }
  std::vector<std::vector<int>> calls;
  std::vector<double> losses;
  int nan_grad_at = -1;  // 1-based call whose gradient is NaN

 private:
  ModelShape shape_;
  int T_, max_batch_;
};

struct Data {
  std::vector<float> x, y;
  WindowSource w;
  Data(int n, int ntrain, int nval, float target) {
    for (int t = 0; t < n; ++t) {
      x.push_back(static_cast<float>(t));
      y.push_back(target);
    }
    w.x = x.data();
    w.y = y.data();
    w.n = n;
    for (int s = 0; s < ntrain; ++s) w.train.push_back(s);
    for (int s = 0; s < nval; ++s) w.val.push_back(ntrain + s);
  }
};

TrainOptions options(int T, int B, int epochs, uint64_t seed) {
  TrainOptions o;
  o.window = T;
  o.batch = B;
  o.epochs = epochs;
  o.seed = seed;
  o.patience = 0;
  o.clip_norm = 0.0;
  o.adam.lr = 0.1;
  return o;
}

TEST(Trainer, MinibatchesCoverEveryWindowOncePerEpochInAShuffledOrder) {
  const int T = 3, B = 4, ntrain = 10;
  Data d(40, ntrain, 0, 1.0f);
  ScriptedModel m(T, B);
  std::vector<double> p(param_count(m.shape()), 0.0);
  const TrainResult r = train_model(m, p, d.w, options(T, B, 3, 17));
  ASSERT_EQ(r.status, TrainStatus::Ok) << r.message;
  ASSERT_EQ(m.calls.size(), 9u);  // 3 epochs x (4 + 4 + 2)
  std::vector<std::vector<int>> orders;
  for (int e = 0; e < 3; ++e) {
    std::vector<int> order;
    for (int k = 0; k < 3; ++k) {
      const auto& c = m.calls[static_cast<std::size_t>(3 * e + k)];
      EXPECT_EQ(c.size(), k < 2 ? 4u : 2u) << "epoch " << e << " minibatch " << k;
      order.insert(order.end(), c.begin(), c.end());
    }
    std::vector<int> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, d.w.train) << "epoch " << e << " is not a permutation of the training windows";
    orders.push_back(order);
  }
  EXPECT_NE(orders[0], orders[1]);
  EXPECT_NE(orders[1], orders[2]);
  EXPECT_NE(orders[0], d.w.train) << "not shuffled";
  // The epoch loss weights each minibatch by its windows.
  for (int e = 0; e < 3; ++e) {
    const double want = (4 * m.losses[3 * e] + 4 * m.losses[3 * e + 1] + 2 * m.losses[3 * e + 2]) / 10.0;
    EXPECT_NEAR(r.train_loss[static_cast<std::size_t>(e)], want, 1e-15) << "epoch " << e;
  }
  EXPECT_EQ(r.best_epoch, -1);
  EXPECT_EQ(r.epoch_seconds.size(), 3u);

  // Same seed, same order; another seed, another order.
  ScriptedModel again(T, B), other(T, B);
  std::vector<double> p2(p.size(), 0.0), p3(p.size(), 0.0);
  train_model(again, p2, d.w, options(T, B, 3, 17));
  train_model(other, p3, d.w, options(T, B, 3, 18));
  EXPECT_EQ(again.calls, m.calls);
  EXPECT_NE(other.calls, m.calls);
  EXPECT_EQ(p2, p);
}

TEST(Trainer, ParametersMoveTowardsTheTargetAndValidationPicksTheBest) {
  const int T = 2, B = 5;
  Data d(60, 20, 10, 0.5f);
  ScriptedModel m(T, B);
  std::vector<double> p(param_count(m.shape()), 0.0);
  TrainOptions o = options(T, B, 30, 1);
  const TrainResult r = train_model(m, p, d.w, o);
  ASSERT_EQ(r.status, TrainStatus::Ok);
  ASSERT_EQ(r.val_loss.size(), r.train_loss.size());
  const auto best = std::min_element(r.val_loss.begin(), r.val_loss.end()) - r.val_loss.begin();
  EXPECT_EQ(r.best_epoch, best);
  // The kept prediction reproduces the best epoch's validation loss: (p - 0.5)^2.
  const double kept = p.back();
  EXPECT_NEAR((kept - 0.5) * (kept - 0.5), r.val_loss[static_cast<std::size_t>(best)], 1e-12);
  EXPECT_LT(r.val_loss[static_cast<std::size_t>(best)], 0.01 * r.val_loss.front());
}

TEST(Trainer, MinDeltaAndPatienceStopEarly) {
  const int T = 2, B = 5;
  Data d(60, 20, 10, 0.5f);
  ScriptedModel m(T, B);
  std::vector<double> p(param_count(m.shape()), 0.0);
  TrainOptions o = options(T, B, 30, 1);
  o.min_delta = 1e9;  // nothing after the first epoch counts as an improvement
  o.patience = 2;
  const TrainResult r = train_model(m, p, d.w, o);
  EXPECT_EQ(r.status, TrainStatus::Ok);
  EXPECT_EQ(r.best_epoch, 0);
  EXPECT_EQ(r.epochs_run, 3);
  EXPECT_NE(r.message.find("early stop after epoch 2"), std::string::npos) << r.message;
  EXPECT_NEAR((p.back() - 0.5) * (p.back() - 0.5), r.val_loss[0], 1e-12) << "epoch 0's parameters are kept";
}

TEST(Trainer, NonFiniteGradientStopsWithTheBestParametersSoFar) {
  const int T = 2, B = 5;
  Data d(60, 20, 10, 0.5f);
  ScriptedModel m(T, B);
  m.nan_grad_at = 7;  // epoch 1 (4 minibatches per epoch), its third minibatch
  std::vector<double> p(param_count(m.shape()), 0.0);
  const TrainResult r = train_model(m, p, d.w, options(T, B, 10, 1));
  EXPECT_EQ(r.status, TrainStatus::NonFinite);
  EXPECT_EQ(r.message, "non-finite gradient at epoch 1 (minibatch 2)");
  EXPECT_EQ(r.epochs_run, 2);
  EXPECT_EQ(r.best_epoch, 0);
  EXPECT_TRUE(std::isnan(r.train_loss.back()));
  EXPECT_NEAR((p.back() - 0.5) * (p.back() - 0.5), r.val_loss[0], 1e-12);
  EXPECT_EQ(m.calls.size(), 7u) << "no step after the non-finite gradient";
  EXPECT_EQ(r.epoch_seconds.size(), 2u) << "the epoch that stopped is timed too";
}

TEST(Trainer, NonFiniteLossWithoutAFiniteEpochKeepsTheInitialParameters) {
  const int T = 2, B = 5;
  Data d(60, 20, 10, 0.5f);
  d.y[3 + T] = std::numeric_limits<float>::infinity();  // target of training window 3
  ScriptedModel m(T, B);
  std::vector<double> p(param_count(m.shape()), 0.25);
  const std::vector<double> initial = p;
  const TrainResult r = train_model(m, p, d.w, options(T, B, 10, 1));
  EXPECT_EQ(r.status, TrainStatus::NonFinite);
  EXPECT_NE(r.message.find("non-finite training loss at epoch 0"), std::string::npos) << r.message;
  EXPECT_EQ(p, initial);
  EXPECT_EQ(r.best_epoch, -1);
}

TEST(Trainer, ATimeLimitStopsBeforeTheNextEpochWithTimeout) {
  const int T = 2, B = 5;
  Data d(60, 20, 10, 0.5f);
  std::vector<double> p(1, 0.0);
  {  // a limit every epoch passes: the first epoch runs (the check is between epochs), then Timeout
    ScriptedModel m(T, B);
    p.assign(param_count(m.shape()), 0.0);
    TrainOptions o = options(T, B, 10, 1);
    o.max_seconds = 1e-12;
    const TrainResult r = train_model(m, p, d.w, o);
    EXPECT_EQ(r.status, TrainStatus::Timeout);
    EXPECT_EQ(r.epochs_run, 1);
    EXPECT_EQ(r.epoch_seconds.size(), 1u) << "an epoch skipped by the limit is not timed";
    EXPECT_EQ(m.calls.size(), 4u) << "no minibatch after the limit";
    EXPECT_NE(r.message.find("training stopped after 1 of 10 epochs"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("passed the limit of"), std::string::npos) << r.message;
  }
  {  // a limit no epoch reaches changes nothing
    ScriptedModel m(T, B), free(T, B);
    std::vector<double> q(param_count(m.shape()), 0.0);
    p.assign(param_count(m.shape()), 0.0);
    TrainOptions o = options(T, B, 10, 1);
    const TrainResult unlimited = train_model(free, q, d.w, o);
    o.max_seconds = 1e6;
    const TrainResult r = train_model(m, p, d.w, o);
    EXPECT_EQ(r.status, TrainStatus::Ok);
    EXPECT_EQ(r.epochs_run, 10);
    EXPECT_EQ(r.train_loss, unlimited.train_loss);
    EXPECT_EQ(p, q);
  }
}

TEST(Trainer, RejectsBadInputs) {
  const int T = 3;
  Data d(20, 10, 0, 1.0f);
  ScriptedModel m(T, 4);
  std::vector<double> p(param_count(m.shape()), 0.0);
  d.w.train.push_back(17);  // needs rows up to 21
  EXPECT_THROW(train_model(m, p, d.w, options(T, 4, 1, 0)), Error);
  d.w.train.pop_back();
  EXPECT_THROW(train_model(m, p, d.w, options(T + 1, 4, 1, 0)), Error) << "window differs from the model's";
  EXPECT_THROW(train_model(m, p, d.w, options(T, 8, 1, 0)), Error) << "minibatch above max_batch";
  std::vector<double> short_p(3);
  EXPECT_THROW(train_model(m, short_p, d.w, options(T, 4, 1, 0)), Error);
  d.w.train.clear();
  const TrainResult r = train_model(m, p, d.w, options(T, 4, 1, 0));
  EXPECT_EQ(r.epochs_run, 0);
  EXPECT_EQ(r.message, "no training windows");
}

}  // namespace
// The validation rule every engine's loop shares (train/options.hpp), step by step.
TEST(EarlyStopping, ImprovementNeedsMinDeltaAndPatienceCountsEpochsInARow) {
  using V = EarlyStopping::Verdict;
  TrainOptions o;
  o.patience = 2;
  o.min_delta = 0.05;
  EarlyStopping s;
  TrainResult r;
  EXPECT_FALSE(s.have_best());
  EXPECT_EQ(s.after_epoch(o, 0, 1.0, r), V::Improved);
  EXPECT_TRUE(s.have_best());
  EXPECT_EQ(s.after_epoch(o, 1, 0.97, r), V::Continue);  // lower, but not by min_delta
  EXPECT_EQ(s.after_epoch(o, 2, 0.90, r), V::Improved);  // 0.90 < 1.0 - 0.05: the count starts again
  EXPECT_EQ(s.after_epoch(o, 3, 0.90, r), V::Continue);
  EXPECT_EQ(s.after_epoch(o, 4, 0.88, r), V::Stop);  // the second epoch in a row above 0.90 - 0.05
  EXPECT_EQ(r.status, TrainStatus::Ok);
  EXPECT_EQ(r.best_epoch, 2);
  EXPECT_EQ(r.val_loss, (std::vector<double>{1.0, 0.97, 0.90, 0.90, 0.88}));
  EXPECT_EQ(r.message, "early stop after epoch 4: no validation improvement in 2 epochs");
}

TEST(EarlyStopping, PatienceZeroNeverStopsAndANonFiniteLossDoes) {
  using V = EarlyStopping::Verdict;
  TrainOptions o;
  o.patience = 0;
  EarlyStopping s;
  TrainResult r;
  EXPECT_EQ(s.after_epoch(o, 0, 1.0, r), V::Improved);
  for (int e = 1; e < 40; ++e) EXPECT_EQ(s.after_epoch(o, e, 2.0, r), V::Continue) << "epoch " << e;
  EXPECT_EQ(s.after_epoch(o, 40, std::numeric_limits<double>::quiet_NaN(), r), V::Stop);
  EXPECT_EQ(r.status, TrainStatus::NonFinite);
  EXPECT_EQ(r.message, "non-finite validation loss at epoch 40");
  EXPECT_EQ(r.best_epoch, 0);
  EXPECT_EQ(r.val_loss.size(), 41u);
}

}  // namespace lstmad
