#include "core/json_file.hpp"

#include <cmath>
#include <cstdlib>
#include <map>
#include <utility>

#include "core/files.hpp"

namespace lstmad {
namespace {
using json = nlohmann::json;

bool number_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// Walks text whose syntax nlohmann accepted (it may have refused a number's range) and finds the first
// key repeated within one object or the first number beyond double range. Valid syntax keeps the walk
// simple: strings hold no raw newline, and a string right after '{' or ',' in an object is a key.
bool find_problem(const std::string& t, JsonProblem& problem) {
  struct Frame {
    bool object = false;
    std::string path;
    size_t index = 0;        // arrays: the element being read
    bool expect_key = true;  // objects: the next string is a key
    std::string key;
    std::map<std::string, std::pair<long, long>> seen;  // key -> line, column of its first occurrence
  };
  std::vector<Frame> stack;
  long line = 1;
  size_t line_start = 0;
  auto column = [&](size_t i) { return static_cast<long>(i - line_start) + 1; };
  auto value_path = [&]() -> std::string {  // the path of the value read next
    if (stack.empty()) return "";
    const Frame& f = stack.back();
    if (f.object) return f.path.empty() ? f.key : f.path + "." + f.key;
    return f.path + "[" + std::to_string(f.index) + "]";
  };
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '\n') {
      ++line;
      line_start = i + 1;
    } else if (c == '{' || c == '[') {
      Frame f;
      f.object = c == '{';
      f.path = value_path();
      stack.push_back(std::move(f));
    } else if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
    } else if (c == ',') {
      if (!stack.empty() && stack.back().object)
        stack.back().expect_key = true;
      else if (!stack.empty())
        ++stack.back().index;
    } else if (c == '"') {
      const size_t start = i;
      for (++i; i < t.size() && t[i] != '"'; ++i)
        if (t[i] == '\\') ++i;
      if (stack.empty() || !stack.back().object || !stack.back().expect_key) continue;
      Frame& f = stack.back();
      f.expect_key = false;
      f.key = json::parse(t.substr(start, i - start + 1)).get<std::string>();  // escapes decoded
      const auto [first, fresh] = f.seen.emplace(f.key, std::make_pair(line, column(start)));
      if (!fresh) {
        problem = {line, column(start), value_path(),
                   "key given twice in one object (first at line " + std::to_string(first->second.first) +
                       ", column " + std::to_string(first->second.second) + "); expected each key once",
                   false};
        return true;
      }
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const size_t start = i;
      while (i + 1 < t.size() && number_char(t[i + 1])) ++i;
      const std::string token = t.substr(start, i - start + 1);
      if (!std::isfinite(std::strtod(token.c_str(), nullptr))) {
        problem = {line, column(start), value_path(),
                   "expected a number within about +-1.8e308 (a double), got " + token, false};
        return true;
      }
    }
  }
  return false;
}

// Sets problem's line and column (1-based) to those of byte `offset` of text.
void locate(const std::string& text, size_t offset, JsonProblem& problem) {
  problem.line = 1;
  problem.column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++problem.line;
      problem.column = 1;
    } else {
      ++problem.column;
    }
  }
}

}  // namespace

std::optional<json> parse_json_strict(const std::string& text, JsonProblem& problem) {
  // nlohmann's parser takes a NUL byte for the end of the input and ignores what follows it, so a file
  // with NULs in it (the zero-filled tail that a crash can leave) would be read as its text before them.
  // JSON has no raw NUL (a string holds one as \u0000): refused, located.
  if (const size_t nul = text.find('\0'); nul != std::string::npos) {
    problem = {1, 1, "", "a NUL byte, which JSON text cannot hold (a damaged file?)", true};
    locate(text, nul, problem);
    return std::nullopt;
  }
  // Nesting past any document lstmad reads or writes (a config is four levels deep) is refused before
  // the walks below, which recurse per level and would exhaust the stack on a hostile file.
  {
    constexpr int kMaxDepth = 64;
    int depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (in_string) {
        if (escaped)
          escaped = false;
        else if (c == '\\')
          escaped = true;
        else if (c == '"')
          in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '[' || c == '{') {
        if (++depth > kMaxDepth) {
          problem = {1, 1, "", "nested deeper than " + std::to_string(kMaxDepth) + " levels", false};
          locate(text, i, problem);
          return std::nullopt;
        }
      } else if (c == ']' || c == '}') {
        --depth;
      }
    }
  }
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    // The byte offset as line:column.
    const size_t off = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    problem = {1, 1, "", std::string("malformed JSON (") + e.what() + ")", true};
    locate(text, off, problem);
    return std::nullopt;
  } catch (const json::exception& e) {  // a number beyond double range, located by the walk below
    if (!find_problem(text, problem))
      problem = {1, 1, "", std::string("unreadable JSON (") + e.what() + ")", false};
    return std::nullopt;
  }
  if (find_problem(text, problem)) return std::nullopt;
  return j;
}

json parse_json_text(const std::string& text, const std::string& source) {
  JsonProblem p;
  auto j = parse_json_strict(text, p);
  if (!j) throw DataError(source, p.line, (p.path.empty() ? "" : p.path + ": ") + p.what);
  return std::move(*j);
}

json read_json_file(const std::string& path) {
  return parse_json_text(files::read(path), path);
}

const json& json_at(const json& doc, const std::vector<std::string>& keys, const std::string& file) {
  const json* cur = &doc;
  std::string path;
  for (const auto& k : keys) {
    if (!cur->is_object())
      throw DataError(
          file, 0,
          (path.empty() ? "the document" : path) + ": expected an object, got " + json_excerpt(*cur));
    path += (path.empty() ? "" : ".") + k;
    if (!cur->contains(k)) throw DataError(file, 0, path + ": missing");
    cur = &(*cur)[k];
  }
  return *cur;
}

std::string json_key_path(const std::vector<std::string>& keys) {
  std::string path;
  for (const auto& k : keys) path += (path.empty() ? "" : ".") + k;
  return path;
}

std::string json_excerpt(const json& v) {
  constexpr std::size_t kMost = 80;
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMost) text = text.substr(0, kMost) + "...";
  return text;
}

namespace json_detail {

void wrong_type(const json& v, const std::string& path, const std::string& file, const char* expected) {
  throw DataError(file, 0,
                  (path.empty() ? "the document" : path) + ": expected " + expected + ", got " + json_excerpt(v));
}

void out_of_range(const json& v, const std::string& path, const std::string& file, const std::string& lowest,
                  const std::string& highest) {
  throw DataError(file, 0,
                  path + ": expected an integer from " + lowest + " to " + highest + ", got " + json_excerpt(v));
}

}  // namespace json_detail

}  // namespace lstmad
