// Augmentation tests: transpositions stay on the piano and move every note by the same interval;
// time stretch scales `events` timing and leaves `beats` alone; a piece spanning the whole
// keyboard is not transposed.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "corpus/augment.hpp"
#include "corpus_test_util.hpp"

namespace etude {
namespace {

NoteSequence tune(std::initializer_list<int> pitches) {
  NoteSequence s;
  s.tempos = {TempoChange{}};
  int64_t t = 0;
  for (int p : pitches) {
    Note n;
    n.pitch = p;
    n.start_tick = t;
    n.end_tick = t + 400;
    t += 480;
    s.notes.push_back(n);
  }
  sort_notes(s);
  retime_seconds(s);
  return s;
}

std::vector<int> pitches(const NoteSequence& s) {
  std::vector<int> out;
  for (const auto& n : s.notes) out.push_back(n.pitch);
  return out;
}

TEST(Augment, TranspositionKeepsThePianoRangeAndTheIntervals) {
  auto tok = make_tokenizer("events");
  auto tokens = tok->encode(tune({24, 60, 64, 100}));
  std::mt19937_64 rng(1);
  AugmentOptions opt{.min_semitones = -12, .max_semitones = 12};
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) {
    auto out = pitches(tok->decode(augment_tokens(*tok, tokens, opt, rng)).seq);
    ASSERT_EQ(out.size(), 4u);
    int shift = out[0] - 24;
    EXPECT_EQ(out, (std::vector<int>{24 + shift, 60 + shift, 64 + shift, 100 + shift}));
    EXPECT_GE(out.front(), 21);
    EXPECT_LE(out.back(), 108);
    seen.insert(shift);
  }
  EXPECT_EQ(*seen.begin(), -3);  // 24 - 3 = 21 (A0)
  EXPECT_EQ(*seen.rbegin(), 8);  // 100 + 8 = 108 (C8)
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(draw_augmentation(opt, 21, 108, rng).semitones, 0);
  int up = draw_augmentation(opt, 10, 60, rng).semitones;  // below the piano: moved onto it
  EXPECT_TRUE(up == 11 || up == 12) << up;
  EXPECT_EQ(draw_augmentation(opt, 10, 120, rng).semitones, 0);  // wider than the piano
}

TEST(Augment, StretchScalesEventsAndLeavesBeats) {
  std::mt19937_64 rng(2);
  AugmentOptions opt{.min_semitones = 0, .max_semitones = 0, .stretch = 0.5};
  NoteSequence s = tune({60, 62, 64, 65, 67});
  auto events = make_tokenizer("events");
  double base = events->decode(events->encode(s)).seq.total_time;
  std::set<double> lengths;
  for (int i = 0; i < 20; ++i) {
    double t = events->decode(augment_tokens(*events, events->encode(s), opt, rng)).seq.total_time;
    EXPECT_GE(t, base * 0.5 - 0.011);
    EXPECT_LE(t, base * 1.5 + 0.011);
    lengths.insert(t);
  }
  EXPECT_GT(lengths.size(), 10u);
  auto beats = make_tokenizer("beats");
  EXPECT_EQ(augment_tokens(*beats, beats->encode(s), opt, rng), beats->encode(s));
}

}  // namespace
}  // namespace etude
