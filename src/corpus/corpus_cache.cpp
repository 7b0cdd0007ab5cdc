// The corpus cache: its manifest written atomically after its shards, read back (the shards
// mapped and checked), and the decision whether it still describes the folder (same options;
// same files by size and mtime, else by content hash).
#include <filesystem>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/input_text.hpp"
#include "base/mapped_file.hpp"
#include "corpus/binary_io.hpp"
#include "corpus/corpus.hpp"
#include "corpus/hash.hpp"
#include "music/scan.hpp"

namespace etude {
namespace fs = std::filesystem;
namespace {

constexpr char kMagic[9] = "ETCORPUS";
constexpr uint32_t kVersion = 2;  // 2: tokens in shards beside the manifest

// Checks the cached source list against the folder; empty when it still applies. Files whose
// time changed but whose bytes did not get their new time (refreshed set to true).
std::string stale_reason(std::vector<SourceFile>& sources, const fs::path& dir, bool& refreshed) {
  const auto files = find_midi_files(dir);
  if (files.size() != sources.size())
    return "the folder has " + std::to_string(files.size()) + " MIDI files, the cache " + std::to_string(sources.size());
  for (size_t i = 0; i < files.size(); ++i) {
    SourceFile& src = sources[i];
    if (fs::relative(files[i], dir).generic_string() != src.path) return "files were added or removed";
    std::error_code ec;
    uint64_t size = fs::file_size(files[i], ec);
    int64_t mtime = fs::last_write_time(files[i], ec).time_since_epoch().count();
    if (ec) return src.path + " cannot be read (" + ec.message() + ")";
    if (size == src.size && mtime == src.mtime) continue;
    if (size != src.size || fnv1a(read_file_bytes(files[i])) != src.hash) return src.path + " changed";
    src.mtime = mtime;
    refreshed = true;
  }
  return "";
}

}  // namespace

std::string corpus_options_key(const CorpusOptions& options) {
  auto tok = make_tokenizer(nlohmann::json{{"name", options.tokenizer}, {"config", options.tokenizer_config}});
  return nlohmann::json{{"tokenizer", tok->name()},
                        {"config", tok->config()},
                        {"validation_fraction", options.validation_fraction},
                        {"ngram", options.ngram},
                        {"lenient", options.lenient}}
      .dump();
}

void save_corpus_cache(const Corpus& corpus, const CorpusOptions& options, const fs::path& path) {
  ByteWriter w;
  for (int i = 0; i < 8; ++i) w.put<char>(kMagic[i]);
  w.put<uint32_t>(kVersion);
  w.put_string(corpus_options_key(options));
  w.put_string(corpus.tokenizer.dump());
  w.put<uint64_t>(corpus.build_id);
  w.put<uint32_t>(uint32_t(corpus.store->shard_count()));
  w.put<uint64_t>(corpus.sources.size());
  for (const auto& s : corpus.sources) {
    w.put_string(s.path);
    w.put<uint64_t>(s.size);
    w.put<int64_t>(s.mtime);
    w.put<uint64_t>(s.hash);
  }
  w.put<uint64_t>(corpus.styles.size());
  for (const auto& s : corpus.styles) w.put_string(s);
  w.put<uint64_t>(corpus.pieces.size());
  for (const auto& p : corpus.pieces) {
    w.put_string(p.path);
    w.put<int32_t>(p.style);
    w.put<uint8_t>(static_cast<uint8_t>(p.split));
    w.put<uint32_t>(p.notes);
    w.put<double>(p.seconds);
    w.put<uint32_t>(p.place.shard);
    w.put<uint32_t>(p.place.slot);
  }
  w.put<uint64_t>(corpus.skipped.size());
  for (const auto& s : corpus.skipped) {
    w.put_string(s.path);
    w.put_string(s.reason);
  }
  auto index = corpus.ngrams.serialize();
  w.put_array(std::span<const uint8_t>(index));
  std::error_code ec;
  fs::create_directories(path.parent_path().empty() ? fs::path(".") : path.parent_path(), ec);
  if (ec) throw IoError(path.parent_path().string() + ": cannot create the cache folder (" + ec.message() + ")");
  corpus.store->write(path, corpus.build_id);  // (a streamed build wrote them already)
  write_file_atomic(path, w.bytes());
  remove_stale_shards(path, corpus.build_id);
}

std::optional<Corpus> load_corpus_cache(const fs::path& path, const fs::path& dir, const CorpusOptions& options,
                                        std::string& why_not) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    why_not = "no cache yet";
    return std::nullopt;
  }
  const MappedFile manifest(path);
  ByteReader r(manifest.bytes(), path.string());
  for (int i = 0; i < 8; ++i)
    if (r.get<char>() != kMagic[i]) r.fail("not an Etude corpus cache");
  if (auto v = r.get<uint32_t>(); v != kVersion) {
    why_not = "cache version " + std::to_string(v) + " (this etude writes " + std::to_string(kVersion) + ")";
    return std::nullopt;
  }
  if (r.get_string() != corpus_options_key(options)) {
    why_not = "tokenizer or options changed";
    return std::nullopt;
  }
  Corpus c;
  c.root = dir;
  try {
    c.tokenizer = nlohmann::json::parse(r.get_string());
  } catch (const nlohmann::json::exception& e) {
    r.fail("bad tokenizer JSON (" + json_error_text(e) + ")");
  }
  // The tokenizer must build and every token be one of its ids (training indexes tables by them).
  int32_t vocab = 0;
  try {
    vocab = make_tokenizer(c.tokenizer)->vocab_size();
  } catch (const Error& e) {
    r.fail(std::string("its tokenizer cannot be built: ") + e.what());
  }
  const uint64_t build_id = r.get<uint64_t>();
  const uint32_t shards = r.get<uint32_t>();
  auto count = [&](size_t min_bytes_each) {
    auto n = r.get<uint64_t>();
    if (n > r.remaining() / min_bytes_each) r.fail("a count of " + std::to_string(n) + " does not fit the file");
    return static_cast<size_t>(n);
  };
  c.sources.resize(count(32));
  for (auto& s : c.sources) {
    s.path = r.get_string();
    s.size = r.get<uint64_t>();
    s.mtime = r.get<int64_t>();
    s.hash = r.get<uint64_t>();
  }
  bool refreshed = false;
  why_not = stale_reason(c.sources, dir, refreshed);
  if (!why_not.empty()) return std::nullopt;
  c.build_id = build_id;
  c.styles.resize(count(8));
  for (auto& s : c.styles) s = r.get_string();
  c.pieces.resize(count(33));
  for (auto& p : c.pieces) {
    p.path = r.get_string();
    p.style = r.get<int32_t>();
    if (p.style < 0 || static_cast<size_t>(p.style) >= c.styles.size()) r.fail("piece style out of range");
    auto split = r.get<uint8_t>();
    if (split > 1) r.fail("bad split code " + std::to_string(split));
    p.split = static_cast<Split>(split);
    p.notes = r.get<uint32_t>();
    p.seconds = r.get<double>();
    p.place.shard = r.get<uint32_t>();
    p.place.slot = r.get<uint32_t>();
    if (p.place.shard >= shards) r.fail("piece in shard " + std::to_string(p.place.shard) + " of " + std::to_string(shards));
  }
  c.skipped.resize(count(16));
  for (auto& s : c.skipped) {
    s.path = r.get_string();
    s.reason = r.get_string();
  }
  const uint64_t index_size = r.get<uint64_t>();
  if (index_size > r.remaining()) r.fail("n-gram index of " + std::to_string(index_size) + " bytes does not fit");
  c.ngrams = NgramIndex::deserialize(manifest.bytes().subspan(r.offset(), index_size), path.string() + " (n-gram index)");
  r.skip(index_size);
  if (r.remaining() != 0) r.fail(std::to_string(r.remaining()) + " bytes after the end");
  // The shards last: the whole manifest is checked first (and a fuzzer reaches all of it).
  c.store = TokenStore::open(path, build_id, shards, vocab);
  for (Piece& p : c.pieces) {
    if (p.place.slot >= c.store->pieces_in(p.place.shard))
      r.fail("piece " + quote_input(p.path) + " is in slot " + std::to_string(p.place.slot) + " of shard " +
             std::to_string(p.place.shard) + ", which holds " + std::to_string(c.store->pieces_in(p.place.shard)));
    p.tokens = c.store->tokens(p.place);
  }
  if (refreshed) c.cache_note = "file times changed but not their contents: cache refreshed";
  return c;
}

}  // namespace etude
