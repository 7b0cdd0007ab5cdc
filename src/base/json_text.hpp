// JSON text that never throws on invalid UTF-8: file and folder names from old MIDI archives are
// often Latin-1, and a training run must not die at the end of an epoch because of one.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace etude {

// j.dump(indent) with every invalid UTF-8 byte replaced by U+FFFD.
inline std::string utf8_dump(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace etude
