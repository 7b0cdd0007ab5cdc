// The pitch temperature a conditioned model's style composes at by default (ComposeOptions::
// pitch_temperature): each style row may carry one calibrated by `etude export --calibrate`
// (judge/temperature_calibration.hpp), stored in the model file's metadata; a blend takes the
// weighted mean of its styles' values.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace etude {

// Metadata key: a JSON object from style name to pitch temperature, {"Chopin": 0.93, "Pop": 0.7}.
inline constexpr const char* kMetaPitchTemperatures = "etude.pitch_temperatures";

// One value per style row (0 where the text names none). FormatError naming `what` for text that
// is not an object of numbers in 0.05..4, or that names a style the model does not have.
std::vector<float> parse_pitch_temperatures(const std::string& text, const std::vector<std::string>& styles,
                                            const std::string& what);

// The default pitch temperature of a style or blend (weights: one per row, as style_weights gives):
// the weighted mean over the rows that have one, renormalized; none when no weighted row has one.
std::optional<float> style_pitch_temperature(const std::vector<float>& temperatures, const std::vector<float>& weights);

}  // namespace etude
