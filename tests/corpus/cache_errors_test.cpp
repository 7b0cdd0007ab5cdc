// A corpus cache whose tokenizer JSON was damaged (a 100 KB string with raw control and non-UTF-8
// bytes, which nlohmann's error used to quote whole): rebuilt, with a one-line reason under 300 bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "base/file_io.hpp"
#include "corpus/corpus.hpp"
#include "corpus_test_util.hpp"

namespace etude {
namespace {
namespace fs = std::filesystem;

TEST(CorpusCache, DamagedTokenizerJsonIsReportedInOneShortLine) {
  test::TempDir tmp;
  const fs::path dir = tmp.path / "music";
  test::write_tune(dir / "a.mid", 60);
  test::write_tune(dir / "b.mid", 64);
  CorpusOptions opt;
  opt.tokenizer = "events";
  opt.cache = tmp.path / "cache.bin";
  const Corpus built = load_or_build_corpus(dir, opt);
  ASSERT_FALSE(built.from_cache);
  // The tokenizer JSON is stored as a length (8 bytes) and its text: both replaced.
  std::vector<uint8_t> b = read_file_bytes(opt.cache);
  const std::string old = built.tokenizer.dump();
  const std::string raw(b.begin(), b.end());
  const size_t at = raw.find(old);
  ASSERT_NE(at, std::string::npos);
  const std::string bad = "{\"name\": \"" + std::string(100000, 'z') + "\xff\n\x02";
  std::vector<uint8_t> out(b.begin(), b.begin() + std::ptrdiff_t(at - 8));
  const uint64_t len = bad.size();
  out.insert(out.end(), reinterpret_cast<const uint8_t*>(&len), reinterpret_cast<const uint8_t*>(&len) + 8);
  out.insert(out.end(), bad.begin(), bad.end());
  out.insert(out.end(), b.begin() + std::ptrdiff_t(at + old.size()), b.end());
  write_file_atomic(opt.cache, out);
  const Corpus again = load_or_build_corpus(dir, opt);
  EXPECT_FALSE(again.from_cache);
  const std::string& note = again.cache_note;
  EXPECT_NE(note.find("bad tokenizer JSON (at byte "), std::string::npos) << note.substr(0, 400);
  EXPECT_LT(note.size(), 300u) << note.substr(0, 400);
  EXPECT_EQ(note.find('\n'), std::string::npos) << note.substr(0, 400);
  EXPECT_NO_THROW((void)nlohmann::json(note).dump()) << "not valid UTF-8";
}

}  // namespace
}  // namespace etude
