// The "fused" engine: our CUDA kernels (kernels/lstm_fused_*) behind the Engine interface. Trains each
// model of a ModelBatch on the device with the cuDNN engine's step structure (series uploaded once,
// minibatches gathered on the device, head + MSE, CUB reductions, clipping and Adam as kernels over one
// flat parameter vector, each full-batch step replayed as a CUDA graph), with the fused forward and
// backward in place of cuDNN's. Training version 2 (the default) trains the N models of a batch in
// lockstep, one launch per kernel for all of them (fused_multi.hpp, kernels/lstm_multi.hpp); a model ends
// bit-identical whether trained alone or in any batch. LSTMAD_FUSED_MULTI=0 goes back to version 1, a
// loop over models on EngineOptions::streams streams (docs/kernels.md).
#pragma once
#include <memory>

#include "lstm/engine.hpp"

namespace lstmad {

// Precision FP32 only in this version (FMA; TF32/BF16 tensor-core paths are the next version). Shapes the
// kernels cannot run are UnsupportedError naming the engine that can. Throws DeviceError on use when no
// CUDA device is usable.
std::unique_ptr<Engine> make_fused_engine(const EngineOptions& options);

}  // namespace lstmad
