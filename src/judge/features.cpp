// The judge's per-piece features (see features.hpp): pitch-class statistics through music/key,
// onsets grouped on the beat, and the longest copied run through the training pieces' n-gram index.
#include "judge/features.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "music/key.hpp"

namespace etude::judge {
namespace {

constexpr std::array<FeatureInfo, kFeatureCount> kInfo = {{
    {"key_clarity", "r", true},
    {"local_key_clarity", "r", true},
    {"scale_share", "share", true},
    {"pitch_class_entropy", "bits", true},
    {"notes_per_onset", "notes", true},
    {"ioi_entropy", "bits", true},
    {"top_voice_interval", "semitones", true},
    {"pitch_range", "semitones", true},
    {"copied_run", "notes", false},
}};

std::vector<const Note*> pitched(const NoteSequence& seq) {
  std::vector<const Note*> out;
  out.reserve(seq.notes.size());
  for (const Note& n : seq.notes)
    if (!n.is_drum) out.push_back(&n);
  return out;
}

double beat_of(const NoteSequence& seq, const Note& n) {
  return seq.ticks_per_beat > 0 ? double(n.start_tick) / seq.ticks_per_beat : n.start * 2.0;
}

}  // namespace

const FeatureInfo& feature_info(Feature f) { return kInfo.at(static_cast<size_t>(f)); }

double entropy_bits(const std::vector<double>& counts) {
  double total = 0;
  for (double c : counts) total += c;
  if (total <= 0) return 0;
  double h = 0;
  for (double c : counts)
    if (c > 0) h -= c / total * std::log2(c / total);
  return h;
}

double key_clarity(const NoteSequence& seq) { return estimate_key(seq).correlation; }

double local_key_clarity(const NoteSequence& seq) {
  const std::vector<const Note*> notes = pitched(seq);
  if (notes.empty()) return 0;
  auto window = [&](size_t first, size_t count) {
    PitchClassHistogram h{};
    for (size_t i = first; i < first + count; ++i) h[size_t(notes[i]->pitch % 12)] += std::max(notes[i]->end - notes[i]->start, 1e-3);
    return estimate_key(h).correlation;
  };
  if (notes.size() <= kLocalKeyWindow) return window(0, notes.size());
  double sum = 0;
  size_t windows = 0;
  for (size_t first = 0; first + kLocalKeyWindow <= notes.size(); first += kLocalKeyHop, ++windows)
    sum += window(first, kLocalKeyWindow);
  return sum / double(windows);
}

double scale_share(const NoteSequence& seq) {
  std::array<size_t, 12> counts{};
  size_t total = 0;
  for (const Note* n : pitched(seq)) ++counts[size_t(n->pitch % 12)], ++total;
  if (total == 0) return 0;
  size_t best = 0;
  for (int minor = 0; minor < 2; ++minor)
    for (int tonic = 0; tonic < 12; ++tonic) {
      const uint16_t mask = scale_mask(tonic, minor == 1);
      size_t in = 0;
      for (int pc = 0; pc < 12; ++pc)
        if (mask >> pc & 1u) in += counts[size_t(pc)];
      best = std::max(best, in);
    }
  return double(best) / double(total);
}

double pitch_class_entropy(const NoteSequence& seq) {
  std::vector<double> counts(12, 0.0);
  for (const Note* n : pitched(seq)) counts[size_t(n->pitch % 12)] += 1;
  return entropy_bits(counts);
}

std::vector<Onset> onsets(const NoteSequence& seq) {
  std::vector<std::pair<double, int>> beats;  // (beat, pitch)
  for (const Note* n : pitched(seq)) beats.emplace_back(beat_of(seq, *n), n->pitch);
  std::sort(beats.begin(), beats.end());
  std::vector<Onset> out;
  for (const auto& [beat, pitch] : beats) {
    if (out.empty() || beat - out.back().beat > kOnsetTolerance + 1e-9) {
      out.push_back({beat, pitch, 1});
    } else {
      out.back().top_pitch = std::max(out.back().top_pitch, pitch);
      ++out.back().notes;
    }
  }
  return out;
}

FeatureValues measure_features(const NoteSequence& seq, const NgramIndex* training) {
  FeatureValues v{};
  const std::vector<const Note*> notes = pitched(seq);
  if (notes.empty()) return v;
  auto at = [&](Feature f) -> double& { return v[static_cast<size_t>(f)]; };
  at(Feature::key_clarity) = key_clarity(seq);
  at(Feature::local_key_clarity) = local_key_clarity(seq);
  at(Feature::scale_share) = scale_share(seq);
  at(Feature::pitch_class_entropy) = pitch_class_entropy(seq);

  const std::vector<Onset> on = onsets(seq);
  at(Feature::notes_per_onset) = double(notes.size()) / double(on.size());
  std::vector<double> ioi(kIoiGrid * kIoiMaxBeats + 1, 0.0);
  double leaps = 0;
  for (size_t i = 1; i < on.size(); ++i) {
    const long bin = std::lround((on[i].beat - on[i - 1].beat) * kIoiGrid);
    ioi[size_t(std::clamp<long>(bin, 0, kIoiGrid * kIoiMaxBeats))] += 1;
    leaps += std::abs(on[i].top_pitch - on[i - 1].top_pitch);
  }
  at(Feature::ioi_entropy) = entropy_bits(ioi);
  at(Feature::top_voice_interval) = on.size() > 1 ? leaps / double(on.size() - 1) : 0.0;

  int lo = 127, hi = 0;
  for (const Note* n : notes) lo = std::min(lo, n->pitch), hi = std::max(hi, n->pitch);
  at(Feature::pitch_range) = hi - lo;
  if (training) at(Feature::copied_run) = double(training->longest_copied_run(pitch_line(seq)).length);
  return v;
}

}  // namespace etude::judge
