// Input quoted in error messages, kept to one short line: at most ~200 bytes, control characters
// and bytes that are not UTF-8 written as \xNN; nlohmann's JSON errors (which quote the whole token,
// raw bytes included) rewrapped the same way. Every parser of input JSON goes through here.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace etude {

inline constexpr size_t kMaxQuoted = 200;

// `text` as one printable line: valid UTF-8 kept, every other byte below 0x20, 0x7f or not part of
// a valid UTF-8 sequence as \xNN, a backslash as \\. Longer than max bytes: the first max bytes
// (escapes counted) and "... (N bytes)".
std::string quote_input(std::string_view text, size_t max = kMaxQuoted);
// The same for a message already made of quoted parts (an error's what()): backslashes are kept,
// so what quote_input escaped is not escaped twice.
std::string one_line(std::string_view text, size_t max);

// A nlohmann exception as one short line: the "[json.exception.parse_error.101]" tag dropped, the
// token it quotes cut to its last 40 bytes, all of it escaped and at most ~150 bytes.
std::string json_error_text(const nlohmann::json::exception& e);

// Parses JSON read from input. A FormatError "<what>: not valid JSON (<json_error_text>)" otherwise.
nlohmann::json parse_json_input(std::string_view text, const std::string& what);

}  // namespace etude
