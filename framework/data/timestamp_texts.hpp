// The timestamp text of every row of a series, as written in its file (NAB-format result files repeat
// them verbatim). All texts share one char buffer, and each row keeps only where its text ends: a NAB
// timestamp ("2014-04-01 00:00:00", 19 chars) is longer than std::string's in-object buffer, so a
// std::vector<std::string> cost 32 bytes of string plus a 32-byte heap chunk a row, against 19 + 8 here.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lstmad {

class TimestampTexts {
 public:
  std::size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }

  // Room for `rows` texts of `bytes` chars in all, so that a reader that knows its row count (or a bound
  // on it) fills the buffers without reallocating them.
  void reserve(std::size_t rows, std::size_t bytes) {
    ends_.reserve(rows);
    chars_.reserve(bytes);
  }
  void push_back(std::string_view text) {
    chars_.append(text.data(), text.size());
    ends_.push_back(chars_.size());
  }
  void clear() {
    chars_.clear();
    ends_.clear();
  }

  // Valid until the next push_back, reserve or clear (the buffer may move).
  std::string_view operator[](std::size_t row) const {
    const std::size_t begin = row == 0 ? 0 : ends_[row - 1];
    return std::string_view(chars_.data() + begin, ends_[row] - begin);
  }
  // The heap the texts hold (for sizing a memory budget).
  std::size_t heap_bytes() const { return chars_.capacity() + ends_.capacity() * sizeof(std::size_t); }
  std::string_view front() const { return (*this)[0]; }
  std::string_view back() const { return (*this)[ends_.size() - 1]; }

  // The same texts in the same order (equal ends and chars say exactly that).
  friend bool operator==(const TimestampTexts& a, const TimestampTexts& b) {
    return a.ends_ == b.ends_ && a.chars_ == b.chars_;
  }
  friend bool operator!=(const TimestampTexts& a, const TimestampTexts& b) { return !(a == b); }

 private:
  std::string chars_;  // every text, back to back, no separators (a text may be empty)
  // End of each row's text in chars_. An end is at most chars_.size(), itself a size_t, so no row count
  // can overflow it; 32-bit ends would wrap at 4 GiB of text, which 226 million 19-char rows reach, far
  // short of an int's 2^31 - 1 rows.
  std::vector<std::size_t> ends_;
};

}  // namespace lstmad
