// FNV-1a 64-bit hashing of bytes, used for file content hashes, the train/validation split and
// n-gram keys. Stable across runs and machines (the corpus cache and model files rely on it).
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

namespace etude {

inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;

inline uint64_t fnv1a(std::span<const uint8_t> bytes, uint64_t h = kFnvOffset) {
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ull;
  return h;
}
inline uint64_t fnv1a(std::string_view text, uint64_t h = kFnvOffset) {
  return fnv1a(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), h);
}

}  // namespace etude
