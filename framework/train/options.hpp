// Training options and results for one model. Plain data shared by every engine's training loop.
#pragma once
#include <cstdint>
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
};

enum class TrainStatus { Ok, NonFinite };

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

}  // namespace lstmad
