// Data augmentation for training: a random transposition that keeps every note on the piano
// (21..108) and an optional random time stretch, applied to one piece's tokens per draw.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "tokenize/tokenizer.hpp"

namespace etude {

struct AugmentOptions {
  int min_semitones = -5;  // transposition drawn uniformly from [min, max], narrowed per piece so
  int max_semitones = 6;   // its lowest and highest notes stay within [lowest, highest]
  int lowest = 21;         // A0
  int highest = 108;       // C8
  double stretch = 0.0;    // time stretch factor drawn from [1 - stretch, 1 + stretch]; 0 = off
};

struct Augmentation {
  int semitones = 0;
  double stretch = 1.0;
};

// Draws the transposition and stretch for a piece whose pitches span [low, high]: uniform over the
// shifts in [min, max] that put the piece inside [lowest, highest]; 0 when there is none.
Augmentation draw_augmentation(const AugmentOptions& options, int low, int high, std::mt19937_64& rng);

// Works on the NoteSequence level: decode, transpose (music/transpose), time stretch
// (music/time_stretch), encode. Stretch changes `events` tokens only: `beats` counts beats and
// `notes`/`seed` drop timing. For notes/seed a transposed onset unknown to the vocabulary maps to
// the nearest known token. Ill-formed input is repaired by decode first.
std::vector<int32_t> augment_tokens(const Tokenizer& tokenizer, std::span<const int32_t> tokens,
                                    const AugmentOptions& options, std::mt19937_64& rng);

}  // namespace etude
