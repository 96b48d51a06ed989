#include "data/csv_fields.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace lstmad {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool ends_field(char c) {
  return c == ',' || c == '\n' || c == '\r';
}

// The first CR or LF at or after `from` (text.size() if none): two memchr calls bounded by the line, which
// are faster than a scan for either character.
size_t line_break(std::string_view text, size_t from) {
  const size_t lf = std::min(text.find('\n', from), text.size());
  return std::min(text.substr(0, lf).find('\r', from), lf);
}

// `one_line`: the text is one line without its line break (the caller split the lines), so the record
// ends at the end of the text and no line break need be searched for.
CsvSplit split(std::string_view text, size_t& pos, CsvRecord& rec, bool one_line) {
  rec.fields.clear();
  rec.unescaped.clear();
  const size_t n = text.size();
  const size_t record_start = pos;
  size_t i = pos;
  // Where the record ends, unless a quoted field runs past it.
  size_t eol = one_line ? n : line_break(text, i);
  for (;;) {
    size_t b = i;
    while (b < n && is_blank(text[b])) ++b;
    if (b < n && text[b] == '"') {
      size_t from = b + 1;  // start of the quoted text not yet taken
      size_t copied_at = std::string::npos;
      std::string_view value;
      for (;;) {
        const size_t close = text.find('"', from);
        if (close == std::string_view::npos) {
          pos = b;
          return CsvSplit::OpenQuote;
        }
        if (close + 1 < n && text[close + 1] == '"') {
          // The value differs from the text, so it is built in `unescaped`. Reserving the rest of the record
          // once, while nothing points into it, keeps earlier fields' views valid: the unescaped values
          // together are never longer than the text they come from.
          if (copied_at == std::string::npos) {
            if (rec.unescaped.empty()) rec.unescaped.reserve(n - record_start);
            copied_at = rec.unescaped.size();
          }
          rec.unescaped.append(text.substr(from, close + 1 - from));
          from = close + 2;
          continue;
        }
        if (copied_at == std::string::npos) {
          value = text.substr(b + 1, close - b - 1);
        } else {
          rec.unescaped.append(text.substr(from, close - from));
          value = std::string_view(rec.unescaped).substr(copied_at);
        }
        i = close + 1;
        break;
      }
      if (i > eol) eol = one_line ? n : line_break(text, i);
      while (i < n && is_blank(text[i])) ++i;
      if (i < n && !ends_field(text[i])) {
        pos = i;
        return CsvSplit::TextAfterQuote;
      }
      rec.fields.push_back(value);
    } else {
      const size_t e = std::min(text.substr(0, eol).find(',', b), eol);
      rec.fields.push_back(text.substr(i, e - i));
      i = e;
    }
    if (i >= n) break;
    if (text[i] == ',') {
      ++i;
      continue;
    }
    if (text[i] == '\r') ++i;
    if (i < n && text[i] == '\n') ++i;
    break;
  }
  pos = i;
  return CsvSplit::Ok;
}

}  // namespace

CsvSplit split_csv_record(std::string_view text, size_t& pos, CsvRecord& rec) {
  return split(text, pos, rec, false);
}

CsvSplit split_csv_line(std::string_view line, CsvRecord& rec) {
  size_t pos = 0;
  return split(line, pos, rec, true);
}

namespace {
// The length of the valid UTF-8 sequence at text[i] (1 to 4), or 0 where the byte starts none (a stray
// continuation byte, an overlong form, a surrogate, a code point above U+10FFFF, a cut sequence).
size_t utf8_length(std::string_view text, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the first continuation byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size() || b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  return n;
}
}  // namespace

std::string quote_field(std::string_view field, size_t max_bytes) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out = "\"";
  size_t i = 0;
  while (i < field.size() && i < max_bytes) {
    const size_t n = utf8_length(field, i);
    const auto c = static_cast<unsigned char>(field[i]);
    if (n == 0 || c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    } else {
      out.append(field.substr(i, n));
      i += n;
    }
  }
  if (i < field.size()) out += "...";
  return out + "\"";
}

bool parse_whole_number(std::string_view f, double& out) {
  if (f.empty() || std::isspace(static_cast<unsigned char>(f.front()))) return false;
  char small[72];
  std::string large;
  const char* text = small;
  if (f.size() < sizeof small) {
    f.copy(small, f.size());
    small[f.size()] = '\0';
  } else {
    large.assign(f);
    text = large.c_str();
  }
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end != text + f.size()) return false;
  out = v;
  return true;
}

}  // namespace lstmad
