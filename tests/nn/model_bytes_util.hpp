// Helpers for the model file tests: a model file's header taken apart and put back around the same
// data section, and the refusal of a byte string as a model ("" when it loads).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "nn/model_io.hpp"

namespace etude::nn::testing {

inline uint64_t header_length(const std::vector<uint8_t>& b) {
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  return n;
}

inline nlohmann::json header_of(const std::vector<uint8_t>& b) {
  return nlohmann::json::parse(b.begin() + 8, b.begin() + 8 + std::ptrdiff_t(header_length(b)));
}

// The same file with a new header (padded, length field rewritten), data section unchanged.
inline std::vector<uint8_t> with_header(const std::vector<uint8_t>& b, std::string h) {
  h.append((8 - h.size() % 8) % 8, ' ');
  std::vector<uint8_t> out(8);
  out.reserve(b.size() + h.size());  // (also keeps GCC 12's false -Warray-bounds off the inserts)
  const uint64_t len = h.size();
  std::memcpy(out.data(), &len, 8);
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), b.begin() + 8 + std::ptrdiff_t(header_length(b)), b.end());
  return out;
}

// decode_model's FormatError for the bytes as "m.safetensors", or "" when they load.
inline std::string load_error(const std::vector<uint8_t>& bytes) {
  try {
    decode_model(bytes, "m.safetensors");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

}  // namespace etude::nn::testing
