// Converters between the MIDI layer (MidiFile) and the music hub (NoteSequence), plus file
// load/save. A NoteSequence read from a file and saved again converts back to the same sequence.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "midi/midi_file.hpp"
#include "midi/tempo_map.hpp"
#include "music/note_sequence.hpp"

namespace etude {

// MIDI -> NoteSequence. Note-offs (and note-ons with velocity 0) close the earliest open note of
// the same channel and pitch in the same track (first in, first out); a note still open at the end
// of its track ends at the track's last tick; unmatched note-offs are ignored. A note's program is
// the last program change on its channel (any track) at or before its start tick. Tempo events of
// all tracks form one tempo map (formats 0 and 1). Format 2: each track is a pattern placed after
// the previous one ends (ticks offset), so one tempo map covers all; a tempo carries over into the
// following patterns until changed. Every list is sorted by tick; notes by
// (start_tick, pitch, channel, track, end_tick, velocity).
NoteSequence note_sequence_from_midi(const MidiFile& file, const std::string& source = "");

// NoteSequence -> MIDI, written from the tick fields: format 0 when everything is in track 0,
// else format 1 with tempo, time and key signatures in track 0 and notes, controllers and program
// changes in their `track`. At equal ticks: meta, program, controller, note-off, note-on. If the
// sequence has no program changes, one is written wherever a channel's note program changes.
// Throws InvalidArgument for values MIDI cannot hold (pitch, velocity 0, channel, end < start...).
MidiFile midi_from_note_sequence(const NoteSequence& seq);

// Reads and converts a MIDI file (strict unless lenient); warnings, if given, receives what
// lenient reading skipped.
NoteSequence load_note_sequence(const std::filesystem::path& path, bool lenient = false,
                                std::vector<std::string>* warnings = nullptr);
// Converts and writes atomically (a temporary file renamed over path).
void save_note_sequence(const NoteSequence& seq, const std::filesystem::path& path);

Division division_of(const NoteSequence& seq);
TempoMap tempo_map_of(const NoteSequence& seq);

}  // namespace etude
