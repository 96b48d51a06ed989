// What a cell does after its series is prepared, shared by `lstmad run` and `lstmad detect`: the
// training and detector options of a setting's values, and the causal forecasting (with the optional
// fine-tuning schedule) that turns trained models into per-row prediction errors.
#pragma once
#include <cstdint>
#include <vector>

#include "detect/detector.hpp"
#include "experiments/config.hpp"
#include "experiments/prepare.hpp"
#include "experiments/scheduler.hpp"
#include "lstm/engine.hpp"

namespace lstmad {

// train.*, model.window and run.max_train_seconds of a member's values; `seed` is the member's model seed
// (the minibatch order derives from it).
TrainOptions train_options(const json& values, uint64_t seed);
// detector.* of a setting's values (train_rows is the caller's: it belongs to the series).
DetectorOptions detector_options(const json& values);

// The fine-tuning schedule of a ModelBatch (train.retrain_every, retrain_rows, retrain_epochs, as its
// scheduler key holds them); every = 0: none.
struct Retraining {
  int every = 0, rows = 0, epochs = 5;
};
Retraining retraining_of(const BatchKey& key);

// Prediction errors of every row with a full window before it: |target - prediction| (normalized units),
// averaged over the horizon predictions made for the row (from the windows ending 1 .. horizon rows
// before it); NaN where a row has none. jobs[j] holds model j's trained parameters, its options and the
// window source of data[j]; a job whose status is not Ok gets no prediction. With retraining
// (rt.every > 0), each model predicts the rows after its training part in segments of rt.every rows and,
// after each segment, is fine-tuned on windows whose targets lie in the latest rt.rows rows: a prediction
// for row i only ever comes from a model trained on rows < i (causal, as NAB requires). The fine-tunings
// of all models still running go to the engine as one ModelBatch; jobs[j].params ends as the last
// fine-tuned parameters.
std::vector<std::vector<double>> stream_errors(Engine& engine, const ModelShape& shape, int window,
                                               std::vector<ModelJob>& jobs,
                                               const std::vector<const PreparedSeries*>& data,
                                               const Retraining& rt, int threads);

}  // namespace lstmad
