// Helpers shared by the tokenizers (not part of the public API): velocity bins, the grammar
// skeleton that handles BOS/EOS/PAD, and the finishing touches every decoder applies.
#pragma once
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "music/note_sequence.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude::tokenize_detail {

// 32 velocity bins of width 4 over 1..127 (as Performance RNN); a bin decodes to its middle.
inline constexpr int kVelocityBins = 32;
inline int velocity_bin(int velocity) { return std::clamp((std::clamp(velocity, 1, 127) - 1) / 4, 0, 31); }
inline int bin_velocity(int bin) { return std::clamp(bin, 0, 31) * 4 + 2; }

// Sorts notes by (start_tick, pitch), fills seconds from ticks at one constant tempo, sets the
// tempo map, ticks_per_beat and totals. Decoders build notes in ticks and call this last.
void finish_sequence(NoteSequence& seq, int ticks_per_beat, uint32_t us_per_beat);

// A key sounds once: a note of the same pitch starting before an earlier one ends cuts the
// earlier one short (a re-struck key), and of two notes struck together on one key the longer
// stays. Works on ticks. Returns how many notes were cut or dropped.
int resolve_same_pitch_overlaps(std::vector<Note>& notes);

// The grammar skeleton: before BOS only BOS; after EOS only PAD; in between the tokenizer's rules.
class GrammarBase : public TokenGrammar {
 public:
  explicit GrammarBase(int32_t vocab_size) : vocab_size_(vocab_size) {}
  void advance(int32_t token) final;
  void legal_next(std::span<uint8_t> mask) const final;
  bool finished() const final { return phase_ == Phase::kDone; }

 protected:
  // Sets 1 for allowed body tokens (ids >= kNumSpecialTokens); mask is pre-zeroed.
  virtual void body_legal(std::span<uint8_t> mask) const = 0;
  // Whether body_legal would set this one body token (kNumSpecialTokens <= token < vocab): advance()
  // checks a token in O(1) instead of filling the whole mask (the fuzz target checks the two agree).
  virtual bool body_allows(int32_t token) const = 0;
  virtual bool eos_allowed() const = 0;
  virtual void body_advance(int32_t token) = 0;

 private:
  enum class Phase { kStart, kBody, kDone };
  int32_t vocab_size_;
  Phase phase_ = Phase::kStart;
  bool allows(int32_t token) const;
};

}  // namespace etude::tokenize_detail
