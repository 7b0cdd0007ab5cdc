// `notes` and `seed`: one token per onset, as in the original LSTM composer (music21 + Keras).
// notes: a single pitch ("C4") or the chord of all pitches starting together ("C4.E4.G4").
// seed: the original exactly: chords as the normal-order set of pitch classes ("0.4.7").
#pragma once
#include <array>
#include <nlohmann/json.hpp>

#include "tokenize/tokenizer.hpp"

namespace etude {

// The vocabulary is learned by fit(): every onset name seen in the training pieces, most frequent
// first. At encode time an unknown name maps to the known token whose pitches differ from it in
// the fewest keys (ties: the more frequent). Timing and velocity are dropped; decode places one
// token every half beat at 120 BPM, each note one beat long at velocity 80.
struct NotesConfig {
  int min_count = 1;  // names seen fewer times in the training pieces are left out
  int max_size = 0;   // at most this many onset tokens (most frequent first); 0 = no limit
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(NotesConfig, min_count, max_size)

class NotesTokenizer : public Tokenizer {
 public:
  NotesTokenizer(bool seed, NotesConfig config);  // seed: the original's pitch-class sets
  std::string name() const override { return seed_ ? "seed" : "notes"; }
  bool needs_fit() const override { return true; }
  void fit(std::span<const NoteSequence* const> pieces) override;
  // Replaces the onset vocabulary (names after the specials, or the whole list with them);
  // FormatError for a name that is not an onset.
  void load_vocabulary(const std::vector<std::string>& names) override;
  std::vector<int32_t> encode(const NoteSequence& seq) const override;
  std::unique_ptr<TokenGrammar> grammar() const override;
  nlohmann::json config() const override { return config_; }

  // The token name of one onset's pitches (sorted, unique, 0..127).
  std::string onset_name(const std::vector<int>& pitches) const;
  // Groups a sequence's notes (drums excluded) into onsets: pitches sorted ascending.
  static std::vector<std::vector<int>> onsets(const NoteSequence& seq);

 protected:
  void decode_body(std::span<const int32_t> body, bool ended, DecodeResult& out) const override;

 private:
  using PitchSet = std::array<uint64_t, 2>;
  int32_t nearest(const PitchSet& set) const;
  bool seed_;
  NotesConfig config_;
  std::vector<PitchSet> sets_;  // per id: the pitches decode plays (empty for specials)
};

}  // namespace etude
