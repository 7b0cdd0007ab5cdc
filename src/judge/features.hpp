// The judge's per-piece features: tonal (key clarity, local key clarity, scale share, pitch-class
// entropy), rhythmic and textural (notes per onset, inter-onset-interval entropy, top-voice
// interval, pitch range) and copying (longest run found in the style's training pieces).
#pragma once
#include <array>
#include <cstddef>
#include <vector>

#include "corpus/ngram_index.hpp"
#include "music/note_sequence.hpp"

namespace etude::judge {

enum class Feature : size_t {
  key_clarity,          // best Pearson r of the duration-weighted pitch classes with the 24 KK key profiles
  local_key_clarity,    // the same over 24-note windows (hop 12), averaged
  scale_share,          // share of notes in the best-fitting major or harmonic-minor scale
  pitch_class_entropy,  // bits, of the notes' pitch-class counts (12 equal classes: log2 12 = 3.58)
  notes_per_onset,      // notes / onsets (notes struck within 1/24 beat of an onset's first note share it)
  ioi_entropy,          // bits, of the inter-onset intervals in beats on a 1/12-beat grid (4 beats and more: one bin)
  top_voice_interval,   // mean absolute interval in semitones between the highest notes of successive onsets
  pitch_range,          // highest minus lowest pitch, semitones
  copied_run,           // notes in the longest run of n-grams found in one training piece (NgramIndex)
};
inline constexpr size_t kFeatureCount = 9;

struct FeatureInfo {
  const char* name;  // snake_case, as in the JSON
  const char* unit;  // "r", "share", "bits", "notes", "semitones", ...
  bool in_mean;      // counted in the mean overlap (the tonal and rhythmic ones; not copied_run)
};
const FeatureInfo& feature_info(Feature f);
inline Feature feature_at(size_t i) { return static_cast<Feature>(i); }

using FeatureValues = std::array<double, kFeatureCount>;  // indexed by Feature

// Onset grouping and beat grid constants, exposed for tests and documentation.
inline constexpr double kOnsetTolerance = 1.0 / 24;  // beats
inline constexpr int kIoiGrid = 12;                  // bins per beat
inline constexpr int kIoiMaxBeats = 4;
inline constexpr size_t kLocalKeyWindow = 24, kLocalKeyHop = 12;

// The features of one piece (or excerpt): drum notes are ignored; beats come from ticks and the
// sequence's ticks_per_beat (SMPTE files: 120 BPM). training may be null: copied_run is then 0.
// A piece without notes gets 0 for every feature.
FeatureValues measure_features(const NoteSequence& seq, const NgramIndex* training);

// The pieces of the computation, exposed for tests.
double key_clarity(const NoteSequence& seq);
double local_key_clarity(const NoteSequence& seq);
double scale_share(const NoteSequence& seq);
double pitch_class_entropy(const NoteSequence& seq);
// Onsets in beats, ascending, each with the highest pitch and the number of notes struck there.
struct Onset {
  double beat = 0;
  int top_pitch = 0;
  size_t notes = 0;
};
std::vector<Onset> onsets(const NoteSequence& seq);
double entropy_bits(const std::vector<double>& counts);  // of a histogram (any scale); 0 when empty

}  // namespace etude::judge
