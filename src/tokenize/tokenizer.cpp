// Tokenizer base: vocabulary bookkeeping, the decode front end that filters special and
// out-of-range ids, JSON out and stored vocabularies in, and the shared decoder helpers.
#include "tokenize/tokenizer.hpp"

#include <algorithm>
#include <map>

#include "base/error.hpp"
#include "tokenize/token_common.hpp"

namespace etude {

const char* token_kind_name(TokenKind kind) {
  static constexpr const char* kNames[kTokenKinds] = {"special", "pitch", "duration", "velocity", "time"};
  return kNames[size_t(kind)];
}

// By the names every tokenizer gives its tokens: one table of prefixes for all of them.
std::vector<uint8_t> Tokenizer::token_kinds() const {
  static const std::pair<const char*, TokenKind> kPrefixes[] = {
      {"PITCH_", TokenKind::pitch},     {"NOTE_ON_", TokenKind::pitch},     {"DUR_", TokenKind::duration},
      {"NOTE_OFF_", TokenKind::duration}, {"VEL_", TokenKind::velocity},     {"VELOCITY_", TokenKind::velocity},
      {"SHIFT_", TokenKind::time},      {"TIME_SHIFT_", TokenKind::time},   {"BAR", TokenKind::time}};
  std::vector<uint8_t> kinds(static_cast<size_t>(vocab_size()), uint8_t(TokenKind::pitch));  // notes/seed: chords
  for (int32_t id = 0; id < vocab_size(); ++id) {
    const std::string& name = vocab_.name(id);
    if (id < kNumSpecialTokens) {
      kinds[size_t(id)] = uint8_t(TokenKind::special);
      continue;
    }
    for (const auto& [prefix, kind] : kPrefixes)
      if (name.starts_with(prefix)) {
        kinds[size_t(id)] = uint8_t(kind);
        break;
      }
  }
  return kinds;
}

int32_t Vocabulary::add(std::string name) {
  auto id = size();
  if (!ids_.emplace(name, id).second)
    throw InvalidArgument("vocabulary: token name '" + name + "' is already taken; names must be unique");
  names_.push_back(std::move(name));
  return id;
}

int32_t Vocabulary::id(std::string_view name) const {
  auto it = ids_.find(std::string(name));
  return it == ids_.end() ? -1 : it->second;
}

const std::string& Vocabulary::name(int32_t id) const {
  if (id < 0 || id >= size())
    throw InvalidArgument("vocabulary: token id " + std::to_string(id) + " is outside 0.." +
                          std::to_string(size() - 1));
  return names_[static_cast<size_t>(id)];
}

void Tokenizer::add_special_tokens() {
  vocab_.add("PAD");
  vocab_.add("BOS");
  vocab_.add("EOS");
}

DecodeResult Tokenizer::decode(std::span<const int32_t> tokens) const {
  DecodeResult out;
  std::vector<int32_t> body;
  body.reserve(tokens.size());
  bool started = false, ended = false;
  for (int32_t t : tokens) {
    if (t == kPadToken) continue;
    if (t == kEosToken) {
      ended = true;
      break;
    }
    if (t == kBosToken) {
      if (started || !body.empty()) ++out.repairs;  // only a leading BOS is well-formed
      started = true;
      continue;
    }
    if (t < kNumSpecialTokens || t >= vocab_size()) {
      ++out.repairs;
      continue;
    }
    body.push_back(t);
  }
  decode_body(body, ended, out);
  return out;
}

nlohmann::json Tokenizer::to_json() const {
  return {{"name", name()}, {"config", config()}, {"vocab", vocab_.names()}};
}

void Tokenizer::load_vocabulary(const std::vector<std::string>& names) {
  if (names != vocab_.names())
    throw FormatError("tokenizer '" + name() + "': stored vocabulary (" + std::to_string(names.size()) +
                      " tokens) differs from the one its config builds (" + std::to_string(vocab_size()) +
                      "); the file was made by another version");
}

namespace tokenize_detail {

void finish_sequence(NoteSequence& seq, int ticks_per_beat, uint32_t us_per_beat) {
  seq.ticks_per_beat = ticks_per_beat;
  seq.tempos = {TempoChange{0, 0.0, us_per_beat}};
  const double sec_per_tick = us_per_beat * 1e-6 / ticks_per_beat;
  std::sort(seq.notes.begin(), seq.notes.end(), [](const Note& a, const Note& b) {
    return a.start_tick != b.start_tick ? a.start_tick < b.start_tick : a.pitch < b.pitch;
  });
  seq.total_ticks = 0;
  for (auto& n : seq.notes) {
    n.start = n.start_tick * sec_per_tick;
    n.end = n.end_tick * sec_per_tick;
    seq.total_ticks = std::max(seq.total_ticks, n.end_tick);
  }
  seq.total_time = seq.total_ticks * sec_per_tick;
}

int resolve_same_pitch_overlaps(std::vector<Note>& notes) {
  std::vector<size_t> order(notes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Note &x = notes[a], &y = notes[b];
    if (x.pitch != y.pitch) return x.pitch < y.pitch;
    if (x.start_tick != y.start_tick) return x.start_tick < y.start_tick;
    return x.end_tick > y.end_tick;  // the longer of two same-start notes survives
  });
  int changed = 0;
  std::vector<bool> drop(notes.size(), false);
  Note* kept = nullptr;  // the last note kept, in (pitch, start) order
  for (size_t k : order) {
    Note& n = notes[k];
    if (kept && kept->pitch == n.pitch && kept->start_tick == n.start_tick) {
      drop[k] = true;  // struck twice at once: the longer (sorted first) stays
      ++changed;
      continue;
    }
    if (kept && kept->pitch == n.pitch && n.start_tick < kept->end_tick) {
      kept->end_tick = n.start_tick;
      ++changed;
    }
    kept = &n;
  }
  size_t w = 0;
  for (size_t i = 0; i < notes.size(); ++i)
    if (!drop[i]) notes[w++] = notes[i];
  notes.resize(w);
  return changed;
}

bool GrammarBase::allows(int32_t token) const {
  if (token < 0 || token >= vocab_size_) return false;
  switch (phase_) {
    case Phase::kStart:
      return token == kBosToken;
    case Phase::kDone:
      return token == kPadToken;
    case Phase::kBody:
      if (token == kEosToken) return eos_allowed();
      return token >= kNumSpecialTokens && body_allows(token);
  }
  return false;
}

void GrammarBase::advance(int32_t token) {
  if (!allows(token))
    throw InvalidArgument("token grammar: token id " + std::to_string(token) +
                          " is not legal here; sample under legal_next()'s mask");
  if (phase_ == Phase::kStart) {
    phase_ = Phase::kBody;
  } else if (token == kEosToken) {
    phase_ = Phase::kDone;
  } else if (phase_ == Phase::kBody) {
    body_advance(token);
  }
}

void GrammarBase::legal_next(std::span<uint8_t> mask) const {
  if (static_cast<int32_t>(mask.size()) != vocab_size_)
    throw InvalidArgument("token grammar: mask has " + std::to_string(mask.size()) +
                          " entries, the vocabulary " + std::to_string(vocab_size_));
  std::fill(mask.begin(), mask.end(), uint8_t{0});
  if (phase_ == Phase::kStart) {
    mask[kBosToken] = 1;
  } else if (phase_ == Phase::kDone) {
    mask[kPadToken] = 1;
  } else {
    body_legal(mask);
    mask[kEosToken] = eos_allowed() ? 1 : 0;
  }
}

}  // namespace tokenize_detail
}  // namespace etude
