// Strict JSON reading: nlohmann's parser keeps only the last of two equal keys in one object and throws
// bare library exceptions. Here a repeated key, a number beyond double range or malformed text is a
// problem with a line, a column and the JSON path, and a file's problems are errors naming the file.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace lstmad {

// Where and what: line and column are 1-based; path is dotted ("model.hidden", "grid.train.lr",
// "a[2].b"), empty for the top-level value.
struct JsonProblem {
  long line = 0;
  long column = 0;
  std::string path;
  std::string what;
  bool malformed = false;  // the text is no JSON at all (not a repeated key or a number's range)
};

// Parses `text`; on malformed text, a key repeated within one object or a number beyond double range
// returns nullopt and fills `problem`.
std::optional<nlohmann::json> parse_json_strict(const std::string& text, JsonProblem& problem);

// Reads and parses a JSON file strictly: IoError when it cannot be read, DataError naming the file, the
// line and the JSON path otherwise.
nlohmann::json read_json_file(const std::string& path);

}  // namespace lstmad
