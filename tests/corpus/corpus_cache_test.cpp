// Corpus cache files that are damaged inside (found by fuzz/fuzz_corpus_cache.cpp): the reader
// refuses them with a FormatError naming the problem, and load_or_build_corpus rebuilds instead.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "corpus/corpus.hpp"
#include "corpus_test_util.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude {
namespace {

namespace fs = std::filesystem;

// A cache of three small tunes: its manifest, its token shard and the offset of the first
// piece's tokens in the shard.
struct CacheFile {
  test::TempDir tmp;
  fs::path dir = tmp.path / "music", path = tmp.path / "cache.bin", shard;
  CorpusOptions options;
  std::vector<uint8_t> bytes, shard_bytes;
  size_t tokens_at = 0;  // the first token of the first piece
  CacheFile() {
    test::write_tune(dir / "a.mid", 60);
    test::write_tune(dir / "b.mid", 62);
    test::write_tune(dir / "c.mid", 64);
    options.cache = path;
    const Corpus c = load_or_build_corpus(dir, options);
    shard = shard_path(path, c.build_id, 0);
    bytes = read_file_bytes(path);
    shard_bytes = read_file_bytes(shard);
    // The first piece's tokens (i32), BOS first, in the shard.
    const std::span<const int32_t> t = c.pieces.at(0).tokens;
    const auto* head = reinterpret_cast<const uint8_t*>(t.data());
    auto it = std::search(shard_bytes.begin(), shard_bytes.end(), head, head + 4 * t.size());
    EXPECT_NE(it, shard_bytes.end());
    tokens_at = size_t(it - shard_bytes.begin());
  }
  void put_token(size_t index, int32_t value) {
    std::memcpy(shard_bytes.data() + tokens_at + 4 * index, &value, 4);
    write_file_atomic(shard, shard_bytes);
  }
};

TEST(CorpusCache, TokenOutsideTheVocabularyIsRefused) {
  CacheFile f;
  // Fuzzer input: a token id past the vocabulary (training would read past the embedding).
  for (int32_t bad : {-1, 1 << 20, make_tokenizer("events")->vocab_size()}) {
    f.put_token(1, bad);
    std::string why;
    try {
      load_corpus_cache(f.path, f.dir, f.options, why);
      ADD_FAILURE() << "token " << bad << " was accepted";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("token"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
    const Corpus rebuilt = load_or_build_corpus(f.dir, f.options);
    EXPECT_FALSE(rebuilt.from_cache);
    EXPECT_NE(rebuilt.cache_note.find("token"), std::string::npos) << rebuilt.cache_note;
    EXPECT_NE(rebuilt.cache_note.find(f.shard.string()), std::string::npos) << rebuilt.cache_note;
    f.shard = shard_path(f.path, rebuilt.build_id, 0);  // the rebuilt cache is valid again
    f.shard_bytes = read_file_bytes(f.shard);
  }
}

TEST(CorpusCache, VocabularyItsTokenizerDoesNotBuildIsRefused) {
  CacheFile f;
  // Fuzzer input (one byte changed in the stored tokenizer JSON): the cache used to load, and
  // whatever built the tokenizer from it failed later instead of the cache being rebuilt.
  const std::string name = "NOTE_ON_84", broken = "NOTE_O!_84";
  auto it = std::search(f.bytes.begin(), f.bytes.end(), name.begin(), name.end());
  ASSERT_NE(it, f.bytes.end());
  std::copy(broken.begin(), broken.end(), it);
  write_file_atomic(f.path, f.bytes);
  std::string why;
  EXPECT_THROW(load_corpus_cache(f.path, f.dir, f.options, why), FormatError);
  const Corpus rebuilt = load_or_build_corpus(f.dir, f.options);
  EXPECT_FALSE(rebuilt.from_cache);
  EXPECT_NE(rebuilt.cache_note.find("tokenizer"), std::string::npos) << rebuilt.cache_note;
  EXPECT_TRUE(load_or_build_corpus(f.dir, f.options).from_cache);
}

}  // namespace
}  // namespace etude
