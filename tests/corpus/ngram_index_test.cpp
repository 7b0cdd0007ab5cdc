// N-gram index tests: exact runs and shares on small hand-made lines, the binary form, and the
// originality check on real data (a training piece is 100% copied, random notes about 0%).
#include <gtest/gtest.h>

#include <random>

#include "base/error.hpp"
#include "corpus/ngram_index.hpp"
#include "base/parallel.hpp"
#include "corpus_test_util.hpp"
#include "music/scan.hpp"

namespace etude {
namespace {

std::vector<uint8_t> line(std::initializer_list<int> pitches) { return {pitches.begin(), pitches.end()}; }

TEST(NgramIndex, RunsAndSharesOnHandMadeLines) {
  NgramIndex index(4);
  index.add_piece("a", line({60, 62, 64, 65, 67, 69, 71, 72}));
  index.add_piece("b", line({40, 41, 42, 43, 44}));
  index.finish();
  EXPECT_EQ(index.size(), 5u + 2u);

  auto same = line({60, 62, 64, 65, 67, 69, 71, 72});
  CopiedRun run = index.longest_copied_run(same);
  EXPECT_EQ(run.length, 8u);
  EXPECT_EQ(run.start, 0u);
  EXPECT_EQ(index.pieces()[static_cast<size_t>(run.piece)], "a");
  EXPECT_DOUBLE_EQ(index.copied_share(same), 1.0);

  // 11 notes: 5 copied from a (62..69), 4 from b (41..44), two of its own.
  auto mixed = line({30, 62, 64, 65, 67, 69, 99, 41, 42, 43, 44});
  run = index.longest_copied_run(mixed);
  EXPECT_EQ(run.length, 5u);
  EXPECT_EQ(run.start, 1u);
  EXPECT_DOUBLE_EQ(index.copied_share(mixed), 9.0 / 11.0);
  EXPECT_DOUBLE_EQ(index.copied_share(mixed, 5), 5.0 / 11.0);  // only runs of 5 notes or more
  EXPECT_DOUBLE_EQ(index.copied_share(mixed, 6), 0.0);

  // Grams from two pieces side by side are not one run.
  auto spliced = line({64, 65, 67, 69, 40, 41, 42, 43});
  EXPECT_EQ(index.longest_copied_run(spliced).length, 4u);
  EXPECT_DOUBLE_EQ(index.copied_share(line({60, 62, 64})), 0.0);  // shorter than n
  EXPECT_EQ(index.longest_copied_run(line({})).length, 0u);
  EXPECT_THROW(NgramIndex(1), InvalidArgument);
}

TEST(NgramIndex, BinaryFormRoundTripsAndRejectsDamage) {
  NgramIndex index(3);
  index.add_piece("x/y.mid", line({1, 2, 3, 4, 5, 6}));
  index.finish();
  auto bytes = index.serialize();
  NgramIndex back = NgramIndex::deserialize(bytes, "test");
  EXPECT_EQ(back.n(), 3);
  EXPECT_EQ(back.pieces(), index.pieces());
  EXPECT_EQ(back.serialize(), bytes);
  EXPECT_DOUBLE_EQ(back.copied_share(line({9, 2, 3, 4, 9})), 0.6);
  auto cut = bytes;
  cut.resize(cut.size() - 3);
  EXPECT_THROW(NgramIndex::deserialize(cut, "test"), FormatError);
  auto wrong = bytes;
  wrong[0] = 'X';
  EXPECT_THROW(NgramIndex::deserialize(wrong, "test"), FormatError);
}

TEST(NgramIndex, TrainingPiecesAreCopiedRandomNotesAreNot) {
  auto dir = test::corpus_dir();
  if (dir.empty()) GTEST_SKIP() << "ETUDE_CORPUS not set";
  auto files = find_midi_files(dir);
  files.resize(60);  // enough pieces of several composers, quickly
  std::vector<std::vector<uint8_t>> lines(files.size());
  parallel_for(files.size(), 0, [&](size_t i) { lines[i] = pitch_line(load_note_sequence(files[i])); });
  NgramIndex index;  // n = 8
  const size_t train = 50;
  for (size_t i = 0; i < train; ++i) index.add_piece(files[i].filename().string(), lines[i]);
  index.finish();
  for (size_t i = 0; i < train; i += 7) {
    EXPECT_DOUBLE_EQ(index.copied_share(lines[i]), 1.0) << files[i];
    CopiedRun run = index.longest_copied_run(lines[i]);
    EXPECT_EQ(run.length, lines[i].size());
    EXPECT_EQ(index.pieces()[static_cast<size_t>(run.piece)], files[i].filename().string());
  }
  std::mt19937_64 rng(3);
  std::vector<uint8_t> random(3000);
  for (auto& p : random) p = static_cast<uint8_t>(std::uniform_int_distribution<int>(21, 108)(rng));
  EXPECT_LT(index.copied_share(random), 0.01);
  EXPECT_LT(index.longest_copied_run(random).length, 9u);
  // Pieces left out share some figures (scales, repeated chords), far from all of them.
  for (size_t i = train; i < files.size(); ++i) {
    EXPECT_LT(index.copied_share(lines[i]), 0.9) << files[i];
    EXPECT_LT(index.copied_share(lines[i], 32), 0.5) << files[i];
  }
}

}  // namespace
}  // namespace etude
