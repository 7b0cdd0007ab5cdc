// `events`: expressive performance tokens as in Performance RNN: NOTE_ON(128), NOTE_OFF(128),
// TIME_SHIFT 10 ms .. 1 s (100 steps of 10 ms), VELOCITY (32 bins of 4): 388 classes after the
// 3 specials (ids: 3+pitch, 131+pitch, 258+steps, 359+bin). Sustain pedal applied before encoding.
#pragma once
#include <nlohmann/json.hpp>

#include "tokenize/tokenizer.hpp"

namespace etude {

struct EventsConfig {
  bool sustain = true;  // lengthen notes held by the sustain pedal (CC64 >= 64) before encoding
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EventsConfig, sustain)

class EventsTokenizer : public Tokenizer {
 public:
  static constexpr int kStepMs = 10;
  static constexpr int kMaxShift = 100;  // steps
  static constexpr int32_t kNoteOn = kNumSpecialTokens;
  static constexpr int32_t kNoteOff = kNoteOn + 128;
  static constexpr int32_t kShift = kNoteOff + 128;  // kShift + k - 1 is a shift of k steps
  static constexpr int32_t kVelocity = kShift + kMaxShift;
  static constexpr int32_t kSize = kVelocity + 32;

  explicit EventsTokenizer(EventsConfig config = {});
  std::string name() const override { return "events"; }
  std::vector<int32_t> encode(const NoteSequence& seq) const override;
  std::unique_ptr<TokenGrammar> grammar() const override;
  nlohmann::json config() const override { return config_; }

  // What encode sees, in seconds: drums dropped, sustain applied, notes on a 10 ms grid (at least
  // one step long), a re-struck key cutting the earlier note. decode(encode(s)) == prepare(s).
  NoteSequence prepare(const NoteSequence& seq) const;

 protected:
  void decode_body(std::span<const int32_t> body, bool ended, DecodeResult& out) const override;

 private:
  EventsConfig config_;
};

}  // namespace etude
