// Tests for the musical judge: kernel density overlap, the per-piece features on synthetic pieces,
// excerpts, the split (the same as the corpus's), bad input, and on the shared corpus: held-out
// Chopin near the human ceiling, random pitches far below it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "base/error.hpp"
#include "corpus/corpus.hpp"
#include "judge/features.hpp"
#include "judge/judge.hpp"
#include "judge/overlap.hpp"
#include "judge/reference.hpp"
#include "music/midi_convert.hpp"
#include "music/sequence_ops.hpp"
#include "train/validation.hpp"

namespace etude::judge {
namespace {
namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("etude-judge-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

fs::path corpus_dir() {
  const char* dir = std::getenv("ETUDE_CORPUS");
  if (!dir || !fs::is_directory(dir)) return {};
  return dir;
}

// Notes at the given beats (480 ticks per beat, 120 BPM), each `beats` long.
NoteSequence piece_of(const std::vector<std::pair<double, int>>& beat_pitch, double beats = 0.5) {
  NoteSequence s;
  s.ticks_per_beat = 480;
  s.tempos = {TempoChange{}};
  for (const auto& [b, p] : beat_pitch) {
    Note n;
    n.pitch = p;
    n.start_tick = int64_t(std::llround(b * 480));
    n.end_tick = n.start_tick + int64_t(std::llround(beats * 480));
    s.notes.push_back(n);
  }
  sort_notes(s);
  retime_seconds(s);
  return s;
}

NoteSequence line_of(const std::vector<int>& pitches) {
  std::vector<std::pair<double, int>> bp;
  for (size_t i = 0; i < pitches.size(); ++i) bp.emplace_back(0.5 * double(i), pitches[i]);
  return piece_of(bp);
}

// Random pitches 36..95 at random onsets on a half-beat grid, 1-3 notes each.
NoteSequence random_piece(uint32_t seed, size_t notes) {
  std::mt19937 rng(seed);
  std::vector<std::pair<double, int>> bp;
  double beat = 0;
  while (bp.size() < notes) {
    const int chord = 1 + int(rng() % 3);
    for (int k = 0; k < chord && bp.size() < notes; ++k) bp.emplace_back(beat, 36 + int(rng() % 60));
    beat += 0.5 * double(1 + rng() % 4);
  }
  return piece_of(bp);
}

double value(const FeatureValues& v, Feature f) { return v[static_cast<size_t>(f)]; }

TEST(Overlap, IdenticalSetsOverlapFullyAndFarSetsNotAtAll) {
  std::vector<double> a;
  for (int i = 0; i < 40; ++i) a.push_back(std::sin(i * 1.3) * 2 + 5);
  EXPECT_NEAR(overlap_area(a, a), 1.0, 2e-3);
  std::vector<double> far = a;
  for (double& x : far) x += 100;
  EXPECT_LT(overlap_area(a, far), 1e-6);
  // Constant sets: the same value overlaps fully, another not at all; a constant set borrows the
  // other's bandwidth.
  EXPECT_EQ(overlap_area(std::vector<double>{3, 3, 3}, std::vector<double>{3, 3}), 1.0);
  EXPECT_EQ(overlap_area(std::vector<double>{3, 3, 3}, std::vector<double>{4, 4}), 0.0);
  EXPECT_GT(overlap_area(std::vector<double>{5, 5, 5}, a), 0.1);
  EXPECT_EQ(overlap_area(std::vector<double>{}, a), 0.0);
}

TEST(Overlap, TwoNormalsOverlapAsTheoryAndScottsRuleIsScipys) {
  // 2000 points at the quantiles of N(0, 1) and N(1, 1): true overlap 2 * Phi(-1/2) = 0.617; the
  // kernels widen each a little (h = 0.22), which raises it slightly.
  std::vector<double> a, b;
  for (int i = 0; i < 2000; ++i) {
    const double p = (i + 0.5) / 2000;
    // the normal quantile by bisection
    double lo = -10, hi = 10;
    for (int k = 0; k < 80; ++k) {
      const double mid = (lo + hi) / 2;
      (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
    }
    a.push_back(lo);
    b.push_back(lo + 1);
  }
  const double expected = 2 * 0.5 * std::erfc(0.5 / std::sqrt(2.0));
  EXPECT_NEAR(overlap_area(a, b), expected, 0.02);
  // scipy.stats.gaussian_kde([1, 2, 3, 4]).factor * std(ddof=1) = 4^-0.2 * 1.29099
  const std::vector<double> four = {1, 2, 3, 4};
  EXPECT_NEAR(scott_bandwidth(four), std::pow(4.0, -0.2) * std::sqrt(5.0 / 3.0), 1e-12);
  EXPECT_NEAR(quantile(four, 0.5), 2.5, 1e-12);
  EXPECT_NEAR(quantile(four, 0.1), 1.3, 1e-12);
  EXPECT_TRUE(std::isnan(quantile(std::vector<double>{}, 0.5)));
}

TEST(Features, CMajorScaleIsClearAndInScaleAChromaticLineIsNot) {
  const NoteSequence c_major = line_of({60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 67, 64, 60,
                                        60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60});
  const FeatureValues v = measure_features(c_major, nullptr);
  EXPECT_GT(value(v, Feature::key_clarity), 0.8);
  EXPECT_GT(value(v, Feature::local_key_clarity), 0.7);
  EXPECT_DOUBLE_EQ(value(v, Feature::scale_share), 1.0);
  EXPECT_EQ(value(v, Feature::pitch_range), 12);
  EXPECT_DOUBLE_EQ(value(v, Feature::notes_per_onset), 1.0);
  EXPECT_DOUBLE_EQ(value(v, Feature::ioi_entropy), 0.0);  // every onset half a beat after the last

  std::vector<int> chromatic;
  for (int k = 0; k < 4; ++k)
    for (int p = 60; p < 72; ++p) chromatic.push_back(p);
  const FeatureValues c = measure_features(line_of(chromatic), nullptr);
  EXPECT_LT(std::abs(value(c, Feature::key_clarity)), 0.05);  // a flat histogram correlates with no key
  EXPECT_NEAR(value(c, Feature::pitch_class_entropy), std::log2(12.0), 1e-12);
  EXPECT_NEAR(value(c, Feature::scale_share), 7.0 / 12.0, 1e-12);
  EXPECT_NEAR(value(c, Feature::top_voice_interval), (44 * 1.0 + 3 * 11.0) / 47.0, 1e-12);
  EXPECT_LT(value(c, Feature::local_key_clarity), value(v, Feature::local_key_clarity));

  const FeatureValues empty = measure_features(NoteSequence{}, nullptr);
  for (double x : empty) EXPECT_EQ(x, 0.0);
}

TEST(Features, OnsetsChordsAndRhythm) {
  // Triads on beats 0, 1, 1.5, 3 (notes of a chord up to 1/24 beat apart share the onset).
  NoteSequence s = piece_of({{0, 60}, {0, 64}, {0, 67}, {1, 62}, {1.02, 65}, {1, 69}, {1.5, 64}, {1.5, 67}, {1.5, 72},
                             {3, 60}, {3, 64}, {3, 67}});
  const std::vector<Onset> on = onsets(s);
  ASSERT_EQ(on.size(), 4u);
  EXPECT_EQ(on[1].notes, 3u);
  EXPECT_EQ(on[2].top_pitch, 72);
  const FeatureValues v = measure_features(s, nullptr);
  EXPECT_DOUBLE_EQ(value(v, Feature::notes_per_onset), 3.0);
  // IOIs 1, 0.5, 1.5 beats: three bins, log2(3) bits.
  EXPECT_NEAR(value(v, Feature::ioi_entropy), std::log2(3.0), 1e-12);
  EXPECT_NEAR(value(v, Feature::top_voice_interval), (2 + 3 + 5) / 3.0, 1e-12);
  EXPECT_NEAR(entropy_bits({1, 1, 1, 1}), 2.0, 1e-12);
  EXPECT_EQ(entropy_bits({}), 0.0);
  // Drum notes are ignored.
  NoteSequence d = s;
  Note drum;
  drum.pitch = 36, drum.is_drum = true, drum.channel = 9;
  d.notes.push_back(drum);
  EXPECT_EQ(measure_features(d, nullptr), v);
}

TEST(Features, CopiedRunComesFromTheIndex) {
  NgramIndex index(8);
  const NoteSequence known = line_of({60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79});
  index.add_piece("known.mid", pitch_line(known));
  index.finish();
  EXPECT_EQ(value(measure_features(known, &index), Feature::copied_run), 12);
  EXPECT_EQ(value(measure_features(line_of({61, 63, 66, 68, 70, 73, 75, 78, 80}), &index), Feature::copied_run), 0);
}

TEST(Excerpts, EvenlySpacedAtMostHalfOverlappingAndCutByNotes) {
  std::vector<ReferencePiece> pieces(3);
  for (int k = 0; k < 100; ++k) pieces[0].seq.notes.push_back(Note{.pitch = 40 + k % 50});
  for (int k = 0; k < 10; ++k) pieces[1].seq.notes.push_back(Note{.pitch = 60});
  for (int k = 0; k < 30; ++k) pieces[2].seq.notes.push_back(Note{.pitch = 70});
  const std::vector<Excerpt> plan = plan_excerpts(pieces, 20, 12);  // 4 a piece wanted
  // piece 0: room 80, up to 9 half-overlapping fit, 4 taken at 10, 30, 50, 70; piece 1 is shorter
  // than 20: once, whole; piece 2: room 10, 2 fit (at 2.5 -> 3 and 7.5 -> 8).
  ASSERT_EQ(plan.size(), 4u + 1u + 2u);
  EXPECT_EQ(plan[0].first_note, 10u);
  EXPECT_EQ(plan[3].first_note, 70u);
  EXPECT_EQ(plan[4].piece, 1u);
  EXPECT_EQ(plan[4].notes, 10u);
  EXPECT_EQ(plan[5].piece, 2u);
  const NoteSequence cut = cut_excerpt(pieces[0].seq, 10, 20);
  ASSERT_EQ(cut.notes.size(), 20u);
  EXPECT_EQ(cut.notes.front().pitch, 50);
}

// A corpus root with two style folders of small tunes, and a loose file directly in another folder.
void write_tune(const fs::path& p, int base, int notes) {
  std::vector<int> pitches;
  for (int i = 0; i < notes; ++i) pitches.push_back(base + (i * 7) % 12);
  fs::create_directories(p.parent_path());
  save_note_sequence(line_of(pitches), p);
}

TEST(Reference, SplitsAsTrainingDoesOnTheRootOrOnTheFolderItself) {
  TempDir tmp;
  const fs::path root = tmp.path / "corpus";
  for (int i = 0; i < 12; ++i) write_tune(root / "Alpha" / ("a" + std::to_string(i) + ".mid"), 50 + i, 30);
  for (int i = 0; i < 5; ++i) write_tune(root / "Beta" / ("b" + std::to_string(i) + ".mid"), 55 + i, 30);
  std::ofstream(root / "Alpha" / "broken.mid") << "not midi";

  std::string why;
  EXPECT_EQ(default_split_root(root / "Alpha", &why), fs::weakly_canonical(root));
  EXPECT_NE(why.find("one style of the corpus"), std::string::npos);
  EXPECT_EQ(default_split_root(root), fs::weakly_canonical(root));  // a root of styles is its own

  CorpusOptions co;
  co.tokenizer = "notes";
  co.validation_fraction = 0.3;
  co.threads = 1;
  auto held_out_of = [](const Corpus& c, const std::string& prefix) {
    std::vector<std::string> out;
    for (const Piece& p : c.pieces)
      if (p.split == Split::validation && p.path.starts_with(prefix)) out.push_back(p.path);
    return out;
  };
  ReferenceOptions ro;
  ro.validation_fraction = 0.3;
  ro.threads = 1;
  const StyleReference as_root = load_style_reference(root / "Alpha", ro);
  std::vector<std::string> got;
  for (const auto& p : as_root.held_out) got.push_back(p.path);
  EXPECT_EQ(got, held_out_of(build_corpus(root, co), "Alpha/"));
  EXPECT_EQ(as_root.training.size() + as_root.held_out.size(), 12u);
  ASSERT_EQ(as_root.skipped.size(), 1u);
  EXPECT_EQ(as_root.skipped[0].path, "Alpha/broken.mid");
  EXPECT_EQ(as_root.ngrams.pieces().size(), as_root.training.size());

  ro.split_root = root / "Alpha";  // --train-folder-is-the-same
  const StyleReference alone = load_style_reference(root / "Alpha", ro);
  got.clear();
  for (const auto& p : alone.held_out) got.push_back(p.path);
  EXPECT_EQ(got, held_out_of(build_corpus(root / "Alpha", co), ""));
  EXPECT_EQ(alone.split_rule, "given: the folder itself");

  // A split root above the corpus root: the style is the first folder below it, as training sees it.
  ro.split_root = tmp.path;
  const StyleReference above = load_style_reference(root / "Beta", ro);
  got.clear();
  for (const auto& p : above.held_out) got.push_back(p.path);
  std::vector<std::string> want;
  for (const std::string& p : held_out_of(build_corpus(tmp.path, co), "corpus/Beta/")) want.push_back(p);
  EXPECT_EQ(got, want);
}

TEST(Reference, ARootOfSinglePieceStylesHoldsOutAsTrainingDoes) {
  TempDir tmp;
  for (const char* style : {"A", "B", "C"}) write_tune(tmp.path / style / "only.mid", 60, 20);
  CorpusOptions co;
  co.tokenizer = "notes";
  co.threads = 1;
  const Corpus corpus = build_corpus(tmp.path, co);
  const train::PieceSplit split = train::split_pieces(corpus, tmp.path);
  ASSERT_EQ(split.val.size(), 1u);
  const StyleReference ref = load_style_reference(tmp.path);
  ASSERT_EQ(ref.held_out.size(), 1u);
  EXPECT_EQ(ref.held_out[0].path, split.val[0]->path);
  EXPECT_EQ(ref.training.size(), 2u);
}

TEST(Reference, BadInputIsRefusedWithAHint) {
  TempDir tmp;
  write_tune(tmp.path / "one" / "only.mid", 60, 20);
  std::ofstream(tmp.path / "one" / "junk.mid") << "junk";
  try {
    load_style_reference(tmp.path / "one");
    FAIL() << "a folder with one usable piece was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("1 usable MIDI piece(s) (1 file(s) skipped"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_style_reference(tmp.path / "missing"), IoError);
  ReferenceOptions ro;
  ro.split_root = tmp.path / "elsewhere";
  fs::create_directories(ro.split_root);
  EXPECT_THROW(load_style_reference(tmp.path / "one", ro), InvalidArgument);
  ro = {};
  ro.validation_fraction = 0;
  EXPECT_THROW(load_style_reference(tmp.path / "one", ro), InvalidArgument);

  write_tune(tmp.path / "one" / "two.mid", 62, 20);
  const StyleReference ref = load_style_reference(tmp.path / "one");
  const std::vector<fs::path> junk = {tmp.path / "one" / "junk.mid"};
  try {
    judge_files(junk, ref);
    FAIL() << "a file that is not MIDI was judged";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("junk.mid"), std::string::npos) << e.what();
  }
  EXPECT_THROW(judge_files(std::vector<fs::path>{}, ref), InvalidArgument);
  EXPECT_THROW(judge_files(std::vector<fs::path>{tmp.path / "nope.mid"}, ref), Error);
  const std::vector<NoteSequence> one(1);
  const std::vector<std::string> no_names;
  EXPECT_THROW(judge_pieces(one, no_names, ref), InvalidArgument);
}

TEST(Judge, HeldOutChopinIsNearTheCeilingRandomPitchesAreNot) {
  const fs::path corpus = corpus_dir();
  if (corpus.empty() || !fs::is_directory(corpus / "Chopin")) GTEST_SKIP() << "ETUDE_CORPUS with Chopin/ not found";
  ReferenceOptions ro;
  ro.threads = 2;
  const StyleReference ref = load_style_reference(corpus / "Chopin", ro);
  EXPECT_EQ(ref.split_root, fs::weakly_canonical(corpus));
  ASSERT_GE(ref.held_out.size(), 2u);

  // Human pieces the reference has not seen as excerpts: 150-note cuts of the held-out pieces at
  // offsets other than the reference's (the start and near the end of each).
  std::vector<NoteSequence> human;
  std::vector<std::string> names;
  for (const ReferencePiece& p : ref.held_out) {
    const size_t n = p.seq.notes.size();
    if (n < 300) continue;
    for (size_t first : {size_t(0), n / 7, n - 150}) {
      human.push_back(cut_excerpt(p.seq, first, 150));
      names.push_back(p.path + "@" + std::to_string(first));
    }
  }
  ASSERT_GE(human.size(), 6u);
  JudgeOptions jo;
  jo.threads = 2;
  const Judgement h = judge_pieces(human, names, ref, jo);
  EXPECT_EQ(h.excerpt_notes, 150u);
  EXPECT_GE(h.held_out.size(), 20u);  // 40 wanted; half-overlapping excerpts of 5 pieces give fewer
  EXPECT_GT(h.ceiling_mean, 0.6);
  std::printf("held-out Chopin excerpts: mean %.3f, ceiling %.3f, ratio %.3f\n", h.mean_overlap, h.ceiling_mean, h.ratio);
  EXPECT_GT(h.ratio, 0.85) << "mean " << h.mean_overlap << " ceiling " << h.ceiling_mean;

  std::vector<NoteSequence> random;
  std::vector<std::string> random_names;
  for (uint32_t s = 0; s < uint32_t(human.size()); ++s) {
    random.push_back(random_piece(s + 1, 150));
    random_names.push_back("random-" + std::to_string(s));
  }
  const Judgement r = judge_pieces(random, random_names, ref, jo);
  std::printf("random pitches: mean %.3f, ceiling %.3f, ratio %.3f\n", r.mean_overlap, r.ceiling_mean, r.ratio);
  EXPECT_LT(r.ratio, 0.6) << "mean " << r.mean_overlap << " ceiling " << r.ceiling_mean;
  EXPECT_LT(r.ratio, h.ratio - 0.3);
  const auto& entropy = r.features[static_cast<size_t>(Feature::pitch_class_entropy)];
  EXPECT_GT(entropy.pieces.median, entropy.held_out.p90);

  const nlohmann::json j = judgement_to_json(r);
  EXPECT_EQ(j["features"].size(), kFeatureCount);
  EXPECT_TRUE(j["features"][kFeatureCount - 1]["ceiling_overlap"].is_null());  // copied_run
  EXPECT_EQ(j["pieces"].size(), random.size());
  EXPECT_NEAR(j["ratio"].get<double>(), r.ratio, 1e-12);
}

}  // namespace
}  // namespace etude::judge
