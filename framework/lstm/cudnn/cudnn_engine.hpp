// The "cudnn" engine: the per-model GPU reference on cuDNN 9. Trains each model of a ModelBatch on the
// device (series uploaded once, minibatches gathered on the device, Adam and clipping as kernels over one
// flat parameter vector), looping over models on EngineOptions::streams CUDA streams.
#pragma once
#include <memory>

#include "lstm/engine.hpp"

namespace lstmad {

// Precision FP32 (cuDNN FMA math, the strict reference) or TF32 (cuDNN default math, tensor cores);
// options.algo picks the cuDNN RNN algorithm. Throws DeviceError when no CUDA device is usable.
std::unique_ptr<Engine> make_cudnn_engine(const EngineOptions& options);

}  // namespace lstmad
