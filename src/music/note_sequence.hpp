// NoteSequence: the hub of Etude's music layer (as in magenta/note-seq). MIDI I/O and tokenizers
// only convert to and from it. Times are kept both in seconds and in MIDI ticks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace etude {

struct Note {
  int pitch = 60;             // MIDI key 0..127
  int velocity = 64;          // 1..127
  double start = 0.0;         // seconds
  double end = 0.0;           // seconds, >= start (a note-off at the note-on's tick gives end == start)
  int64_t start_tick = 0;     // absolute ticks (ticks_per_beat resolution)
  int64_t end_tick = 0;
  int channel = 0;            // 0..15
  int program = 0;            // General MIDI program 0..127 in force at the note's start
  int track = 0;              // index of the MIDI track it came from
  bool is_drum = false;       // channel 9 (GM percussion)
  bool operator==(const Note&) const = default;
};

struct TempoChange {
  int64_t tick = 0;
  double time = 0.0;          // seconds
  uint32_t us_per_beat = 500000;
  double qpm() const { return 60e6 / us_per_beat; }
  bool operator==(const TempoChange&) const = default;
};

struct TimeSignature {
  int64_t tick = 0;
  double time = 0.0;
  int numerator = 4;
  int denominator = 4;        // 2^n, as written in the score
  bool operator==(const TimeSignature&) const = default;
};

struct KeySignature {
  int64_t tick = 0;
  double time = 0.0;
  int key = 0;                // sharps (+) or flats (-), -7..7
  bool minor = false;
  bool operator==(const KeySignature&) const = default;
};

struct ControlChange {        // CC64 sustain pedal and any other controller
  int64_t tick = 0;
  double time = 0.0;
  int channel = 0;
  int number = 0;
  int value = 0;
  int track = 0;
  bool operator==(const ControlChange&) const = default;
};

struct ProgramChange {
  int64_t tick = 0;
  double time = 0.0;
  int channel = 0;
  int program = 0;
  int track = 0;
  bool operator==(const ProgramChange&) const = default;
};

struct NoteSequence {
  int ticks_per_beat = 480;                // 0 when the file used SMPTE division
  std::vector<Note> notes;                 // sorted by (start_tick, pitch, channel, track, end_tick, velocity)
  std::vector<TempoChange> tempos;         // sorted by tick; empty means 120 BPM
  std::vector<TimeSignature> time_signatures;
  std::vector<KeySignature> key_signatures;
  std::vector<ControlChange> control_changes;
  std::vector<ProgramChange> program_changes;
  double total_time = 0.0;                 // seconds, end of the last event
  int64_t total_ticks = 0;
  std::string source;                      // file it came from, for messages
  int smpte_fps = 0;                       // SMPTE division only: 24, 25, 29 (29.97 drop-frame), 30
  int ticks_per_frame = 0;                 // SMPTE division only
};

}  // namespace etude
