// Writer and tempo map tests: bytes -> MidiFile -> bytes -> MidiFile is the identity, running
// status is used and restarted after meta/sysex, bad input is refused; exact tick <-> seconds.
#include <gtest/gtest.h>

#include "base/error.hpp"
#include "midi/message_table.hpp"
#include "midi/midi_file.hpp"
#include "midi/tempo_map.hpp"
#include "smf_bytes.hpp"

namespace etude {
namespace {
using namespace test;

TEST(MidiWriter, RoundTripKeepsEveryEvent) {
  const Bytes events = {0x00, 0xFF, 0x03, 0x01, 'A', 0x00, 0x90, 60, 100, 0x10, 62, 90,  0x00, 0xF0, 0x01, 0xF7,
                        0x05, 0xB0, 64,   127, 0x00, 0xC1, 5,    0x00, 0xE1, 0,  64, 0x00, 0xF7, 0x01, 0xFA,
                        0x81, 0x00, 0x80, 60,  0,    0x00, 0x90, 62, 0};
  for (int format : {0, 1, 2}) {
    const Bytes in = format == 0 ? smf(0, 96, {track(events)}) : smf(format, 0xE728, {track(events), track(tempo(5, 400000))});
    const MidiFile a = read_midi(in, "in");
    const Bytes out = write_midi(a);
    const MidiFile b = read_midi(out, "out");
    EXPECT_EQ(a.format, b.format);
    EXPECT_EQ(a.division, b.division);
    EXPECT_EQ(a.tracks, b.tracks);
    EXPECT_EQ(write_midi(b), out);
  }
}

TEST(MidiWriter, UsesRunningStatusAndRestartsItAfterMeta) {
  MidiFile f;
  f.format = 0;
  f.division.ticks_per_beat = 96;
  f.tracks.resize(1);
  auto note = [](int64_t tick, uint8_t pitch, uint8_t vel) { return MidiEvent{tick, 0x90, 0, pitch, vel, {}}; };
  f.tracks[0].events = {note(0, 60, 100), note(0, 64, 100), MidiEvent{0, 0xFF, meta::kMarker, 0, 0, {'x'}}, note(96, 60, 0)};
  const Bytes out = write_midi(f);
  const Bytes expected = cat({header(0, 1, 96), chunk("MTrk", {0x00, 0x90, 60, 100, 0x00, 64, 100, 0x00, 0xFF, 0x06, 0x01, 'x',
                                                               0x60, 0x90, 60, 0, 0x00, 0xFF, 0x2F, 0x00})});
  EXPECT_EQ(out, expected);  // End of Track added, status repeated after the meta event
}

TEST(MidiWriter, RefusesWhatMidiCannotHold) {
  MidiFile f;
  f.format = 0;
  f.tracks.resize(2);
  EXPECT_THROW(write_midi(f), InvalidArgument);  // format 0 with two tracks
  f.format = 1;
  f.tracks[0].events = {MidiEvent{10, 0x90, 0, 60, 1, {}}, MidiEvent{5, 0x90, 0, 60, 0, {}}};
  EXPECT_THROW(write_midi(f), InvalidArgument);  // back in time
  f.tracks[0].events = {MidiEvent{0, 0x90, 0, 200, 1, {}}};
  EXPECT_THROW(write_midi(f), InvalidArgument);  // data byte > 127
  f.tracks[0].events = {MidiEvent{0, 0xF4, 0, 0, 0, {}}};
  EXPECT_THROW(write_midi(f), InvalidArgument);  // undefined status
  f.tracks[0].events = {MidiEvent{int64_t{1} << 30, 0x90, 0, 60, 1, {}}};
  EXPECT_THROW(write_midi(f), InvalidArgument);  // delta beyond a 4-byte VLQ
  f.tracks[0].events.clear();
  f.division.ticks_per_beat = 0;
  EXPECT_THROW(write_midi(f), InvalidArgument);  // SMPTE with 0 fps
}

TEST(TempoMap, ExactSecondsOverSegments) {
  // 480 ticks per beat: 120 BPM until tick 960 (1 s), then 60 BPM (1 s per beat).
  const TempoMap map(Division{480, 0, 0}, {{960, 1000000}, {0, 500000}});
  EXPECT_DOUBLE_EQ(map.seconds(0), 0.0);
  EXPECT_DOUBLE_EQ(map.seconds(480), 0.5);
  EXPECT_DOUBLE_EQ(map.seconds(960), 1.0);
  EXPECT_DOUBLE_EQ(map.seconds(1200), 1.5);
  EXPECT_EQ(map.tick(1.5), 1200);
  EXPECT_EQ(map.tick(0.25), 240);
  ASSERT_EQ(map.segments().size(), 2u);
}

TEST(TempoMap, LaterChangeAtTheSameTickWinsAndDefaultIs120Bpm) {
  const TempoMap map(Division{100, 0, 0}, {{100, 250000}, {100, 2000000}});
  EXPECT_DOUBLE_EQ(map.seconds(100), 0.5);  // default 500000 us per beat before tick 100
  EXPECT_DOUBLE_EQ(map.seconds(150), 1.5);  // 2 s per beat after
}

TEST(TempoMap, SmpteIgnoresTempo) {
  const TempoMap map(Division{0, 25, 40}, {{0, 1000000}});
  EXPECT_DOUBLE_EQ(map.seconds(1000), 1.0);
  const TempoMap drop(Division{0, 29, 4}, {});
  EXPECT_NEAR(drop.seconds(120), 120 / (4 * 30000.0 / 1001.0), 1e-15);
  EXPECT_EQ(drop.tick(drop.seconds(777)), 777);
}

TEST(TempoMap, ManyChangesStayExact) {
  // 10,000 tempo changes every 7 ticks: closed-form time versus the map.
  std::vector<TempoPoint> points;
  double expected = 0;
  for (int i = 0; i < 10000; ++i) points.push_back({i * 7, uint32_t(400000 + i)});
  for (int i = 0; i < 9999; ++i) expected += 7.0 * (400000 + i) * 1e-6 / 480;
  const TempoMap map(Division{480, 0, 0}, points);
  EXPECT_NEAR(map.seconds(9999 * 7), expected, 1e-9);
}

}  // namespace
}  // namespace etude
