// libFuzzer target for the corpus cache reader: any bytes as the cache of a small folder
// ($ETUDE_FUZZ_CACHE_DIR, default fuzz-out/seeds/cache-folder, written by make_fuzz_seeds; an empty
// folder when missing). A clean error or "stale" is fine; a crash or an inconsistent corpus is not.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "base/error.hpp"
#include "corpus/corpus.hpp"
#include "fuzz_common.hpp"
#include "tokenize/tokenizer.hpp"

namespace {
std::filesystem::path folder() {
  const char* env = std::getenv("ETUDE_FUZZ_CACHE_DIR");
  std::filesystem::path dir = env && *env ? env : "fuzz-out/seeds/cache-folder";
  if (!std::filesystem::is_directory(dir)) {
    dir = std::filesystem::temp_directory_path() / "etude-fuzz-empty";
    std::filesystem::create_directories(dir);
  }
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace etude;
  using fuzz::require;
  static const std::filesystem::path dir = folder();
  static fuzz::MemFile file;
  std::string why;
  std::optional<Corpus> c;
  try {
    c = load_corpus_cache(file.write({data, size}), dir, CorpusOptions{}, why);
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
