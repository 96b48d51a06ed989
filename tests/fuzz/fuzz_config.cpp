// libFuzzer target: the config parser and validator on arbitrary bytes. Malformed JSON and invalid
// configs must end in ConfigError (or nlohmann's parse error), never a crash or undefined behaviour;
// a config that validates must expand to settings.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "experiments/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  lstmad::json user;
  try {
    user = lstmad::json::parse(text);
  } catch (const lstmad::json::exception&) {
    return 0;
  }
  try {
    lstmad::json resolved = lstmad::resolve_config(user, "fuzz.json");
    auto settings = lstmad::expand_settings(resolved);
    if (settings.empty()) __builtin_trap();
  } catch (const lstmad::ConfigError&) {
  }
  return 0;
}
