// Augmentation: draws a shift within the piano's range and a stretch, then decode -> transpose /
// time stretch (music layer) -> encode. See augment.hpp.
#include "corpus/augment.hpp"

#include <algorithm>

#include "base/error.hpp"
#include "music/sequence_ops.hpp"

namespace etude {

Augmentation draw_augmentation(const AugmentOptions& o, int low, int high, std::mt19937_64& rng) {
  if (o.min_semitones > o.max_semitones || o.lowest > o.highest || !(o.stretch >= 0.0 && o.stretch < 1.0))
    throw InvalidArgument("augmentation: need min_semitones <= max_semitones, lowest <= highest, 0 <= stretch < 1");
  Augmentation a;
  int lo = std::max(o.min_semitones, o.lowest - low);
  int hi = std::min(o.max_semitones, o.highest - high);
  if (lo <= hi && low <= high) a.semitones = std::uniform_int_distribution<int>(lo, hi)(rng);
  if (o.stretch > 0.0) a.stretch = std::uniform_real_distribution<double>(1.0 - o.stretch, 1.0 + o.stretch)(rng);
  return a;
}

std::vector<int32_t> augment_tokens(const Tokenizer& tokenizer, std::span<const int32_t> tokens,
                                    const AugmentOptions& options, std::mt19937_64& rng) {
  NoteSequence seq = tokenizer.decode(tokens).seq;
  int low = 127, high = 0;
  for (const auto& n : seq.notes) {
    low = std::min(low, n.pitch);
    high = std::max(high, n.pitch);
  }
  Augmentation a = draw_augmentation(options, low, high, rng);
  if (a.semitones != 0) seq = transpose(std::move(seq), a.semitones);
  if (a.stretch != 1.0) seq = time_stretch(std::move(seq), a.stretch);
  return tokenizer.encode(seq);
}

}  // namespace etude
