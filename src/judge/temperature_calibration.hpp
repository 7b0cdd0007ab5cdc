// A style's pitch temperature (ComposeOptions::pitch_temperature), calibrated so that its composed
// pieces are as tonal as the style's own training pieces: the value at which the pitch-class
// entropy of pieces composed in that style meets the median of excerpts of the same note count cut
// from its training pieces (never its held-out ones, which the judge keeps for the verdict).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compose/style_model.hpp"
#include "judge/reference.hpp"

namespace etude::judge {

struct CalibrationOptions {
  int pieces = 12;       // pieces composed at each grid point (one batch)
  int tokens = 1400;     // tokens a piece (about 45 s of the shipped model's piano music)
  uint64_t seed = 1000;  // seeds seed .. seed + pieces - 1 (not the judge's default seeds 1..20)
  // The grid: `points` values evenly from low to high. Never above 1 (hotter than trained); the
  // answer is read off a straight line fitted to all the points, which averages out the noise of
  // a dozen pieces a point (their median entropy wobbles by about 0.1 bit).
  float low = 0.5f, high = 1.0f;
  int points = 6;
  unsigned threads = 0;  // feature measuring; composing uses nn's compute threads
};

struct TemperatureTry {
  float temperature = 0;
  double entropy = 0;  // mean pitch-class entropy of the pieces composed at it
};

struct StyleCalibration {
  std::string style;
  float temperature = 1;      // the calibrated pitch temperature
  double target_entropy = 0;  // median over the training excerpts
  size_t excerpt_notes = 0;   // the excerpts' note count (the pieces' median)
  double slope = 0;           // of the fitted line, bits per unit of temperature
  std::vector<TemperatureTry> tries;
};

// Calibrates style row `row` of a conditioned model against the style's reference (its folder
// loaded by load_style_reference): composes at each grid point, fits entropy = a + b x T by least
// squares and solves for the target, clamped to [low, high] (the grid point nearest the target
// when the fit does not rise). InvalidArgument for a bad row or options.
StyleCalibration calibrate_temperature(const StyleModel& model, size_t row, const StyleReference& reference,
                                       const CalibrationOptions& options = {});

// The text stored under kMetaPitchTemperatures (compose/style_temperature.hpp): {"Chopin": 0.93, ...}.
std::string temperatures_text(const std::vector<StyleCalibration>& calibrations);

}  // namespace etude::judge
