// File helpers: whole-file reads, atomic writes (temporary file, flush, fsync, rename) so that a crash
// never leaves a half-written result, and folder creation with clear errors.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lstmad::files {

// Reads a whole file; IoError naming the path when it cannot.
std::string read(const std::string& path);
// A file's bytes, mapped read-only where it is a regular file (a series' CSV of 100 MB is parsed where the
// page cache holds it: no buffer to fill, no copy), read whole otherwise (a pipe). IoError naming the path
// when it cannot be opened or read. Rows appended to the file meanwhile are not seen; a file cut short
// by another program while it is read would end the process (SIGBUS), as with any mapped file.
class FileView {
 public:
  explicit FileView(const std::string& path);
  ~FileView();
  FileView(const FileView&) = delete;
  FileView& operator=(const FileView&) = delete;
  std::string_view text() const { return text_; }

 private:
  std::string_view text_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  std::string copy_;
};
// Calls visit(begin, end, line_number) for each line of a file, read in blocks of 1 MB (a long series'
// result file is over 100 MB; only the block and the longest line are held: a FileView would keep the
// whole file's pages resident, 190 MB against 68 MB for `lstmad report` of a 2e6-row run). The line excludes its "\n"
// and a "\r" before it; a last line without "\n" is visited too, an empty file visits nothing. IoError
// naming the path when it cannot be read.
void read_lines(const std::string& path, const std::function<void(const char*, const char*, long)>& visit);
// The file that `path` names through symbolic links: each link in turn is replaced by its target (a
// relative target is read from the link's folder), `path` itself when it is no link. A link whose target
// does not exist leads to that name (writing it creates the target, as a shell's `>` does). IoError
// after 40 links (a loop).
std::string link_target(const std::string& path);
// Writes `content` to `path` atomically: path.tmp.<pid>.<n>, flush, fsync, rename over path, fsync of
// the folder. Where `path` is a symbolic link, its target is written so (link_target: the temporary file
// beside the target), and the link stays a link.
void write_atomic(const std::string& path, const std::string& content);
// write_atomic for text made piece by piece (a long series' result file is over 100 MB): pieces are
// written to the temporary file as they come, through a 1 MB buffer, and commit() flushes, fsyncs and
// renames it over `path` (a symbolic link's target, as write_atomic). Destroyed without commit() (an
// exception on the way), the temporary file is removed and `path` is untouched.
class AtomicWriter {
 public:
  explicit AtomicWriter(std::string path);
  ~AtomicWriter();
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;
  // The buffer to append to; it is written out once it passes 1 MB (call flush_if_full() after appends).
  std::string& buffer() { return buf_; }
  void flush_if_full() {
    if (buf_.size() >= kBlock) write_out();
  }
  // Writes the buffer, then `size` bytes from `data` directly.
  void write(const char* data, size_t size);
  void commit();

 private:
  static constexpr size_t kBlock = size_t{1} << 20;
  void write_out() { write(nullptr, 0); }
  std::string path_, target_, tmp_, buf_;
  int fd_ = -1;
};
// A file that a user names for a command's output (--out FILE). A regular file, or a name that is not
// there yet, is written as AtomicWriter does (a symbolic link's target; nothing changes at the path until
// commit()); missing folders above a new file are made. A named pipe (FIFO), a character or block device
// or a socket is written as a stream, as a shell's `>` does: no temporary file beside it, no rename over
// it (a pipe a reader waits on, /dev/null); opening a FIFO waits for its reader. /dev/stdout, /dev/fd/N
// and /proc/self/fd/N are written through that descriptor of this process, whatever it holds. A folder
// is refused: ConfigError "OPTION PATH is a folder; give a file name" (OPTION as "--out").
class OutputFile {
 public:
  OutputFile(const std::string& path, const std::string& option);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  void write(const char* data, size_t size);
  // The atomic rename of a file; the close of a stream (IoError when either fails).
  void commit();

 private:
  std::string path_;
  std::unique_ptr<AtomicWriter> atomic_;
  int fd_ = -1;
};
// OutputFile for text made whole: opens, writes `content`, commits.
void write_output(const std::string& path, const std::string& option, const std::string& content);
// Whether a file name is one of write_atomic's temporary files (NAME.tmp.<pid>.<n>): a write that never
// finished, so never a result. Only that exact ending counts (a series file may have ".tmp." in its
// name); `pid`, when given, receives the writer's process id.
bool unfinished_write_name(const std::string& name, long* pid = nullptr);
// Whether the process that made an unfinished write (its pid from unfinished_write_name) has ended: no
// process has that id (a pid out of range: none can). A reused id reads as alive, which leaves a stale
// temporary file, never removes a live write.
bool writer_gone(long pid);
// The file that `name` was an unfinished write of (NAME of NAME.tmp.<pid>.<n>) when its writer has
// ended, so that it can be removed; "" for any other name, and for a write still in flight.
std::string abandoned_write_of(const std::string& name);
// Creates a folder and its parents; IoError naming the path when it cannot (read-only, full, a file).
void make_dirs(const std::string& path);
bool exists(const std::string& path);
// Every regular file below `root` at any depth (links followed, each real folder once), as paths
// relative to it with "/" under the names found there (a link's own name, never "../"), sorted. IoError
// when root is not a folder or the listing fails; a folder that cannot be read is skipped, not fatal.
// Hidden entries (a name starting with ".": .git/, ._name) are left out, folders with all they hold;
// `hidden`, when given, counts them. So is each folder below root for which `leave_out` (given the
// folder's path as found) is true; `left_out`, when given, gets those folders relative to root.
std::vector<std::string> list_below(const std::string& root, int* hidden = nullptr,
                                    const std::function<bool(const std::string&)>& leave_out = {},
                                    std::vector<std::string>* left_out = nullptr);
// Whether a file or folder name is hidden (starts with "."): no data, wherever a corpus or a results
// folder is listed (.git/, .ipynb_checkpoints/, a macOS copy's "._name" beside each file).
inline bool hidden_name(const std::string& name) {
  return !name.empty() && name[0] == '.';
}
// SHA-256 of a file's bytes as lowercase hex.
std::string sha256_file(const std::string& path);
std::string sha256(const std::string& bytes);

}  // namespace lstmad::files
