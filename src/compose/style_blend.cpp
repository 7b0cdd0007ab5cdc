// Style names and blends of conditioned models; see style_blend.hpp.
#include "compose/style_blend.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/error.hpp"
#include "base/names.hpp"
#include "compose/style_model.hpp"
#include "generate/sample_streams.hpp"

namespace etude {
namespace fs = std::filesystem;

namespace {
std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}
std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}
struct Part {
  std::string name;
  float weight = 1.0f;
};
std::vector<Part> parse_blend(const std::string& text) {
  std::vector<Part> parts;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = trim(text.substr(at, comma - at));
    const size_t colon = item.find(':');
    Part p{trim(item.substr(0, colon)), 1.0f};
    if (p.name.empty())
      throw InvalidArgument("style blend '" + text.substr(0, 200) + "': an empty style name (write chopin:0.7,pop:0.3)");
    if (colon != std::string::npos) {
      const std::string w = trim(item.substr(colon + 1));
      char* end = nullptr;
      const double v = w.empty() ? NAN : std::strtod(w.c_str(), &end);
      if (w.empty() || *end != '\0' || !std::isfinite(v) || v < 0)
        throw InvalidArgument("style blend: the weight '" + w.substr(0, 40) + "' of " + p.name +
                              " is not a number >= 0 (write chopin:0.7,pop:0.3)");
      p.weight = float(v);
    }
    parts.push_back(p);
    at = comma + 1;
  }
  return parts;
}
}  // namespace

std::vector<std::string> blend_names(const std::string& text) {
  std::vector<std::string> names;
  for (const Part& p : parse_blend(text)) names.push_back(p.name);
  return names;
}

std::vector<float> style_weights(const std::vector<std::string>& styles, const std::string& text) {
  if (styles.empty()) throw InvalidArgument("this model has no style rows; compose with it without a style");
  if (trim(text).empty()) return even_style_weights(styles.size());
  std::vector<float> w(styles.size(), 0.0f);
  double sum = 0;
  for (const Part& p : parse_blend(text)) {
    const int found = find_name(styles, p.name);
    const size_t row = found < 0 ? styles.size() : size_t(found);
    if (found < 0)
      throw InvalidArgument("unknown style '" + p.name.substr(0, 60) + "'; this model knows: " + joined(styles));
    w[row] += p.weight;
    sum += p.weight;
  }
  if (!(sum > 0)) throw InvalidArgument("style blend '" + text.substr(0, 200) + "': the weights sum to zero");
  for (float& v : w) v = float(v / sum);
  return w;
}

std::string describe_blend(const std::vector<std::string>& styles, const std::vector<float>& weights) {
  std::string out;
  int used = 0;
  for (float v : weights) used += v > 0;
  for (size_t i = 0; i < styles.size() && i < weights.size(); ++i) {
    if (weights[i] <= 0) continue;
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.2f", double(weights[i]));
    out += (out.empty() ? "" : " + ") + styles[i] + (used > 1 ? buf : "");
  }
  return out;
}

StyleChoice resolve_style(const fs::path& dir, const std::string& text) {
  const std::vector<std::string> names = blend_names(text);
  if (names.size() == 1 && text.find(':') == std::string::npos && names[0].find('/') == std::string::npos &&
      fs::is_regular_file(dir / (names[0] + ".safetensors")))
    return {dir / (names[0] + ".safetensors"), ""};
  std::string known_models, known_styles;
  if (fs::is_directory(dir))
    for (const StyleEntry& e : list_styles(dir)) {
      known_models += (known_models.empty() ? "" : ", ") + e.name;
      if (!e.styles.empty()) known_styles += (known_styles.empty() ? "" : ", ") + joined(e.styles) + " (in " + e.name + ")";
      bool all = !e.styles.empty();
      for (const std::string& n : names) {
        all = all && find_name(e.styles, n) >= 0;
      }
      if (all) return {e.path, text};
    }
  throw InvalidArgument("unknown style '" + text.substr(0, 200) + "' in " + dir.string() + ": installed models: " +
                        (known_models.empty() ? "none (train one with `etude train`)" : known_models) +
                        (known_styles.empty() ? "" : "; styles: " + known_styles) + " (see `etude styles`)");
}

}  // namespace etude
