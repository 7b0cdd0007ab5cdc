// MidiFile: a Standard MIDI File as tracks of timed events (formats 0, 1, 2; PPQ or SMPTE
// division; RIFF-wrapped .rmi). read_midi parses strictly or leniently; write_midi writes SMF.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace etude {

// One event at an absolute tick. Channel messages keep status and data1/data2; sysex (0xF0),
// escape (0xF7) and meta (0xFF, with meta_type) keep their payload bytes.
struct MidiEvent {
  int64_t tick = 0;
  uint8_t status = 0;
  uint8_t meta_type = 0;
  uint8_t data1 = 0;
  uint8_t data2 = 0;
  std::vector<uint8_t> payload;

  bool is_meta() const { return status == 0xFF; }
  bool is_meta(uint8_t type) const { return status == 0xFF && meta_type == type; }
  bool is_channel() const { return status >= 0x80 && status < 0xF0; }
  uint8_t kind() const { return is_channel() ? (status & 0xF0) : status; }
  int channel() const { return status & 0x0F; }
  bool is_note_on() const { return kind() == 0x90 && data2 > 0; }
  // Note-off, or note-on with velocity 0 (the common running-status idiom).
  bool is_note_off() const { return kind() == 0x80 || (kind() == 0x90 && data2 == 0); }
  bool operator==(const MidiEvent&) const = default;
};

struct MidiTrack {
  std::vector<MidiEvent> events;  // in file order, ticks non-decreasing
  std::string name() const;       // first track_name meta as UTF-8, or ""
  int64_t end_tick() const { return events.empty() ? 0 : events.back().tick; }
  bool operator==(const MidiTrack&) const = default;
};

// Time division. ticks_per_beat > 0 for PPQ files; otherwise SMPTE: smpte_fps is one of
// 24, 25, 29 (29.97 drop-frame, code -29) or 30, and ticks_per_frame > 0.
struct Division {
  int ticks_per_beat = 480;
  int smpte_fps = 0;
  int ticks_per_frame = 0;
  bool is_smpte() const { return ticks_per_beat == 0; }
  double frames_per_second() const { return smpte_fps == 29 ? 30000.0 / 1001.0 : smpte_fps; }
  bool operator==(const Division&) const = default;
};

struct MidiFile {
  int format = 1;                      // 0, 1 or 2
  Division division;
  std::vector<MidiTrack> tracks;
  std::vector<std::string> warnings;   // what lenient reading skipped (empty when strict)
  bool riff = false;                   // the SMF came wrapped in a RIFF RMID container
};

struct ReadOptions {
  // false: any malformation throws FormatError naming file, track, byte offset and the problem.
  // true: keep everything readable and describe each skip in MidiFile::warnings: a truncated last
  // track, a wrong track length (the events are followed to their End of Track), junk between or
  // after chunks, missing tracks, malformed meta events (skipped), a message cut short by a status
  // byte (dropped); any other bad event ends its track, keeping the events before it.
  bool lenient = false;
};

// Parses SMF (or RIFF RMID) bytes; `name` is used in error messages (usually the path).
MidiFile read_midi(std::span<const uint8_t> bytes, const std::string& name,
                   const ReadOptions& options = {});
// Reads a file (IoError if unreadable) and parses it.
MidiFile read_midi_file(const std::filesystem::path& path, const ReadOptions& options = {});

// Serializes format 0, 1 or 2 SMF: running status for channel messages (restarted after meta and
// sysex), an End of Track added where missing. Throws InvalidArgument for events out of order,
// bad status or data bytes, or a format 0 file with more than one track.
std::vector<uint8_t> write_midi(const MidiFile& file);

// Meta payload helpers. Text is decoded as UTF-8 when valid, else as Latin-1 (as mido does).
std::string meta_text(const MidiEvent& event);
uint32_t meta_tempo(const MidiEvent& event);  // microseconds per beat of a set_tempo event

}  // namespace etude
