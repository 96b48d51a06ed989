// RFC 4180 field splitting shared by the CSV readers (series files in data/csv_reader.cpp, NASA's
// labeled_anomalies.csv in data/nasa.cpp). A field whose first non-blank character is `"` is quoted: it
// runs to the next lone quote and may hold commas, line breaks and doubled quotes `""` (one quote in the
// value); only blanks may follow its closing quote. Any other field runs to the next comma or line break
// as it is, blanks included (the readers trim). Fields are views, so splitting a record allocates nothing
// once the record's buffers have grown.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lstmad {

struct CsvRecord {
  // Views into the text split, or into `unescaped` for a quoted field that held doubled quotes; valid
  // until the next split into this record (and while the text lives).
  std::vector<std::string_view> fields;
  std::string unescaped;
};

enum class CsvSplit {
  Ok,
  OpenQuote,       // the text ends inside a quoted field
  TextAfterQuote,  // something other than blanks, a comma or a line break follows a closing quote
};

// Splits the record that starts at text[pos] into `rec` and moves pos past it: past the line break that
// ends it (LF, CRLF or CR; a line break inside quotes is part of the field) or to the end of the text.
// On an error, rec.fields holds the fields before the bad one and pos is where the bad field starts
// (OpenQuote) or where the stray text is (TextAfterQuote).
CsvSplit split_csv_record(std::string_view text, size_t& pos, CsvRecord& rec);

// Splits one line that holds no CR or LF (a reader that splits lines itself): a quote still open at its
// end is OpenQuote.
CsvSplit split_csv_line(std::string_view line, CsvRecord& rec);

// A field of a data file as an error message quotes it: in double quotes, cut after `max_bytes` bytes
// (at a character's end, "..." marking the cut), every byte that is not part of valid UTF-8 and every
// control character written as \xNN. A message is then valid UTF-8 and one line, whatever the file held
// (a Latin-1 degree sign, say), so results.csv, the logs and the report stay readable as UTF-8.
std::string quote_field(std::string_view field, size_t max_bytes = 40);

// strtod of a whole field: true, with the value in `out`, when the field is one number and nothing else
// (strtod's own forms: also "nan", "inf", hexadecimal; callers refuse what they do not take). Leading
// white space is not skipped. Any length: strtod reads a terminated copy (on the stack when short).
bool parse_whole_number(std::string_view field, double& out);

}  // namespace lstmad
