// The written rhythm of a piece, shared by the LilyPond and MusicXML writers: notes quantized to a
// beat grid and split between the hands at a pitch, each hand cut at every onset, release and bar
// line into segments (a chord or a rest), each segment split into plain or dotted note values,
// with the notes that go on sounding tied into the next value.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "music/note_sequence.hpp"
#include "music/spelling.hpp"

namespace etude {

struct WrittenNote {
  int pitch = 60;
  bool tie_in = false, tie_out = false;  // tied from the previous value / into the next
};
struct WrittenValue {
  int64_t start = 0, steps = 0;   // grid steps
  int denominator = 4;            // 1 whole, 2 half, 4 quarter, ... (the value without its dot)
  bool dotted = false;
  std::vector<WrittenNote> notes; // empty: a rest
};

struct ScoreGrid {
  int grid = 4;                   // steps per beat (quarter note)
  int numerator = 4, denominator = 4;
  int64_t bar = 16, whole = 16, end = 16;  // steps per bar and per whole note; the end (whole bars)
  double qpm = 120;
  KeyName key;
  std::vector<WrittenValue> hands[2];  // 0: right hand (treble), 1: left hand (bass)
};

// InvalidArgument unless grid is 1, 2, 4 or 8. key: the piece's (see score_key).
ScoreGrid make_score_grid(const NoteSequence& seq, int grid, int split_pitch, const KeyName& key);

}  // namespace etude
