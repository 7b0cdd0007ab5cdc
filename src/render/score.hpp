// Sheet music: a NoteSequence quantized to a beat grid and written as LilyPond source (a piano
// grand staff, notes split between the hands), engraved to PDF, SVG or PNG by the `lilypond`
// program (Debian's lilypond package).
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include "music/note_sequence.hpp"
#include "music/spelling.hpp"

namespace etude {

struct ScoreOptions {
  int grid = 4;          // grid steps per beat: 4 = sixteenths (1, 2, 4 or 8)
  int split_pitch = 60;  // notes below this key go to the left hand (bass clef); 60 = middle C
  std::string title;     // empty: no title
  std::string composer;  // the composer line (e.g. the style and seed); empty: none
  std::optional<KeyName> key;  // the key signature and spelling; none: the file's own, else estimated
  std::string lilypond = "lilypond";  // the program (looked up on PATH)
};

// The LilyPond source of the whole piece (4/4 unless the sequence has a time signature), with a key
// signature (the file's first, else the Krumhansl estimate) and every note spelled in that key.
std::string lilypond_source(const NoteSequence& seq, const ScoreOptions& options = {});

// Engraves to out; the format comes from its extension (.pdf on A4 pages; .svg and .png as one
// tall page holding the whole piece). IoError naming the Debian package when lilypond is missing;
// FormatError with LilyPond's first error line when it fails; InvalidArgument for another extension.
void render_score(const NoteSequence& seq, const std::filesystem::path& out, const ScoreOptions& options = {});
// .musicxml writes MusicXML 4.0 instead (render/musicxml.hpp), for editing in a notation program;
// .mxl the same compressed (render/mxl.hpp).
// InvalidArgument unless `out` ends in .pdf, .svg, .png, .musicxml or .mxl (what render_score writes); callers check
// before long work.
void check_score_path(const std::filesystem::path& out);

}  // namespace etude
