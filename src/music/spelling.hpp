// Spelling pitches in a key, as a musician writes them: F# and C# in D major, Gb and Db in Db major,
// the raised leading tone of a minor key (G# in A minor); chromatic notes with sharps in sharp keys
// and flats in flat keys. Keys are counted in fifths (sharps +, flats -), as MIDI key signatures are.
#pragma once
#include <string>

#include "music/key.hpp"
#include "music/note_sequence.hpp"

namespace etude {

struct KeyName {
  int fifths = 0;      // -7..7: sharps (+) or flats (-) of the signature
  bool minor = false;
  int tonic_letter() const;  // 0..6 = C D E F G A B
  int tonic_alter() const;   // -1, 0, +1
  std::string name() const;  // "D major", "B-flat minor", "F-sharp minor"
};

// The signature of an estimated key: the spelling with fewer accidentals (Db major, not C# major;
// for six, F# major and Eb minor).
KeyName key_name(const KeyEstimate& key);
// The key a score of `seq` is written in: its first key signature when the file has one, else the
// Krumhansl estimate of its notes.
KeyName score_key(const NoteSequence& seq);

// "D minor", "Db major", "f# minor", "B-flat major", "Bb" (major when no mode is given); the key's
// tonic and mode (correlation 0). InvalidArgument naming the text otherwise.
KeyEstimate parse_key(const std::string& text);
// Major into minor on `tonic` (to_minor): the major third and sixth above the tonic are lowered a
// semitone (the leading tone stays, as in harmonic minor); minor into major: the minor third, sixth
// and seventh are raised. Two notes then struck together on one pitch merge into the longer.
NoteSequence change_mode(NoteSequence seq, int tonic, bool to_minor);
// A piece in `tonic`'s key (minor or major) told apart from its relative key: in minor the minor
// seventh above the tonic is raised to the leading tone; in major the minor sixth (the relative
// minor's leading tone) is lowered to the dominant. Notes then struck together on one pitch merge.
NoteSequence away_from_relative(NoteSequence seq, int tonic, bool minor);
// The piece moved by the fewest semitones (-6..5) that puts its estimated tonic on the target's
// tonic, and when its estimated mode is not the target's, into the target's mode (change_mode).
// When the estimate of the result names another key, the smallest move (by semitones; then none,
// a mode change, or away_from_relative) whose result is estimated in the target key is taken
// instead, if any. Its key
// signature becomes the target's. `reached` gets the key estimate after the move.
NoteSequence transpose_to_key(NoteSequence seq, const KeyEstimate& target, KeyEstimate* reached = nullptr);

struct SpelledPitch {
  int letter = 0;   // 0..6 = C D E F G A B
  int alter = 0;    // -2..2: flats (-) or sharps (+)
  int octave = 4;   // scientific: C4 = MIDI 60 (the letter's octave: B#3 sounds as C4)
};
SpelledPitch spell(int pitch, const KeyName& key);
// Names of a spelled pitch: LilyPond's ("fis'", "bes,,") and MusicXML's step/alter/octave parts.
std::string lilypond_name(const SpelledPitch& p);
char step_letter(const SpelledPitch& p);  // 'C'..'B'

}  // namespace etude
