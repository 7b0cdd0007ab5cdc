// MIDI <-> NoteSequence: FIFO note pairing, notes open at track end, programs in force, tempo
// map across tracks, format 2 placement, SMPTE; and the round trip over every corpus file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "../midi/smf_bytes.hpp"
#include "base/error.hpp"
#include "music/midi_convert.hpp"
#include "music/scan.hpp"

namespace etude {
namespace {
using namespace test;
namespace fs = std::filesystem;

NoteSequence convert(const Bytes& b) { return note_sequence_from_midi(read_midi(b, "t.mid"), "t.mid"); }

void expect_same_music(const NoteSequence& a, const NoteSequence& b, const std::string& what) {
  EXPECT_EQ(a.ticks_per_beat, b.ticks_per_beat) << what;
  EXPECT_EQ(a.smpte_fps, b.smpte_fps) << what;
  EXPECT_EQ(a.ticks_per_frame, b.ticks_per_frame) << what;
  EXPECT_TRUE(a.notes == b.notes) << what << ": notes differ (" << a.notes.size() << " vs " << b.notes.size() << ")";
  EXPECT_TRUE(a.tempos == b.tempos) << what << ": tempos differ";
  EXPECT_TRUE(a.time_signatures == b.time_signatures) << what << ": time signatures differ";
  EXPECT_TRUE(a.key_signatures == b.key_signatures) << what << ": key signatures differ";
  EXPECT_TRUE(a.control_changes == b.control_changes) << what << ": control changes differ";
  EXPECT_TRUE(a.program_changes == b.program_changes) << what << ": program changes differ";
  EXPECT_EQ(a.total_ticks, b.total_ticks) << what;
  EXPECT_EQ(a.total_time, b.total_time) << what;
}

NoteSequence round_trip(const NoteSequence& seq) {
  return note_sequence_from_midi(read_midi(write_midi(midi_from_note_sequence(seq)), "rt.mid"), "rt.mid");
}

TEST(MidiConvert, NoteOffsPairFirstInFirstOut) {
  // Two C4 note-ons (vel 100 at 0, vel 50 at 10), then note-offs at 20 (note-on vel 0) and 30.
  const NoteSequence s = convert(smf(0, 10, {track({0x00, 0x90, 60, 100, 0x0A, 60, 50, 0x0A, 60, 0, 0x0A, 0x80, 60, 0})}));
  ASSERT_EQ(s.notes.size(), 2u);
  EXPECT_EQ(s.notes[0].velocity, 100);
  EXPECT_EQ(s.notes[0].end_tick, 20);
  EXPECT_EQ(s.notes[1].velocity, 50);
  EXPECT_EQ(s.notes[1].end_tick, 30);
  EXPECT_DOUBLE_EQ(s.notes[1].start, 0.5);  // 10 ticks of 10 per beat at 120 BPM
  EXPECT_DOUBLE_EQ(s.notes[1].end, 1.5);
}

TEST(MidiConvert, OpenNotesEndAtTrackEndAndStrayOffsAreIgnored) {
  const NoteSequence s = convert(smf(0, 10, {track({0x00, 0x80, 70, 0, 0x00, 0x91, 60, 100, 0x64, 0xFF, 0x01, 0x00})}));
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_EQ(s.notes[0].channel, 1);
  EXPECT_EQ(s.notes[0].end_tick, 100);
  EXPECT_EQ(s.total_ticks, 100);
  EXPECT_DOUBLE_EQ(s.total_time, 5.0);
}

TEST(MidiConvert, TempoTrackAppliesToAllTracksAndProgramsApplyByChannel) {
  const Bytes conductor = cat({tempo(0, 1000000), {0x00, 0xFF, 0x58, 0x04, 6, 3, 24, 8, 0x00, 0xFF, 0x59, 0x02, 2, 0}});
  const Bytes t1 = {0x00, 0xC0, 40, 0x0A, 0x90, 60, 90, 0x0A, 0x80, 60, 0};
  const Bytes t2 = {0x05, 0x90, 64, 90, 0x00, 0xC0, 41, 0x00, 0xB9, 64, 127, 0x00, 0x99, 36, 100, 0x0A, 0x80, 64, 0, 0x00, 0x89, 36, 0};
  const NoteSequence s = convert(smf(1, 10, {track(conductor), track(t1), track(t2)}));
  ASSERT_EQ(s.notes.size(), 3u);
  EXPECT_TRUE(s.notes[0].is_drum);  // sorted by (start tick, pitch): drum 36 at 5, E4 at 5, C4 at 10
  EXPECT_EQ(s.notes[1].pitch, 64);
  EXPECT_EQ(s.notes[1].program, 41);  // program change at the same tick is in force
  EXPECT_EQ(s.notes[1].track, 2);
  EXPECT_DOUBLE_EQ(s.notes[1].start, 0.5);  // 60 BPM from the conductor track
  EXPECT_EQ(s.notes[2].program, 41);  // last program change on channel 0 at or before tick 10
  ASSERT_EQ(s.tempos.size(), 1u);
  ASSERT_EQ(s.time_signatures.size(), 1u);
  EXPECT_EQ(s.time_signatures[0].denominator, 8);
  ASSERT_EQ(s.key_signatures.size(), 1u);
  EXPECT_EQ(s.key_signatures[0].key, 2);
  ASSERT_EQ(s.control_changes.size(), 1u);
  EXPECT_EQ(s.control_changes[0].channel, 9);
}

TEST(MidiConvert, Format2TracksPlayOneAfterAnother) {
  const Bytes pattern = {0x00, 0x90, 60, 100, 0x0A, 0x80, 60, 0};
  const NoteSequence s = convert(smf(2, 10, {track(pattern), track(pattern)}));
  ASSERT_EQ(s.notes.size(), 2u);
  EXPECT_EQ(s.notes[1].start_tick, 10);
  EXPECT_EQ(s.total_ticks, 20);
}

TEST(MidiConvert, SmpteSequenceRoundTrips) {
  const NoteSequence s = convert(smf(0, 0xE728, {track({0x00, 0x90, 60, 100, 0x87, 0x68, 0x80, 60, 0})}));
  EXPECT_EQ(s.ticks_per_beat, 0);
  EXPECT_EQ(s.smpte_fps, 25);
  EXPECT_DOUBLE_EQ(s.notes[0].end, 1.0);  // 1000 ticks at 25 fps * 40 ticks per frame
  expect_same_music(s, round_trip(s), "smpte");
}

TEST(MidiConvert, SameTickNotesAndZeroLengthNotesRoundTrip) {
  // C4 ends at 10 where a new C4 starts; a zero-length D4 at 10; overlapping E4s (FIFO).
  const Bytes t = {0x00, 0x90, 60, 100, 0x00, 64, 80, 0x0A, 60, 0, 0x00, 60, 90, 0x00, 62, 70, 0x00, 62, 0,
                   0x00, 64, 81, 0x05, 64, 0, 0x05, 64, 0, 0x0A, 60, 0};
  const NoteSequence s = convert(smf(0, 10, {track(t)}));
  ASSERT_EQ(s.notes.size(), 5u);
  expect_same_music(s, round_trip(s), "same tick");
}

TEST(MidiConvert, DerivesProgramChangesFromNotesWhenMissing) {
  NoteSequence s;
  s.notes = {Note{60, 100, 0, 0, 0, 10, 0, 19, 0, false}, Note{62, 100, 0, 0, 20, 30, 0, 0, 0, false}};
  const NoteSequence back = round_trip(s);
  ASSERT_EQ(back.notes.size(), 2u);
  EXPECT_EQ(back.notes[0].program, 19);
  EXPECT_EQ(back.notes[1].program, 0);
}

TEST(MidiConvert, RefusesSequencesMidiCannotHold) {
  NoteSequence s;
  s.notes = {Note{60, 0, 0, 0, 0, 10}};
  EXPECT_THROW(midi_from_note_sequence(s), InvalidArgument);  // velocity 0 would be a note-off
  s.notes = {Note{128, 10, 0, 0, 0, 10}};
  EXPECT_THROW(midi_from_note_sequence(s), InvalidArgument);
  s.notes = {Note{60, 10, 0, 0, 10, 5}};
  EXPECT_THROW(midi_from_note_sequence(s), InvalidArgument);
  s.notes.clear();
  s.time_signatures = {TimeSignature{0, 0, 3, 6}};
  EXPECT_THROW(midi_from_note_sequence(s), InvalidArgument);
}

fs::path corpus_or_skip() {
  const char* env = std::getenv("ETUDE_CORPUS");
  return env && fs::is_directory(env) ? fs::path(env) : fs::path();
}

TEST(MidiConvertCorpus, EveryFileRoundTripsThroughMidiBytes) {
  const fs::path corpus = corpus_or_skip();
  if (corpus.empty()) GTEST_SKIP() << "ETUDE_CORPUS is not set or not a folder";
  const auto files = find_midi_files(corpus);
  ASSERT_GT(files.size(), 300u);
  size_t notes = 0;
  for (const fs::path& path : files) {
    const NoteSequence seq = load_note_sequence(path);
    ASSERT_FALSE(seq.notes.empty()) << path;
    notes += seq.notes.size();
    expect_same_music(seq, round_trip(seq), path.string());
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(notes, 700000u);
}

TEST(MidiConvertCorpus, SaveAndLoadAFile) {
  const fs::path corpus = corpus_or_skip();
  if (corpus.empty()) GTEST_SKIP() << "ETUDE_CORPUS is not set or not a folder";
  const fs::path in = find_midi_files(corpus).front();
  const fs::path out = fs::temp_directory_path() / ("etude_convert_test_" + std::to_string(::getpid()) + ".mid");
  const NoteSequence seq = load_note_sequence(in);
  save_note_sequence(seq, out);
  expect_same_music(seq, load_note_sequence(out), in.string());
  fs::remove(out);
}

}  // namespace
}  // namespace etude
