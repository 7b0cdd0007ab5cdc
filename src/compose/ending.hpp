// Endings of composed pieces: the music cut at a chosen length so that it stops on a beat with a
// cadence-like close (the key's tonic chord over its tonic, held to the end) where the last beats
// offer one, else with the last beat's notes left ringing under a decrescendo; and the steps that
// finish a composed piece in that order: key, tempo, ending.
#pragma once
#include <cstdint>
#include <optional>

#include "music/key.hpp"
#include "music/note_sequence.hpp"

namespace etude {

enum class EndingKind : uint8_t { cadence, let_ring };
const char* ending_kind_name(EndingKind kind);  // "cadence", "let ring"

struct Ending {
  EndingKind kind = EndingKind::let_ring;
  int64_t final_tick = 0;   // onset of the final chord (on a beat)
  int64_t end_tick = 0;     // end of the piece (on a beat): the final chord sounds until here
  double final_time = 0.0;  // the same in seconds
  double end_time = 0.0;
};

struct EndingOptions {
  int max_hold_beats = 6;  // the final chord starts at most this many beats before the end
  int fade_beats = 8;      // let ring: the last beats' velocities fall to fade_floor at the final onset
  double fade_floor = 0.5;
};

// The piece ends at `end_tick` (rounded to the nearest beat; the piece's own last beat when it is
// shorter). The final onset is the latest beat 1..max_hold_beats before the end whose notes all
// belong to `key`'s tonic triad with its tonic in the bass (a cadence); if none, the latest beat
// there with an onset, ringing under a decrescendo (no beat there struck: the last chord before the
// end is moved onto the next beat, at most the one before the end). Notes after the
// final onset are dropped; its notes sound to the end; earlier notes still sounding ring on (in a
// cadence only those of the tonic triad); a sustain pedal still down is lifted at the end.
NoteSequence end_piece(NoteSequence seq, int64_t end_tick, const KeyEstimate& key, Ending* ending = nullptr,
                       const EndingOptions& options = {});
// The piece delayed by less than a beat so that the beats fall where most of its onsets do (a
// piece composed from silence may start off the beat: its onsets then all sit at one phase of it).
NoteSequence align_to_beats(NoteSequence seq);
// The tick of `seconds` in the sequence (its tempo map; 120 BPM without tempos).
int64_t tick_at_seconds(const NoteSequence& seq, double seconds);

// What a composed piece is made into after composing (each step optional; with `seconds` the
// piece is first aligned to its beats).
struct PieceFinish {
  std::optional<KeyEstimate> key;  // moved into this key (transpose_to_key)
  double tempo = 0;                // > 0: played at this many quarter notes a minute (set_tempo)
  double seconds = 0;              // > 0: ended near this length (end_piece), or
  int64_t end_tick = -1;           // >= 0: ended at this tick (a bar line composed with --bars)
};
struct FinishedPiece {
  KeyEstimate key;                 // the key estimate after the move (or of the piece as composed)
  std::optional<Ending> ending;    // when it was given an ending
};
NoteSequence finish_piece(NoteSequence seq, const PieceFinish& finish, FinishedPiece* report = nullptr);
// Seconds of music to compose (in the model's own tempo, `model_qpm`) so that a piece played at
// `tempo` (0: as composed) has `seconds` and two beats to spare for its ending.
double seconds_to_compose(double seconds, double tempo, double model_qpm);

}  // namespace etude
