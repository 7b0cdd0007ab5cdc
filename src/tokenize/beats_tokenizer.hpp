// `beats`: metrical tokens for clean rhythm and sheet music. Time comes from the file's ticks in
// beats on a grid of 1/resolution beat: SHIFT gaps between onsets, then per note PITCH, DURATION
// (capped at max_beats) and VELOCITY (32 bins); optional BAR tokens placed on the bar lines.
#pragma once
#include <nlohmann/json.hpp>

#include "tokenize/tokenizer.hpp"

namespace etude {

struct BeatsConfig {
  int resolution = 12;  // grid steps per beat: 12 covers sixteenths and eighth/sixteenth triplets
  int max_beats = 4;    // longest SHIFT and DURATION token; longer gaps repeat, longer notes are capped
  bool bars = false;    // emit a BAR token on every bar line of the file's time signatures (4/4 if none)
  double qpm = 120.0;   // tempo of decoded sequences (the tokens carry no tempo)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(BeatsConfig, resolution, max_beats, bars, qpm)

// Vocabulary: PAD BOS EOS [BAR] SHIFT_1..SHIFT_m PITCH_0..PITCH_127 DUR_1..DUR_m VEL_0..VEL_31,
// m = resolution * max_beats (ids in that order). Files with SMPTE timing are read at 120 BPM.
class BeatsTokenizer : public Tokenizer {
 public:
  explicit BeatsTokenizer(BeatsConfig config = {});
  std::string name() const override { return "beats"; }
  std::vector<int32_t> encode(const NoteSequence& seq) const override;
  std::unique_ptr<TokenGrammar> grammar() const override;
  nlohmann::json config() const override { return config_; }

  // Grid position (steps of 1/resolution beat) of a tick in this sequence, rounded to nearest.
  int64_t grid_of(const NoteSequence& seq, int64_t tick, double seconds) const;
  // Ticks per grid step in decoded sequences (they use resolution * 40 ticks per beat).
  static constexpr int kTicksPerStep = 40;

  struct Ids {
    int32_t bar, shift, pitch, duration, velocity, size;  // first id of each group; bar = -1 if none
  };
  const Ids& ids() const { return ids_; }
  int max_steps() const { return config_.resolution * config_.max_beats; }

 protected:
  void decode_body(std::span<const int32_t> body, bool ended, DecodeResult& out) const override;

 private:
  BeatsConfig config_;
  Ids ids_;
};

}  // namespace etude
