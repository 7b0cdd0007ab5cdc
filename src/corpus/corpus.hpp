// Corpus: a folder of MIDI files turned into token streams ready for training: styles (first-
// level subfolders), a deterministic train/validation split by piece, skipped files with reasons,
// and the n-gram index of the training pieces; cached (a manifest file and token shards read
// through mmap) so that a rerun reuses it and a corpus larger than memory streams.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "corpus/ngram_index.hpp"
#include "corpus/token_shards.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude {

enum class Split : uint8_t { train = 0, validation = 1 };
const char* split_name(Split split);  // "train" / "validation"

struct Piece {
  std::string path;             // relative to the corpus folder, '/' separators
  int32_t style = 0;            // index into Corpus::styles
  Split split = Split::train;
  std::span<const int32_t> tokens;  // BOS ... EOS, in the corpus's token store
  TokenPlace place;             // where in the store
  uint32_t notes = 0;           // notes in the file (drums included)
  double seconds = 0.0;         // duration of the file
};

struct SkippedFile {
  std::string path;    // relative to the corpus folder
  std::string reason;  // the reader's or tokenizer's message, or "no notes"
};

struct SourceFile {    // every MIDI file seen, used or skipped: what the cache checks
  std::string path;    // relative to the corpus folder
  uint64_t size = 0;
  int64_t mtime = 0;   // filesystem clock ticks
  uint64_t hash = 0;   // FNV-1a 64 of the bytes
};

struct CorpusOptions {
  std::string tokenizer = "events";                             // notes | seed | events | beats
  nlohmann::json tokenizer_config = nlohmann::json::object();   // that tokenizer's config ({} = defaults)
  double validation_fraction = 0.1;  // share of pieces (by a hash of their path) held out, 0..0.5
  int ngram = 8;                     // n of the pitch n-gram index
  bool lenient = false;              // read damaged MIDI files leniently instead of skipping them
  unsigned threads = 0;              // 0: every hardware thread
  std::filesystem::path cache;       // empty: default_cache_path(dir, options)
  bool use_cache = true;             // false: rebuild even when the cache is valid (and rewrite it)
  size_t shard_tokens = kShardTokens;  // tokens per cache shard (the build holds one shard in memory)
};

struct Corpus {
  std::filesystem::path root;
  nlohmann::json tokenizer;          // the fitted tokenizer's to_json(): make_tokenizer(it)
  std::vector<std::string> styles;   // sorted
  std::vector<Piece> pieces;         // sorted by path
  std::vector<SkippedFile> skipped;  // sorted by path
  std::vector<SourceFile> sources;   // sorted by path
  NgramIndex ngrams;                 // pitch n-grams of the training pieces
  std::shared_ptr<const TokenStore> store;  // the pieces' tokens (mapped shards, or memory)
  uint64_t build_id = 0;             // ties the cache's shards to its manifest

  // How this corpus was obtained (not stored).
  std::filesystem::path cache_path;
  bool from_cache = false;
  std::string cache_note;  // why the cache was not used or not written; empty when all went well
  double seconds = 0.0;    // wall time of load_or_build_corpus

  size_t piece_count(Split split) const;
  size_t token_count(Split split) const;
};

// InvalidArgument for options that cannot work (a validation fraction outside 0..0.5).
void check_corpus_options(const CorpusOptions& options);

// The hash split (also used by the judge to split a style folder as training did): each piece's
// `split` from a draw fixed by its `path` (relative to the corpus folder, so the same file splits
// differently when the corpus is its style folder or the folder above); pieces whose draw is below
// the fraction are held out, and a style with two or more pieces holds out at least one (its
// lowest draw) and keeps at least one. `style` must be set (< styles). fraction <= 0: all train.
void assign_splits(std::vector<Piece>& pieces, size_t styles, double fraction);
// A file's style from its path relative to the corpus folder: the first folder, or root_name (the
// corpus folder's own name) for a file directly in it.
std::string style_of_path(const std::string& rel, const std::string& root_name);

// $XDG_CACHE_HOME/etude, else $HOME/.cache/etude, else <temp>/etude-cache: writable even when
// the corpus folder is read-only.
std::filesystem::path default_cache_dir();
// default_cache_dir()/corpus-<hash of the folder's absolute path and the options>.bin
std::filesystem::path default_cache_path(const std::filesystem::path& dir, const CorpusOptions& options);

// Scans, parses and tokenizes in parallel, a chunk of files at a time (only one chunk's notes are
// in memory; the tokens stay in memory too); never reads or writes a cache. IoError when dir is
// not a folder; InvalidArgument for bad options. Broken files land in `skipped`. The notes and
// seed tokenizers fit their vocabulary on every training piece at once, so they parse in one chunk.
Corpus build_corpus(const std::filesystem::path& dir, const CorpusOptions& options = {});
// The same, writing the token shards of the cache at `cache` as they fill and mapping them back
// (see ShardWriter), so memory holds one chunk's notes and one shard's tokens; the manifest is
// save_corpus_cache's. A shard that cannot be written leaves the tokens in memory and says so in
// cache_note.
Corpus build_corpus_streamed(const std::filesystem::path& dir, const CorpusOptions& options,
                             const std::filesystem::path& cache);
// Reuses the cache when its options match and every source file is unchanged (size and mtime,
// else content hash); otherwise builds and writes it atomically. A cache that cannot be written
// (read-only place) is noted in cache_note, not an error.
Corpus load_or_build_corpus(const std::filesystem::path& dir, const CorpusOptions& options = {});

// The options that decide a cache's content, normalized ({} config equals the defaults).
std::string corpus_options_key(const CorpusOptions& options);
// The cache: a manifest at `path` ("ETCORPUS", version, options key, tokenizer JSON, build id and
// shard count, sources, styles, pieces with their shard places, skipped files, n-gram index) and
// the token shards beside it (shard_path). save writes the shards the corpus holds in memory and
// then the manifest, each atomically, and removes a previous build's extra shards. load maps the
// shards and checks them; it returns nothing (with the reason) when the cache does not apply.
void save_corpus_cache(const Corpus& corpus, const CorpusOptions& options, const std::filesystem::path& path);
std::optional<Corpus> load_corpus_cache(const std::filesystem::path& path, const std::filesystem::path& dir,
                                        const CorpusOptions& options, std::string& why_not);

}  // namespace etude
