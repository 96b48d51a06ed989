// NumPy .npy files: a reader for the arrays of the NASA SMAP/MSL telemetry set (float64 or float32,
// little-endian, C order, 1-D or 2-D; format versions 1.0, 2.0 and 3.0) and a small writer for tests and
// tools. Anything else (big-endian or non-float dtypes, Fortran order, other ranks, a bad magic string or
// header, truncated or trailing data) is a DataError naming the file.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lstmad {

struct NpyArray {
  std::vector<size_t> shape;  // as stored: {n} or {n, k}
  std::vector<double> data;   // row-major, float32 values widened to double
  std::string descr;          // the stored dtype, "<f8" or "<f4"
  size_t rows() const { return shape.empty() ? 0 : shape[0]; }
  // A 1-D array reads as one column.
  size_t cols() const { return shape.size() == 2 ? shape[1] : 1; }
};

// Reads path; IoError when it cannot be read, DataError (naming path) when it is not a supported .npy.
NpyArray read_npy(const std::string& path);
// Parses the bytes of a .npy file; `source` names the file in errors.
NpyArray parse_npy(std::string_view bytes, const std::string& source);

enum class NpyType { Float64, Float32 };
struct NpyWriteOptions {
  NpyType type = NpyType::Float64;
  int version = 1;               // header format 1, 2 or 3
  bool one_dimensional = false;  // shape (rows,) instead of (rows, cols); needs cols == 1
};
// The bytes of a .npy file holding `data` (rows x cols, row-major); Error when sizes disagree.
std::string npy_bytes(const std::vector<double>& data, size_t rows, size_t cols,
                      const NpyWriteOptions& options = {});
// Writes those bytes to path atomically.
void write_npy(const std::string& path, const std::vector<double>& data, size_t rows, size_t cols,
               const NpyWriteOptions& options = {});

}  // namespace lstmad
