// The human side of the judge: a style folder's pieces split into training and held-out exactly
// as `etude train` splits them (corpus/ hash split), the n-gram index of the training pieces, and
// excerpts of a given note count cut from them at evenly spaced offsets.
#pragma once
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "corpus/corpus.hpp"
#include "corpus/ngram_index.hpp"
#include "music/note_sequence.hpp"

namespace etude::judge {

struct ReferenceOptions {
  // The folder given to `etude train`, whose hash split is used (the split hashes each file's path
  // relative to it). Empty: automatic, see default_split_root.
  std::filesystem::path split_root;
  double validation_fraction = 0.1;  // the training run's --val-fraction, (0, 0.5]
  int ngram = 8;                     // n of the training pieces' n-gram index
  unsigned threads = 0;              // file reading; 0: every hardware thread
};

// Which folder's split applies when none is given: the folder's parent when the folder holds MIDI
// files of its own and no subfolders with MIDI files while the parent holds none of its own, i.e.
// the folder is one style of a corpus root (piano-midi/Chopin, pop909/Pop: the base model trains
// on such roots); otherwise the folder itself. why receives a short reason.
std::filesystem::path default_split_root(const std::filesystem::path& folder, std::string* why = nullptr);

struct ReferencePiece {
  std::string path;  // relative to the split root, '/' separators
  NoteSequence seq;  // its non-drum notes, tempo map and signatures (controllers dropped)
};

struct StyleReference {
  std::filesystem::path folder;      // as given
  std::filesystem::path split_root;  // whose split was used
  std::string split_rule;            // why that root: "given", "the folder itself", "one style of ..."
  double validation_fraction = 0.1;
  std::vector<ReferencePiece> training, held_out;  // sorted by path
  std::vector<SkippedFile> skipped;  // unreadable or empty files (not in the split, as in training)
  NgramIndex ngrams;                 // pitch n-grams of the training pieces
};

// Reads every MIDI file below `folder` (strict, as training reads), splits them, builds the n-gram
// index. IoError when folder is not a folder; InvalidArgument when split_root does not contain it,
// for a bad fraction, or with fewer than two usable pieces (the message says how many were skipped).
StyleReference load_style_reference(const std::filesystem::path& folder, const ReferenceOptions& options = {});

struct Excerpt {
  size_t piece = 0;       // index into the pieces it was planned over
  size_t first_note = 0;  // index of its first note among the piece's notes
  size_t notes = 0;       // its length (the piece's length when that is shorter than asked)
};
// Excerpts of `length` notes, ceil(target / pieces) per piece but no more than half-overlapping
// ones fit (at least one a piece), at evenly spaced offsets ((j + 0.5) / k of the free room).
std::vector<Excerpt> plan_excerpts(std::span<const ReferencePiece> pieces, size_t length, size_t target);
// Notes [first_note, first_note + notes) of seq's non-drum notes, with its tempo map and signatures.
NoteSequence cut_excerpt(const NoteSequence& seq, size_t first_note, size_t notes);

}  // namespace etude::judge
