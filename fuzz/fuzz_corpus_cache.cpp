// libFuzzer target for the corpus cache reader, manifest and shards: at start-up it builds the real
// cache (in small shards) of a small folder ($ETUDE_FUZZ_CACHE_DIR, default fuzz-out/seeds/
// cache-folder, written by make_fuzz_seeds) in a private directory. The first byte of an input picks
// what the rest replaces: even, the manifest; odd, one shard (byte / 2 picks which), the other files
// staying the valid ones. A clean error or "stale" is fine; a crash or an inconsistent corpus is not.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "corpus/corpus.hpp"
#include "fuzz_common.hpp"
#include "tokenize/tokenizer.hpp"

namespace {
namespace fs = std::filesystem;
using namespace etude;
using fuzz::require;

fs::path folder() {
  const char* env = std::getenv("ETUDE_FUZZ_CACHE_DIR");
  fs::path dir = env && *env ? env : "fuzz-out/seeds/cache-folder";
  if (!fs::is_directory(dir)) {
    dir = fs::temp_directory_path() / "etude-fuzz-empty";
    fs::create_directories(dir);
  }
  return dir;
}

// The valid cache: its manifest and shard files, as bytes, and where they live.
struct ValidCache {
  fs::path source = folder();
  fs::path root = fuzz::scratch_folder("etude-fuzz-cache");
  fs::path manifest = root / "cache.bin";
  std::vector<uint8_t> manifest_bytes;
  std::vector<std::pair<fs::path, std::vector<uint8_t>>> shards;
  ValidCache() {
    fs::remove_all(root);
    fs::create_directories(root);
    CorpusOptions options = fuzz::cache_options();
    options.cache = manifest;
    load_or_build_corpus(source, options);
    manifest_bytes = read_file_bytes(manifest);
    for (const auto& entry : fs::directory_iterator(root))
      if (entry.path() != manifest) shards.emplace_back(entry.path(), read_file_bytes(entry.path()));
    std::sort(shards.begin(), shards.end());
  }
  ~ValidCache() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ValidCache valid;
  if (size < 1) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  const bool shard = (data[0] & 1) && !valid.shards.empty();
  const size_t which = shard ? (data[0] / 2) % valid.shards.size() : 0;
  fuzz::overwrite_file(valid.manifest, shard ? std::span<const uint8_t>(valid.manifest_bytes) : rest);
  for (size_t i = 0; i < valid.shards.size(); ++i)
    fuzz::overwrite_file(valid.shards[i].first,
                         shard && i == which ? rest : std::span<const uint8_t>(valid.shards[i].second));

  std::string why;
  std::optional<Corpus> c;
  try {
    c = load_corpus_cache(valid.manifest, valid.source, fuzz::cache_options(), why);
  } catch (const Error&) {
    return 0;
  }
  if (!c) {
    require(!why.empty());
    return 0;
  }
  // What training relies on: the tokenizer builds and every token is one of its ids.
  const auto tok = make_tokenizer(c->tokenizer);
  for (const Piece& p : c->pieces) {
    require(p.style >= 0 && size_t(p.style) < c->styles.size());
    for (int32_t t : p.tokens) require(t >= 0 && t < tok->vocab_size());
  }
  c->piece_count(Split::train);
  c->token_count(Split::validation);
  return 0;
}
