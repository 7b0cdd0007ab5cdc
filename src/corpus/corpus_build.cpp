// Building a corpus a chunk of files at a time: each chunk is read, parsed and tokenized on all
// cores and its tokens go to the shard being filled, its notes are dropped; styles, the hash
// split and the n-gram index come at the end from compact per-piece records.
#include <algorithm>
#include <map>
#include <random>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/parallel.hpp"
#include "corpus/corpus.hpp"
#include "corpus/hash.hpp"
#include "midi/midi_file.hpp"
#include "music/midi_convert.hpp"
#include "music/scan.hpp"

namespace etude {
namespace fs = std::filesystem;
namespace {

// A chunk ends after this many files or bytes of MIDI (a MIDI byte becomes ~10 bytes of notes).
constexpr size_t kChunkFiles = 2048;
constexpr uint64_t kChunkBytes = uint64_t{16} << 20;

// A file that parsed with notes: a piece of the split, kept when the tokenizer kept something.
struct Candidate {
  size_t file = 0;
  std::string style;  // its style's name
  uint32_t notes = 0;
  double seconds = 0.0;
  bool kept = false;
  TokenPlace place;
  size_t line_at = 0, line_size = 0;  // its pitch line in Build::lines
};

struct Build {
  Build(const fs::path& d, const CorpusOptions& o)
      : dir(d), options(o),
        tokenizer(make_tokenizer(nlohmann::json{{"name", o.tokenizer}, {"config", o.tokenizer_config}})),
        files(find_midi_files(d)), root_name(fs::weakly_canonical(fs::absolute(d)).filename().string()) {
    corpus.ngrams = NgramIndex(o.ngram);
  }
  const fs::path& dir;
  const CorpusOptions& options;
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<fs::path> files;
  std::string root_name;
  Corpus corpus;
  std::vector<std::string> reasons;  // per file; empty: used
  std::vector<Candidate> candidates;
  std::vector<uint8_t> lines;        // the pitch lines of kept candidates, one after another
};

// The chunks: [starts[k], starts[k + 1]) of the files; one chunk when the tokenizer must fit.
std::vector<size_t> chunk_starts(const std::vector<fs::path>& files, bool one_chunk) {
  std::vector<size_t> starts{0};
  uint64_t bytes = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    std::error_code ec;
    bytes += fs::file_size(files[i], ec);
    if (!one_chunk && (i + 1 - starts.back() >= kChunkFiles || bytes >= kChunkBytes) && i + 1 < files.size()) {
      starts.push_back(i + 1);
      bytes = 0;
    }
  }
  starts.push_back(files.size());
  return starts;
}

// Styles (sorted names of the candidates' styles), pieces of every candidate and the hash split.
std::vector<Piece> split_candidates(Build& b) {
  std::map<std::string, int32_t> style_ids;
  for (const Candidate& c : b.candidates) style_ids.emplace(c.style, 0);
  b.corpus.styles.clear();
  for (auto& [name, id] : style_ids) {
    id = static_cast<int32_t>(b.corpus.styles.size());
    b.corpus.styles.push_back(name);
  }
  std::vector<Piece> pieces(b.candidates.size());
  for (size_t k = 0; k < pieces.size(); ++k) {
    const Candidate& c = b.candidates[k];
    pieces[k].path = b.corpus.sources[c.file].path;
    pieces[k].style = style_ids.at(c.style);
    pieces[k].notes = c.notes;
    pieces[k].seconds = c.seconds;
  }
  assign_splits(pieces, b.corpus.styles.size(), b.options.validation_fraction);
  return pieces;
}

// Reads and parses the files [from, to) in parallel into seqs (indexed from `from`).
void parse_chunk(Build& b, size_t from, size_t to, std::vector<NoteSequence>& seqs) {
  seqs.assign(to - from, {});
  parallel_for(to - from, b.options.threads, [&](size_t j) {
    const size_t i = from + j;
    SourceFile& src = b.corpus.sources[i];
    try {
      auto bytes = read_file_bytes(b.files[i]);
      src.size = bytes.size();
      src.mtime = fs::last_write_time(b.files[i]).time_since_epoch().count();
      src.hash = fnv1a(bytes);
      seqs[j] = note_sequence_from_midi(read_midi(bytes, b.files[i].string(), ReadOptions{b.options.lenient}),
                                        b.files[i].string());
      if (seqs[j].notes.empty()) b.reasons[i] = "no notes";
    } catch (const std::exception& e) {
      b.reasons[i] = e.what();
    }
  });
}

// Tokenizes the chunk's candidates [first, end) in parallel; the kept ones go to the shards in order.
void tokenize_chunk(Build& b, size_t from, size_t first, std::vector<NoteSequence>& seqs, ShardWriter& shards) {
  const size_t count = b.candidates.size() - first;
  std::vector<std::vector<int32_t>> tokens(count);
  std::vector<std::vector<uint8_t>> lines(count);
  parallel_for(count, b.options.threads, [&](size_t k) {
    Candidate& c = b.candidates[first + k];
    const NoteSequence& seq = seqs[c.file - from];
    try {
      tokens[k] = b.tokenizer->encode(seq);
      if (tokens[k].size() <= 2) b.reasons[c.file] = "no notes the tokenizer keeps (drums only?)";
      else lines[k] = pitch_line(seq);
    } catch (const Error& e) {
      b.reasons[c.file] = std::string("tokenizer: ") + e.what();
    }
  });
  for (size_t k = 0; k < count; ++k) {
    Candidate& c = b.candidates[first + k];
    if (!b.reasons[c.file].empty()) continue;
    c.kept = true;
    c.place = shards.add(tokens[k]);
    c.line_at = b.lines.size(), c.line_size = lines[k].size();
    b.lines.insert(b.lines.end(), lines[k].begin(), lines[k].end());
  }
}

Corpus build(const fs::path& dir, const CorpusOptions& options, const fs::path& cache) {
  check_corpus_options(options);
  Build b(dir, options);
  Corpus& corpus = b.corpus;
  corpus.root = dir;
  corpus.build_id = std::random_device{}() * 0x100000000ull + std::random_device{}();
  corpus.sources.resize(b.files.size());
  for (size_t i = 0; i < b.files.size(); ++i) corpus.sources[i].path = fs::relative(b.files[i], dir).generic_string();
  b.reasons.resize(b.files.size());
  if (!cache.empty()) {
    std::error_code ec;
    fs::create_directories(cache.parent_path().empty() ? fs::path(".") : cache.parent_path(), ec);
  }
  ShardWriter shards(cache, corpus.build_id, options.shard_tokens);

  const bool fit = b.tokenizer->needs_fit();
  const std::vector<size_t> starts = chunk_starts(b.files, fit);
  std::vector<NoteSequence> seqs;
  for (size_t k = 0; k + 1 < starts.size(); ++k) {
    const size_t from = starts[k], to = starts[k + 1], first = b.candidates.size();
    parse_chunk(b, from, to, seqs);
    for (size_t i = from; i < to; ++i)
      if (b.reasons[i].empty()) {
        Candidate& c = b.candidates.emplace_back();
        c.file = i, c.style = style_of_path(corpus.sources[i].path, b.root_name);
        c.notes = static_cast<uint32_t>(seqs[i - from].notes.size()), c.seconds = seqs[i - from].total_time;
      }
    if (fit) {  // the vocabulary from the training pieces (one chunk: every file)
      const std::vector<Piece> pieces = split_candidates(b);
      std::vector<const NoteSequence*> train;
      for (size_t c = 0; c < pieces.size(); ++c)
        if (pieces[c].split == Split::train) train.push_back(&seqs[b.candidates[c].file - from]);
      b.tokenizer->fit(train);
    }
    tokenize_chunk(b, from, first, seqs, shards);
  }
  seqs = {};
  corpus.tokenizer = b.tokenizer->to_json();
  corpus.store = shards.finish();
  if (!shards.write_error().empty()) corpus.cache_note = "cache not written: " + shards.write_error();

  std::vector<Piece> pieces = split_candidates(b);
  size_t grams = 0;
  for (size_t k = 0; k < pieces.size(); ++k)
    if (b.candidates[k].kept && pieces[k].split == Split::train)
      grams += b.candidates[k].line_size >= size_t(options.ngram) ? b.candidates[k].line_size - size_t(options.ngram) + 1 : 0;
  corpus.ngrams.reserve(grams);
  for (size_t k = 0; k < pieces.size(); ++k) {
    const Candidate& c = b.candidates[k];
    if (!c.kept) continue;
    if (pieces[k].split == Split::train)
      corpus.ngrams.add_piece(pieces[k].path, std::span(b.lines).subspan(c.line_at, c.line_size));
    pieces[k].place = c.place;
    pieces[k].tokens = corpus.store->tokens(c.place);
    corpus.pieces.push_back(std::move(pieces[k]));
  }
  b.lines = {};
  corpus.ngrams.finish();
  for (size_t i = 0; i < b.files.size(); ++i)
    if (!b.reasons[i].empty()) corpus.skipped.push_back({corpus.sources[i].path, b.reasons[i]});
  return std::move(b.corpus);
}

}  // namespace

Corpus build_corpus(const fs::path& dir, const CorpusOptions& options) { return build(dir, options, {}); }

Corpus build_corpus_streamed(const fs::path& dir, const CorpusOptions& options, const fs::path& cache) {
  return build(dir, options, cache);
}

}  // namespace etude
