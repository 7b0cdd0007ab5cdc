// Calibrated pitch temperatures (see style_temperature.hpp): reading them from model metadata and
// resolving a style or blend to one temperature.
#include "compose/style_temperature.hpp"

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/input_text.hpp"
#include "base/names.hpp"

namespace etude {

std::vector<float> parse_pitch_temperatures(const std::string& text, const std::vector<std::string>& styles,
                                      const std::string& what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(what + ": " + kMetaPitchTemperatures + " is not valid JSON (" + json_error_text(e) + "); re-export the model");
  }
  if (!j.is_object()) throw FormatError(what + ": " + kMetaPitchTemperatures + " is not a JSON object; re-export the model");
  std::vector<float> out(styles.size(), 0.0f);
  for (const auto& [name, value] : j.items()) {
    const int row = find_name(styles, name);
    if (row < 0)
      throw FormatError(what + ": " + kMetaPitchTemperatures + " names style " + quote_input(name, 60) +
                        ", which the model does not have; re-export the model");
    if (!value.is_number() || !(value.get<double>() >= 0.05 && value.get<double>() <= 4.0))
      throw FormatError(what + ": " + kMetaPitchTemperatures + " gives " + quote_input(name, 60) + " " +
                        quote_input(value.dump(), 40) + ", not a temperature in 0.05..4; re-export the model");
    out[size_t(row)] = value.get<float>();
  }
  return out;
}

std::optional<float> style_pitch_temperature(const std::vector<float>& temperatures, const std::vector<float>& weights) {
  double sum = 0, weight = 0;
  for (size_t i = 0; i < weights.size() && i < temperatures.size(); ++i)
    if (temperatures[i] > 0 && weights[i] > 0) sum += double(weights[i]) * temperatures[i], weight += weights[i];
  if (weight <= 0) return std::nullopt;
  return float(sum / weight);
}

}  // namespace etude
