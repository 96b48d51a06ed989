// Parameter initialisation as PyTorch and cuDNN users expect: every LSTM weight and bias uniform in
// +-1/sqrt(H), the head uniform in +-1/sqrt(H) (nn.Linear's rule with fan-in H). An optional forget-gate
// bias sets bW's f block to that value and bR's f block to 0 (their sum is what the cell sees).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "lstm/shape.hpp"

namespace lstmad {

std::vector<float> init_params(const ModelShape& shape, uint64_t seed,
                               std::optional<double> forget_bias = std::nullopt);

}  // namespace lstmad
