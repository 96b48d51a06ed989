// Strict JSON reading: nlohmann's parser keeps only the last of two equal keys in one object and throws
// bare library exceptions. Here a repeated key, a number beyond double range or malformed text is a
// problem with a line, a column and the JSON path, and a file's problems are errors naming the file.
#pragma once
#include <cstdint>
#include <limits>
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

// Parses text strictly; DataError naming `source`, the line and the JSON path of the problem otherwise.
nlohmann::json parse_json_text(const std::string& text, const std::string& source);

// Reads and parses a JSON file strictly: IoError when it cannot be read, DataError naming the file, the
// line and the JSON path otherwise.
nlohmann::json read_json_file(const std::string& path);

// The value under `keys` of a document read from `file`; DataError naming the file and the dotted key
// when it is missing, or when a value on the way is not an object.
const nlohmann::json& json_at(const nlohmann::json& doc, const std::vector<std::string>& keys,
                              const std::string& file);

// `v` (found at `path` in `file`) as T: bool, an integer type (in its range; unsigned ones not negative),
// double, std::string, or a std::vector of those. DataError naming the file, the path ("a.b[3]" for a
// list's element), what was expected and the value given otherwise: nlohmann's own exceptions name
// neither, and its get<int>() silently truncates a number out of range.
template <class T>
T json_as(const nlohmann::json& v, const std::string& path, const std::string& file);

// `v` as JSON text for an error message, cut short: a damaged file may hold a long list where a number
// belongs.
std::string json_excerpt(const nlohmann::json& v);

namespace json_detail {
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};
[[noreturn]] void wrong_type(const nlohmann::json& v, const std::string& path, const std::string& file,
                             const char* expected);
[[noreturn]] void out_of_range(const nlohmann::json& v, const std::string& path, const std::string& file,
                               const std::string& lowest, const std::string& highest);
}  // namespace json_detail

template <class T>
T json_as(const nlohmann::json& v, const std::string& path, const std::string& file) {
  using json_detail::out_of_range;
  using json_detail::wrong_type;
  if constexpr (json_detail::is_vector<T>::value) {
    if (!v.is_array()) wrong_type(v, path, file, "a list");
    T out;
    out.reserve(v.size());
    for (std::size_t k = 0; k < v.size(); ++k)
      out.push_back(json_as<typename T::value_type>(v[k], path + "[" + std::to_string(k) + "]", file));
    return out;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) wrong_type(v, path, file, "true or false");
    return v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer())
      wrong_type(v, path, file, std::is_signed_v<T> ? "an integer" : "a non-negative integer");
    const bool in_range =
        v.is_number_unsigned()
            ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())
            : std::is_signed_v<T> &&
                  v.get<std::int64_t>() >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
                  v.get<std::int64_t>() <= static_cast<std::int64_t>(std::numeric_limits<T>::max());
    if (!in_range)
      out_of_range(v, path, file, std::to_string(std::numeric_limits<T>::min()),
                   std::to_string(std::numeric_limits<T>::max()));
    return v.get<T>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) wrong_type(v, path, file, "a number");
    return v.get<T>();
  } else {
    static_assert(std::is_same_v<T, std::string>, "json_as: bool, integers, floating point, string, vectors");
    if (!v.is_string()) wrong_type(v, path, file, "a string");
    return v.get<std::string>();
  }
}

// The dotted path of `keys` as errors name it ("a.b.c").
std::string json_key_path(const std::vector<std::string>& keys);

// The value under `keys` as T (json_at, then json_as).
template <class T>
T json_get(const nlohmann::json& doc, const std::vector<std::string>& keys, const std::string& file) {
  return json_as<T>(json_at(doc, keys, file), json_key_path(keys), file);
}

// As json_get, with `fallback` when the last key is absent (a field that older files lack); a value that
// is present must still be a T.
template <class T>
T json_get_or(const nlohmann::json& doc, const std::vector<std::string>& keys, const std::string& file,
              T fallback) {
  const std::vector<std::string> parent(keys.begin(), keys.end() - 1);
  const nlohmann::json& p = json_at(doc, parent, file);
  if (p.is_object() && !p.contains(keys.back())) return fallback;  // else json_get names what is wrong
  return json_get<T>(doc, keys, file);
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
