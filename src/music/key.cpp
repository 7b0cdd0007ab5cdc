// The Krumhansl-Schmuckler key estimate (see key.hpp): Pearson correlation of a pitch-class
// histogram with the 24 rotated Krumhansl-Kessler profiles, and the scale masks.
#include "music/key.hpp"

#include <algorithm>
#include <cmath>

namespace etude {
namespace {

constexpr std::array<const char*, 12> kPitchClass = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
// Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
constexpr std::array<double, 12> kMajor = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
constexpr std::array<double, 12> kMinor = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17};

double pearson(const PitchClassHistogram& x, const std::array<double, 12>& profile, int tonic) {
  double mx = 0, my = 0;
  for (int i = 0; i < 12; ++i) mx += x[i], my += profile[i];
  mx /= 12, my /= 12;
  double sxy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < 12; ++i) {
    const double a = x[(i + tonic) % 12] - mx, b = profile[i] - my;
    sxy += a * b, sxx += a * a, syy += b * b;
  }
  return sxx > 0 ? sxy / std::sqrt(sxx * syy) : 0.0;
}

}  // namespace

const char* pitch_class_name(int pitch_class) { return kPitchClass[static_cast<size_t>(((pitch_class % 12) + 12) % 12)]; }

std::string KeyEstimate::name() const { return std::string(pitch_class_name(tonic)) + (minor ? " minor" : " major"); }

KeyEstimate estimate_key(const PitchClassHistogram& histogram) {
  KeyEstimate best;
  best.correlation = -2;
  for (int minor = 0; minor < 2; ++minor)
    for (int tonic = 0; tonic < 12; ++tonic) {
      const double r = pearson(histogram, minor ? kMinor : kMajor, tonic);
      if (r > best.correlation + 1e-12) best = {tonic, minor == 1, r};
    }
  if (best.correlation < -1) best = {};
  return best;
}

PitchClassHistogram duration_histogram(std::span<const Note> notes) {
  PitchClassHistogram hist{};
  for (const Note& n : notes)
    if (!n.is_drum) hist[static_cast<size_t>(n.pitch % 12)] += std::max(n.end - n.start, 1e-3);
  return hist;
}

KeyEstimate estimate_key(const NoteSequence& seq) { return estimate_key(duration_histogram(seq.notes)); }

uint16_t scale_mask(int tonic, bool minor) {
  static constexpr std::array<int, 7> kMajorSteps = {0, 2, 4, 5, 7, 9, 11};
  static constexpr std::array<int, 7> kHarmonicMinorSteps = {0, 2, 3, 5, 7, 8, 11};
  uint16_t mask = 0;
  for (int step : minor ? kHarmonicMinorSteps : kMajorSteps) mask |= uint16_t(1u << (((tonic + step) % 12 + 12) % 12));
  return mask;
}

}  // namespace etude
