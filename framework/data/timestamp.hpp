// NAB timestamps: "YYYY-MM-DD HH:MM:SS" (naive local time, compared as datetimes), with an optional
// fraction ".ffffff" as in the label files; and other fixed patterns for generic CSV files. Parsed to seconds since 1970-01-01 (proleptic Gregorian) plus
// microseconds. Hand-written rather than a date library: one fixed format, and it must be fast for the
// 365k rows of the corpus and strict about every field.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lstmad {

// Microseconds since 1970-01-01 00:00:00, or nullopt when the text is not a valid timestamp.
std::optional<int64_t> parse_timestamp_us(std::string_view text);
// A timestamp in a fixed pattern: %Y (4 digits), %m, %d, %H, %M, %S (2 digits each), %f (a fraction of 1
// to 6 digits), %% (a percent sign); every other character must appear as it is, and the whole text must
// match. Fields not in the pattern are those of 1970-01-01 00:00:00. Invalid dates (02-30) are nullopt.
std::optional<int64_t> parse_timestamp_pattern_us(std::string_view text, std::string_view pattern);
// Empty when `pattern` is one that parse_timestamp_pattern_us takes (known directives, each at most once);
// otherwise what is wrong with it.
std::string timestamp_pattern_error(std::string_view pattern);

// Formats microseconds as "YYYY-MM-DD HH:MM:SS" (the fraction is dropped when zero, else ".ffffff").
std::string format_timestamp_us(int64_t us);
// The length of that text for a whole second of the years 0 to 9999.
constexpr std::size_t kWholeSecondTimestampChars = 19;
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

}  // namespace lstmad
