// .npy layout: magic "\x93NUMPY", major and minor version bytes, the header length (uint16 LE in 1.0,
// uint32 LE in 2.0 and 3.0), then a Python dict literal {'descr': ..., 'fortran_order': ...,
// 'shape': (...)} padded with spaces and a newline, then the raw data. The header parser accepts only
// that literal grammar (strings, True/False, tuples of integers), which is all NumPy ever writes; values
// are decoded byte by byte so the result does not depend on the host's byte order.
#include "data/npy.hpp"

#include <cctype>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>

#include "core/error.hpp"
#include "core/files.hpp"

namespace lstmad {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

// A header value: a string, a bool or a tuple of non-negative integers.
struct HeaderValue {
  enum Kind { String, Bool, Tuple } kind = String;
  std::string text;
  bool flag = false;
  std::vector<size_t> tuple;
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : s_(text), source_(source) {}

  std::map<std::string, HeaderValue> parse_dict() {
    std::map<std::string, HeaderValue> out;
    skip_space();
    expect('{');
    skip_space();
    while (!at('}')) {
      const std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      if (out.count(key)) fail("key '" + key + "' appears twice");
      out[key] = parse_value(key);
      skip_space();
      if (at(',')) {
        ++pos_;
        skip_space();
      } else if (!at('}')) {
        fail("expected ',' or '}' after the value of '" + key + "'");
      }
    }
    ++pos_;
    skip_space();
    if (pos_ != s_.size()) fail("text after the closing '}'");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    std::string_view shown = s_;
    while (!shown.empty() && std::isspace(static_cast<unsigned char>(shown.back()))) shown.remove_suffix(1);
    throw DataError(source_, 0, "bad .npy header (" + what + "): " + std::string(shown));
  }
  bool at(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  void expect(char c) {
    if (!at(c)) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  std::string parse_string() {
    if (!at('\'') && !at('"')) fail("expected a quoted string");
    const char quote = s_[pos_++];
    const size_t end = s_.find(quote, pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  HeaderValue parse_value(const std::string& key) {
    HeaderValue v;
    if (at('\'') || at('"')) {
      v.kind = HeaderValue::String;
      v.text = parse_string();
    } else if (s_.substr(pos_, 4) == "True") {
      v.kind = HeaderValue::Bool;
      v.flag = true;
      pos_ += 4;
    } else if (s_.substr(pos_, 5) == "False") {
      v.kind = HeaderValue::Bool;
      pos_ += 5;
    } else if (at('(')) {
      v.kind = HeaderValue::Tuple;
      ++pos_;
      skip_space();
      while (!at(')')) {
        v.tuple.push_back(parse_size());
        skip_space();
        if (at(',')) {
          ++pos_;
          skip_space();
        } else if (!at(')')) {
          fail("expected ',' or ')' in the tuple of '" + key + "'");
        }
      }
      ++pos_;
    } else if (at('[')) {
      fail("structured dtypes are not supported");
    } else {
      fail("cannot read the value of '" + key + "'");
    }
    return v;
  }
  size_t parse_size() {
    if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) fail("expected an integer");
    size_t v = 0;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      const size_t digit = static_cast<size_t>(s_[pos_++] - '0');
      if (v > (std::numeric_limits<size_t>::max() - digit) / 10) fail("dimension too large");
      v = v * 10 + digit;
    }
    if (at('L')) ++pos_;  // Python 2 long literals, as old NumPy wrote them
    return v;
  }

  std::string_view s_;
  const std::string& source_;
  size_t pos_ = 0;
};

uint64_t read_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int b = bytes - 1; b >= 0; --b) v = (v << 8) | p[b];
  return v;
}

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int b = 0; b < bytes; ++b) out.push_back(static_cast<char>((v >> (8 * b)) & 0xff));
}

}  // namespace

NpyArray parse_npy(std::string_view bytes, const std::string& source) {
  if (bytes.size() < kMagicLen + 2 || bytes.substr(0, kMagicLen) != std::string_view(kMagic, kMagicLen))
    throw DataError(source, 0, "not a .npy file (the magic string \\x93NUMPY is missing)");
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  const int major = u[6], minor = u[7];
  if (major < 1 || major > 3)
    throw DataError(source, 0, "unsupported .npy format version " + std::to_string(major) + "." +
                                   std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t prefix = kMagicLen + 2 + len_bytes;
  if (bytes.size() < prefix) throw DataError(source, 0, "truncated .npy header");
  const size_t header_len = static_cast<size_t>(read_le(u + kMagicLen + 2, static_cast<int>(len_bytes)));
  if (bytes.size() - prefix < header_len)
    throw DataError(source, 0, "truncated .npy header: " + std::to_string(header_len) + " bytes announced, " +
                                   std::to_string(bytes.size() - prefix) + " present");
  const auto dict = HeaderParser(bytes.substr(prefix, header_len), source).parse_dict();
  for (const char* key : {"descr", "fortran_order", "shape"})
    if (!dict.count(key)) throw DataError(source, 0, std::string("bad .npy header: no '") + key + "' key");
  if (dict.size() != 3) throw DataError(source, 0, "bad .npy header: keys other than descr, fortran_order, shape");
  const HeaderValue& descr = dict.at("descr");
  const HeaderValue& order = dict.at("fortran_order");
  const HeaderValue& shape = dict.at("shape");
  if (descr.kind != HeaderValue::String || order.kind != HeaderValue::Bool || shape.kind != HeaderValue::Tuple)
    throw DataError(source, 0, "bad .npy header: descr must be a string, fortran_order a bool, shape a tuple");

  NpyArray a;
  a.descr = descr.text;
  size_t item = 0;
  if (descr.text == "<f8") {
    item = 8;
  } else if (descr.text == "<f4") {
    item = 4;
  } else if (descr.text == ">f8" || descr.text == ">f4") {
    throw DataError(source, 0, "big-endian data ('" + descr.text + "') is not supported; save it little-endian ('<" +
                                   descr.text.substr(1) + "')");
  } else {
    throw DataError(source, 0, "unsupported dtype '" + descr.text + "' (need float64 '<f8' or float32 '<f4')");
  }
  if (shape.tuple.empty() || shape.tuple.size() > 2)
    throw DataError(source, 0, "unsupported array rank " + std::to_string(shape.tuple.size()) + " (need 1-D or 2-D)");
  a.shape = shape.tuple;
  // Fortran order changes the byte layout only when both dimensions exceed 1.
  if (order.flag && a.shape.size() == 2 && a.shape[0] > 1 && a.shape[1] > 1)
    throw DataError(source, 0, "Fortran-ordered arrays are not supported; save with C order (np.ascontiguousarray)");
  const size_t rows = a.rows(), cols = a.cols();
  if (cols != 0 && rows > std::numeric_limits<size_t>::max() / cols / item)
    throw DataError(source, 0, "array shape too large");
  const size_t count = rows * cols;
  const size_t have = bytes.size() - prefix - header_len;
  if (have < count * item)
    throw DataError(source, 0, "truncated data: shape needs " + std::to_string(count * item) + " bytes, file has " +
                                   std::to_string(have));
  if (have > count * item)
    throw DataError(source, 0, std::to_string(have - count * item) + " unexpected bytes after the array data");
  a.data.resize(count);
  const unsigned char* p = u + prefix + header_len;
  for (size_t i = 0; i < count; ++i) {
    if (item == 8) {
      const uint64_t bits = read_le(p + 8 * i, 8);
      std::memcpy(&a.data[i], &bits, 8);
    } else {
      const auto bits = static_cast<uint32_t>(read_le(p + 4 * i, 4));
      float f;
      std::memcpy(&f, &bits, 4);
      a.data[i] = f;
    }
  }
  return a;
}

NpyArray read_npy(const std::string& path) { return parse_npy(files::read(path), path); }

std::string npy_bytes(const std::vector<double>& data, size_t rows, size_t cols, const NpyWriteOptions& options) {
  if (data.size() != rows * cols)
    throw Error("npy_bytes: " + std::to_string(data.size()) + " values for shape " + std::to_string(rows) + " x " +
                std::to_string(cols));
  if (options.version < 1 || options.version > 3)
    throw Error("npy_bytes: format version must be 1, 2 or 3, got " + std::to_string(options.version));
  if (options.one_dimensional && cols != 1) throw Error("npy_bytes: a 1-D array needs cols == 1");
  const bool f64 = options.type == NpyType::Float64;
  std::string header = std::string("{'descr': '") + (f64 ? "<f8" : "<f4") + "', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + (options.one_dimensional ? "," : ", " + std::to_string(cols)) + "), }";
  // NumPy pads so that the data starts on a 64-byte boundary; the header ends with a newline.
  const size_t prefix = kMagicLen + 2 + (options.version == 1 ? 2 : 4);
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header.push_back('\n');
  std::string out(kMagic, kMagicLen);
  out.push_back(static_cast<char>(options.version));
  out.push_back(0);
  put_le(out, header.size(), options.version == 1 ? 2 : 4);
  out += header;
  out.reserve(out.size() + data.size() * (f64 ? 8 : 4));
  for (double v : data) {
    if (f64) {
      uint64_t bits;
      std::memcpy(&bits, &v, 8);
      put_le(out, bits, 8);
    } else {
      const auto f = static_cast<float>(v);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      put_le(out, bits, 4);
    }
  }
  return out;
}

void write_npy(const std::string& path, const std::vector<double>& data, size_t rows, size_t cols,
               const NpyWriteOptions& options) {
  files::write_atomic(path, npy_bytes(data, rows, cols, options));
}

}  // namespace lstmad
