// The n-gram index as text for model-file metadata (safetensors metadata holds only strings):
// standard base64 (RFC 4648, padded) of NgramIndex::serialize().
#include <array>

#include "base/error.hpp"
#include "corpus/ngram_index.hpp"

namespace etude {
namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string NgramIndex::to_metadata() const {
  const std::vector<uint8_t> b = serialize();
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  for (size_t i = 0; i < b.size(); i += 3) {
    const uint32_t v = uint32_t(b[i]) << 16 | (i + 1 < b.size() ? uint32_t(b[i + 1]) << 8 : 0) |
                       (i + 2 < b.size() ? b[i + 2] : 0);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += i + 1 < b.size() ? kAlphabet[v >> 6 & 63] : '=';
    out += i + 2 < b.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

NgramIndex NgramIndex::from_metadata(const std::string& text, const std::string& name) {
  std::array<int, 256> value;
  value.fill(-1);
  for (int i = 0; i < 64; ++i) value[uint8_t(kAlphabet[i])] = i;
  if (text.size() % 4 != 0)
    throw FormatError(name + ": n-gram index text has " + std::to_string(text.size()) +
                      " characters, not a multiple of 4 (not base64; re-save the model)");
  std::vector<uint8_t> bytes;
  bytes.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      const int d = value[uint8_t(c)];
      if (c == '=' && k >= 2 && i + 4 == text.size()) {
        ++pad;
        v <<= 6;
        continue;
      }
      if (d < 0 || pad)
        throw FormatError(name + ": n-gram index text has a non-base64 character at offset " +
                          std::to_string(i + k) + " (re-save the model)");
      v = v << 6 | uint32_t(d);
    }
    bytes.push_back(uint8_t(v >> 16));
    if (pad < 2) bytes.push_back(uint8_t(v >> 8));
    if (pad < 1) bytes.push_back(uint8_t(v));
  }
  return deserialize(bytes, name);
}

}  // namespace etude
