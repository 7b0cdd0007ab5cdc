// The musical judge: composed pieces against human music of a style. Each feature's distribution
// over the pieces is compared with its distribution over excerpts of the style's held-out pieces
// (kernel density overlap); the human ceiling is the same comparison for excerpts of the training
// pieces. No printing: app/cmd_judge.cpp prints; model diagnostics will live beside it
// (judge/model_diagnostics.*), not here.
#pragma once
#include <array>
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "judge/features.hpp"
#include "judge/reference.hpp"
#include "music/note_sequence.hpp"

namespace etude::judge {

struct JudgeOptions {
  size_t min_reference_excerpts = 40;  // held-out excerpts wanted (at least as many as pieces)
  size_t ceiling_groups = 8;           // groups of training excerpts, each the size of the piece set
  size_t min_excerpt_notes = 8;        // the excerpt length is the pieces' median note count, at least this
  unsigned threads = 0;                // feature measuring; 0: every hardware thread
};

struct Distribution {
  size_t count = 0;
  double median = 0, p10 = 0, p90 = 0;  // NaN when count is 0
};

struct FeatureJudgement {
  Feature feature = Feature::key_clarity;
  Distribution pieces, held_out, training;  // training: the ceiling's pool of training excerpts
  double overlap = 0;          // pieces against held-out excerpts
  double ceiling_overlap = 0;  // training excerpts against held-out excerpts, mean over the groups;
                               // NaN for copied_run (training excerpts are in the index)
};

struct JudgedPiece {
  std::string name;  // the file, or the caller's name for it
  size_t notes = 0;  // non-drum notes
  FeatureValues values{};
};

struct ExcerptValues {
  std::string piece;  // path relative to the split root
  size_t first_note = 0, notes = 0;
  FeatureValues values{};
};

struct Judgement {
  // The reference.
  std::filesystem::path folder, split_root;
  std::string split_rule;
  double validation_fraction = 0.1;
  std::vector<std::string> training_pieces, held_out_pieces;  // relative to the split root
  size_t skipped_files = 0;
  size_t excerpt_notes = 0;                 // the pieces' median note count (at least min_excerpt_notes)
  std::vector<ExcerptValues> held_out;      // the reference excerpts
  std::vector<ExcerptValues> training;      // the ceiling's pool
  size_t ceiling_groups = 0, ceiling_group_size = 0;
  // The pieces and the verdict.
  std::vector<JudgedPiece> pieces;
  std::array<FeatureJudgement, kFeatureCount> features{};
  double mean_overlap = 0;  // over the features with in_mean
  double ceiling_mean = 0;  // the same for the ceiling
  double ratio = 0;         // mean_overlap / ceiling_mean (0 when the ceiling is 0)
};

// Judges in-memory pieces against a loaded reference. names[i] names pieces[i] (sizes must match).
// InvalidArgument when there are no pieces.
Judgement judge_pieces(std::span<const NoteSequence> pieces, std::span<const std::string> names,
                       const StyleReference& reference, const JudgeOptions& options = {});
// Reads the files strictly (a file that is not MIDI: FormatError naming it) and judges them.
Judgement judge_files(std::span<const std::filesystem::path> files, const StyleReference& reference,
                      const JudgeOptions& options = {});

// Everything, for `etude judge --json` and the page: reference, per-piece and per-excerpt values,
// per-feature distributions and overlaps, the means. NaN becomes null.
nlohmann::json judgement_to_json(const Judgement& j);

}  // namespace etude::judge
