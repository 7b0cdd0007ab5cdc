// Helpers over NoteSequence that later layers need: retiming, merging to one piano part,
// sustain pedal, transposition, time stretch, cutting at a time, tempo and instrument. Each takes
// the sequence by value and returns it.
#pragma once
#include "music/note_sequence.hpp"

namespace etude {

// Sorts notes by (start_tick, pitch, channel, track, end_tick, velocity), the hub's order.
void sort_notes(NoteSequence& seq);

// Recomputes every seconds field (notes, tempos, signatures, controllers, programs, total_time)
// from the tick fields and the tempo map.
void retime_seconds(NoteSequence& seq);
// Recomputes every tick field from the seconds fields (nearest tick; for sequences built in
// seconds, e.g. decoded from tokens). Tempo changes keep their ticks and are retimed first.
void retime_ticks(NoteSequence& seq);

// All non-drum notes become one piano part: channel 0, program 0, track 0. Drum notes (channel 9)
// and their controllers are dropped; controllers of the other channels move to channel 0 track 0;
// program changes are removed. The "single channel" the composer trains on.
NoteSequence merge_to_piano(NoteSequence seq);

// Sustain pedal, as note-seq's apply_sustain_control_changes (Performance RNN): per channel, a
// note released while CC64 >= threshold sounds until the pedal is released; a note struck again
// while the pedal is down ends the earlier sounding notes of that pitch (one struck at the very same
// tick is dropped, as note-seq does); notes still sustained at the end run to total_time (note-seq:
// to its last event). At equal ticks: pedal down, pedal up, note-on, note-off. CC64 events stay.
NoteSequence apply_sustain(NoteSequence seq, int threshold = 64);

// What transpose does with a pitch that leaves 0..127.
enum class OutOfRange { drop, clamp };
// Shifts non-drum notes by `semitones`; notes that would leave 0..127 are dropped (default) or
// clamped to the nearest valid pitch. Key signatures are left as they are.
NoteSequence transpose(NoteSequence seq, int semitones, OutOfRange policy = OutOfRange::drop);

// Plays the sequence `factor` times as long (factor > 0; 2.0 = half speed). PPQ: ticks stay,
// every tempo's microseconds per beat is scaled, rounded and clamped to MIDI's 1..16777215 (a 120 BPM tempo is added at tick 0
// when the sequence has none), then seconds are recomputed, so the result is exactly what a MIDI
// file of it plays. SMPTE: ticks are scaled and rounded.
NoteSequence time_stretch(NoteSequence seq, double factor);

// Notes starting before `seconds`, cut off there; total_time becomes at most `seconds`.
NoteSequence truncate_seconds(NoteSequence seq, double seconds);
// The tempos set_tempo plays at, in quarter notes per minute.
inline constexpr double kMinTempo = 10, kMaxTempo = 400;
// Plays the piece at `qpm` quarter notes per minute (its first tempo, or 120, scaled to it);
// InvalidArgument outside kMinTempo..kMaxTempo.
NoteSequence set_tempo(NoteSequence seq, double qpm);
// General MIDI programs: 0..kMaxProgram.
inline constexpr int kMaxProgram = 127;
// Every note on General MIDI `program`, with a program change at tick 0; InvalidArgument outside
// 0..kMaxProgram.
NoteSequence set_program(NoteSequence seq, int program);

}  // namespace etude
