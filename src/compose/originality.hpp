// The originality report of a composed piece: its size, how much of it is copied from the
// training pieces (the model's n-gram index), the longest run of one repeated token (the failure
// of argmax composers), pitch range, and a key estimate with Krumhansl-Schmuckler profiles
// (music/key.hpp).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "corpus/ngram_index.hpp"
#include "music/key.hpp"  // KeyEstimate, estimate_key
#include "music/note_sequence.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude {

std::string pitch_name(int pitch);  // 60 -> "C4"

struct OriginalityReport {
  size_t notes = 0;
  double seconds = 0;
  size_t tokens = 0;               // composed tokens (the primer's not counted)
  int repairs = 0;                 // decoder repairs (0 when masking works)
  bool has_index = false;          // false: the model file carries no n-gram index
  int ngram = 0;                   // n of the index (8 by default)
  size_t longest_copy = 0;         // notes in the longest run copied from one training piece
  std::string longest_copy_piece;  // that piece ("" when nothing is copied)
  double copied_ngram_share = 0;   // share of the piece's n-note runs found in the training pieces
  size_t longest_repeat = 0;       // longest run of one token repeated back to back
  std::string repeated_token;      // its name
  int lowest_pitch = -1, highest_pitch = -1;
  KeyEstimate key;
};

// composed: the piece's composed tokens (no BOS / primer). ngrams may be null (no index).
OriginalityReport make_report(const NoteSequence& seq, std::span<const int32_t> composed, const Tokenizer& tokenizer,
                              const NgramIndex* ngrams, int repairs);
nlohmann::json report_to_json(const OriginalityReport& r);
std::string report_line(const OriginalityReport& r);  // one line for the terminal

}  // namespace etude
