#include "lstm/shape.hpp"

#include "core/error.hpp"

namespace lstmad {

std::string ModelShape::str() const {
  return "L=" + std::to_string(layers) + " D=" + std::to_string(input) + " H=" + std::to_string(hidden) +
         " horizon=" + std::to_string(horizon);
}

void ModelShape::validate() const {
  if (layers < 1 || input < 1 || hidden < 1 || horizon < 1)
    throw Error("invalid model shape " + str() + ": every size must be at least 1");
}

void check_param_count(const ModelShape& s, std::size_t n, const std::string& who) {
  const std::size_t want = param_count(s);
  if (n != want)
    throw Error(who + ": " + std::to_string(n) + " parameters given, shape " + s.str() + " needs " +
                std::to_string(want));
}

ParamLayout::ParamLayout(const ModelShape& s) {
  s.validate();
  std::size_t off = 0;
  const std::size_t G = 4 * static_cast<std::size_t>(s.hidden);
  for (int l = 0; l < s.layers; ++l) {
    LayerOffsets o{};
    o.W = off;
    off += G * static_cast<std::size_t>(s.layer_input(l));
    o.R = off;
    off += G * static_cast<std::size_t>(s.hidden);
    o.bW = off;
    off += G;
    o.bR = off;
    off += G;
    layer.push_back(o);
  }
  head_W = off;
  off += static_cast<std::size_t>(s.horizon) * static_cast<std::size_t>(s.hidden);
  head_b = off;
  off += static_cast<std::size_t>(s.horizon);
  total = off;
}

}  // namespace lstmad
