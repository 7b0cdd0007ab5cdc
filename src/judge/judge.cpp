// The judge (see judge.hpp): excerpt length from the pieces, held-out excerpts as the reference,
// groups of training excerpts as the human ceiling, per-feature overlaps and their means.
#include "judge/judge.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.hpp"
#include "base/parallel.hpp"
#include "judge/overlap.hpp"
#include "music/midi_convert.hpp"

namespace etude::judge {
namespace {

size_t pitched_notes(const NoteSequence& seq) {
  return size_t(std::count_if(seq.notes.begin(), seq.notes.end(), [](const Note& n) { return !n.is_drum; }));
}

std::vector<ExcerptValues> measure_excerpts(std::span<const ReferencePiece> pieces, const std::vector<Excerpt>& plan,
                                            const NgramIndex& index, unsigned threads) {
  std::vector<ExcerptValues> out(plan.size());
  parallel_for(plan.size(), threads, [&](size_t i) {
    const Excerpt& e = plan[i];
    const ReferencePiece& p = pieces[e.piece];
    out[i] = {p.path, e.first_note, e.notes, measure_features(cut_excerpt(p.seq, e.first_note, e.notes), &index)};
  });
  return out;
}

// A fixed permutation (splitmix64-driven Fisher-Yates): the same groups on every machine.
void shuffle_fixed(std::vector<ExcerptValues>& v) {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[next() % i]);
}

std::vector<double> column(std::span<const FeatureValues> rows, size_t f) {
  std::vector<double> out;
  out.reserve(rows.size());
  for (const FeatureValues& r : rows) out.push_back(r[f]);
  return out;
}

Distribution distribution(const std::vector<double>& v) {
  return {v.size(), quantile(v, 0.5), quantile(v, 0.1), quantile(v, 0.9)};
}

nlohmann::json number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

nlohmann::json values_json(const FeatureValues& v) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t f = 0; f < kFeatureCount; ++f) j[feature_info(feature_at(f)).name] = number(v[f]);
  return j;
}

nlohmann::json distribution_json(const Distribution& d) {
  return {{"count", d.count}, {"median", number(d.median)}, {"p10", number(d.p10)}, {"p90", number(d.p90)}};
}

nlohmann::json excerpts_json(const std::vector<ExcerptValues>& v) {
  nlohmann::json out = nlohmann::json::array();
  for (const ExcerptValues& e : v)
    out.push_back({{"piece", e.piece}, {"first_note", e.first_note}, {"notes", e.notes}, {"values", values_json(e.values)}});
  return out;
}

}  // namespace

Judgement judge_pieces(std::span<const NoteSequence> pieces, std::span<const std::string> names,
                       const StyleReference& reference, const JudgeOptions& options) {
  if (pieces.empty()) throw InvalidArgument("judge: no pieces to judge (give one or more MIDI files)");
  if (names.size() != pieces.size())
    throw InvalidArgument("judge: " + std::to_string(names.size()) + " names for " + std::to_string(pieces.size()) + " pieces");
  if (reference.training.empty() || reference.held_out.empty())
    throw InvalidArgument("judge: the reference " + reference.folder.string() + " has no training or no held-out pieces");
  Judgement j;
  j.folder = reference.folder;
  j.split_root = reference.split_root;
  j.split_rule = reference.split_rule;
  j.validation_fraction = reference.validation_fraction;
  for (const auto& p : reference.training) j.training_pieces.push_back(p.path);
  for (const auto& p : reference.held_out) j.held_out_pieces.push_back(p.path);
  j.skipped_files = reference.skipped.size();

  const size_t n = pieces.size();
  j.pieces.resize(n);
  std::vector<double> counts(n);
  parallel_for(n, options.threads, [&](size_t i) {
    j.pieces[i] = {names[i], pitched_notes(pieces[i]), measure_features(pieces[i], &reference.ngrams)};
    counts[i] = double(j.pieces[i].notes);
  });
  j.excerpt_notes = std::max(options.min_excerpt_notes, size_t(std::llround(quantile(counts, 0.5))));

  j.held_out = measure_excerpts(reference.held_out, plan_excerpts(reference.held_out, j.excerpt_notes,
                                                                  std::max(options.min_reference_excerpts, n)),
                                reference.ngrams, options.threads);
  const size_t groups_wanted = std::max<size_t>(1, options.ceiling_groups);
  j.training = measure_excerpts(reference.training, plan_excerpts(reference.training, j.excerpt_notes, groups_wanted * n),
                                reference.ngrams, options.threads);
  j.ceiling_group_size = std::min(n, j.training.size());
  j.ceiling_groups = std::min(groups_wanted, j.training.size() / std::max<size_t>(1, j.ceiling_group_size));
  std::vector<ExcerptValues> pool = j.training;
  shuffle_fixed(pool);

  std::vector<FeatureValues> piece_rows, held_rows, train_rows;
  for (const auto& p : j.pieces) piece_rows.push_back(p.values);
  for (const auto& e : j.held_out) held_rows.push_back(e.values);
  for (const auto& e : j.training) train_rows.push_back(e.values);
  double sum = 0, ceiling_sum = 0;
  size_t in_mean = 0;
  for (size_t f = 0; f < kFeatureCount; ++f) {
    FeatureJudgement& fj = j.features[f];
    fj.feature = feature_at(f);
    const std::vector<double> mine = column(piece_rows, f), held = column(held_rows, f), train = column(train_rows, f);
    fj.pieces = distribution(mine);
    fj.held_out = distribution(held);
    fj.training = distribution(train);
    fj.overlap = overlap_area(mine, held);
    if (fj.feature == Feature::copied_run || j.ceiling_groups == 0) {
      fj.ceiling_overlap = std::numeric_limits<double>::quiet_NaN();
    } else {
      double c = 0;
      for (size_t g = 0; g < j.ceiling_groups; ++g) {
        std::vector<double> group;
        for (size_t k = 0; k < j.ceiling_group_size; ++k) group.push_back(pool[g * j.ceiling_group_size + k].values[f]);
        c += overlap_area(group, held);
      }
      fj.ceiling_overlap = c / double(j.ceiling_groups);
    }
    if (feature_info(fj.feature).in_mean) {
      sum += fj.overlap;
      ceiling_sum += std::isfinite(fj.ceiling_overlap) ? fj.ceiling_overlap : 0.0;
      ++in_mean;
    }
  }
  j.mean_overlap = sum / double(in_mean);
  j.ceiling_mean = ceiling_sum / double(in_mean);
  j.ratio = j.ceiling_mean > 0 ? j.mean_overlap / j.ceiling_mean : 0.0;
  return j;
}

Judgement judge_files(std::span<const std::filesystem::path> files, const StyleReference& reference,
                      const JudgeOptions& options) {
  if (files.empty()) throw InvalidArgument("judge: no pieces to judge (give one or more MIDI files)");
  std::vector<NoteSequence> seqs(files.size());
  std::vector<std::string> names(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    names[i] = files[i].string();
    try {
      seqs[i] = load_note_sequence(files[i]);
    } catch (const FormatError& e) {
      const std::string what = e.what();
      throw FormatError(what.find(names[i]) == std::string::npos ? names[i] + ": not a MIDI file the judge can read (" + what + ")"
                                                                 : what);
    }
  }
  return judge_pieces(seqs, names, reference, options);
}

nlohmann::json judgement_to_json(const Judgement& j) {
  using nlohmann::json;
  json features = json::array();
  for (const FeatureJudgement& f : j.features) {
    const FeatureInfo& info = feature_info(f.feature);
    features.push_back({{"name", info.name}, {"unit", info.unit}, {"in_mean", info.in_mean},
                        {"pieces", distribution_json(f.pieces)}, {"held_out", distribution_json(f.held_out)},
                        {"training", distribution_json(f.training)}, {"overlap", number(f.overlap)},
                        {"ceiling_overlap", number(f.ceiling_overlap)}});
  }
  json pieces = json::array();
  for (const JudgedPiece& p : j.pieces) pieces.push_back({{"name", p.name}, {"notes", p.notes}, {"values", values_json(p.values)}});
  return {{"reference",
           {{"folder", j.folder.string()}, {"split_root", j.split_root.string()}, {"split_rule", j.split_rule},
            {"validation_fraction", j.validation_fraction}, {"training_pieces", j.training_pieces},
            {"held_out_pieces", j.held_out_pieces}, {"skipped_files", j.skipped_files}, {"excerpt_notes", j.excerpt_notes},
            {"held_out_excerpts", excerpts_json(j.held_out)}, {"training_excerpts", excerpts_json(j.training)},
            {"ceiling_groups", j.ceiling_groups}, {"ceiling_group_size", j.ceiling_group_size}}},
          {"pieces", std::move(pieces)},
          {"features", std::move(features)},
          {"mean_overlap", number(j.mean_overlap)},
          {"ceiling_mean", number(j.ceiling_mean)},
          {"ratio", number(j.ratio)}};
}

}  // namespace etude::judge
