// The CPU engine: trains the models of a ModelBatch on a pool of threads, one model per thread at a
// time (LstmCpu<float> or LstmCpu<double>, Adam, clipping, early stopping from train/trainer.hpp).
#pragma once
#include <memory>

#include "lstm/engine.hpp"

namespace lstmad {

// precision must be FP32 or FP64 (anything else is an UnsupportedError naming the engines that can).
std::unique_ptr<Engine> make_cpu_engine(const EngineOptions& options);

}  // namespace lstmad
