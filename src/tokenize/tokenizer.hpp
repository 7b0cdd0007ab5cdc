// Tokenizer: the base class that turns a NoteSequence into token ids and back (MidiTok-like).
// It owns the vocabulary (id <-> name), the special tokens and the JSON that travels in a model
// file; TokenGrammar lets a sampler mask tokens that would make a sequence ill-formed.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "music/note_sequence.hpp"

namespace etude {

// Special tokens shared by every tokenizer: PAD fills batches, BOS starts and EOS ends a piece.
// encode() always returns BOS, body..., EOS.
inline constexpr int32_t kPadToken = 0;
inline constexpr int32_t kBosToken = 1;
inline constexpr int32_t kEosToken = 2;
inline constexpr int32_t kNumSpecialTokens = 3;

// Names of tokens and their ids; ids are dense 0..size()-1 in insertion order.
class Vocabulary {
 public:
  int32_t add(std::string name);                 // InvalidArgument on a duplicate name
  int32_t id(std::string_view name) const;       // -1 when unknown
  const std::string& name(int32_t id) const;     // InvalidArgument when out of range
  int32_t size() const { return static_cast<int32_t>(names_.size()); }
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, int32_t> ids_;
};

// What a token says about the music, for scoring a model by kind (validation loss of pitches apart
// from durations, velocities and timing). Chord tokens (notes, seed) are pitches.
enum class TokenKind : uint8_t { special, pitch, duration, velocity, time };
inline constexpr int kTokenKinds = 5;
const char* token_kind_name(TokenKind kind);  // "special", "pitch", "duration", "velocity", "time"

struct DecodeResult {
  NoteSequence seq;
  int repairs = 0;  // ill-formed tokens that decode skipped or fixed (0 for a well-formed stream)
  std::vector<int64_t> bar_ticks;  // where the BAR tokens stood (tokenizers with bars), in seq's ticks
};

// Incremental grammar over one token stream, for masked sampling. Any stream that only takes
// tokens allowed by legal_next() decodes with zero repairs. It starts before BOS; after EOS only
// PAD is allowed.
class TokenGrammar {
 public:
  virtual ~TokenGrammar() = default;
  // Takes one token; InvalidArgument when the token is not legal here.
  virtual void advance(int32_t token) = 0;
  // mask.size() must be the vocabulary size; sets 1 where a token is allowed next, 0 elsewhere.
  virtual void legal_next(std::span<uint8_t> mask) const = 0;
  virtual bool finished() const = 0;  // EOS seen
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  virtual std::string name() const = 0;
  const Vocabulary& vocab() const { return vocab_; }
  int32_t vocab_size() const { return vocab_.size(); }
  // The kind of every vocabulary entry, indexed by id (as uint8_t TokenKind values).
  std::vector<uint8_t> token_kinds() const;

  // Vocabularies learned from data (notes, seed) need fit() before encode(); the others ignore it.
  virtual bool needs_fit() const { return false; }
  virtual void fit(std::span<const NoteSequence* const> pieces) {}

  // BOS, body, EOS. Throws InvalidArgument only when a fit is needed and missing.
  virtual std::vector<int32_t> encode(const NoteSequence& seq) const = 0;
  // Never throws on any id sequence: PAD is skipped, a leading BOS is consumed, decoding stops at
  // the first EOS; out-of-range ids, stray BOS and grammar violations are repaired and counted.
  DecodeResult decode(std::span<const int32_t> tokens) const;
  virtual std::unique_ptr<TokenGrammar> grammar() const = 0;
  // The BAR token's id when the vocabulary marks bar lines, else -1.
  int32_t bar_token() const { return vocab_.id("BAR"); }

  // {"name": ..., "config": {...}, "vocab": [names...]}: everything make_tokenizer needs.
  nlohmann::json to_json() const;
  virtual nlohmann::json config() const { return nlohmann::json::object(); }
  // A stored vocabulary (to_json()'s "vocab"): tokenizers whose vocabulary their config builds
  // check it is theirs (FormatError otherwise: the file was made by another version); those whose
  // vocabulary is learned (notes, seed) take it.
  virtual void load_vocabulary(const std::vector<std::string>& names);

 protected:
  // body holds only ids in [kNumSpecialTokens, vocab_size); ended tells whether EOS was seen.
  virtual void decode_body(std::span<const int32_t> body, bool ended, DecodeResult& out) const = 0;
  void add_special_tokens();
  Vocabulary vocab_;
};

// The registry (tokenizer_registry.cpp). Known names: "notes", "seed", "events", "beats" (default
// configs; notes and seed unfitted). InvalidArgument for an unknown name, FormatError for a bad config.
std::vector<std::string> tokenizer_names();
std::unique_ptr<Tokenizer> make_tokenizer(std::string_view name);
// From to_json(): the registry's factory for the name with its config, then load_vocabulary().
std::unique_ptr<Tokenizer> make_tokenizer(const nlohmann::json& j);
// (a JSON value converts from a string too: these pick the by-name factory for strings)
inline std::unique_ptr<Tokenizer> make_tokenizer(const char* name) { return make_tokenizer(std::string_view(name)); }
inline std::unique_ptr<Tokenizer> make_tokenizer(const std::string& name) { return make_tokenizer(std::string_view(name)); }

}  // namespace etude
