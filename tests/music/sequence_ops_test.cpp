// Sequence helpers: merge to piano, sustain pedal (note-seq semantics), transpose (drop and
// clamp), time stretch (PPQ and SMPTE), retiming, cut, tempo and program; small sequences built in
// code, plus the corpus.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "base/error.hpp"
#include "music/midi_convert.hpp"
#include "music/scan.hpp"
#include "music/sequence_ops.hpp"

namespace etude {
namespace {

// A sequence at 120 BPM, 10 ticks per beat: 20 ticks per second.
NoteSequence seq_of(std::vector<Note> notes, std::vector<ControlChange> ccs = {}, int64_t total = 200) {
  NoteSequence s;
  s.ticks_per_beat = 10;
  s.notes = std::move(notes);
  s.control_changes = std::move(ccs);
  s.total_ticks = total;
  retime_seconds(s);
  return s;
}
Note note(int pitch, int64_t start, int64_t end, int channel = 0) {
  Note n;
  n.pitch = pitch;
  n.start_tick = start;
  n.end_tick = end;
  n.channel = channel;
  n.is_drum = channel == 9;
  return n;
}
ControlChange pedal(int64_t tick, int value, int channel = 0) { return ControlChange{tick, 0, channel, 64, value, 0}; }

TEST(SequenceOps, RetimeSecondsAndTicks) {
  NoteSequence s = seq_of({note(60, 20, 50)});
  EXPECT_DOUBLE_EQ(s.notes[0].start, 1.0);
  EXPECT_DOUBLE_EQ(s.notes[0].end, 2.5);
  EXPECT_DOUBLE_EQ(s.total_time, 10.0);
  s.tempos = {TempoChange{0, 0, 1000000}};
  s.notes[0].start = 3.0;
  s.notes[0].end = 3.26;
  retime_ticks(s);  // 10 ticks per second now
  EXPECT_EQ(s.notes[0].start_tick, 30);
  EXPECT_EQ(s.notes[0].end_tick, 33);
}

TEST(SequenceOps, MergeToPianoDropsDrumsAndFlattensParts) {
  NoteSequence s = seq_of({note(60, 0, 10, 0), note(36, 0, 10, 9), note(64, 5, 10, 3)}, {pedal(0, 127, 3), pedal(0, 127, 9)});
  s.notes[2].track = 2;
  s.notes[2].program = 40;
  s.program_changes = {ProgramChange{0, 0, 3, 40, 2}};
  const NoteSequence p = merge_to_piano(s);
  ASSERT_EQ(p.notes.size(), 2u);
  for (const Note& n : p.notes) {
    EXPECT_EQ(n.channel, 0);
    EXPECT_EQ(n.program, 0);
    EXPECT_EQ(n.track, 0);
  }
  ASSERT_EQ(p.control_changes.size(), 1u);
  EXPECT_EQ(p.control_changes[0].channel, 0);
  EXPECT_TRUE(p.program_changes.empty());
  EXPECT_EQ(midi_from_note_sequence(p).tracks.size(), 1u);
}

TEST(SequenceOps, SustainExtendsReleasedNotesToPedalUp) {
  // Pedal down 10..100. Note A 0..20 extends to 100; note B 120..130 is after the pedal.
  const NoteSequence s = apply_sustain(seq_of({note(60, 0, 20), note(62, 120, 130)}, {pedal(10, 127), pedal(100, 0)}));
  EXPECT_EQ(s.notes[0].end_tick, 100);
  EXPECT_DOUBLE_EQ(s.notes[0].end, 5.0);
  EXPECT_EQ(s.notes[1].end_tick, 130);
  EXPECT_EQ(s.control_changes.size(), 2u);
}

TEST(SequenceOps, SustainRestrikeEndsEarlierNoteAndHeldNotesKeepTheirEnd) {
  // Pedal down 0..100. C4 0..10 re-struck at 50 (ends at 50); the new C4 50..60 extends to 100.
  // E4 held by the key 0..150 past the pedal keeps its end. Another channel is untouched.
  const NoteSequence s = apply_sustain(
      seq_of({note(60, 0, 10), note(60, 50, 60), note(64, 0, 150), note(67, 0, 10, 1)}, {pedal(0, 100), pedal(100, 10)}));
  ASSERT_EQ(s.notes.size(), 4u);
  EXPECT_EQ(s.notes[0].pitch, 60);
  EXPECT_EQ(s.notes[0].end_tick, 50);
  EXPECT_EQ(s.notes[1].pitch, 64);
  EXPECT_EQ(s.notes[1].end_tick, 150);
  EXPECT_EQ(s.notes[2].pitch, 67);
  EXPECT_EQ(s.notes[2].end_tick, 10);
  EXPECT_EQ(s.notes[3].start_tick, 50);
  EXPECT_EQ(s.notes[3].end_tick, 100);
}

TEST(SequenceOps, SustainRestrikeAtTheSameTickKeepsOneNote) {
  const NoteSequence s = apply_sustain(seq_of({note(60, 20, 30), note(60, 20, 25)}, {pedal(0, 127), pedal(100, 0)}));
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_EQ(s.notes[0].end_tick, 100);
}

TEST(SequenceOps, SustainHeldToTheEndRunsToTotalTime) {
  const NoteSequence s = apply_sustain(seq_of({note(60, 0, 10)}, {pedal(5, 64)}, 300));
  EXPECT_EQ(s.notes[0].end_tick, 300);
  const NoteSequence below = apply_sustain(seq_of({note(60, 0, 10)}, {pedal(5, 63)}, 300));
  EXPECT_EQ(below.notes[0].end_tick, 10);  // 63 is below the threshold: pedal up
}

TEST(SequenceOps, TransposeDropsOrClampsAndLeavesDrums) {
  const NoteSequence s = seq_of({note(120, 0, 10), note(60, 0, 10), note(36, 0, 10, 9)});
  const NoteSequence up = transpose(s, 10);
  ASSERT_EQ(up.notes.size(), 2u);
  EXPECT_EQ(up.notes[0].pitch, 36);  // drum unchanged
  EXPECT_EQ(up.notes[1].pitch, 70);
  const NoteSequence clamped = transpose(s, 10, OutOfRange::clamp);
  ASSERT_EQ(clamped.notes.size(), 3u);
  EXPECT_EQ(clamped.notes[2].pitch, 127);
  EXPECT_EQ(transpose(s, -61).notes.size(), 2u);  // 60 - 61 leaves the range; 120 -> 59 and the drum stay
}

TEST(SequenceOps, TimeStretchScalesTempoOrTicks) {
  NoteSequence s = seq_of({note(60, 20, 40)});
  const NoteSequence slow = time_stretch(s, 2.0);
  EXPECT_EQ(slow.notes[0].start_tick, 20);
  EXPECT_DOUBLE_EQ(slow.notes[0].start, 2.0);
  EXPECT_DOUBLE_EQ(slow.total_time, 20.0);
  ASSERT_EQ(slow.tempos.size(), 1u);
  EXPECT_EQ(slow.tempos[0].us_per_beat, 1000000u);
  s.ticks_per_beat = 0;
  s.smpte_fps = 25;
  s.ticks_per_frame = 4;  // 100 ticks per second
  retime_seconds(s);
  const NoteSequence fast = time_stretch(s, 0.5);
  EXPECT_EQ(fast.notes[0].start_tick, 10);
  EXPECT_DOUBLE_EQ(fast.notes[0].start, 0.1);
  EXPECT_THROW(time_stretch(s, 0.0), InvalidArgument);
  EXPECT_THROW(time_stretch(s, -1.0), InvalidArgument);
}

TEST(SequenceOpsCorpus, HelpersKeepCorpusFilesConsistent) {
  const char* env = std::getenv("ETUDE_CORPUS");
  if (!env || !std::filesystem::is_directory(env)) GTEST_SKIP() << "ETUDE_CORPUS is not set or not a folder";
  const auto files = find_midi_files(env);
  const NoteSequence seq = load_note_sequence(files[files.size() / 2]);
  ASSERT_FALSE(seq.control_changes.empty()) << "expected sustain pedal events in the corpus";
  const NoteSequence piano = apply_sustain(merge_to_piano(seq));
  ASSERT_EQ(piano.notes.size(), seq.notes.size());
  double before = 0, after = 0;
  for (size_t i = 0; i < seq.notes.size(); ++i) {
    before += seq.notes[i].end - seq.notes[i].start;
    after += piano.notes[i].end - piano.notes[i].start;
    EXPECT_GE(piano.notes[i].end_tick, piano.notes[i].start_tick);
  }
  EXPECT_GT(after, before);  // the pedal lengthens notes overall
  const NoteSequence slow = time_stretch(seq, 1.5);
  EXPECT_NEAR(slow.total_time, seq.total_time * 1.5, seq.total_time * 1e-5);
}

TEST(SequenceOps, TempoProgramAndTruncate) {
  NoteSequence s;
  s.notes.push_back({.pitch = 60, .velocity = 80, .start = 0.5, .end = 1.0, .start_tick = 480, .end_tick = 960});
  s.tempos.push_back({.tick = 0, .time = 0, .us_per_beat = 500000});
  s.total_time = 1.0, s.total_ticks = 960;
  s.ticks_per_beat = 480;
  const NoteSequence slow = set_tempo(s, 60.0);
  EXPECT_NEAR(slow.notes[0].start, 1.0, 1e-6);
  EXPECT_NEAR(slow.total_time, 2.0, 1e-6);
  const NoteSequence organ = set_program(s, 19);
  EXPECT_EQ(organ.notes[0].program, 19);
  ASSERT_EQ(organ.program_changes.size(), 1u);
  EXPECT_THROW(set_program(s, 128), InvalidArgument);
  EXPECT_THROW(set_tempo(s, 0.0), InvalidArgument);
  const NoteSequence cut = truncate_seconds(s, 0.75);
  ASSERT_EQ(cut.notes.size(), 1u);
  EXPECT_NEAR(cut.notes[0].end, 0.75, 1e-9);
  EXPECT_EQ(cut.notes[0].end_tick, 720);
}

}  // namespace
}  // namespace etude
