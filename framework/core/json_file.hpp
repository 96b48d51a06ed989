// Strict JSON reading: nlohmann's parser keeps only the last of two equal keys in one object and throws
// bare library exceptions. Here a repeated key, a number beyond double range or malformed text is a
// problem with a line, a column and the JSON path, and a file's problems are errors naming the file.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
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

// The value under `keys` of a document read from `file`; DataError naming the file and the dotted key
// when it is missing.
const nlohmann::json& json_at(const nlohmann::json& doc, const std::vector<std::string>& keys,
                              const std::string& file);

// The same value as T; DataError naming the file, the key, the expected and the given value when it has
// another type.
template <class T>
T json_get(const nlohmann::json& doc, const std::vector<std::string>& keys, const std::string& file) {
  const nlohmann::json& v = json_at(doc, keys, file);
  bool ok = true;
  const char* expected = "";
  if constexpr (std::is_same_v<T, bool>) {
    ok = v.is_boolean();
    expected = "true or false";
  } else if constexpr (std::is_integral_v<T>) {
    ok = v.is_number_integer();
    expected = "an integer";
  } else if constexpr (std::is_floating_point_v<T>) {
    ok = v.is_number();
    expected = "a number";
  } else if constexpr (std::is_same_v<T, std::string>) {
    ok = v.is_string();
    expected = "a string";
  }
  std::string path;
  for (const auto& k : keys) path += (path.empty() ? "" : ".") + k;
  if (!ok) throw DataError(file, 0, path + ": expected " + expected + ", got " + v.dump());
  try {
    return v.get<T>();
  } catch (const nlohmann::json::exception&) {  // e.g. an integer out of T's range
    throw DataError(file, 0, path + ": expected " + expected + ", got " + v.dump());
  }
}

// The text of `j` for a file, ending in a newline. Strings that are not valid UTF-8 (the bytes of a data
// file quoted in an error message, a file named in another encoding) have each invalid byte replaced
// by U+FFFD: nlohmann's dump() would throw instead, and the cell or manifest would never be written.
// Any nlohmann document type (json, ordered_json), taken as it is rather than converted.
template <class Json>
std::string json_text(const Json& j, int indent = 2) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace lstmad
