// Tests for endings (compose/ending.hpp): a tonic chord over the tonic near the end becomes the
// final chord, held to the end on a beat; without one the last beat's notes ring under a fade;
// nothing is struck after the final onset; a held pedal is lifted; tempo and key come first.
#include <gtest/gtest.h>

#include "base/error.hpp"
#include "compose/ending.hpp"
#include "music/sequence_ops.hpp"

namespace etude {
namespace {

constexpr int64_t kBeat = 480;

// One note per half beat from beat 0 to `beats` (pitches cycling through `pitches`), plus `chord`
// struck on beat `chord_beat` for a beat.
NoteSequence piece(int beats, std::vector<int> pitches, int chord_beat = -1, std::vector<int> chord = {}) {
  NoteSequence s;
  s.ticks_per_beat = int(kBeat);
  for (int i = 0; i < 2 * beats; ++i) {
    const int64_t t = i * kBeat / 2;
    if (chord_beat >= 0 && t == chord_beat * kBeat) continue;
    s.notes.push_back({.pitch = pitches[size_t(i) % pitches.size()], .velocity = 80, .start_tick = t, .end_tick = t + kBeat / 2});
  }
  for (int p : chord)
    s.notes.push_back({.pitch = p, .velocity = 80, .start_tick = chord_beat * kBeat, .end_tick = (chord_beat + 1) * kBeat});
  s.total_ticks = beats * kBeat;
  sort_notes(s);
  retime_seconds(s);
  return s;
}

const KeyEstimate kC{.tonic = 0, .minor = false};

TEST(Ending, ATonicChordOverTheTonicBecomesTheFinalChordHeldToTheEnd) {
  // 24 beats of D-F-A (no tonic close), a C major chord over C2 on beat 17; end asked at beat 20.
  const NoteSequence s = piece(24, {62, 65, 69}, 17, {48, 64, 67, 72});
  Ending e;
  const NoteSequence out = end_piece(s, 20 * kBeat + 100, kC, &e);
  EXPECT_EQ(e.kind, EndingKind::cadence);
  EXPECT_EQ(e.final_tick, 17 * kBeat);
  EXPECT_EQ(e.end_tick, 20 * kBeat);
  EXPECT_EQ(out.total_ticks, 20 * kBeat);
  EXPECT_DOUBLE_EQ(e.end_time, 10.0);  // 120 BPM
  for (const Note& n : out.notes) {
    EXPECT_LE(n.start_tick, e.final_tick);
    if (n.start_tick == e.final_tick) EXPECT_EQ(n.end_tick, e.end_tick);
    else EXPECT_LE(n.end_tick, e.final_tick);  // the D-F-A notes do not ring over the tonic chord
  }
}

TEST(Ending, WithoutACadenceTheLastBeatRingsUnderADecrescendo) {
  // The tonic chord without the tonic in the bass (E below) is no cadence.
  const NoteSequence s = piece(24, {62, 65, 69}, 18, {52, 60, 67});
  Ending e;
  const NoteSequence out = end_piece(s, 20 * kBeat, kC, &e);
  EXPECT_EQ(e.kind, EndingKind::let_ring);
  EXPECT_EQ(e.final_tick, 19 * kBeat);  // the latest beat with an onset
  int final_velocity = 0, early_velocity = 0;
  for (const Note& n : out.notes) {
    EXPECT_LE(n.start_tick, e.final_tick);
    if (n.start_tick == e.final_tick) {
      EXPECT_EQ(n.end_tick, e.end_tick);
      final_velocity = n.velocity;
    }
    if (n.start_tick == 0) early_velocity = n.velocity;
  }
  EXPECT_EQ(early_velocity, 80);
  EXPECT_EQ(final_velocity, 40);  // faded to half at the final onset
}

TEST(Ending, ALastChordOffTheBeatIsMovedOntoTheNextBeat) {
  NoteSequence s;
  s.ticks_per_beat = int(kBeat);
  for (int64_t t : {0, 360, 840, 1320, 1800, 2280, 2760, 3240, 3720, 4200})  // all three quarters into a beat
    s.notes.push_back({.pitch = 62, .velocity = 80, .start_tick = t, .end_tick = t + 600});
  s.total_ticks = 4800;
  retime_seconds(s);
  Ending e;
  const NoteSequence out = end_piece(s, 10 * kBeat, kC, &e, {.max_hold_beats = 4});
  EXPECT_EQ(e.kind, EndingKind::let_ring);
  EXPECT_EQ(e.final_tick, 9 * kBeat);  // 4200 moved to 4320
  EXPECT_EQ(out.notes.back().start_tick, 9 * kBeat);
  EXPECT_EQ(out.notes.back().end_tick, 10 * kBeat);
  EXPECT_EQ(out.notes.size(), s.notes.size());
}

TEST(Ending, EndsOnTheNearestBeatNoLaterThanThePieceAndLiftsThePedal) {
  NoteSequence s = piece(8, {60, 64, 67});
  s.control_changes.push_back({.tick = 0, .number = 64, .value = 127});
  retime_seconds(s);
  Ending e;
  const NoteSequence out = end_piece(s, 100 * kBeat, kC, &e);  // longer than the piece: its last beat
  EXPECT_EQ(e.end_tick, 8 * kBeat);
  ASSERT_FALSE(out.control_changes.empty());
  EXPECT_EQ(out.control_changes.back().tick, 8 * kBeat);
  EXPECT_EQ(out.control_changes.back().value, 0);
  EXPECT_EQ(end_piece(s, 5 * kBeat + 200, kC, &e).total_ticks, 5 * kBeat);      // rounds down
  EXPECT_EQ(end_piece(s, 5 * kBeat + 260, kC, &e).total_ticks, 6 * kBeat);      // rounds up
}

TEST(Ending, FinishMovesTheKeyThenTheTempoThenEnds) {
  const NoteSequence s = piece(40, {60, 62, 64, 65, 67, 69, 71}, 30, {48, 60, 64, 67});  // C major
  PieceFinish f{.key = KeyEstimate{.tonic = 2, .minor = false}, .tempo = 60, .seconds = 12};
  FinishedPiece r;
  const NoteSequence out = finish_piece(s, f, &r);
  EXPECT_EQ(r.key.name(), "D major");
  ASSERT_TRUE(r.ending.has_value());
  EXPECT_NEAR(out.total_time, 12.0, 0.5);  // 60 BPM: a beat is a second
  EXPECT_EQ(out.total_ticks % kBeat, 0);
  EXPECT_EQ(out.key_signatures.at(0).key, 2);
  EXPECT_NEAR(seconds_to_compose(45, 60, 120), (45 + 2) * 0.5, 1e-9);  // at half speed: half as much music
  EXPECT_NEAR(seconds_to_compose(45, 0, 120), 46, 1e-9);
}

TEST(Ending, APieceOffTheBeatIsDelayedOntoIt) {
  NoteSequence s = piece(8, {60, 64, 67});
  for (Note& n : s.notes) n.start_tick += 360, n.end_tick += 360;  // every onset three quarters into a beat
  s.total_ticks += 360;
  retime_seconds(s);
  const NoteSequence a = align_to_beats(s);
  // Half-beat notes sit at two phases equally often: the earlier phase (120) goes onto the beat.
  EXPECT_EQ(a.notes.front().start_tick, 720);
  for (const Note& n : a.notes) EXPECT_EQ(n.start_tick % 240, 0);
  EXPECT_EQ(align_to_beats(a).notes, a.notes);  // already on the beat
}

TEST(Ending, BadOptionsAreRefused) {
  EXPECT_THROW(end_piece(piece(4, {60}), kBeat, kC, nullptr, {.max_hold_beats = 0}), InvalidArgument);
  NoteSequence smpte = piece(4, {60});
  smpte.ticks_per_beat = 0;
  EXPECT_THROW(end_piece(smpte, kBeat, kC), InvalidArgument);
}

}  // namespace
}  // namespace etude
