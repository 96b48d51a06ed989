#include "data/timestamp.hpp"

#include <cstdio>

namespace lstmad {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's well-known algorithm for the proleptic Gregorian calendar.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

static void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

static bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

// A real day of the proleptic Gregorian calendar (month 1-12, 29 February in leap years only).
static bool valid_date(int Y, int M, int D) {
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1]) return false;
  const bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
  return !(M == 2 && D == 29 && !leap);
}

std::optional<int64_t> parse_timestamp_us(std::string_view s) {
  int Y, M, D, h, m, sec;
  if (s.size() < 19) return std::nullopt;
  if (!digits(s, 0, 4, Y) || s[4] != '-' || !digits(s, 5, 2, M) || s[7] != '-' || !digits(s, 8, 2, D) ||
      (s[10] != ' ' && s[10] != 'T') || !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, m) ||
      s[16] != ':' || !digits(s, 17, 2, sec))
    return std::nullopt;
  if (!valid_date(Y, M, D) || h > 23 || m > 59 || sec > 59)
    return std::nullopt;  // no leap second: Python datetime (and so NAB) rejects :60
  int64_t frac = 0;
  if (s.size() > 19) {
    if (s[19] != '.' || s.size() == 20 || s.size() > 26) return std::nullopt;
    int64_t scale = 100000;
    for (size_t i = 20; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      frac += (s[i] - '0') * scale;
      scale /= 10;
    }
  }
  int64_t days = days_from_civil(Y, static_cast<unsigned>(M), static_cast<unsigned>(D));
  return ((days * 24 + h) * 60 + m) * 60 * int64_t(1000000) + int64_t(sec) * 1000000 + frac;
}

std::string timestamp_pattern_error(std::string_view pattern) {
  std::string seen;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') continue;
    if (i + 1 == pattern.size()) return "ends in a lone %";
    const char c = pattern[++i];
    if (c == '%') continue;
    if (std::string_view("YmdHMSf").find(c) == std::string_view::npos)
      return std::string("unknown directive %") + c + " (known: %Y %m %d %H %M %S %f %%)";
    if (seen.find(c) != std::string::npos) return std::string("directive %") + c + " given twice";
    seen += c;
  }
  if (seen.empty()) return "no directive (%Y %m %d %H %M %S %f)";
  return {};
}

std::optional<int64_t> parse_timestamp_pattern_us(std::string_view s, std::string_view pattern) {
  int Y = 1970, M = 1, D = 1, h = 0, m = 0, sec = 0;
  int64_t frac = 0;
  size_t at = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 == pattern.size() || pattern[i + 1] == '%') {
      if (at >= s.size() || s[at] != pattern[i]) return std::nullopt;
      ++at;
      if (pattern[i] == '%') ++i;  // "%%"
      continue;
    }
    const char c = pattern[++i];
    if (c == 'f') {
      const size_t from = at;
      int64_t scale = 100000;
      while (at < s.size() && s[at] >= '0' && s[at] <= '9' && at - from < 6) {
        frac += (s[at] - '0') * scale;
        scale /= 10;
        ++at;
      }
      if (at == from) return std::nullopt;
      continue;
    }
    const size_t n = c == 'Y' ? 4 : 2;
    int v = 0;
    if (!digits(s, at, n, v)) return std::nullopt;
    at += n;
    switch (c) {
      case 'Y': Y = v; break;
      case 'm': M = v; break;
      case 'd': D = v; break;
      case 'H': h = v; break;
      case 'M': m = v; break;
      case 'S': sec = v; break;
      default: return std::nullopt;
    }
  }
  if (at != s.size() || !valid_date(Y, M, D) || h > 23 || m > 59 || sec > 59) return std::nullopt;
  const int64_t days = days_from_civil(Y, static_cast<unsigned>(M), static_cast<unsigned>(D));
  return ((days * 24 + h) * 60 + m) * 60 * int64_t(1000000) + int64_t(sec) * 1000000 + frac;
}

std::string format_timestamp_us(int64_t us) {
  int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  int64_t frac = us - secs * 1000000;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02d:%02d:%02d", static_cast<long long>(y), m, d,
                static_cast<int>(rem / 3600), static_cast<int>((rem / 60) % 60), static_cast<int>(rem % 60));
  std::string out = buf;
  if (frac != 0) {
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(frac));
    out += buf;
  }
  return out;
}

}  // namespace lstmad
