// The model's shape and its canonical flat parameter layout, shared by every engine and checkpoint.
//
// A stack of L LSTM layers (input D, hidden H) and a linear head that predicts the next `horizon` values
// from the last hidden state of the top layer. Gates are in cuDNN's order i, f, g, o; two bias vectors
// (bW, bR) as cuDNN keeps them. One flat fp32 buffer per model, in this order:
//   for each layer l: W (4H x D_l, row-major, gate blocks i|f|g|o), R (4H x H), bW (4H), bR (4H)
//   then the head: Wh (horizon x H, row-major), bh (horizon)
// where D_0 = D and D_l = H for l > 0.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace lstmad {

struct ModelShape {
  int layers = 1;   // L
  int input = 1;    // D
  int hidden = 64;  // H
  int horizon = 1;  // values predicted per window

  int layer_input(int l) const { return l == 0 ? input : hidden; }
  bool operator==(const ModelShape& o) const {
    return layers == o.layers && input == o.input && hidden == o.hidden && horizon == o.horizon;
  }
  bool operator!=(const ModelShape& o) const { return !(*this == o); }
  std::string str() const;  // "L=2 D=1 H=64 horizon=1"
  // Throws Error when a field is out of range (L, D, H, horizon >= 1).
  void validate() const;
};

struct LayerOffsets {
  std::size_t W, R, bW, bR;
};

// Offsets of every block inside the flat buffer.
struct ParamLayout {
  explicit ParamLayout(const ModelShape& shape);
  std::vector<LayerOffsets> layer;
  std::size_t head_W = 0, head_b = 0;
  std::size_t total = 0;
};

inline std::size_t param_count(const ModelShape& s) { return ParamLayout(s).total; }

// Throws Error("<who>: n parameters given, shape ... needs P") unless n == param_count(s).
void check_param_count(const ModelShape& s, std::size_t n, const std::string& who);

}  // namespace lstmad
