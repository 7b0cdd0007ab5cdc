// MusicXML 4.0 (score-partwise) of a piece, so it opens for editing in MuseScore, Finale, Sibelius
// or Dorico: one piano part on two staves, the same quantized rhythm, key, spelling and time
// signature as the engraved score (render/score_grid.hpp), ties across values and bar lines.
#pragma once
#include <string>

#include "music/note_sequence.hpp"
#include "render/score.hpp"

namespace etude {

std::string musicxml_source(const NoteSequence& seq, const ScoreOptions& options = {});

}  // namespace etude
