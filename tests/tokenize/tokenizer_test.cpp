// Tokenizer tests on synthetic sequences: vocabularies, JSON round trip, each scheme's round trip
// and edge cases, repairs of ill-formed streams, random streams decoding to valid MIDI, and the
// grammar property (streams sampled under the mask decode with zero repairs).
#include <gtest/gtest.h>

#include <random>

#include "base/error.hpp"
#include "tokenize/beats_tokenizer.hpp"
#include "tokenize/events_tokenizer.hpp"
#include "tokenize/notes_tokenizer.hpp"
#include "token_test_util.hpp"

namespace etude {
namespace {

using test::make_seq;
using test::N;

std::vector<std::string> names_of(const Tokenizer& t, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(t.vocab().name(id));
  return out;
}

// Every tokenizer ready to encode: notes and seed fitted on a small synthetic set.
std::vector<std::unique_ptr<Tokenizer>> all_tokenizers() {
  std::vector<std::unique_ptr<Tokenizer>> out;
  NoteSequence train = make_seq({{60, 0, 480}, {64, 0, 480}, {67, 0, 480}, {62, 480, 960}, {72, 960, 1200},
                                 {65, 1200, 1440}, {69, 1200, 1440}, {48, 1440, 2400}});
  const NoteSequence* pieces[] = {&train};
  for (const auto& name : tokenizer_names()) {
    auto t = make_tokenizer(name);
    t->fit(pieces);
    out.push_back(std::move(t));
  }
  out.push_back(make_tokenizer(nlohmann::json{{"name", "beats"}, {"config", {{"bars", true}}}}));
  return out;
}

TEST(Tokenizer, VocabularySizesAndSpecials) {
  EXPECT_EQ(make_tokenizer("events")->vocab_size(), 3 + 388);
  EXPECT_EQ(make_tokenizer("beats")->vocab_size(), 3 + 48 + 128 + 48 + 32);
  for (const auto& t : all_tokenizers()) {
    EXPECT_EQ(t->vocab().name(kPadToken), "PAD");
    EXPECT_EQ(t->vocab().name(kBosToken), "BOS");
    EXPECT_EQ(t->vocab().name(kEosToken), "EOS");
  }
  EXPECT_THROW(make_tokenizer("words"), InvalidArgument);
  EXPECT_THROW(make_tokenizer("notes")->encode(make_seq({{60, 0, 480}})), InvalidArgument);  // needs fit
}

TEST(Tokenizer, JsonRoundTripKeepsVocabularyAndEncoding) {
  NoteSequence s = make_seq({{60, 0, 480}, {64, 0, 480}, {67, 0, 480}, {71, 240, 300}, {62, 480, 960}});
  for (const auto& t : all_tokenizers()) {
    auto j = t->to_json();
    auto back = make_tokenizer(nlohmann::json::parse(j.dump()));
    EXPECT_EQ(back->name(), t->name());
    EXPECT_EQ(back->vocab().names(), t->vocab().names()) << t->name();
    EXPECT_EQ(back->encode(s), t->encode(s)) << t->name();
  }
  auto j = make_tokenizer("events")->to_json();
  j["vocab"].erase(j["vocab"].begin() + 5);
  EXPECT_THROW(make_tokenizer(j), FormatError);
  EXPECT_THROW(make_tokenizer(nlohmann::json{{"config", {}}}), FormatError);
}

TEST(NotesTokenizer, OnsetNamesAndSeedNormalOrder) {
  NoteSequence s = make_seq({{60, 0, 480}, {64, 0, 480}, {67, 0, 480}, {70, 480, 960}, {64, 960, 1000},
                             {67, 960, 1000}, {72, 960, 1000}, {67, 1440, 1500}, {71, 1440, 1500}, {74, 1440, 1500}});
  const NoteSequence* pieces[] = {&s};
  NotesTokenizer notes(false, {});
  notes.fit(pieces);
  EXPECT_EQ(names_of(notes, notes.encode(s)),
            (std::vector<std::string>{"BOS", "C4.E4.G4", "B-4", "E4.G4.C5", "G4.B4.D5", "EOS"}));
  NotesTokenizer seed(true, {});
  seed.fit(pieces);
  // First inversion E G C is still 0.4.7; G major in normal order starts on G: 7.11.2.
  EXPECT_EQ(names_of(seed, seed.encode(s)), (std::vector<std::string>{"BOS", "0.4.7", "B-4", "0.4.7", "7.11.2", "EOS"}));
  // Decode: one onset per half beat, one beat long; seed chords sound at octave 4.
  auto d = seed.decode(seed.encode(s));
  EXPECT_EQ(d.repairs, 0);
  ASSERT_EQ(d.seq.notes.size(), 10u);
  EXPECT_EQ(d.seq.notes[3].pitch, 70);
  EXPECT_DOUBLE_EQ(d.seq.notes[3].start, 0.25);
  EXPECT_EQ(d.seq.notes.back().pitch, 71);  // 7.11.2 -> G4 B4 D4 sorted: D4 G4 B4
}

TEST(NotesTokenizer, UnknownOnsetMapsToNearestKnownToken) {
  NoteSequence train = make_seq({{60, 0, 480}, {64, 0, 480}, {67, 0, 480}, {50, 480, 960}});
  const NoteSequence* pieces[] = {&train};
  NotesTokenizer notes(false, {});
  notes.fit(pieces);
  ASSERT_EQ(notes.vocab_size(), 5);
  // C E G B differs from C E G by one key, from D3 by five.
  auto ids = notes.encode(make_seq({{60, 0, 480}, {64, 0, 480}, {67, 0, 480}, {71, 0, 480}, {51, 480, 960}}));
  EXPECT_EQ(names_of(notes, ids), (std::vector<std::string>{"BOS", "C4.E4.G4", "D3", "EOS"}));
  NotesTokenizer capped(false, {.min_count = 1, .max_size = 1});
  capped.fit(pieces);
  EXPECT_EQ(capped.vocab_size(), 4);
}

TEST(EventsTokenizer, RoundTripWithin10msAndVelocityBin) {
  std::mt19937_64 rng(7);
  std::vector<N> notes;
  for (int i = 0; i < 300; ++i) {
    int64_t start = std::uniform_int_distribution<int64_t>(0, 20000)(rng);
    notes.push_back({std::uniform_int_distribution<int>(21, 108)(rng), start,
                     start + std::uniform_int_distribution<int64_t>(20, 3000)(rng),
                     std::uniform_int_distribution<int>(1, 127)(rng)});
  }
  NoteSequence s = make_seq(notes);
  EventsTokenizer tok;
  auto d = tok.decode(tok.encode(s));
  EXPECT_EQ(d.repairs, 0);
  NoteSequence want = tok.prepare(s);
  ASSERT_EQ(d.seq.notes.size(), want.notes.size());
  for (size_t i = 0; i < want.notes.size(); ++i) {
    EXPECT_EQ(d.seq.notes[i].pitch, want.notes[i].pitch);
    EXPECT_NEAR(d.seq.notes[i].start, want.notes[i].start, 1e-9);
    EXPECT_NEAR(d.seq.notes[i].end, want.notes[i].end, 1e-9);
    EXPECT_EQ(d.seq.notes[i].velocity, want.notes[i].velocity);
  }
  // Against the input: onsets and ends move at most half a step (5 ms); a note shorter than a
  // step lasts one step.
  EventsTokenizer plain({.sustain = false});
  NoteSequence one = make_seq({{60, 0, 1000, 100}, {62, 1003, 1500, 3}, {64, 7, 9, 127}});
  auto back = plain.decode(plain.encode(one)).seq;
  ASSERT_EQ(back.notes.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(back.notes[i].start, one.notes[i].start, 0.005 + 1e-9);
    if (one.notes[i].end - one.notes[i].start >= 0.010)
      EXPECT_NEAR(back.notes[i].end, one.notes[i].end, 0.005 + 1e-9);
    else
      EXPECT_NEAR(back.notes[i].end, back.notes[i].start + 0.010, 1e-9);
    EXPECT_EQ((back.notes[i].velocity - 1) / 4, (one.notes[i].velocity - 1) / 4);
  }
}

TEST(EventsTokenizer, SustainPedalLengthensNotes) {
  NoteSequence s = make_seq({{60, 0, 240}});
  ControlChange down{.tick = 100, .number = 64, .value = 127}, up{.tick = 960, .number = 64, .value = 0};
  s.control_changes = {down, up};
  retime_seconds(s);
  auto on = EventsTokenizer().decode(EventsTokenizer().encode(s)).seq;
  auto off = EventsTokenizer({.sustain = false}).decode(EventsTokenizer({.sustain = false}).encode(s)).seq;
  ASSERT_EQ(on.notes.size(), 1u);
  EXPECT_NEAR(on.notes[0].end, 1.0, 1e-9);  // held to the pedal release at 960 ticks = 1 s
  EXPECT_NEAR(off.notes[0].end, 0.25, 1e-9);
}

TEST(BeatsTokenizer, GridRoundTripIsExactAndLongNotesAreCapped) {
  // Sixteenths, triplet eighths, a dotted half and a note longer than four beats.
  NoteSequence s = make_seq({{60, 0, 120}, {64, 120, 240}, {67, 480, 640}, {67, 640, 800}, {72, 800, 960},
                             {48, 960, 960 + 1440}, {36, 2400, 2400 + 5000}});
  BeatsTokenizer tok;
  auto ids = tok.encode(s);
  EXPECT_EQ(names_of(tok, std::vector<int32_t>(ids.begin(), ids.begin() + 8)),
            (std::vector<std::string>{"BOS", "PITCH_60", "DUR_3", "VEL_19", "SHIFT_3", "PITCH_64", "DUR_3", "VEL_19"}));
  auto d = tok.decode(ids);
  EXPECT_EQ(d.repairs, 0);
  ASSERT_EQ(d.seq.notes.size(), s.notes.size());
  for (size_t i = 0; i < s.notes.size(); ++i) {
    EXPECT_EQ(d.seq.notes[i].start_tick, s.notes[i].start_tick);
    int64_t want = std::min<int64_t>(s.notes[i].end_tick - s.notes[i].start_tick, 4 * 480);
    EXPECT_EQ(d.seq.notes[i].end_tick - d.seq.notes[i].start_tick, want);
  }
  // Another resolution: ticks per beat 96, one beat later the same.
  NoteSequence coarse = make_seq({{60, 96, 192}}, 96);
  EXPECT_EQ(tok.decode(tok.encode(coarse)).seq.notes[0].start_tick, 480);
}

TEST(BeatsTokenizer, BarTokensFollowTheTimeSignatures) {
  NoteSequence s = make_seq({{60, 0, 480}, {62, 1440, 1920}, {64, 3 * 1440 + 10, 5000}});
  s.time_signatures = {TimeSignature{.numerator = 3, .denominator = 4}};
  BeatsTokenizer tok({.bars = true});
  auto names = names_of(tok, tok.encode(s));
  EXPECT_EQ(std::count(names.begin(), names.end(), "BAR"), 4);  // bars at 0, 3, 6 and 9 beats
  EXPECT_EQ(names[1], "BAR");
  auto d = tok.decode(tok.encode(s));
  EXPECT_EQ(d.repairs, 0);
  EXPECT_EQ(d.seq.notes[2].start_tick, 3 * 1440);  // 10 ticks off the grid, snapped
}

TEST(Tokenizer, IllFormedStreamsAreRepairedAndCounted) {
  EventsTokenizer ev;
  const int32_t on60 = EventsTokenizer::kNoteOn + 60, off60 = EventsTokenizer::kNoteOff + 60,
                off61 = EventsTokenizer::kNoteOff + 61, shift = EventsTokenizer::kShift + 9;
  auto r = ev.decode(std::vector<int32_t>{kBosToken, off61, on60, shift, 9999, -3, off60, kBosToken, kEosToken, on60});
  EXPECT_EQ(r.repairs, 4);  // unmatched NOTE_OFF, two ids out of range, stray BOS; after EOS ignored
  ASSERT_EQ(r.seq.notes.size(), 1u);
  EXPECT_NEAR(r.seq.notes[0].end, 0.1, 1e-9);
  auto open = ev.decode(std::vector<int32_t>{kBosToken, on60, shift, kEosToken});
  EXPECT_EQ(open.repairs, 1);  // EOS with a key down
  EXPECT_EQ(ev.decode(std::vector<int32_t>{kBosToken, on60, shift}).repairs, 0);  // cut short: fine

  BeatsTokenizer beats;
  const auto& ids = beats.ids();
  auto b = beats.decode(std::vector<int32_t>{kBosToken, ids.duration, ids.pitch + 60, ids.shift, ids.pitch + 62,
                                             ids.duration + 11, ids.velocity + 3, ids.pitch + 62, ids.duration,
                                             ids.velocity, kEosToken});
  EXPECT_EQ(b.repairs, 3);  // DUR with no pitch, pitch 60 with no duration, pitch 62 twice at one onset
  ASSERT_EQ(b.seq.notes.size(), 2u);
  EXPECT_EQ(b.seq.notes[0].end_tick - b.seq.notes[0].start_tick, 480);  // completed with one beat
}

TEST(Tokenizer, RandomStreamsNeverThrowAndDecodeToValidMidi) {
  std::mt19937_64 rng(11);
  for (const auto& t : all_tokenizers()) {
    for (int trial = 0; trial < 60; ++trial) {
      std::vector<int32_t> ids(std::uniform_int_distribution<size_t>(0, 400)(rng));
      for (auto& id : ids) id = std::uniform_int_distribution<int32_t>(-3, t->vocab_size() + 3)(rng);
      DecodeResult d;
      ASSERT_NO_THROW(d = t->decode(ids)) << t->name();
      test::expect_valid_midi(d.seq);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(TokenGrammar, StreamsSampledUnderTheMaskDecodeWithoutRepairs) {
  std::mt19937_64 rng(5);
  for (const auto& t : all_tokenizers()) {
    for (int trial = 0; trial < 40; ++trial) {
      auto ids = test::sample_under_grammar(*t, 400, rng, trial % 2 ? 0.02 : 0.0);
      auto d = t->decode(ids);
      EXPECT_EQ(d.repairs, 0) << t->name() << " trial " << trial;
      test::expect_valid_midi(d.seq);
      if (HasFatalFailure()) return;
    }
    // The grammar rejects what its mask forbids: before BOS only BOS is legal.
    EXPECT_THROW(t->grammar()->advance(kEosToken), InvalidArgument);
  }
}

// advance() checks one token on its own (body_allows); the mask is filled by body_legal. At every
// step of sampled streams, every id (and a few outside the vocabulary) is taken by a copy of the
// grammar exactly when the mask allows it.
TEST(TokenGrammar, AdvanceTakesExactlyWhatTheMaskAllows) {
  std::mt19937_64 rng(17);
  for (const auto& t : all_tokenizers()) {
    const int32_t vocab = t->vocab_size();
    std::vector<uint8_t> mask(static_cast<size_t>(vocab));
    for (int trial = 0; trial < 2; ++trial) {
      const auto stream = test::sample_under_grammar(*t, 48, rng, 0.01);
      std::vector<int32_t> prefix;
      auto at_prefix = [&] {
        auto g = t->grammar();
        for (int32_t id : prefix) g->advance(id);
        return g;
      };
      for (size_t step = 0; step <= stream.size(); ++step) {
        auto probe = at_prefix();
        probe->legal_next(mask);
        for (int32_t id = -2; id < vocab + 2; ++id) {
          const bool legal = id >= 0 && id < vocab && mask[static_cast<size_t>(id)];
          bool taken = true;
          try {
            probe->advance(id);
          } catch (const InvalidArgument&) {
            taken = false;  // a refused token leaves the grammar as it was: the probe goes on
          }
          ASSERT_EQ(taken, legal) << t->name() << " id " << id << " after " << prefix.size() << " tokens";
          if (taken) probe = at_prefix();
        }
        if (step < stream.size()) prefix.push_back(stream[step]);
      }
    }
  }
}

TEST(TokenGrammar, AcceptsEveryEncodedStream) {
  NoteSequence s = make_seq({{60, 0, 480}, {64, 0, 480}, {67, 0, 480}, {62, 480, 960}, {62, 960, 1200},
                             {72, 960, 1200}, {48, 1440, 2400}, {48, 2400, 9000}});
  for (const auto& t : all_tokenizers()) {
    auto g = t->grammar();
    for (int32_t id : t->encode(s)) ASSERT_NO_THROW(g->advance(id)) << t->name() << " " << t->vocab().name(id);
    EXPECT_TRUE(g->finished());
  }
}

}  // namespace
}  // namespace etude
