// Helpers for the tokenizer tests: synthetic sequences built in ticks, checks that a decoded
// sequence is valid MIDI (written and read back through the music layer), and grammar sampling.
#pragma once
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "music/midi_convert.hpp"
#include "music/sequence_ops.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude::test {

struct N {
  int pitch;
  int64_t start, end;  // ticks
  int velocity = 80;
};

// Notes at 480 ticks per beat and 120 BPM, seconds filled in by the music layer.
inline NoteSequence make_seq(const std::vector<N>& notes, int tpb = 480) {
  NoteSequence s;
  s.ticks_per_beat = tpb;
  s.tempos = {TempoChange{}};
  for (const auto& n : notes) {
    Note x;
    x.pitch = n.pitch;
    x.velocity = n.velocity;
    x.start_tick = n.start;
    x.end_tick = n.end;
    s.notes.push_back(x);
  }
  sort_notes(s);
  retime_seconds(s);
  return s;
}

// A decoded sequence must be writable as MIDI (SMF bytes) and read back with the same notes.
inline void expect_valid_midi(const NoteSequence& seq) {
  for (const auto& n : seq.notes) {
    ASSERT_TRUE(n.pitch >= 0 && n.pitch <= 127) << n.pitch;
    ASSERT_TRUE(n.velocity >= 1 && n.velocity <= 127) << n.velocity;
    ASSERT_LT(n.start_tick, n.end_tick);
    ASSERT_LE(n.start, n.end);
  }
  NoteSequence back = note_sequence_from_midi(read_midi(write_midi(midi_from_note_sequence(seq)), "decoded"));
  ASSERT_EQ(back.notes.size(), seq.notes.size());
  for (size_t i = 0; i < seq.notes.size(); ++i) {
    EXPECT_EQ(back.notes[i].pitch, seq.notes[i].pitch);
    EXPECT_EQ(back.notes[i].start_tick, seq.notes[i].start_tick);
    EXPECT_EQ(back.notes[i].end_tick, seq.notes[i].end_tick);
  }
}

// Samples a stream under the grammar's mask: BOS, then up to max_len tokens, stopping at EOS.
inline std::vector<int32_t> sample_under_grammar(const Tokenizer& tok, size_t max_len, std::mt19937_64& rng,
                                                 double eos_bias = 0.0) {
  auto g = tok.grammar();
  std::vector<uint8_t> mask(static_cast<size_t>(tok.vocab_size()));
  std::vector<int32_t> out;
  while (out.size() < max_len && !g->finished()) {
    g->legal_next(mask);
    std::vector<int32_t> legal;
    for (size_t i = 0; i < mask.size(); ++i)
      if (mask[i]) legal.push_back(static_cast<int32_t>(i));
    if (legal.empty()) ADD_FAILURE() << "the grammar allows no token after " << out.size() << " tokens";
    if (legal.empty()) break;
    int32_t t = legal[std::uniform_int_distribution<size_t>(0, legal.size() - 1)(rng)];
    if (mask[kEosToken] && std::bernoulli_distribution(eos_bias)(rng)) t = kEosToken;
    g->advance(t);
    out.push_back(t);
  }
  return out;
}

}  // namespace etude::test
