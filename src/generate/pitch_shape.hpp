// Pitch temperature for sampling (StreamOptions::pitch_temperature): reshapes one row of logits
// so that the pitch tokens allowed at a step are sampled at their own temperature while the chance
// of a pitch at all stays the model's. Header-only; tests/generate/pitch_shape_test.cpp checks it.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude {

// The pitch temperatures PitchShape takes, and the default: the model's own distribution.
inline constexpr double kMinPitchTemperature = 0.05, kMaxPitchTemperature = 4.0;
inline constexpr float kDefaultPitchTemperature = 1.0f;

// Among the pitch tokens allowed at a step, probabilities become p^(1/T)
// renormalized to the same total, so a style can be made more or less tonal while the chance of a
// pitch at all (another chord note against a duration or a time step) and so the rhythm and the
// texture stay as the model has them. Logits: pitch l -> l/T + LSE(l) - LSE(l/T) over the allowed
// pitches.
class PitchShape {
 public:
  PitchShape(std::vector<uint8_t> kinds, float t) : kinds_(std::move(kinds)), t_(t), row_(kinds_.size()) {
    if (!(t >= float(kMinPitchTemperature) && t <= float(kMaxPitchTemperature))) {
      char text[96];
      std::snprintf(text, sizeof text, "compose: pitch temperature %g: use %g..%g", double(t), kMinPitchTemperature,
                    kMaxPitchTemperature);
      throw InvalidArgument(text);
    }
  }
  bool active() const { return t_ != 1.0f; }
  std::span<const float> apply(std::span<const float> logits, std::span<const uint8_t> allowed) {
    constexpr auto pitch = uint8_t(TokenKind::pitch);
    float top = -INFINITY;
    for (size_t v = 0; v < row_.size(); ++v)
      if (kinds_[v] == pitch && allowed[v]) top = std::max(top, logits[v]);
    std::copy(logits.begin(), logits.end(), row_.begin());
    if (top == -INFINITY) return row_;  // no pitch allowed here
    double plain = 0, shaped = 0;
    for (size_t v = 0; v < row_.size(); ++v)
      if (kinds_[v] == pitch && allowed[v]) plain += std::exp(double(logits[v] - top)), shaped += std::exp(double(logits[v] - top) / t_);
    const double shift = std::log(plain) - std::log(shaped);  // keeps the pitches' total mass
    for (size_t v = 0; v < row_.size(); ++v)
      if (kinds_[v] == pitch) row_[v] = float(top + (double(logits[v] - top) / t_ + shift));
    return row_;
  }

 private:
  std::vector<uint8_t> kinds_;
  float t_;
  std::vector<float> row_;
};

}  // namespace etude
