// Model checkpoints: one file per model holding its shape and fp32 parameters (canonical layout,
// lstm/shape.hpp), verified on load.
//
// Layout, little-endian:
//   "LSTMADCK"                     8 bytes magic
//   u32 format version             kCheckpointFormat
//   u32 n, n bytes                 lstmad version that wrote the file
//   i32 layers, input, hidden, horizon, window
//   u64 parameter count            must equal param_count(shape)
//   64 bytes                       SHA-256, lowercase hex, of every byte before it (magic to count)
//                                  followed by the parameter bytes
//   count x f32                    the parameters
// Files are written atomically (files::write_atomic). Any mismatch, truncation or corruption on load is a
// DataError naming the file. The checksum covers the header too, since the parameter count catches a
// changed shape but not a changed window or version. Format 1 files (checksum of the parameters alone)
// still load.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lstm/shape.hpp"

namespace lstmad {

constexpr uint32_t kCheckpointFormat = 2;

struct Checkpoint {
  ModelShape shape;
  int window = 0;             // T the model was trained with (0: not recorded)
  std::vector<float> params;  // param_count(shape) values
  std::string version;        // lstmad version of the writer (filled by load; save writes its own)
};

// Throws Error when params does not match the shape or the window is negative; IoError when the file
// cannot be written.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// IoError when the file cannot be read; DataError naming it when it is not a valid checkpoint.
Checkpoint load_checkpoint(const std::string& path);
// The bytes of a checkpoint file; `path` names it in errors.
Checkpoint parse_checkpoint(const std::string& bytes, const std::string& path);
// As load_checkpoint above, and a DataError when the stored shape differs from `expected`.
Checkpoint load_checkpoint(const std::string& path, const ModelShape& expected);

// Bytes of the file save_checkpoint writes for a model of this shape.
std::size_t checkpoint_file_size(const ModelShape& shape);

}  // namespace lstmad
