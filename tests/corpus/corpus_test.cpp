// Corpus tests: styles and the split on the shared corpus, cache reuse and invalidation, the
// default cache place outside the corpus folder, and broken files skipped with their reasons.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "corpus/corpus.hpp"
#include "corpus_test_util.hpp"

namespace etude {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

CorpusOptions options(const std::string& tokenizer, const fs::path& cache = {}, unsigned threads = 0) {
  CorpusOptions o;
  o.tokenizer = tokenizer;
  o.cache = cache;
  o.threads = threads;
  return o;
}

void expect_same_pieces(const Corpus& a, const Corpus& b) {
  ASSERT_EQ(a.pieces.size(), b.pieces.size());
  for (size_t i = 0; i < a.pieces.size(); ++i) {
    EXPECT_EQ(a.pieces[i].path, b.pieces[i].path);
    EXPECT_EQ(a.pieces[i].split, b.pieces[i].split) << a.pieces[i].path;
    EXPECT_TRUE(std::ranges::equal(a.pieces[i].tokens, b.pieces[i].tokens)) << a.pieces[i].path;
  }
  EXPECT_EQ(a.styles, b.styles);
  EXPECT_EQ(a.tokenizer, b.tokenizer);
}

TEST(Corpus, SharedCorpusStylesSplitAndCache) {
  fs::path dir = test::corpus_dir();
  if (dir.empty()) GTEST_SKIP() << "ETUDE_CORPUS not set";
  TempDir tmp;
  CorpusOptions opt = options("events", tmp.path / "events.bin");
  Corpus cold = load_or_build_corpus(dir, opt);
  EXPECT_FALSE(cold.from_cache);
  EXPECT_EQ(cold.pieces.size(), 337u);
  EXPECT_TRUE(cold.skipped.empty());
  EXPECT_EQ(cold.styles.size(), 26u);
  EXPECT_EQ(cold.styles.front(), "Albeniz");
  // Each style with two or more pieces has pieces on both sides; about 10% are held out.
  std::vector<std::set<Split>> sides(cold.styles.size());
  std::vector<int> count(cold.styles.size());
  for (const auto& p : cold.pieces) {
    sides[static_cast<size_t>(p.style)].insert(p.split);
    ++count[static_cast<size_t>(p.style)];
    EXPECT_EQ(p.path.substr(0, p.path.find('/')), cold.styles[static_cast<size_t>(p.style)]);
    EXPECT_EQ(p.tokens.front(), kBosToken);
    EXPECT_EQ(p.tokens.back(), kEosToken);
  }
  for (size_t s = 0; s < sides.size(); ++s)
    if (count[s] >= 2) {
      EXPECT_EQ(sides[s].size(), 2u) << cold.styles[s];
    }
  double held = static_cast<double>(cold.piece_count(Split::validation)) / cold.pieces.size();
  EXPECT_GT(held, 0.05);
  EXPECT_LT(held, 0.2);
  EXPECT_GT(cold.ngrams.size(), 100000u);
  EXPECT_EQ(cold.ngrams.pieces().size(), cold.piece_count(Split::train));

  Corpus warm = load_or_build_corpus(dir, opt);
  EXPECT_TRUE(warm.from_cache) << warm.cache_note;
  expect_same_pieces(cold, warm);
  EXPECT_EQ(warm.ngrams.serialize(), cold.ngrams.serialize());
  // The same on one thread: the result does not depend on scheduling.
  Corpus single = build_corpus(dir, options("events", {}, 1));
  expect_same_pieces(cold, single);
}

TEST(Corpus, CacheIsRebuiltWhenAFileOrTheTokenizerChanges) {
  TempDir tmp;
  fs::path dir = tmp.path / "music";
  test::write_tune(dir / "a.mid", 60);
  test::write_tune(dir / "b.mid", 62);
  test::write_tune(dir / "c.mid", 64);
  CorpusOptions opt = options("beats", tmp.path / "cache.bin");
  EXPECT_FALSE(load_or_build_corpus(dir, opt).from_cache);
  Corpus again = load_or_build_corpus(dir, opt);
  EXPECT_TRUE(again.from_cache);
  EXPECT_TRUE(again.cache_note.empty()) << again.cache_note;
  // A flat folder is one style, named after the folder.
  EXPECT_EQ(again.styles, std::vector<std::string>{"music"});

  // New time, same bytes: reused, and the cache learns the new time.
  fs::last_write_time(dir / "a.mid", fs::last_write_time(dir / "a.mid") + std::chrono::seconds(5));
  Corpus touched = load_or_build_corpus(dir, opt);
  EXPECT_TRUE(touched.from_cache);
  EXPECT_NE(touched.cache_note.find("refreshed"), std::string::npos);
  EXPECT_TRUE(load_or_build_corpus(dir, opt).cache_note.empty());

  test::write_tune(dir / "b.mid", 50);  // other content
  Corpus changed = load_or_build_corpus(dir, opt);
  EXPECT_FALSE(changed.from_cache);
  EXPECT_NE(changed.cache_note.find("b.mid changed"), std::string::npos) << changed.cache_note;

  test::write_tune(dir / "d.mid", 66);
  EXPECT_FALSE(load_or_build_corpus(dir, opt).from_cache);
  EXPECT_TRUE(load_or_build_corpus(dir, opt).from_cache);

  CorpusOptions other = opt;
  other.tokenizer_config = {{"bars", true}};
  Corpus retok = load_or_build_corpus(dir, other);
  EXPECT_FALSE(retok.from_cache);
  EXPECT_EQ(retok.cache_note, "tokenizer or options changed");
  // The defaults spelled out are the same options as {}.
  EXPECT_FALSE(load_or_build_corpus(dir, opt).from_cache);
  other.tokenizer_config = {{"bars", false}, {"resolution", 12}};
  EXPECT_TRUE(load_or_build_corpus(dir, other).from_cache);

  // A damaged cache is rebuilt, with the reason.
  auto bytes = read_file_bytes(opt.cache);
  bytes.resize(bytes.size() / 2);
  write_file_atomic(opt.cache, bytes);
  Corpus repaired = load_or_build_corpus(dir, opt);
  EXPECT_FALSE(repaired.from_cache);
  EXPECT_NE(repaired.cache_note.find("unexpected end"), std::string::npos) << repaired.cache_note;
  EXPECT_TRUE(load_or_build_corpus(dir, opt).from_cache);
}

TEST(Corpus, DefaultCacheLivesOutsideTheCorpusFolder) {
  TempDir tmp;
  fs::path dir = tmp.path / "songs";
  test::write_tune(dir / "jazz" / "a.mid", 60);
  test::write_tune(dir / "jazz" / "b.mid", 61);
  test::write_tune(dir / "folk" / "c.mid", 62);
  test::write_tune(dir / "loose.mid", 63);
  ::setenv("XDG_CACHE_HOME", (tmp.path / "xdg").c_str(), 1);
  fs::permissions(dir, fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write, fs::perm_options::remove);
  Corpus c = load_or_build_corpus(dir, {});
  fs::permissions(dir, fs::perms::owner_write, fs::perm_options::add);
  EXPECT_EQ(c.cache_path.parent_path(), tmp.path / "xdg" / "etude");
  EXPECT_TRUE(fs::exists(c.cache_path)) << c.cache_note;
  EXPECT_TRUE(c.cache_note.find("not written") == std::string::npos) << c.cache_note;
  // Subfolders are styles; a file at the top level takes the folder's own name.
  EXPECT_EQ(c.styles, (std::vector<std::string>{"folk", "jazz", "songs"}));
  EXPECT_TRUE(load_or_build_corpus(dir, {}).from_cache);
  // Other options, other default file: switching tokenizers does not evict a cache.
  EXPECT_NE(default_cache_path(dir, options("beats")), c.cache_path);
  // A cache that cannot be written is a note, not a failure.
  Corpus nowhere = load_or_build_corpus(dir, options("events", "/proc/etude-no/such.bin"));
  EXPECT_EQ(nowhere.pieces.size(), 4u);
  EXPECT_NE(nowhere.cache_note.find("cache not written"), std::string::npos) << nowhere.cache_note;
  ::unsetenv("XDG_CACHE_HOME");
}

TEST(Corpus, BrokenFilesAreSkippedWithTheirReasons) {
  TempDir tmp;
  fs::path dir = tmp.path / "mixed";
  test::write_tune(dir / "good1.mid", 60);
  test::write_tune(dir / "good2.MID", 67);
  test::write_text(dir / "empty.mid", "");
  test::write_text(dir / "text.mid", "this is not a MIDI file at all");
  auto good = read_file_bytes(dir / "good1.mid");
  good.resize(good.size() - 9);
  write_file_atomic(dir / "truncated.mid", good);
  test::write_text(dir / "notes.txt", "ignored: not a MIDI extension");
  test::write_tune(dir / "drums.mid", 36, 12, true);
  Corpus c = build_corpus(dir, {});
  ASSERT_EQ(c.pieces.size(), 2u);
  ASSERT_EQ(c.skipped.size(), 4u);
  EXPECT_EQ(c.skipped[0].path, "drums.mid");
  EXPECT_EQ(c.skipped[0].reason, "no notes the tokenizer keeps (drums only?)");
  EXPECT_EQ(c.skipped[1].path, "empty.mid");
  EXPECT_NE(c.skipped[1].reason.find("not a MIDI file"), std::string::npos) << c.skipped[1].reason;
  EXPECT_EQ(c.skipped[2].path, "text.mid");
  EXPECT_EQ(c.skipped[3].path, "truncated.mid");
  EXPECT_NE(c.skipped[3].reason.find("truncated"), std::string::npos) << c.skipped[3].reason;
  EXPECT_EQ(c.sources.size(), 6u);

  EXPECT_THROW(build_corpus(tmp.path / "absent", {}), IoError);
  EXPECT_THROW(build_corpus(dir, options("words")), InvalidArgument);
  CorpusOptions most_held_out;
  most_held_out.validation_fraction = 0.9;
  EXPECT_THROW(build_corpus(dir, most_held_out), InvalidArgument);
}

TEST(Corpus, NotesVocabularyIsFittedOnTrainingPiecesOnly) {
  TempDir tmp;
  fs::path dir = tmp.path / "tunes";
  for (int i = 0; i < 12; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "t%d.mid", i);
    test::write_tune(dir / name, 40 + 3 * i);
  }
  Corpus c = build_corpus(dir, options("notes"));
  ASSERT_GE(c.piece_count(Split::validation), 1u);
  auto tok = make_tokenizer(c.tokenizer);
  std::set<std::string> train_names;
  for (const auto& p : c.pieces)
    if (p.split == Split::train)
      for (int32_t t : p.tokens) train_names.insert(tok->vocab().name(t));
  for (int32_t id = kNumSpecialTokens; id < tok->vocab_size(); ++id)
    EXPECT_TRUE(train_names.count(tok->vocab().name(id))) << tok->vocab().name(id);
}

}  // namespace
}  // namespace etude
