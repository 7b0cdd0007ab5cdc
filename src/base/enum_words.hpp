// Enums that files and the API write as words: one table per enum, read both ways, so the words
// of an enum stand in one place and code compares the enum, never the text.
#pragma once
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace etude {

template <class Enum, size_t N>
struct EnumWords {
  std::array<std::pair<Enum, std::string_view>, N> table;

  // The value's word ("" for a value the table lacks).
  constexpr std::string_view text(Enum value) const {
    for (const auto& [v, word] : table)
      if (v == value) return word;
    return {};
  }
  // The value of a word; nullopt for any other text.
  constexpr std::optional<Enum> parse(std::string_view word) const {
    for (const auto& [v, w] : table)
      if (w == word) return v;
    return std::nullopt;
  }
};

}  // namespace etude
