// Loading and joining the corpus roots of a run, and the epoch streams; see train_data.hpp.
#include "train/train_data.hpp"

#include <algorithm>
#include <cstdio>

#include "base/error.hpp"
#include "base/names.hpp"
#include "corpus/augment.hpp"
#include "corpus/hash.hpp"
#include "train/validation.hpp"

namespace etude::train {
namespace fs = std::filesystem;

namespace {

void refuse_empty(const fs::path& root, const Corpus& corpus, bool for_validation) {
  const std::string why = corpus.skipped.empty()
                              ? "it holds no MIDI files (.mid, .midi)"
                              : std::to_string(corpus.skipped.size()) + " MIDI files, none usable (" +
                                    corpus.skipped[0].path + ": " + corpus.skipped[0].reason + ")";
  if (for_validation)
    throw InvalidArgument(root.string() + ": no usable MIDI files to validate on: " + why +
                          "; give the folder the model was trained on");
  throw InvalidArgument(root.string() + ": nothing to train on: " + why + "; point etude train at a folder of MIDI files");
}
}  // namespace

int find_style_row(const std::vector<std::string>& styles, const std::string& name) { return find_name(styles, name); }

void TrainData::read_pieces(size_t tokens) const {
  pieces_read_ += tokens;
  if (pieces_read_ < spill_tokens * 4) return;
  for (const Corpus& k : corpora) k.store->release();
  pieces_read_ = 0;
}

size_t TrainData::pieces_of_style(size_t row, bool validation) const {
  const auto& rows = validation ? val_style : train_style;
  return size_t(std::count(rows.begin(), rows.end(), int32_t(row)));
}

TrainData load_train_data(const std::vector<fs::path>& roots, const DataOptions& options) {
  if (roots.empty()) throw InvalidArgument("etude train: give at least one folder of MIDI files");
  TrainData d;
  d.roots = roots;
  d.styles = options.known_styles;
  CorpusOptions o;
  o.tokenizer = options.tokenizer;
  o.tokenizer_config = options.tokenizer_config;
  o.validation_fraction = options.val_fraction;
  o.threads = options.threads;
  o.shard_tokens = options.shard_tokens;
  if (roots.size() == 1) o.cache = options.cache;
  uint64_t h = fnv1a(corpus_options_key(o));
  std::vector<PieceSplit> splits;
  d.corpora.reserve(roots.size());
  for (const fs::path& root : roots) {
    if (!fs::is_directory(root))
      throw IoError(root.string() + ": not a folder; give etude train a folder of MIDI files");
    d.corpora.push_back(load_or_build_corpus(root, o));
    const Corpus& k = d.corpora.back();
    if (k.pieces.empty()) refuse_empty(root, k, options.for_validation);
    if (d.corpora.size() == 1) {
      d.tokenizer_json = k.tokenizer;
    } else if (k.tokenizer != d.tokenizer_json) {
      throw InvalidArgument(root.string() + ": tokenizes to another vocabulary than " + roots[0].string() +
                            " (a vocabulary fitted on the data, as notes and seed do, differs between folders); "
                            "train the folders together with the beats or events tokenizer");
    }
    d.skipped_files += k.skipped.size();
    splits.push_back(split_pieces(k, root));
    if (!splits.back().note.empty()) d.note += (d.note.empty() ? "" : "; ") + splits.back().note;
  }
  if (options.required_tokenizer && *options.required_tokenizer != d.tokenizer_json)
    throw InvalidArgument("the model's tokenizer (" + options.required_tokenizer->value("name", "?") +
                          ", " + std::to_string(options.required_tokenizer->value("vocab", nlohmann::json::array()).size()) +
                          " tokens) is not the data's (" + d.tokenizer_json.value("name", "?") + ", " +
                          std::to_string(d.tokenizer_json.value("vocab", nlohmann::json::array()).size()) +
                          " tokens): give the folders it was trained on, and fine-tune with the base model's tokenizer");
  d.tokenizer = make_tokenizer(d.tokenizer_json);
  d.token_kinds = d.tokenizer->token_kinds();
  d.ngrams = NgramIndex(d.corpora[0].ngrams.n());
  for (size_t r = 0; r < roots.size(); ++r) {
    const Corpus& k = d.corpora[r];
    auto row_of = [&](const Piece& p) {
      const std::string& name = k.styles[size_t(p.style)];
      int row = find_style_row(d.styles, name);
      if (row < 0) row = int(d.styles.size()), d.styles.push_back(name);
      return int32_t(row);
    };
    for (const Piece* p : splits[r].train) d.train.push_back(p), d.train_style.push_back(row_of(*p));
    for (const Piece* p : splits[r].val) d.val.push_back(p), d.val_style.push_back(row_of(*p));
    // One root's index is the run's as it is (merging it into the empty one copies it exactly);
    // several are merged, each corpus's own copy freed (only the run's is used).
    if (roots.size() == 1 && k.ngrams.hash_bits() == d.ngrams.hash_bits()) d.ngrams = std::move(d.corpora[r].ngrams);
    else d.ngrams.merge(k.ngrams, roots.size() == 1 ? "" : roots[r].filename().string() + "/");
    d.corpora[r].ngrams = NgramIndex(d.ngrams.n());
  }
  // The identity: what a resumed run must find again (a single root hashes as runs always did). The
  // style rows are not in it: a resumed run reads them from its own state.
  for (const auto* group : {&d.train, &d.val})
    for (const Piece* p : *group) {
      h = fnv1a(p->path, h);
      h = fnv1a(std::span(reinterpret_cast<const uint8_t*>(p->tokens.data()), p->tokens.size() * 4), h);
      d.read_pieces(p->tokens.size());
    }
  d.scratch = d.corpora[0].cache_path.parent_path();
  d.spill_tokens = options.spill_tokens;
  d.val_stream = SpillArray(d.spill_tokens, d.scratch);
  for (size_t i = 0; i < d.val.size(); ++i) {
    d.val_stream.append(d.val[i]->tokens);
    d.val_styles.add(d.val[i]->tokens.size(), d.val_style[i]);
    d.read_pieces(d.val[i]->tokens.size());
  }
  d.val_stream.finish();
  for (const Piece* p : d.train) d.train_tokens += p->tokens.size();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  d.identity = d.tokenizer->name() + ":" + std::to_string(d.train.size()) + "+" + std::to_string(d.val.size()) +
               " pieces:" + hex;
  return d;
}

EpochStream epoch_stream(const TrainData& d, int transpose_min, int transpose_max, std::mt19937_64& rng) {
  EpochStream s{SpillArray(d.spill_tokens, d.scratch), {}};
  const AugmentOptions ao{.min_semitones = transpose_min, .max_semitones = transpose_max};
  const bool augment = transpose_min != 0 || transpose_max != 0;
  for (size_t i = 0; i < d.train.size(); ++i) {
    const Piece* p = d.train[i];
    const size_t before = s.tokens.size();
    if (!augment) {
      s.tokens.append(p->tokens);
    } else {
      const std::vector<int32_t> t = augment_tokens(*d.tokenizer, p->tokens, ao, rng);
      s.tokens.append(t);
    }
    s.styles.add(s.tokens.size() - before, d.train_style[i]);
    d.read_pieces(p->tokens.size());
  }
  s.tokens.finish();
  return s;
}

}  // namespace etude::train
