// Keys of tonal music: the 24 Krumhansl-Kessler probe-tone profiles, the Krumhansl-Schmuckler key
// estimate of a pitch-class histogram or of a piece, and the major and harmonic-minor scales.
// Shared by compose's originality report and the judge.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "music/note_sequence.hpp"

namespace etude {

using PitchClassHistogram = std::array<double, 12>;  // index 0 = C

const char* pitch_class_name(int pitch_class);  // 0..11 -> "C", "C#", "D", "Eb", ...

struct KeyEstimate {
  int tonic = 0;            // pitch class 0..11 (0 = C)
  bool minor = false;
  double correlation = 0;   // Pearson r of the histogram with the key's profile
  std::string name() const; // "C major", "F# minor"
};

// The histogram correlated with the 24 rotated Krumhansl-Kessler profiles; the best wins (ties:
// the lower tonic, major first). An empty or flat histogram: C major, r = 0.
KeyEstimate estimate_key(const PitchClassHistogram& histogram);
// The non-drum notes' duration-weighted pitch classes (seconds, at least 1 ms a note).
PitchClassHistogram duration_histogram(std::span<const Note> notes);
// estimate_key(duration_histogram(seq.notes)). No notes: C major, r = 0.
KeyEstimate estimate_key(const NoteSequence& seq);

// The pitch classes of a major scale (minor = false) or a harmonic-minor scale on `tonic`, as a
// 12-bit mask (bit p set when pitch class p is in the scale).
uint16_t scale_mask(int tonic, bool minor);

}  // namespace etude
