// Reader tests on hand-built SMF bytes: every feature (formats, running status, sysex, meta,
// SMPTE, RIFF) and every error, with the offsets the messages must name; lenient recovery.
#include <gtest/gtest.h>

#include "base/error.hpp"
#include "midi/message_table.hpp"
#include "midi/midi_file.hpp"
#include "smf_bytes.hpp"

namespace etude {
namespace {
using namespace test;

MidiFile parse(const Bytes& b, bool lenient = false) { return read_midi(b, "t.mid", ReadOptions{lenient}); }

// The strict error message for b, or "" when it parses.
std::string error_of(const Bytes& b) {
  try {
    parse(b);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

const Bytes kNote = {0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0};  // C4 on, 96 ticks later off

TEST(MidiReader, Format0OneNote) {
  MidiFile f = parse(smf(0, 96, {track(kNote)}));
  EXPECT_EQ(f.format, 0);
  EXPECT_EQ(f.division.ticks_per_beat, 96);
  ASSERT_EQ(f.tracks.size(), 1u);
  ASSERT_EQ(f.tracks[0].events.size(), 3u);
  EXPECT_TRUE(f.tracks[0].events[0].is_note_on());
  EXPECT_TRUE(f.tracks[0].events[1].is_note_off());
  EXPECT_EQ(f.tracks[0].events[1].tick, 96);
  EXPECT_TRUE(f.tracks[0].events[2].is_meta(meta::kEndOfTrack));
  EXPECT_TRUE(f.warnings.empty());
}

TEST(MidiReader, Format1AndFormat2ManyTracks) {
  for (int format : {1, 2}) {
    MidiFile f = parse(smf(format, 480, {track(tempo(0, 600000)), track(kNote), track(kNote), track({})}));
    EXPECT_EQ(f.format, format);
    ASSERT_EQ(f.tracks.size(), 4u);
    EXPECT_EQ(meta_tempo(f.tracks[0].events[0]), 600000u);
    EXPECT_EQ(f.tracks[3].events.size(), 1u);
  }
}

TEST(MidiReader, RunningStatusContinuesAfterMetaAndSysex) {
  const Bytes events = {0x00, 0x90, 60, 100,         // note on, sets running status
                        0x00, 62, 90,                // running status
                        0x00, 0xFF, 0x01, 0x01, 'x', // meta text
                        0x10, 60, 0,                 // running status after meta: note-on vel 0
                        0x00, 0xF0, 0x02, 0x7E, 0xF7,// sysex
                        0x10, 62, 0};                // running status after sysex
  MidiFile f = parse(smf(0, 96, {track(events)}));
  const auto& ev = f.tracks[0].events;
  ASSERT_EQ(ev.size(), 7u);
  EXPECT_EQ(ev[1].status, 0x90);
  EXPECT_EQ(ev[1].data1, 62);
  EXPECT_TRUE(ev[3].is_note_off());
  EXPECT_EQ(ev[3].tick, 16);
  EXPECT_EQ(ev[4].status, 0xF0);
  EXPECT_EQ(ev[4].payload, (Bytes{0x7E, 0xF7}));
  EXPECT_TRUE(ev[5].is_note_off());
  EXPECT_EQ(ev[5].data1, 62);
  EXPECT_EQ(ev[5].tick, 32);
}

TEST(MidiReader, AllChannelMessageKindsAndEscape) {
  const Bytes events = {0x00, 0xA1, 60, 5,  0x00, 0xB2, 64, 127, 0x00, 0xC3, 19,  0x00, 0xD4, 33,
                        0x00, 0xE5, 0, 64,  0x00, 0xF7, 0x02, 0xF3, 0x01};
  const MidiFile f = parse(smf(0, 96, {track(events)}));
  const auto& ev = f.tracks[0].events;
  ASSERT_EQ(ev.size(), 7u);
  EXPECT_EQ(ev[0].kind(), 0xA0);
  EXPECT_EQ(ev[1].channel(), 2);
  EXPECT_EQ(ev[1].data2, 127);
  EXPECT_EQ(ev[2].data1, 19);
  EXPECT_EQ(ev[3].data1, 33);
  EXPECT_EQ(ev[4].data2, 64);
  EXPECT_EQ(ev[5].status, 0xF7);
  EXPECT_EQ(ev[5].payload, (Bytes{0xF3, 0x01}));
}

TEST(MidiReader, MetaEventsAreKept) {
  const Bytes events = {0x00, 0xFF, 0x03, 0x03, 'P', 'n', 'o',             // track name
                        0x00, 0xFF, 0x02, 0x02, 0xA9, 'K',                  // copyright, Latin-1 ©
                        0x00, 0xFF, 0x06, 0x01, 'A',                        // marker
                        0x00, 0xFF, 0x54, 0x05, 0x60, 0, 0, 0, 0,           // SMPTE offset
                        0x00, 0xFF, 0x58, 0x04, 3, 3, 24, 8,                // 3/8
                        0x00, 0xFF, 0x59, 0x02, 0xFD, 0x01,                 // 3 flats, minor
                        0x00, 0xFF, 0x7F, 0x01, 0x42,                       // sequencer specific
                        0x00, 0xFF, 0x60, 0x00};                            // unknown meta type
  MidiFile f = parse(smf(0, 96, {track(events)}));
  const auto& ev = f.tracks[0].events;
  ASSERT_EQ(ev.size(), 9u);
  EXPECT_EQ(f.tracks[0].name(), "Pno");
  EXPECT_EQ(meta_text(ev[1]), "\xC2\xA9K");  // decoded as Latin-1 into UTF-8
  EXPECT_EQ(meta_spec(ev[2].meta_type).name, "marker");
  EXPECT_EQ(ev[3].payload.size(), 5u);
  EXPECT_EQ(ev[4].payload, (Bytes{3, 3, 24, 8}));
  EXPECT_EQ(ev[5].payload, (Bytes{0xFD, 0x01}));
  EXPECT_EQ(meta_spec(ev[6].meta_type).name, "sequencer_specific");
  EXPECT_EQ(meta_spec(ev[7].meta_type).name, "unknown_meta");
}

TEST(MidiReader, SmpteDivision) {
  MidiFile f = parse(smf(0, 0xE728, {track(kNote)}));  // -25 fps, 40 ticks per frame
  EXPECT_TRUE(f.division.is_smpte());
  EXPECT_EQ(f.division.smpte_fps, 25);
  EXPECT_EQ(f.division.ticks_per_frame, 40);
  MidiFile d = parse(smf(0, 0xE302, {track(kNote)}));  // -29: 29.97 drop-frame
  EXPECT_EQ(d.division.smpte_fps, 29);
  EXPECT_DOUBLE_EQ(d.division.frames_per_second(), 30000.0 / 1001.0);
}

TEST(MidiReader, RiffRmidAndAlienChunks) {
  const Bytes inner = cat({header(1, 1, 96), chunk("XFIH", {1, 2, 3}), track(kNote)});
  Bytes riff = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'R', 'M', 'I', 'D', 'L', 'I', 'S', 'T', 3, 0, 0, 0, 'a', 'b', 'c', 0,
                'd', 'a', 't', 'a', uint8_t(inner.size()), 0, 0, 0};
  riff = cat({riff, inner});
  MidiFile f = parse(riff);
  EXPECT_TRUE(f.riff);
  ASSERT_EQ(f.tracks.size(), 1u);
  EXPECT_EQ(f.tracks[0].events.size(), 3u);
  // Offsets in errors count from the start of the RIFF file.
  Bytes broken = riff;
  broken.back() = 0x7F;  // End of Track length byte becomes 127: truncated meta
  EXPECT_NE(error_of(broken).find("byte offset " + std::to_string(broken.size() - 1)), std::string::npos) << error_of(broken);
  EXPECT_NE(error_of({'R', 'I', 'F', 'F', 4, 0, 0, 0, 'W', 'A', 'V', 'E'}).find("not a RIFF MIDI"), std::string::npos);
  EXPECT_NE(error_of({'R', 'I', 'F', 'F', 4, 0, 0, 0, 'R', 'M', 'I', 'D'}).find("without a 'data' chunk"), std::string::npos);
}

// Each error names the file, the track where there is one, the byte offset and the problem.
struct ErrorCase {
  const char* what;
  Bytes bytes;
  std::string expected;
};

TEST(MidiReader, StrictErrorsNameFileTrackOffsetAndProblem) {
  const Bytes good = smf(0, 96, {track(kNote)});
  Bytes junk = cat({good, {0x00, 0x01, 0x02}});
  Bytes cut = good;
  cut.resize(cut.size() - 3);
  const std::vector<ErrorCase> cases = {
      {"empty", {}, "t.mid: byte offset 0: not a MIDI file"},
      {"text", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'}, "byte offset 0: not a MIDI file"},
      {"short header", cat({{'M', 'T', 'h', 'd'}, be32(4), {0, 0, 0, 1}}), "byte offset 4: header chunk length 4 is less than 6"},
      {"truncated header", cat({{'M', 'T', 'h', 'd'}, be32(6), {0, 0}}), "byte offset 4: truncated header chunk"},
      {"truncated chunk", cut, "track 0, byte offset 18: truncated chunk: its length field says 12 bytes but only 9 remain"},
      {"bad vlq", smf(0, 96, {track({0x81, 0x81, 0x81, 0x81, 0x00, 0x90, 60, 1})}), "track 0, byte offset 22: bad variable-length number"},
      {"undefined status", smf(0, 96, {track({0x00, 0xF4})}), "track 0, byte offset 23: undefined status byte 0xF4"},
      {"no running status", smf(0, 96, {track({0x00, 0x3C, 0x40})}), "track 0, byte offset 23: data byte 0x3C where a status byte was expected"},
      {"data high bit", smf(0, 96, {track({0x00, 0x90, 0x3C, 0x90})}), "track 0, byte offset 25: data byte 0x90 has its high bit set in a note_on"},
      {"truncated meta", smf(0, 96, {track({0x00, 0xFF, 0x01, 0x10, 'a'}, false)}), "track 0, byte offset 25: truncated meta event: length 16 but only 1 bytes left"},
      {"truncated event", smf(0, 96, {track({0x00, 0x90, 60}, false)}), "track 0, byte offset 25: track ends in the middle of an event"},
      {"tempo length", smf(0, 96, {track({0x00, 0xFF, 0x51, 0x02, 1, 2})}), "track 0, byte offset 23: set_tempo meta event has 2 data bytes, expected 3"},
      {"key range", smf(0, 96, {track({0x00, 0xFF, 0x59, 0x02, 9, 0})}), "key_signature out of range"},
      {"missing eot", smf(0, 96, {track(kNote, false)}), "track 0, byte offset 30: track ends without an End of Track"},
      {"after eot", smf(0, 96, {chunk("MTrk", cat({kEndOfTrack, kNote}))}), "track 0, byte offset 26: 8 bytes after End of Track"},
      {"missing MTrk", cat({header(1, 3, 96), track(kNote)}), "byte offset 10: missing MTrk: the header says 3 tracks but the file has 1"},
      {"extra MTrk", cat({header(1, 1, 96), track(kNote), track(kNote)}), "the header says 1 tracks but the file has 2"},
      {"junk", junk, "byte offset 34: 3 bytes of junk after the last chunk"},
      {"format 0, 2 tracks", smf(0, 96, {track(kNote), track(kNote)}), "format 0 file with 2 tracks"},
      {"format 3", smf(3, 96, {track(kNote)}), "byte offset 8: unknown SMF format 3"},
      {"zero division", smf(0, 0, {track(kNote)}), "byte offset 12: division of 0 ticks per beat"},
      {"bad fps", smf(0, 0xE002, {track(kNote)}), "SMPTE division with 32 frames per second"},
      {"zero tpf", smf(0, 0xE700, {track(kNote)}), "SMPTE division with 0 ticks per frame"},
      {"not MTrk", cat({header(0, 1, 96), {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08}}), "byte offset 14: expected an MTrk chunk"},
  };
  for (const ErrorCase& c : cases) {
    const std::string message = error_of(c.bytes);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.what << ": got \"" << message << "\"";
    EXPECT_EQ(message.rfind("t.mid: ", 0), 0u) << c.what << ": " << message;
  }
  EXPECT_EQ(error_of(good), "");
}

TEST(MidiReader, LenientKeepsTruncatedLastTrack) {
  Bytes b = smf(1, 96, {track(kNote), track(cat({kNote, kNote}))});
  b.resize(b.size() - 7);  // cut inside the second note of the last track
  EXPECT_NE(error_of(b), "");
  MidiFile f = parse(b, true);
  ASSERT_EQ(f.tracks.size(), 2u);
  EXPECT_EQ(f.tracks[0].events.size(), 3u);
  EXPECT_EQ(f.tracks[1].events.size(), 3u);  // first note on+off, second note on
  ASSERT_FALSE(f.warnings.empty());
  EXPECT_NE(f.warnings[0].find("truncated chunk"), std::string::npos);
}

TEST(MidiReader, LenientFollowsEndOfTrackWhenLengthIsWrong) {
  for (int delta : {-5, +3}) {
    Bytes t0 = track(kNote);
    t0[7] = uint8_t(t0[7] + delta);  // wrong length byte of the first track
    Bytes b = cat({header(1, 2, 96), t0, track(kNote)});
    EXPECT_NE(error_of(b), "") << delta;
    MidiFile f = parse(b, true);
    ASSERT_EQ(f.tracks.size(), 2u) << delta;
    EXPECT_EQ(f.tracks[0].events.size(), 3u) << delta;
    EXPECT_EQ(f.tracks[1].events.size(), 3u) << delta;
    ASSERT_EQ(f.warnings.size(), 1u) << delta;
    EXPECT_NE(f.warnings[0].find("track 0"), std::string::npos) << f.warnings[0];
    EXPECT_NE(f.warnings[0].find("length field says"), std::string::npos) << f.warnings[0];
  }
}

TEST(MidiReader, LenientIgnoresJunkAndReportsMissingTracks) {
  MidiFile f = parse(cat({smf(0, 96, {track(kNote)}), {0, 0, 0}}), true);
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_NE(f.warnings[0].find("3 bytes of junk after the last chunk"), std::string::npos);
  MidiFile g = parse(cat({header(1, 2, 96), track(kNote), {9, 9, 9}, track(kNote), {1}}), true);
  EXPECT_EQ(g.tracks.size(), 2u);
  EXPECT_EQ(g.warnings.size(), 2u);  // junk before the second MTrk, junk at the end
  MidiFile h = parse(cat({header(1, 3, 96), track(kNote)}), true);
  EXPECT_EQ(h.tracks.size(), 1u);
  ASSERT_EQ(h.warnings.size(), 1u);
  EXPECT_NE(h.warnings[0].find("missing MTrk"), std::string::npos);
}

TEST(MidiReader, LenientBadEventEndsTrackKeepingEarlierEvents) {
  MidiFile f = parse(smf(1, 96, {track(cat({kNote, {0x00, 0xF4}})), track(kNote)}), true);
  ASSERT_EQ(f.tracks.size(), 2u);
  EXPECT_EQ(f.tracks[0].events.size(), 2u);
  EXPECT_EQ(f.tracks[1].events.size(), 3u);
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_NE(f.warnings[0].find("undefined status byte"), std::string::npos);
}

TEST(MidiReader, LenientSkipsMalformedMetaEventsAndKeepsTheTrack) {
  const Bytes events = cat({{0x00, 0xFF, 0x51, 0x02, 1, 2, 0x00, 0xFF, 0x59, 0x02, 9, 0}, kNote});
  EXPECT_NE(error_of(smf(0, 96, {track(events)})), "");
  MidiFile f = parse(smf(0, 96, {track(events)}), true);
  EXPECT_EQ(f.tracks[0].events.size(), 3u);  // note on, note off, End of Track
  ASSERT_EQ(f.warnings.size(), 2u);
  EXPECT_EQ(f.warnings[0], "track 0, byte offset 23: set_tempo meta event has 2 data bytes, expected 3; event skipped");
  EXPECT_NE(f.warnings[1].find("key_signature out of range"), std::string::npos);
}

TEST(MidiReader, TempoZeroIsAnErrorOrSkipped) {
  const Bytes events = cat({{0x00, 0xFF, 0x51, 0x03, 0, 0, 0}, kNote});
  EXPECT_NE(error_of(smf(0, 96, {track(events)})).find("set_tempo of 0"), std::string::npos);
  MidiFile f = parse(smf(0, 96, {track(events)}), true);
  EXPECT_EQ(f.tracks[0].events.size(), 3u);  // the tempo is skipped, the note kept
  ASSERT_EQ(f.warnings.size(), 1u);
}

TEST(MidiReader, InvalidUtf8TextIsReadAsLatin1) {
  // Overlong (C0 80), surrogate (ED A0 80) and beyond U+10FFFF (F5): not UTF-8, so Latin-1.
  for (const Bytes& text : {Bytes{0xC0, 0x80}, Bytes{0xED, 0xA0, 0x80}, Bytes{0xF5, 0x80, 0x80, 0x80}, Bytes{0xE0, 0x80, 0x80}}) {
    Bytes events = {0x00, 0xFF, 0x03, static_cast<uint8_t>(text.size())};
    events.insert(events.end(), text.begin(), text.end());
    MidiFile f = parse(smf(0, 96, {track(cat({events, kNote}))}));
    const std::string name = f.tracks[0].name();
    EXPECT_EQ(name.size(), 2 * text.size());  // every byte >= 0x80 becomes two UTF-8 bytes
  }
  MidiFile ok = parse(smf(0, 96, {track(cat({{0x00, 0xFF, 0x03, 0x04, 0xF0, 0x9F, 0x8E, 0xB9}, kNote}))}));
  EXPECT_EQ(ok.tracks[0].name(), "\xF0\x9F\x8E\xB9");  // valid 4-byte UTF-8 kept as is
}

TEST(MidiReader, LenientDropsAMessageCutShortByAStatusByte) {
  const Bytes events = {0x00, 0x90, 60, 0x80, 60, 0, 0x10, 0x90, 62, 100};  // note-on lacks its velocity
  EXPECT_NE(error_of(smf(0, 96, {track(events)})).find("byte offset 25: data byte 0x80 has its high bit set"), std::string::npos);
  MidiFile f = parse(smf(0, 96, {track(events)}), true);
  const auto& ev = f.tracks[0].events;
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_TRUE(ev[0].is_note_off());  // 0x80 60 0 at tick 0
  EXPECT_EQ(ev[1].tick, 16);
  EXPECT_TRUE(ev[1].is_note_on());
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_NE(f.warnings[0].find("byte offset 25"), std::string::npos) << f.warnings[0];
}

TEST(MidiReader, HugeLengthFieldsAllocateNothing) {
  // A meta length of 2^28-1 inside a 10-byte track must fail cleanly, not allocate 256 MB.
  const Bytes b = smf(0, 96, {chunk("MTrk", {0x00, 0xFF, 0x01, 0xFF, 0xFF, 0xFF, 0x7F})});
  EXPECT_NE(error_of(b).find("truncated meta event"), std::string::npos);
  Bytes huge = cat({header(0, 1, 96), {'M', 'T', 'r', 'k', 0xFF, 0xFF, 0xFF, 0xFF}, kNote});
  EXPECT_NE(error_of(huge).find("truncated chunk"), std::string::npos);
  EXPECT_EQ(parse(huge, true).tracks.size(), 1u);
}

TEST(MidiReader, ReadMidiFileNamesMissingPath) {
  EXPECT_THROW(read_midi_file("/nonexistent/x.mid"), IoError);
}

TEST(MessageTable, LengthsAndUndefinedBytes) {
  EXPECT_EQ(message_spec(0x93)->name, "note_on");
  EXPECT_EQ(message_spec(0x93)->data_length, 2);
  EXPECT_EQ(message_spec(0xC5)->data_length, 1);
  EXPECT_EQ(message_spec(0xD0)->data_length, 1);
  EXPECT_EQ(message_spec(0xFF)->data_length, -1);
  for (int undefined : {0x00, 0x7F, 0xF4, 0xF5, 0xF9, 0xFD}) EXPECT_EQ(message_spec(uint8_t(undefined)), nullptr);
  EXPECT_EQ(meta_spec(0x51).length, 3);
}

}  // namespace
}  // namespace etude
