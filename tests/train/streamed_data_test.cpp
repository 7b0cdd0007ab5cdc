// Training data read from many mapped shards with streams spilled to scratch files gives the same
// identity, validation stream, epoch streams and windows as the same data held in memory; style
// runs give every token's row.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "../corpus/corpus_test_util.hpp"
#include "train/batches.hpp"
#include "train/train_data.hpp"

namespace etude::train {
namespace {
namespace fs = std::filesystem;

std::vector<int32_t> all(const SpillArray& a) {
  std::vector<int32_t> v(a.size());
  a.read(0, v.size(), v.data());
  return v;
}

TEST(StyleRuns, FillGivesEveryTokensRow) {
  StyleRuns runs;
  std::vector<int32_t> rows;
  const int32_t row_of[] = {2, 2, 0, 5, 1, 1, 3};
  for (size_t p = 0; p < std::size(row_of); ++p) {
    const size_t n = 1 + (p * 5) % 7;
    runs.add(n, row_of[p]);
    rows.insert(rows.end(), n, row_of[p]);
  }
  runs.add(0, 9);  // nothing
  ASSERT_EQ(runs.size(), rows.size());
  EXPECT_EQ(runs.rows.size(), std::size(row_of) - 2);  // neighbours in one row share a run
  for (size_t start = 0; start < rows.size(); ++start)
    for (size_t count = 0; start + count <= rows.size(); ++count) {
      std::vector<int32_t> got(count, -1);
      runs.fill(start, count, got.data());
      ASSERT_TRUE(std::equal(got.begin(), got.end(), rows.begin() + ptrdiff_t(start))) << start << "+" << count;
    }
  std::vector<int32_t> out(2);
  EXPECT_THROW(runs.fill(rows.size() - 1, 2, out.data()), InvalidArgument);
}

TEST(StreamedData, ShardsAndSpilledStreamsGiveTheSameWindowsAsMemory) {
  test::TempDir tmp;
  const fs::path dir = tmp.path / "music";
  for (int i = 0; i < 30; ++i)
    test::write_tune(dir / (i % 3 ? "Alpha" : "Beta") / (std::to_string(i) + ".mid"), 50 + i % 20, 10 + i % 7);
  DataOptions memory;
  memory.cache = tmp.path / "memory.bin";
  memory.threads = 2;
  DataOptions streamed = memory;
  streamed.cache = tmp.path / "streamed.bin";
  streamed.spill_tokens = 40;  // every stream spills
  streamed.shard_tokens = 64;  // a shard every few pieces
  const TrainData a = load_train_data({dir}, memory), b = load_train_data({dir}, streamed);
  EXPECT_GT(b.corpora[0].store->shard_count(), 5u);
  EXPECT_EQ(a.corpora[0].store->shard_count(), 1u);
  EXPECT_EQ(a.identity, b.identity);
  EXPECT_EQ(a.train_tokens, b.train_tokens);
  EXPECT_FALSE(a.val_stream.spilled());
  ASSERT_TRUE(b.val_stream.spilled());
  EXPECT_EQ(all(a.val_stream), all(b.val_stream));
  EXPECT_EQ(a.val_styles.ends, b.val_styles.ends);
  EXPECT_EQ(a.val_styles.rows, b.val_styles.rows);

  const int T = 16, B = 8;
  for (const auto& [lo, hi] : {std::pair{0, 0}, std::pair{-5, 6}}) {
    std::mt19937_64 ra(11), rb(11);
    const EpochStream ea = epoch_stream(a, lo, hi, ra), eb = epoch_stream(b, lo, hi, rb);
    ASSERT_TRUE(eb.tokens.spilled());
    ASSERT_EQ(all(ea.tokens), all(eb.tokens)) << lo << ".." << hi;
    EXPECT_EQ(ea.styles.ends, eb.styles.ends);
    EXPECT_EQ(ea.styles.rows, eb.styles.rows);
    if (lo == 0 && hi == 0) {  // untransposed: the training pieces one after another
      std::vector<int32_t> joined;
      for (const Piece* p : a.train) joined.insert(joined.end(), p->tokens.begin(), p->tokens.end());
      EXPECT_EQ(all(eb.tokens), joined);
    }
    std::vector<size_t> starts = window_starts(eb.tokens.size(), T, T, 5);
    std::shuffle(starts.begin(), starts.end(), ra);
    ASSERT_GE(starts.size(), size_t(B));
    for (size_t first = 0; first + B <= starts.size(); first += B) {
      const auto window = std::span(starts).subspan(first, B);
      std::vector<int32_t> ta(B * T), ya(B * T), sa(B * T), tb(B * T), yb(B * T), sb(B * T);
      fill_batch(ea.tokens, window, B, T, nn::Mode::seq2seq, ta.data(), ya.data());
      fill_batch(eb.tokens, window, B, T, nn::Mode::seq2seq, tb.data(), yb.data());
      fill_styles(ea.styles, window, B, T, sa.data());
      fill_styles(eb.styles, window, B, T, sb.data());
      ASSERT_EQ(ta, tb);
      ASSERT_EQ(ya, yb);
      ASSERT_EQ(sa, sb);
    }
  }
}

}  // namespace
}  // namespace etude::train
