// Test helpers for compose/: style models built in memory from a few pieces of the shared corpus
// (a tokenizer fitted on them, their n-gram index, a small randomly initialised network).
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "compose/style_model.hpp"
#include "music/midi_convert.hpp"
#include "music/sequence_ops.hpp"
#include "nn/model_spec.hpp"

namespace etude::test {

// The Bach folder of $ETUDE_CORPUS (three pieces), or empty when the corpus is not there.
inline std::filesystem::path bach_dir() {
  const char* env = std::getenv("ETUDE_CORPUS");
  if (!env || !*env || !std::filesystem::is_directory(std::filesystem::path(env) / "Bach")) return {};
  return std::filesystem::path(env) / "Bach";
}

inline std::vector<NoteSequence> bach_pieces() {
  std::vector<NoteSequence> out;
  for (const auto& e : std::filesystem::directory_iterator(bach_dir()))
    if (e.path().extension() == ".mid") out.push_back(merge_to_piano(load_note_sequence(e.path())));
  std::sort(out.begin(), out.end(), [](const NoteSequence& a, const NoteSequence& b) { return a.source < b.source; });
  return out;
}

// A style model for `tokenizer` (fitted on the pieces when it needs a fit), random weights.
inline StyleModel make_style(const std::string& tokenizer, const std::vector<NoteSequence>& pieces,
                             const std::string& preset = "small", uint64_t seed = 7) {
  StyleModel s;
  s.tokenizer = make_tokenizer(tokenizer);
  std::vector<const NoteSequence*> ptrs;
  for (const auto& p : pieces) ptrs.push_back(&p);
  if (s.tokenizer->needs_fit()) s.tokenizer->fit(ptrs);
  s.model = std::make_unique<nn::Model>(nn::preset_spec(preset, s.tokenizer->vocab_size()));
  s.model->init_random(seed);
  NgramIndex index;
  for (const auto& p : pieces) index.add_piece(std::filesystem::path(p.source).filename().string(), pitch_line(p));
  index.finish();
  s.ngrams = std::move(index);
  return s;
}

}  // namespace etude::test
