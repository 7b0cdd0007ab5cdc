// Building a corpus: scan, parallel parse and tokenize, styles, the hash split, tokenizer fit on
// the training pieces, the n-gram index; and load_or_build_corpus around the cache.
#include "corpus/corpus.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "corpus/hash.hpp"
#include "base/parallel.hpp"
#include "midi/midi_file.hpp"
#include "music/midi_convert.hpp"
#include "music/scan.hpp"

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

void check_options(const CorpusOptions& o) {
  if (!(o.validation_fraction >= 0.0 && o.validation_fraction <= 0.5))
    throw InvalidArgument("corpus: validation fraction must be 0..0.5, got " + std::to_string(o.validation_fraction));
}

// A number in [0, 1) fixed by the piece's relative path: the split does not depend on the machine,
// the order of files or the other files in the folder.
double path_draw(const std::string& rel) { return static_cast<double>(fnv1a(rel) >> 11) * 0x1.0p-53; }

}  // namespace

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

Corpus build_corpus(const fs::path& dir, const CorpusOptions& options) {
  check_options(options);
  auto tokenizer = make_tokenizer(nlohmann::json{{"name", options.tokenizer}, {"config", options.tokenizer_config}});
  const auto files = find_midi_files(dir);
  const std::string root_name = fs::weakly_canonical(fs::absolute(dir)).filename().string();

  Corpus corpus;
  corpus.ngrams = NgramIndex(options.ngram);
  corpus.root = dir;
  corpus.sources.resize(files.size());
  std::vector<NoteSequence> seqs(files.size());
  std::vector<std::string> reasons(files.size());
  parallel_for(files.size(), options.threads, [&](size_t i) {
    SourceFile& src = corpus.sources[i];
    src.path = fs::relative(files[i], dir).generic_string();
    try {
      auto bytes = read_file_bytes(files[i]);
      src.size = bytes.size();
      src.mtime = fs::last_write_time(files[i]).time_since_epoch().count();
      src.hash = fnv1a(bytes);
      seqs[i] = note_sequence_from_midi(read_midi(bytes, files[i].string(), ReadOptions{options.lenient}),
                                        files[i].string());
      if (seqs[i].notes.empty()) reasons[i] = "no notes";
    } catch (const std::exception& e) {
      reasons[i] = e.what();
    }
  });

  std::map<std::string, int32_t> style_ids;
  for (size_t i = 0; i < files.size(); ++i)
    if (reasons[i].empty()) style_ids.emplace(style_of_path(corpus.sources[i].path, root_name), 0);
  for (auto& [name, id] : style_ids) {
    id = static_cast<int32_t>(corpus.styles.size());
    corpus.styles.push_back(name);
  }
  std::vector<size_t> source_of;  // piece -> file index
  for (size_t i = 0; i < files.size(); ++i) {
    if (!reasons[i].empty()) continue;
    Piece p;
    p.path = corpus.sources[i].path;
    p.style = style_ids.at(style_of_path(p.path, root_name));
    p.notes = static_cast<uint32_t>(seqs[i].notes.size());
    p.seconds = seqs[i].total_time;
    corpus.pieces.push_back(std::move(p));
    source_of.push_back(i);
  }
  assign_splits(corpus.pieces, corpus.styles.size(), options.validation_fraction);

  if (tokenizer->needs_fit()) {
    std::vector<const NoteSequence*> train;
    for (size_t k = 0; k < corpus.pieces.size(); ++k)
      if (corpus.pieces[k].split == Split::train) train.push_back(&seqs[source_of[k]]);
    tokenizer->fit(train);
  }
  corpus.tokenizer = tokenizer->to_json();

  std::vector<std::vector<uint8_t>> lines(corpus.pieces.size());
  parallel_for(corpus.pieces.size(), options.threads, [&](size_t k) {
    Piece& p = corpus.pieces[k];
    try {
      p.tokens = tokenizer->encode(seqs[source_of[k]]);
      if (p.tokens.size() <= 2) reasons[source_of[k]] = "no notes the tokenizer keeps (drums only?)";
      if (p.split == Split::train) lines[k] = pitch_line(seqs[source_of[k]]);
    } catch (const Error& e) {
      reasons[source_of[k]] = std::string("tokenizer: ") + e.what();
    }
  });
  for (size_t k = 0; k < corpus.pieces.size(); ++k)
    if (corpus.pieces[k].split == Split::train && reasons[source_of[k]].empty())
      corpus.ngrams.add_piece(corpus.pieces[k].path, lines[k]);
  corpus.ngrams.finish();
  std::erase_if(corpus.pieces, [&](const Piece& p) { return p.tokens.size() <= 2; });
  for (size_t i = 0; i < files.size(); ++i)
    if (!reasons[i].empty()) corpus.skipped.push_back({corpus.sources[i].path, reasons[i]});
  return corpus;
}

Corpus load_or_build_corpus(const fs::path& dir, const CorpusOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  check_options(options);
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
  Corpus corpus = cached ? std::move(*cached) : build_corpus(dir, options);
  corpus.from_cache = cached.has_value();
  if (corpus.from_cache) note = corpus.cache_note;  // set when file times had to be refreshed
  if (!corpus.from_cache || !note.empty()) {
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
