// One-line, bounded quoting of input in error messages; see input_text.hpp.
#include "base/input_text.hpp"

#include <cstdio>

#include "base/error.hpp"

namespace etude {
namespace {

// Length of the valid UTF-8 sequence (2-4 bytes) starting at text[i], or 0 (overlong forms,
// surrogates and code points above U+10FFFF are not valid).
size_t utf8_sequence(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
  else return 0;
  if (i + n > text.size() || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  return n;
}

std::string escaped(std::string_view text, size_t max, bool escape_backslash) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    std::string piece;
    size_t used = 1;
    if (c == '\\' && escape_backslash) {
      piece = "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      piece = char(c);
    } else if (size_t n = c >= 0x80 ? utf8_sequence(text, i) : 0; n > 0) {
      piece = text.substr(i, n), used = n;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", unsigned(c));
      piece = hex;
    }
    if (out.size() + piece.size() > max) break;
    out += piece;
    i += used;
  }
  if (i < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace

std::string quote_input(std::string_view text, size_t max) { return escaped(text, max, true); }

std::string one_line(std::string_view text, size_t max) { return escaped(text, max, false); }

std::string json_error_text(const nlohmann::json::exception& e) {
  std::string_view s = e.what();
  if (s.starts_with("[json.exception.")) {
    if (const size_t p = s.find("] "); p != std::string_view::npos) s.remove_prefix(p + 2);
  }
  std::string out;
  // "parse error at line L, column C: REASON; last read: 'TOKEN'; expected X": the byte offset is
  // what a reader of a one-line file needs, and the token (all of a long string) is cut to its end.
  if (const auto* pe = dynamic_cast<const nlohmann::json::parse_error*>(&e); pe && s.starts_with("parse error")) {
    if (const size_t c = s.find(": "); c != std::string_view::npos) {
      out = "at byte " + std::to_string(pe->byte) + ": ";
      s.remove_prefix(c + 2);
    }
  }
  constexpr std::string_view kLastRead = "; last read: '";
  const size_t lr = s.find(kLastRead);
  if (lr == std::string_view::npos) return out + quote_input(s, 150);
  std::string_view token = s.substr(lr + kLastRead.size()), tail;
  if (const size_t q = token.rfind('\''); q != std::string_view::npos) tail = token.substr(q + 1), token = token.substr(0, q);
  const bool cut = token.size() > 24;
  if (cut) token = token.substr(token.size() - 24);
  const std::string_view reason = s.substr(0, lr);  // nlohmann's own words: cut without a byte count
  return out + (reason.size() > 90 ? quote_input(reason.substr(0, 87), 90) + "..." : quote_input(reason, 90)) +
         "; last read: '" + (cut ? "..." : "") + quote_input(token, 40) + "'" + quote_input(tail, 30);
}

nlohmann::json parse_json_input(std::string_view text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(what + ": not valid JSON (" + json_error_text(e) + ")");
  }
}

}  // namespace etude
