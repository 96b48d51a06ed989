// libFuzzer target: the CSV reader (NAB's layout and the generic one, its label runs as they are, as NAB's
// windows and as text labels), the label-window reader, the
// timestamp patterns of data.csv.time_format and the UCR archive's value and file-name parsers on
// arbitrary bytes. Bad input must
// end in lstmad::Error (with its file and line), never a crash, hang, leak or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "core/log.hpp"
#include "data/csv_reader.hpp"
#include "data/labels.hpp"
#include "data/timestamp.hpp"
#include "data/ucr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = (lstmad::log::set_level(lstmad::log::Level::Off), true);
  (void)quiet;
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    lstmad::Series s = lstmad::parse_series_csv(text, "fuzz.csv", "cat/fuzz.csv");
    // Windows built from the file's own first and last timestamps must attach or fail cleanly.
    if (s.rows() > 0) {
      lstmad::WindowTexts w{{std::string(s.timestamps.front()), std::string(s.timestamps.back())}};
      try {
        lstmad::attach_windows(s, w);
      } catch (const lstmad::Error&) {
      }
    }
  } catch (const lstmad::Error&) {
  }
  // The generic layout: named time and label columns; label runs as windows, NAB's windows around them,
  // and text labels. Windows stay inside the series, ordered and apart.
  for (int variant = 0; variant < 3; ++variant) {
    try {
      lstmad::CsvColumns generic;
      generic.nab = false;
      generic.label = "label";
      if (variant == 1) generic.label_windows = "nab";
      if (variant == 2) generic.anomaly_labels = {"Attack", "-1"};
      const lstmad::Series s = lstmad::parse_series_csv(text, "fuzz.csv", "cat/fuzz.csv", nullptr, generic);
      for (std::size_t k = 0; k < s.windows.size(); ++k) {
        const auto& w = s.windows[k];
        if (w.start < 0 || w.end < w.start || w.end >= s.rows()) __builtin_trap();
        if (k > 0 && w.start <= s.windows[k - 1].end) __builtin_trap();
      }
    } catch (const lstmad::Error&) {
    }
  }
  // Time patterns: the first line is the pattern (checked first, as validate does), the rest a field.
  const std::size_t nl = text.find('\n');
  if (nl != std::string::npos) {
    const std::string pattern = text.substr(0, nl);
    if (lstmad::timestamp_pattern_error(pattern).empty())
      if (const auto us = lstmad::parse_timestamp_pattern_us(std::string_view(text).substr(nl + 1), pattern))
        if (lstmad::format_timestamp_us(*us).empty()) __builtin_trap();
  }
  try {
    (void)lstmad::parse_ucr_values(text, "fuzz.txt");
  } catch (const lstmad::Error&) {
  }
  // Any name either parses into numbers that are all positive or is refused.
  if (const auto f = lstmad::parse_ucr_file_name(text))
    if (f->train_end <= 0 || f->begin <= 0 || f->end <= 0 || f->name.empty()) __builtin_trap();
  return 0;
}
