// Training options and results for one model. Plain data shared by every engine's training loop.
#pragma once
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace lstmad {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 added to the gradient (Adam, not AdamW), as torch.optim.Adam does
};

struct TrainOptions {
  int window = 50;        // T: input steps per training window
  int batch = 64;         // B: windows per minibatch (the last minibatch of an epoch may be smaller)
  int epochs = 30;        // maximum epochs
  AdamOptions adam;
  double clip_norm = 1.0;  // global gradient-norm clipping; 0 disables it
  int patience = 5;        // early stopping: epochs without validation improvement; 0 disables it
  double min_delta = 0.0;  // improvement smaller than this does not count
  uint64_t seed = 0;       // minibatch shuffle seed (the initial parameters are given separately)
  double max_seconds =
      0;  // wall-clock limit of the training, checked before each epoch after the first; 0: none
};

// Ok: trained to the end, an early stop or the epoch limit. NonFinite: stopped at a non-finite loss or
// gradient. Timeout: stopped because the next epoch would start past TrainOptions::max_seconds.
enum class TrainStatus { Ok, NonFinite, Timeout };

struct TrainResult {
  std::vector<double> train_loss;  // mean MSE per epoch
  std::vector<double> val_loss;    // per epoch (empty when there is no validation split)
  int epochs_run = 0;
  int best_epoch = -1;  // epoch whose parameters were kept (0-based); -1: none was picked by
                        // validation: the last epoch's, or after a non-finite stop the initial ones
  TrainStatus status = TrainStatus::Ok;
  std::string message;             // why training stopped, e.g. "non-finite loss at epoch 3"
  double seconds = 0.0;
  std::vector<double> epoch_seconds;  // wall time of each epoch run (training and validation)
};

// Every engine's training loop calls this before epoch `epoch` with the seconds its training has taken:
// past o.max_seconds (when set), the result becomes Timeout with a message naming the epochs run, and the
// loop stops. The check sits between epochs because that is where every engine already synchronises.
inline bool past_time_limit(const TrainOptions& o, double seconds, int epoch, TrainResult& res) {
  if (o.max_seconds <= 0 || epoch == 0 || seconds <= o.max_seconds) return false;
  res.status = TrainStatus::Timeout;
  char text[160];
  std::snprintf(text, sizeof text,
                "training stopped after %d of %d epochs: %.3g s passed the limit of %.3g s", epoch, o.epochs,
                seconds, o.max_seconds);
  res.message = text;
  return true;
}

// The validation rule of every engine's training loop, applied to epoch `epoch`'s validation loss (recorded
// in res.val_loss): a non-finite loss stops training as NonFinite; a loss below the best so far by more
// than o.min_delta is the new best, whose parameters the loop keeps (res.best_epoch names it); `patience`
// epochs in a row without one stop training early (patience 0: never). One definition, so that the
// engines' early stops agree epoch for epoch.
class EarlyStopping {
 public:
  enum class Verdict { Improved, Continue, Stop };
  Verdict after_epoch(const TrainOptions& o, int epoch, double val_loss, TrainResult& res) {
    res.val_loss.push_back(val_loss);
    if (!std::isfinite(val_loss)) {
      res.status = TrainStatus::NonFinite;
      res.message = "non-finite validation loss at epoch " + std::to_string(epoch);
      return Verdict::Stop;
    }
    if (val_loss < best_ - o.min_delta) {
      best_ = val_loss;
      res.best_epoch = epoch;
      bad_epochs_ = 0;
      have_best_ = true;
      return Verdict::Improved;
    }
    if (o.patience > 0 && ++bad_epochs_ >= o.patience) {
      res.message = "early stop after epoch " + std::to_string(epoch) + ": no validation improvement in " +
                    std::to_string(o.patience) + " epochs";
      return Verdict::Stop;
    }
    return Verdict::Continue;
  }
  // Whether some epoch improved: its parameters, not the last epoch's, are the model's.
  bool have_best() const { return have_best_; }

 private:
  double best_ = std::numeric_limits<double>::infinity();
  int bad_epochs_ = 0;
  bool have_best_ = false;
};

// Records the wall time of the epoch run in its scope into TrainResult::epoch_seconds, whichever way the
// loop body is left (a non-finite stop, an early stop, the next epoch): made at the start of the body, it
// adds an entry when it ends only if the epoch counted (epochs_run grew past the entries), so an epoch
// skipped by the time limit adds none. Every engine's loop keeps one per epoch.
class EpochClock {
 public:
  explicit EpochClock(TrainResult& res) : res_(res), t0_(std::chrono::steady_clock::now()) {}
  ~EpochClock() {
    if (static_cast<int>(res_.epoch_seconds.size()) < res_.epochs_run)
      res_.epoch_seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
  }
  EpochClock(const EpochClock&) = delete;
  EpochClock& operator=(const EpochClock&) = delete;

 private:
  TrainResult& res_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace lstmad
