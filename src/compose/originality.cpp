// The originality report (see originality.hpp): n-gram lookups in the model's index, token
// repeats, pitch range and the Krumhansl-Schmuckler key estimate (music/key.cpp).
#include "compose/originality.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace etude {

std::string pitch_name(int pitch) { return pitch_class_name(pitch % 12) + std::to_string(pitch / 12 - 1); }

OriginalityReport make_report(const NoteSequence& seq, std::span<const int32_t> composed, const Tokenizer& tokenizer,
                              const NgramIndex* ngrams, int repairs) {
  OriginalityReport r;
  r.notes = seq.notes.size(), r.seconds = seq.total_time, r.tokens = composed.size(), r.repairs = repairs;
  for (size_t i = 0, run = 0; i < composed.size(); ++i) {
    run = i > 0 && composed[i] == composed[i - 1] ? run + 1 : 1;
    if (run > r.longest_repeat) r.longest_repeat = run, r.repeated_token = tokenizer.vocab().name(composed[i]);
  }
  for (const Note& n : seq.notes) {
    r.lowest_pitch = r.lowest_pitch < 0 ? n.pitch : std::min(r.lowest_pitch, n.pitch);
    r.highest_pitch = std::max(r.highest_pitch, n.pitch);
  }
  r.key = estimate_key(seq);
  if (ngrams) {
    r.has_index = true;
    r.ngram = ngrams->n();
    const std::vector<uint8_t> line = pitch_line(seq);
    const CopiedRun run = ngrams->longest_copied_run(line);
    r.longest_copy = run.length;
    if (run.piece >= 0) r.longest_copy_piece = ngrams->pieces().at(run.piece);
    const size_t n = size_t(ngrams->n());
    if (line.size() >= n) {
      size_t found = 0;
      for (size_t i = 0; i + n <= line.size(); ++i)
        found += ngrams->longest_copied_run(std::span(line).subspan(i, n)).length >= n;
      r.copied_ngram_share = double(found) / double(line.size() - n + 1);
    }
  }
  return r;
}

nlohmann::json report_to_json(const OriginalityReport& r) {
  nlohmann::json j{{"notes", r.notes}, {"seconds", r.seconds}, {"tokens", r.tokens}, {"repairs", r.repairs},
                   {"longest_repeated_token", {{"length", r.longest_repeat}, {"token", r.repeated_token}}},
                   {"pitch_range", {{"lowest", r.lowest_pitch}, {"highest", r.highest_pitch}}},
                   {"key", {{"name", r.key.name()}, {"tonic", r.key.tonic}, {"minor", r.key.minor},
                            {"correlation", r.key.correlation}}}};
  if (r.lowest_pitch >= 0) {
    j["pitch_range"]["lowest_name"] = pitch_name(r.lowest_pitch);
    j["pitch_range"]["highest_name"] = pitch_name(r.highest_pitch);
  }
  if (r.has_index)
    j["copying"] = {{"ngram", r.ngram}, {"longest_copied_run", r.longest_copy}, {"longest_copied_piece", r.longest_copy_piece},
                    {"copied_ngram_share", r.copied_ngram_share}};
  else
    j["copying"] = nullptr;
  return j;
}

std::string report_line(const OriginalityReport& r) {
  char buf[512];
  std::string copy = "copying unknown (no n-gram index in the model)";
  if (r.has_index) {
    std::snprintf(buf, sizeof buf, "longest copied run %zu notes%s%s, %.1f%% of %d-note runs from training",
                  r.longest_copy, r.longest_copy_piece.empty() ? "" : " from ", r.longest_copy_piece.c_str(),
                  100.0 * r.copied_ngram_share, r.ngram);
    copy = buf;
  }
  const std::string range = r.lowest_pitch < 0 ? "no notes" : pitch_name(r.lowest_pitch) + "-" + pitch_name(r.highest_pitch);
  std::snprintf(buf, sizeof buf, "%zu notes, %.1f s; %s; longest repeat %zu x %s; range %s; key %s (r=%.2f); %d repairs",
                r.notes, r.seconds, copy.c_str(), r.longest_repeat, r.repeated_token.c_str(), range.c_str(),
                r.key.name().c_str(), r.key.correlation, r.repairs);
  return buf;
}

}  // namespace etude
