#include "core/files.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include "core/error.hpp"

namespace lstmad::files {
namespace fs = std::filesystem;

std::string read(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw IoError(path + ": is a folder, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open for reading (" + std::strerror(errno) + ")");
  // One read of the size the file has (a long series' CSV is tens of MB: a growing stream buffer copied
  // it several times); a file whose size is not known up front (a pipe) is read as a stream.
  const auto size = fs::file_size(path, ec);
  if (!ec && fs::is_regular_file(path, ec)) {
    std::string text(static_cast<size_t>(size), '\0');
    in.read(text.data(), static_cast<std::streamsize>(size));
    if (in.bad() || static_cast<uintmax_t>(in.gcount()) != size)
      throw IoError(path + ": read error (" + std::to_string(in.gcount()) + " of " + std::to_string(size) +
                    " bytes)");
    if (in.peek() == std::char_traits<char>::eof()) return text;
    // Grown while read: the rest as a stream.
    std::ostringstream rest;
    rest << in.rdbuf();
    return text + rest.str();
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError(path + ": read error");
  return ss.str();
}

FileView::FileView(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw IoError(path + ": is a folder, expected a file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path + ": cannot open for reading (" + std::strerror(errno) + ")");
  // The size of the file opened, not of the path (another file may take the path meanwhile).
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    void* m = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (m != MAP_FAILED) {
      ::close(fd);
      (void)::madvise(m, static_cast<size_t>(st.st_size), MADV_SEQUENTIAL);
      map_ = m;
      map_size_ = static_cast<size_t>(st.st_size);
      text_ = std::string_view(static_cast<const char*>(m), map_size_);
      return;
    }
  }
  ::close(fd);
  copy_ = read(path);  // an empty file, a pipe, or a file system that cannot map
  text_ = copy_;
}

FileView::~FileView() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

void read_lines(const std::string& path, const std::function<void(const char*, const char*, long)>& visit) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw IoError(path + ": is a folder, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open for reading (" + std::strerror(errno) + ")");
  constexpr size_t kBlock = size_t{1} << 20;
  std::string buf;
  size_t kept = 0;  // bytes of an unfinished line at the front of buf
  long line = 0;
  auto emit = [&](const char* b, const char* e) {
    if (e > b && e[-1] == '\r') --e;
    visit(b, e, ++line);
  };
  for (;;) {
    buf.resize(kept + kBlock);
    in.read(buf.data() + kept, static_cast<std::streamsize>(kBlock));
    if (in.bad()) throw IoError(path + ": read error after line " + std::to_string(line));
    const size_t got = static_cast<size_t>(in.gcount());
    const char* b = buf.data();
    const char* const end = buf.data() + kept + got;
    for (const char* nl; (nl = static_cast<const char*>(std::memchr(b, '\n', static_cast<size_t>(end - b))));
         b = nl + 1)
      emit(b, nl);
    kept = static_cast<size_t>(end - b);
    if (got == 0) {
      if (kept > 0) emit(b, end);
      return;
    }
    std::memmove(buf.data(), b, kept);
  }
}

bool unfinished_write_name(const std::string& name, long* pid) {
  // NAME.tmp.<digits>.<digits>, NAME not empty.
  const size_t last_dot = name.rfind('.');
  if (last_dot == std::string::npos || last_dot + 1 == name.size()) return false;
  const size_t pid_dot = name.rfind('.', last_dot - 1);
  if (pid_dot == std::string::npos || pid_dot + 1 == last_dot || pid_dot < 5) return false;
  if (name.compare(pid_dot - 4, 4, ".tmp") != 0) return false;
  const auto digits = [&name](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i)
      if (name[i] < '0' || name[i] > '9') return false;
    return true;
  };
  if (!digits(pid_dot + 1, last_dot) || !digits(last_dot + 1, name.size())) return false;
  if (pid) {
    // More digits than any pid has: -1, which no process has.
    const std::string text = name.substr(pid_dot + 1, last_dot - pid_dot - 1);
    *pid = text.size() > 12 ? -1 : std::stol(text);
  }
  return true;
}

std::string abandoned_write_of(const std::string& name) {
  long pid = 0;
  if (!unfinished_write_name(name, &pid) || !writer_gone(pid)) return {};
  return name.substr(0, name.rfind(".tmp."));
}

bool writer_gone(long pid) {
  if (pid <= 0 || pid > std::numeric_limits<pid_t>::max()) return true;
  if (pid == static_cast<long>(::getpid())) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

namespace {

// `path`, then each link's target in turn, the last no link (or not there); IoError after 40 links.
std::vector<fs::path> link_chain(const std::string& path) {
  std::vector<fs::path> chain{path};
  for (;;) {
    const fs::path& p = chain.back();
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return chain;
    if (chain.size() > 40) throw IoError(path + ": more than 40 symbolic links in a row (a loop?)");
    std::error_code ec;
    const fs::path to = fs::read_symlink(p, ec);
    if (ec) throw IoError(p.string() + ": cannot read the symbolic link (" + ec.message() + ")");
    chain.push_back(to.is_absolute() ? to : p.parent_path() / to);
  }
}

}  // namespace

std::string link_target(const std::string& path) {
  return link_chain(path).back().string();
}

AtomicWriter::AtomicWriter(std::string path) : path_(std::move(path)) {
  static std::atomic<unsigned> counter{0};
  // Through a link, the target is written: a rename over the link would replace it with a plain file.
  target_ = link_target(path_);
  if (target_ != path_) path_ += " (a link to " + target_ + ")";
  tmp_ = target_ + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  buf_.reserve(kBlock + 4096);  // before the file: nothing to undo if it throws
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0) throw IoError(path_ + ": cannot create (" + std::strerror(errno) + ")");
}

AtomicWriter::~AtomicWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicWriter::write(const char* data, size_t size) {
  for (auto [p, left] : {std::pair<const char*, size_t>{buf_.data(), buf_.size()}, {data, size}}) {
    while (left > 0) {
      ssize_t w = ::write(fd_, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw IoError(path_ + ": write failed (" + std::strerror(errno) + ")");
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
    buf_.clear();
  }
}

void AtomicWriter::commit() {
  LSTMAD_CHECK(fd_ >= 0, path_ + ": committed twice");
  write_out();
  const int fd = fd_;
  fd_ = -1;
  const bool synced = ::fsync(fd) == 0;
  int err = errno;
  const bool closed = ::close(fd) == 0;  // closed whether or not the fsync failed
  if (!synced || !closed) {
    if (synced) err = errno;
    ::unlink(tmp_.c_str());
    throw IoError(path_ + ": flush failed (" + std::strerror(err) + ")");
  }
  if (::rename(tmp_.c_str(), target_.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp_.c_str());
    throw IoError(path_ + ": rename failed (" + std::strerror(e) + ")");
  }
  // The rename is an entry of the folder: without the folder's own fsync a power loss can undo it, and
  // a result counted as written would be gone. Best effort: some file systems refuse a folder's fsync.
  std::string parent = std::filesystem::path(target_).parent_path().string();
  if (parent.empty()) parent = ".";
  if (int dfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

void write_atomic(const std::string& path, const std::string& content) {
  AtomicWriter w(path);
  w.write(content.data(), content.size());
  w.commit();
}

namespace {

// Writes all of `size` bytes to `fd`; IoError naming `name` when it cannot.
void write_all(int fd, const char* data, size_t size, const std::string& name) {
  while (size > 0) {
    const ssize_t w = ::write(fd, data, size);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError(name + ": write failed (" + std::strerror(errno) + ")");
    }
    data += w;
    size -= static_cast<size_t>(w);
  }
}

// A Unix socket's path as a stream to write: connected, as open() cannot.
int connect_socket(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

// The descriptor of this process that `path` names through links (/dev/stdout, /dev/fd/N,
// /proc/self/fd/N), -1 for any other path.
int own_descriptor(const std::string& path) {
  const fs::path fds = "/proc/" + std::to_string(::getpid()) + "/fd";
  for (const fs::path& at : link_chain(path)) {
    std::error_code ec;
    if (fs::canonical(at.parent_path(), ec) != fds || ec) continue;
    const std::string n = at.filename().string();
    if (!n.empty() && n.size() < 9 &&
        std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::stoi(n);
  }
  return -1;
}

}  // namespace

OutputFile::OutputFile(const std::string& path, const std::string& option) : path_(path) {
  const fs::path p(path);
  const std::string name = p.filename().string();
  struct stat st {};
  const bool there = ::stat(path.c_str(), &st) == 0;
  if ((there && S_ISDIR(st.st_mode)) || name.empty() || name == "." || name == "..")
    throw ConfigError(option + " " + path + " is a folder; give a file name");
  if (!there) {
    // Written as a new file below.
  } else if (const int own = own_descriptor(path); own >= 0) {
    // /dev/stdout, /dev/fd/N: written through the descriptor itself, as the shell opened it (`>>`
    // appends; a file is not replaced under the shell's descriptor).
    fd_ = ::fcntl(own, F_DUPFD_CLOEXEC, 0);
    if (fd_ < 0) throw IoError(path + ": cannot open for writing (" + std::strerror(errno) + ")");
    return;
  } else if (!S_ISREG(st.st_mode)) {
    fd_ = S_ISSOCK(st.st_mode) ? connect_socket(path) : ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd_ < 0) throw IoError(path + ": cannot open for writing (" + std::strerror(errno) + ")");
    return;
  }
  if (p.has_parent_path()) make_dirs(p.parent_path().string());
  atomic_ = std::make_unique<AtomicWriter>(path);
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void OutputFile::write(const char* data, size_t size) {
  LSTMAD_CHECK(atomic_ || fd_ >= 0, path_ + ": written after commit()");
  if (atomic_)
    atomic_->write(data, size);
  else
    write_all(fd_, data, size, path_);
}

void OutputFile::commit() {
  if (atomic_) {
    atomic_->commit();
    atomic_.reset();
    return;
  }
  LSTMAD_CHECK(fd_ >= 0, path_ + ": committed twice");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0 && errno != EINTR)
    throw IoError(path_ + ": write failed (" + std::strerror(errno) + ")");
}

void write_output(const std::string& path, const std::string& option, const std::string& content) {
  OutputFile out(path, option);
  out.write(content.data(), content.size());
  out.commit();
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  // Named before create_directories' own errors, which say "Not a directory" or, for a link to nothing,
  // "File exists".
  if (fs::exists(path, ec) && !fs::is_directory(path, ec))
    throw IoError(path + ": exists and is not a folder");
  if (fs::is_symlink(fs::symlink_status(path, ec)) && !fs::exists(path, ec))
    throw IoError(path + ": a symbolic link to " + link_target(path) +
                  ", which is not there; make that folder");
  fs::create_directories(path, ec);
  if (ec) throw IoError(path + ": cannot create folder (" + ec.message() + ")");
  if (!fs::is_directory(path, ec)) throw IoError(path + ": exists and is not a folder");
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// SHA-256 (FIPS 180-4). Written here rather than pulling in a crypto library for one hash of the inputs
// in the run manifest; checked against the standard test vectors in tests/.
namespace {
constexpr uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

struct Sha256 {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  unsigned char buf[64];
  size_t used = 0;
  uint64_t total = 0;

  void block(const unsigned char* p) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = (uint32_t(p[4 * i]) << 24) | (uint32_t(p[4 * i + 1]) << 16) | (uint32_t(p[4 * i + 2]) << 8) |
             uint32_t(p[4 * i + 3]);
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      uint32_t ch = (e & f) ^ (~e & g);
      uint32_t t1 = hh + S1 + ch + K[i] + w[i];
      uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      uint32_t t2 = S0 + maj;
      hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  void update(const unsigned char* p, size_t n) {
    total += n;
    while (n > 0) {
      size_t take = std::min(n, 64 - used);
      std::memcpy(buf + used, p, take);
      used += take; p += take; n -= take;
      if (used == 64) { block(buf); used = 0; }
    }
  }
  std::string hex() {
    uint64_t bits = total * 8;
    unsigned char pad = 0x80;
    update(&pad, 1);
    unsigned char zero = 0;
    while (used != 56) update(&zero, 1);
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    update(len, 8);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (uint32_t v : h)
      for (int s = 28; s >= 0; s -= 4) out += digits[(v >> s) & 0xf];
    return out;
  }
};
}  // namespace

std::string sha256(const std::string& bytes) {
  Sha256 s;
  s.update(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return s.hex();
}

std::string sha256_file(const std::string& path) {
  // In pieces: hashing a long series' file needs no copy of it in memory.
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw IoError(path + ": is a folder, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open for reading (" + std::strerror(errno) + ")");
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(reinterpret_cast<const unsigned char*>(buf.data()), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw IoError(path + ": read error");
  return h.hex();
}

std::vector<std::string> list_below(const std::string& root, int* hidden,
                                    const std::function<bool(const std::string&)>& leave_out,
                                    std::vector<std::string>* left_out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw IoError(root + ": not a folder");
  std::vector<std::string> out;
  // Each real folder is walked once: a link back to a folder above or beside it would otherwise be
  // walked again inside itself until the path grew too long, and the listing would stop there.
  std::set<fs::path> walked{fs::canonical(root, ec)};
  const auto opts = fs::directory_options::skip_permission_denied | fs::directory_options::follow_directory_symlink;
  auto it = fs::recursive_directory_iterator(root, opts, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fe;
    if (hidden_name(it->path().filename().string())) {
      if (it->is_directory(fe)) it.disable_recursion_pending();
      if (hidden) ++*hidden;
      continue;
    }
    if (it->is_directory(fe)) {
      if (leave_out && leave_out(it->path().string())) {
        it.disable_recursion_pending();
        if (left_out) left_out->push_back(it->path().lexically_relative(root).generic_string());
        continue;
      }
      const fs::path real = fs::canonical(it->path(), fe);
      if (fe || !walked.insert(real).second) it.disable_recursion_pending();
    } else if (it->is_regular_file(fe)) {
      // The path as found below root, links not resolved: a linked file or folder keeps the link's name,
      // so a name never leads out of root (and neither does what is written under it in a run folder).
      out.push_back(it->path().lexically_relative(root).generic_string());
    }
  }
  if (ec) throw IoError(root + ": listing the files below it failed: " + ec.message());
  std::sort(out.begin(), out.end());
  if (left_out) std::sort(left_out->begin(), left_out->end());
  return out;
}

}  // namespace lstmad::files
