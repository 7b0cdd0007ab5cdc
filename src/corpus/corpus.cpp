// The corpus's pieces and splits, the cache's place, and load_or_build_corpus around the cache
// (the build itself is corpus_build.cpp, the cache files corpus_cache.cpp).
#include "corpus/corpus.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "base/error.hpp"
#include "corpus/hash.hpp"

namespace etude {
namespace fs = std::filesystem;

const char* split_name(Split split) { return split == Split::train ? "train" : "validation"; }

size_t Corpus::piece_count(Split split) const {
  return static_cast<size_t>(std::count_if(pieces.begin(), pieces.end(), [&](const Piece& p) { return p.split == split; }));
}

size_t Corpus::token_count(Split split) const {
  size_t n = 0;
  for (const auto& p : pieces)
    if (p.split == split) n += p.tokens.size();
  return n;
}

fs::path default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "etude";
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache" / "etude";
  return fs::temp_directory_path() / "etude-cache";
}

namespace {

// A number in [0, 1) fixed by the piece's relative path: the split does not depend on the machine,
// the order of files or the other files in the folder.
double path_draw(const std::string& rel) { return static_cast<double>(fnv1a(rel) >> 11) * 0x1.0p-53; }

}  // namespace

void check_corpus_options(const CorpusOptions& o) {
  if (!(o.validation_fraction >= 0.0 && o.validation_fraction <= 0.5))
    throw InvalidArgument("corpus: validation fraction must be 0..0.5, got " + std::to_string(o.validation_fraction));
}

void assign_splits(std::vector<Piece>& pieces, size_t styles, double fraction) {
  if (fraction <= 0.0) return;
  std::vector<std::vector<Piece*>> by_style(styles);
  for (auto& p : pieces) by_style[static_cast<size_t>(p.style)].push_back(&p);
  for (auto& group : by_style) {
    if (group.size() < 2) continue;
    std::sort(group.begin(), group.end(), [](Piece* a, Piece* b) { return path_draw(a->path) < path_draw(b->path); });
    for (Piece* p : group) p->split = path_draw(p->path) < fraction ? Split::validation : Split::train;
    group.front()->split = Split::validation;
    group.back()->split = Split::train;
  }
}

std::string style_of_path(const std::string& rel, const std::string& root_name) {
  auto slash = rel.find('/');
  return slash == std::string::npos ? root_name : rel.substr(0, slash);
}

fs::path default_cache_path(const fs::path& dir, const CorpusOptions& options) {
  std::string abs = fs::weakly_canonical(fs::absolute(dir)).string();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(fnv1a(corpus_options_key(options), fnv1a(abs))));
  return default_cache_dir() / ("corpus-" + options.tokenizer + "-" + hex + ".bin");
}

Corpus load_or_build_corpus(const fs::path& dir, const CorpusOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  check_corpus_options(options);
  const fs::path cache = options.cache.empty() ? default_cache_path(dir, options) : options.cache;
  std::string note;
  std::optional<Corpus> cached;
  if (options.use_cache) {
    try {
      cached = load_corpus_cache(cache, dir, options, note);
    } catch (const Error& e) {
      note = e.what();
    }
  } else {
    note = "cache not used (rebuild asked for)";
  }
  // A build writes its token shards as they fill; the manifest follows (save_corpus_cache).
  Corpus corpus = cached ? std::move(*cached) : build_corpus_streamed(dir, options, cache);
  corpus.from_cache = cached.has_value();
  const bool unwritable = !corpus.from_cache && !corpus.cache_note.empty();  // a shard could not be written
  if (corpus.from_cache) note = corpus.cache_note;  // set when file times had to be refreshed
  if (unwritable) note += (note.empty() ? "" : "; ") + corpus.cache_note;
  if (!unwritable && (!corpus.from_cache || !note.empty())) {
    try {
      save_corpus_cache(corpus, options, cache);
    } catch (const Error& e) {
      note += (note.empty() ? "" : "; ") + std::string("cache not written: ") + e.what();
    }
  }
  corpus.cache_note = note;
  corpus.cache_path = cache;
  corpus.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return corpus;
}

}  // namespace etude
