// Names as people type them: style names are matched without regard to case ("chopin" finds the
// row "Chopin"), in training, composing and judging alike.
#pragma once
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace etude {

inline std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}
inline bool same_name(std::string_view a, std::string_view b) { return lower_ascii(a) == lower_ascii(b); }
// The index of `name` in `names` (case-insensitive), or -1.
inline int find_name(const std::vector<std::string>& names, std::string_view name) {
  for (size_t i = 0; i < names.size(); ++i)
    if (same_name(names[i], name)) return int(i);
  return -1;
}

}  // namespace etude
