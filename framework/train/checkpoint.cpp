// Checkpoint files (checkpoint.hpp).
#include "train/checkpoint.hpp"

#include <cstring>

#include "core/error.hpp"
#include "core/files.hpp"

#ifndef LSTMAD_VERSION
#define LSTMAD_VERSION "unknown"
#endif

namespace lstmad {

namespace {

constexpr char kMagic[8] = {'L', 'S', 'T', 'M', 'A', 'D', 'C', 'K'};
constexpr std::size_t kHashChars = 64;
constexpr uint32_t kMaxVersionChars = 256;

// Integers byte by byte so the file is little-endian whatever the host.
void put_u32(std::string& s, uint32_t v) {
  for (int k = 0; k < 4; ++k) s.push_back(static_cast<char>((v >> (8 * k)) & 0xffu));
}
void put_u64(std::string& s, uint64_t v) {
  for (int k = 0; k < 8; ++k) s.push_back(static_cast<char>((v >> (8 * k)) & 0xffu));
}

std::string param_bytes(const std::vector<float>& p) {
  std::string s;
  s.reserve(p.size() * 4);
  for (float f : p) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    put_u32(s, u);
  }
  return s;
}

class Reader {
 public:
  Reader(const std::string& path, const std::string& bytes) : path_(path), b_(bytes) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw DataError(path_, 0, "not a valid checkpoint: " + what);
  }
  void need(std::size_t n, const char* what) const {
    if (b_.size() - pos_ < n)
      fail(std::string("file ends inside ") + what + " (" + std::to_string(b_.size()) +
           " bytes; truncated?)");
  }
  uint32_t u32(const char* what) {
    need(4, what);
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k)
      v |= static_cast<uint32_t>(static_cast<unsigned char>(b_[pos_ + k])) << (8 * k);
    pos_ += 4;
    return v;
  }
  uint64_t u64(const char* what) {
    need(8, what);
    uint64_t v = 0;
    for (int k = 0; k < 8; ++k)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(b_[pos_ + k])) << (8 * k);
    pos_ += 8;
    return v;
  }
  int32_t i32(const char* what) { return static_cast<int32_t>(u32(what)); }
  std::string bytes(std::size_t n, const char* what) {
    need(n, what);
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::size_t left() const { return b_.size() - pos_; }
  std::size_t pos() const { return pos_; }

 private:
  const std::string& path_;
  const std::string& b_;
  std::size_t pos_ = 0;
};

}  // namespace

std::size_t checkpoint_file_size(const ModelShape& shape) {
  // magic, format, version length and text, five i32, the u64 count, the 64-character digest, then fp32s
  return sizeof(kMagic) + 4 + 4 + std::string(LSTMAD_VERSION).size() + 5 * 4 + 8 + 64 +
         4 * param_count(shape);
}

void save_checkpoint(const std::string& path, const Checkpoint& ck) {
  ck.shape.validate();
  check_param_count(ck.shape, ck.params.size(), "save_checkpoint " + path);
  if (ck.window < 0)  // load_checkpoint rejects it: the file could never be read back
    throw Error("save_checkpoint " + path + ": window must be at least 0 (0: not recorded), got " +
                std::to_string(ck.window));
  const std::string version = LSTMAD_VERSION;
  const std::string params = param_bytes(ck.params);
  std::string s(kMagic, sizeof(kMagic));
  put_u32(s, kCheckpointFormat);
  put_u32(s, static_cast<uint32_t>(version.size()));
  s += version;
  for (int v : {ck.shape.layers, ck.shape.input, ck.shape.hidden, ck.shape.horizon, ck.window})
    put_u32(s, static_cast<uint32_t>(v));
  put_u64(s, ck.params.size());
  s += files::sha256(s + params);  // the header and the parameters (checkpoint.hpp)
  s += params;
  files::write_atomic(path, s);
}

Checkpoint load_checkpoint(const std::string& path) { return parse_checkpoint(files::read(path), path); }

Checkpoint parse_checkpoint(const std::string& bytes, const std::string& path) {
  Reader r(path, bytes);
  if (r.bytes(sizeof(kMagic), "the magic") != std::string(kMagic, sizeof(kMagic)))
    r.fail("wrong magic (expected \"LSTMADCK\")");
  const uint32_t format = r.u32("the format version");
  if (format != kCheckpointFormat && format != 1)
    r.fail("format version " + std::to_string(format) + ", this build reads 1 to " +
           std::to_string(kCheckpointFormat));
  Checkpoint ck;
  const uint32_t vlen = r.u32("the version length");
  if (vlen > kMaxVersionChars) r.fail("version string of " + std::to_string(vlen) + " bytes");
  ck.version = r.bytes(vlen, "the version string");
  ck.shape.layers = r.i32("the shape");
  ck.shape.input = r.i32("the shape");
  ck.shape.hidden = r.i32("the shape");
  ck.shape.horizon = r.i32("the shape");
  ck.window = r.i32("the window");
  if (ck.shape.layers < 1 || ck.shape.input < 1 || ck.shape.hidden < 1 || ck.shape.horizon < 1 ||
      ck.window < 0 || ck.shape.layers > 1000 || ck.shape.input > 1000000 || ck.shape.hidden > 1000000 ||
      ck.shape.horizon > 1000000)
    r.fail("invalid shape " + ck.shape.str() + " window=" + std::to_string(ck.window));
  const uint64_t count = r.u64("the parameter count");
  const std::size_t P = param_count(ck.shape);
  if (count != P)
    r.fail("parameter count " + std::to_string(count) + " but shape " + ck.shape.str() + " has " +
           std::to_string(P));
  const std::string header = bytes.substr(0, r.pos());
  const std::string hash = r.bytes(kHashChars, "the checksum");
  if (r.left() != 4 * P)
    r.fail(std::to_string(r.left()) + " bytes of parameters where " + std::to_string(P) + " floats need " +
           std::to_string(4 * P) + (r.left() < 4 * P ? " (truncated)" : " (trailing bytes)"));
  const std::string params = r.bytes(4 * P, "the parameters");
  // Format 1 summed the parameters alone; its header has no protection beyond the checks above.
  if (files::sha256(format == 1 ? params : header + params) != hash)
    r.fail("checksum mismatch (corrupted file)");
  ck.params.resize(P);
  for (std::size_t k = 0; k < P; ++k) {
    uint32_t u = 0;
    for (int b = 0; b < 4; ++b)
      u |= static_cast<uint32_t>(static_cast<unsigned char>(params[4 * k + b])) << (8 * b);
    std::memcpy(&ck.params[k], &u, 4);
  }
  return ck;
}

Checkpoint load_checkpoint(const std::string& path, const ModelShape& expected) {
  Checkpoint ck = load_checkpoint(path);
  if (ck.shape != expected)
    throw DataError(path, 0, "checkpoint has shape " + ck.shape.str() + ", expected " + expected.str());
  return ck;
}

}  // namespace lstmad
