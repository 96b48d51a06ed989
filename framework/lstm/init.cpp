#include "lstm/init.hpp"

#include <cmath>

#include "core/rng.hpp"

namespace lstmad {

std::vector<float> init_params(const ModelShape& shape, uint64_t seed, std::optional<double> forget_bias) {
  ParamLayout layout(shape);
  std::vector<float> p(layout.total);
  Rng rng(seed);
  const double k = 1.0 / std::sqrt(static_cast<double>(shape.hidden));
  for (auto& v : p) v = static_cast<float>(rng.uniform(-k, k));
  if (forget_bias) {
    const std::size_t H = static_cast<std::size_t>(shape.hidden);
    for (const auto& o : layout.layer) {
      for (std::size_t j = 0; j < H; ++j) {
        p[o.bW + H + j] = static_cast<float>(*forget_bias);
        p[o.bR + H + j] = 0.0f;
      }
    }
  }
  return p;
}

}  // namespace lstmad
