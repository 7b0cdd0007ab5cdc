// The corpus cache's token shards: written and mapped back equal, a streamed build in many shards
// equal to one built in memory, a previous build's extra shards removed, and a truncated or
// damaged shard refused with one line naming it (the corpus then rebuilt).
#include <gtest/gtest.h>

#include <algorithm>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "corpus/corpus.hpp"
#include "corpus/token_shards.hpp"
#include "corpus_test_util.hpp"

namespace etude {
namespace {
namespace fs = std::filesystem;

std::vector<std::vector<int32_t>> some_pieces() {
  std::vector<std::vector<int32_t>> pieces;
  for (int p = 0; p < 9; ++p) {
    std::vector<int32_t> t;
    for (int k = 0; k < 3 + 4 * p; ++k) t.push_back((p * 31 + k * 7) % 50);
    pieces.push_back(t);
  }
  pieces.push_back({});  // an empty piece has a place too
  return pieces;
}

TEST(TokenShards, WrittenAndMappedBackEqual) {
  test::TempDir tmp;
  const fs::path cache = tmp.path / "c.bin";
  const auto pieces = some_pieces();
  for (const fs::path& where : {cache, fs::path()}) {  // files, then memory only
    ShardWriter w(where, 77, 20);
    std::vector<TokenPlace> places;
    for (const auto& p : pieces) places.push_back(w.add(p));
    const auto store = w.finish();
    EXPECT_EQ(w.all_written(), !where.empty());
    EXPECT_GT(store->shard_count(), 3u);
    for (size_t i = 0; i < pieces.size(); ++i) EXPECT_TRUE(std::ranges::equal(store->tokens(places[i]), pieces[i])) << i;
    if (where.empty()) continue;
    const auto again = TokenStore::open(cache, 77, uint32_t(store->shard_count()), 50);
    for (size_t i = 0; i < pieces.size(); ++i) EXPECT_TRUE(std::ranges::equal(again->tokens(places[i]), pieces[i])) << i;
    again->release();  // pages go, the tokens stay readable
    EXPECT_TRUE(std::ranges::equal(again->tokens(places[3]), pieces[3]));
  }
}

// A shard refused: FormatError, one line, naming the shard file and `what`.
void expect_refused(const fs::path& cache, uint32_t shards, const std::string& what, uint64_t build_id = 77,
                    uint32_t which = 1) {
  try {
    TokenStore::open(cache, build_id, shards, 50);
    ADD_FAILURE() << "accepted; wanted: " << what;
  } catch (const FormatError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(shard_path(cache, build_id, which).string()), std::string::npos) << m;
    EXPECT_NE(m.find(what), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(TokenShards, TruncatedOrDamagedShardIsRefusedNamingIt) {
  test::TempDir tmp;
  const fs::path cache = tmp.path / "c.bin";
  ShardWriter w(cache, 77, 20);
  for (const auto& p : some_pieces()) w.add(p);
  const uint32_t shards = uint32_t(w.finish()->shard_count());
  const fs::path one = shard_path(cache, 77, 1);
  const std::vector<uint8_t> good = read_file_bytes(one);
  std::vector<uint8_t> bad(good.begin(), good.end() - 3);
  write_file_atomic(one, bad);
  expect_refused(cache, shards, "truncated");
  bad = good;
  bad[0] = 'X';
  write_file_atomic(one, bad);
  expect_refused(cache, shards, "not an Etude corpus shard");
  bad = good;
  bad[bad.size() - 2] = 0x7f;  // the last token's high byte: far outside the vocabulary
  write_file_atomic(one, bad);
  expect_refused(cache, shards, "outside the vocabulary");
  write_file_atomic(one, good);
  for (uint32_t i = 0; i < shards; ++i)  // build 77's shards under build 78's names
    fs::copy_file(shard_path(cache, 77, i), shard_path(cache, 78, i));
  expect_refused(cache, shards, "another build", 78, 0);
  EXPECT_NO_THROW(TokenStore::open(cache, 77, shards, 50));
}

CorpusOptions small_shards(const fs::path& cache) {
  CorpusOptions o;
  o.tokenizer = "events";
  o.cache = cache;
  o.shard_tokens = 100;  // a shard every few pieces
  return o;
}

void write_tunes(const fs::path& dir, int count) {
  for (int i = 0; i < count; ++i)
    test::write_tune(dir / (i % 2 ? "Odd" : "Even") / (std::to_string(i) + ".mid"), 48 + i, 8 + i % 5);
}

void expect_same(const Corpus& a, const Corpus& b) {
  ASSERT_EQ(a.pieces.size(), b.pieces.size());
  for (size_t i = 0; i < a.pieces.size(); ++i) {
    EXPECT_EQ(a.pieces[i].path, b.pieces[i].path);
    EXPECT_EQ(a.pieces[i].split, b.pieces[i].split);
    EXPECT_EQ(a.pieces[i].style, b.pieces[i].style);
    EXPECT_TRUE(std::ranges::equal(a.pieces[i].tokens, b.pieces[i].tokens)) << a.pieces[i].path;
  }
  EXPECT_EQ(a.styles, b.styles);
  EXPECT_EQ(a.ngrams.serialize(), b.ngrams.serialize());
}

TEST(TokenShards, StreamedBuildInManyShardsEqualsTheInMemoryBuild) {
  test::TempDir tmp;
  const fs::path dir = tmp.path / "music", cache = tmp.path / "cache.bin";
  write_tunes(dir, 24);
  test::write_text(dir / "Odd" / "broken.mid", "MThd nonsense");
  const Corpus memory = build_corpus(dir, small_shards({}));
  const Corpus streamed = load_or_build_corpus(dir, small_shards(cache));
  ASSERT_FALSE(streamed.from_cache);
  EXPECT_EQ(streamed.cache_note, "no cache yet");
  EXPECT_GT(streamed.store->shard_count(), 4u);
  EXPECT_TRUE(fs::exists(shard_path(cache, streamed.build_id, uint32_t(streamed.store->shard_count() - 1))));
  expect_same(memory, streamed);
  EXPECT_EQ(streamed.skipped.size(), 1u);
  const Corpus reused = load_or_build_corpus(dir, small_shards(cache));
  ASSERT_TRUE(reused.from_cache) << reused.cache_note;
  expect_same(memory, reused);
  EXPECT_EQ(reused.skipped.size(), 1u);

  // A rebuild (into fewer shards) removes the shards of the build before.
  const size_t many = streamed.store->shard_count();
  CorpusOptions big = small_shards(cache);
  big.shard_tokens = kShardTokens;
  big.use_cache = false;
  const Corpus one = load_or_build_corpus(dir, big);
  EXPECT_EQ(one.store->shard_count(), 1u);
  EXPECT_TRUE(fs::exists(shard_path(cache, one.build_id, 0)));
  EXPECT_FALSE(fs::exists(shard_path(cache, streamed.build_id, 0)));
  EXPECT_FALSE(fs::exists(shard_path(cache, streamed.build_id, uint32_t(many - 1))));
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(tmp.path)) files += e.path().filename().string().starts_with("cache.bin");
  EXPECT_EQ(files, 2u);  // the manifest and its one shard
  expect_same(memory, one);
}

TEST(TokenShards, CacheWithAMissingOrDamagedShardIsRebuilt) {
  test::TempDir tmp;
  const fs::path dir = tmp.path / "music", cache = tmp.path / "cache.bin";
  write_tunes(dir, 12);
  const Corpus built = load_or_build_corpus(dir, small_shards(cache));
  ASSERT_GT(built.store->shard_count(), 2u);
  const fs::path one = shard_path(cache, built.build_id, 1);
  std::vector<uint8_t> b = read_file_bytes(one);
  b.resize(b.size() - 1);
  write_file_atomic(one, b);
  const Corpus rebuilt = load_or_build_corpus(dir, small_shards(cache));
  EXPECT_FALSE(rebuilt.from_cache);
  EXPECT_NE(rebuilt.cache_note.find(one.string()), std::string::npos) << rebuilt.cache_note;
  expect_same(built, rebuilt);
  const fs::path two = shard_path(cache, rebuilt.build_id, 2);
  fs::remove(two);
  const Corpus again = load_or_build_corpus(dir, small_shards(cache));
  EXPECT_FALSE(again.from_cache);
  EXPECT_NE(again.cache_note.find(two.string()), std::string::npos) << again.cache_note;
  EXPECT_TRUE(load_or_build_corpus(dir, small_shards(cache)).from_cache);
}

}  // namespace
}  // namespace etude
