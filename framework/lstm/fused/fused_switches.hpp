// The fused engine's environment switches (docs/kernels.md, "What the engine takes"), read in one way: a
// path on by default is turned off by NAME=0, a path off by default is turned on by NAME=1, and any other
// value (or none) keeps the default.
#pragma once
#include <cstdlib>
#include <string>

namespace lstmad {

inline bool fused_switch(const char* name, bool by_default) {
  const char* v = std::getenv(name);
  if (v == nullptr) return by_default;
  const std::string s(v);
  return by_default ? s != "0" : s == "1";
}

}  // namespace lstmad
