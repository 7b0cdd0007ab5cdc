// Round trips of every file of the shared piano corpus through each tokenizer (in parallel over
// files), with the tolerances: events within 10 ms and the velocity bin, beats exact on
// the 1/12-beat grid (fractions printed, 1/24 beside), notes/seed onset for onset. Needs ETUDE_CORPUS.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>

#include "base/error.hpp"
#include "base/parallel.hpp"
#include "music/scan.hpp"
#include "tokenize/beats_tokenizer.hpp"
#include "tokenize/events_tokenizer.hpp"
#include "tokenize/notes_tokenizer.hpp"
#include "token_test_util.hpp"

namespace etude {
namespace {

// notes: the same keys. seed: a single key exactly, a chord by its set of pitch classes (decode
// plays it at octave 4, so an octave doubling comes back as one key).
bool same_onset(bool seed, const std::vector<int>& a, const std::vector<int>& b) {
  if (!seed || a.size() == 1) return a == b;
  std::set<int> pa, pb;
  for (int p : a) pa.insert(p % 12);
  for (int p : b) pb.insert(p % 12);
  return pa == pb;
}

// Adds up per-file counters {notes, a, b, c}, prints them as fractions with `format` (three %.5f
// after the note count) and returns {notes, a/notes, b/notes, c/notes}.
std::array<double, 4> report(const char* format, const std::vector<std::array<size_t, 4>>& counts) {
  std::array<size_t, 4> total{};
  for (const auto& c : counts)
    for (size_t k = 0; k < 4; ++k) total[k] += c[k];
  const double n = static_cast<double>(total[0]);
  std::printf(format, total[0], total[1] / n, total[2] / n, total[3] / n);
  return {n, total[1] / n, total[2] / n, total[3] / n};
}

class CorpusRoundTrip : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* dir = std::getenv("ETUDE_CORPUS");
    if (!dir || !std::filesystem::is_directory(dir)) return;
    auto files = find_midi_files(dir);
    seqs_ = new std::vector<NoteSequence>(files.size());
    parallel_for(files.size(), 0, [&](size_t i) { (*seqs_)[i] = load_note_sequence(files[i]); });
  }
  static void TearDownTestSuite() {
    delete seqs_;
    seqs_ = nullptr;
  }
  void SetUp() override {
    if (!seqs_) GTEST_SKIP() << "ETUDE_CORPUS is not set or not a folder: no real-data round trip";
  }
  static const std::vector<NoteSequence>& seqs() { return *seqs_; }

  // Per file: encode, check the grammar accepts the stream, decode with no repairs.
  static DecodeResult round_trip(const Tokenizer& tok, const NoteSequence& seq, std::atomic<int>& rejected) {
    auto ids = tok.encode(seq);
    auto g = tok.grammar();
    try {
      for (int32_t id : ids) g->advance(id);
    } catch (const Error&) {
      ++rejected;
    }
    return tok.decode(ids);
  }

 private:
  static inline std::vector<NoteSequence>* seqs_ = nullptr;
};

TEST_F(CorpusRoundTrip, EventsKeepOnsetsAndEndsWithin10msAndVelocityBins) {
  EventsTokenizer tok;
  std::atomic<int> rejected{0}, repairs{0};
  std::vector<std::array<size_t, 4>> counts(seqs().size());  // notes, onset ok, end ok, velocity ok
  parallel_for(seqs().size(), 0, [&](size_t f) {
    DecodeResult d = round_trip(tok, seqs()[f], rejected);
    repairs += d.repairs;
    // The reference: one piano part with the pedal applied, as the tokenizer promises to keep it.
    NoteSequence ref = apply_sustain(merge_to_piano(seqs()[f]));
    std::map<int, std::vector<const Note*>> decoded;
    for (const auto& n : d.seq.notes) decoded[n.pitch].push_back(&n);
    auto& c = counts[f];
    for (const auto& n : ref.notes) {
      ++c[0];
      const Note* best = nullptr;
      for (const Note* m : decoded[n.pitch])
        if (!best || std::abs(m->start - n.start) < std::abs(best->start - n.start)) best = m;
      if (!best || std::abs(best->start - n.start) > 0.010 + 1e-9) continue;
      ++c[1];
      c[2] += std::abs(best->end - n.end) <= 0.010 + 1e-9;
      c[3] += (best->velocity - 1) / 4 == (std::clamp(n.velocity, 1, 127) - 1) / 4;
    }
  });
  auto f = report("events: %zu notes; onset within 10 ms %.5f, end within 10 ms %.5f, velocity bin kept %.5f\n", counts);
  EXPECT_EQ(rejected, 0);
  EXPECT_EQ(repairs, 0);
  EXPECT_GE(f[1], 0.999);
  EXPECT_GE(f[2], 0.99);
  EXPECT_GE(f[3], 0.999);  // a key struck twice at once by both hands keeps one velocity
}

TEST_F(CorpusRoundTrip, BeatsAreExactOnTheGrid) {
  for (int resolution : {12, 24}) {  // the default grid, and a finer one for comparison
    BeatsTokenizer tok({.resolution = resolution});
    std::atomic<int> rejected{0}, repairs{0};
    // notes, exact on the grid (onset and capped duration), onset exact in ticks, both exact in ticks
    std::vector<std::array<size_t, 4>> counts(seqs().size());
    parallel_for(seqs().size(), 0, [&](size_t f) {
      const NoteSequence& s = seqs()[f];
      DecodeResult d = round_trip(tok, s, rejected);
      repairs += d.repairs;
      std::map<std::pair<int64_t, int>, int64_t> decoded;  // (onset step, pitch) -> duration steps
      for (const auto& n : d.seq.notes)
        decoded[{n.start_tick / BeatsTokenizer::kTicksPerStep, n.pitch}] =
            (n.end_tick - n.start_tick) / BeatsTokenizer::kTicksPerStep;
      auto& c = counts[f];
      const int64_t tpb = s.ticks_per_beat;
      for (const auto& n : s.notes) {
        ++c[0];
        int64_t on = tok.grid_of(s, n.start_tick, n.start);
        int64_t dur = std::clamp<int64_t>(tok.grid_of(s, n.end_tick - n.start_tick, 0), 1, tok.max_steps());
        auto it = decoded.find({on, n.pitch});
        bool grid_exact = it != decoded.end() && it->second == dur;
        bool onset_ticks = grid_exact && n.start_tick * resolution % tpb == 0;
        bool dur_ticks =
            (n.end_tick - n.start_tick) * resolution % tpb == 0 && (n.end_tick - n.start_tick) <= 4 * tpb;
        c[1] += grid_exact;
        c[2] += onset_ticks;
        c[3] += onset_ticks && dur_ticks;
      }
    });
    std::printf("beats at 1/%d beat: ", resolution);
    auto f = report("%zu notes; exact on the grid %.5f; in ticks: onset %.5f, onset and duration %.5f\n", counts);
    EXPECT_EQ(rejected, 0);
    EXPECT_EQ(repairs, 0);
    EXPECT_GE(f[1], 0.99);
  }
}

TEST_F(CorpusRoundTrip, NotesAndSeedKeepEveryOnset) {
  std::vector<const NoteSequence*> all;
  for (const auto& s : seqs()) all.push_back(&s);
  for (bool seed : {false, true}) {
    NotesTokenizer tok(seed, {});
    tok.fit(all);
    std::atomic<int> rejected{0}, repairs{0};
    std::atomic<size_t> onsets{0}, kept{0};
    parallel_for(seqs().size(), 0, [&](size_t f) {
      DecodeResult d = round_trip(tok, seqs()[f], rejected);
      repairs += d.repairs;
      auto before = NotesTokenizer::onsets(seqs()[f]), after = NotesTokenizer::onsets(d.seq);
      onsets += before.size();
      if (after.size() != before.size()) return;
      for (size_t i = 0; i < before.size(); ++i) kept += same_onset(seed, before[i], after[i]);
    });
    std::printf("%s: %zu onsets, vocabulary %d, onsets kept %.5f\n", tok.name().c_str(), onsets.load(),
                tok.vocab_size(), static_cast<double>(kept) / onsets);
    EXPECT_EQ(rejected, 0);
    EXPECT_EQ(repairs, 0);
    EXPECT_EQ(kept, onsets) << tok.name();
  }
}

TEST_F(CorpusRoundTrip, DecodedPiecesAreValidMidi) {
  std::vector<std::unique_ptr<Tokenizer>> toks;
  toks.push_back(make_tokenizer("events"));
  toks.push_back(make_tokenizer("beats"));
  for (const auto& t : toks)
    for (size_t f = 0; f < seqs().size(); f += 37) test::expect_valid_midi(t->decode(t->encode(seqs()[f])).seq);
}

}  // namespace
}  // namespace etude
