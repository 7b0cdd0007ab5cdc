// The music a run trains on: one or several corpus roots read with one tokenizer, their styles
// joined into the model's style rows (a base model's rows first when fine-tuning), the training
// and validation pieces with the style row of each, the n-gram index of every training piece, and
// an epoch's token stream with the style of every token beside it. The pieces' tokens stay in the
// corpora's mapped shards; the validation and epoch streams spill to a scratch file past
// kSpillTokens, so memory does not grow with the corpus.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corpus/corpus.hpp"
#include "base/mapped_file.hpp"
#include "corpus/ngram_index.hpp"
#include "tokenize/tokenizer.hpp"
#include "train/batches.hpp"

namespace etude::train {

// Tokens a validation or epoch stream holds in memory before it moves to a scratch file (16 MiB).
inline constexpr size_t kSpillTokens = size_t{1} << 22;

struct TrainData {
  std::vector<std::filesystem::path> roots;
  std::vector<Corpus> corpora;               // one per root
  std::unique_ptr<Tokenizer> tokenizer;
  nlohmann::json tokenizer_json;             // the tokenizer's to_json(), the same for every root
  std::vector<std::string> styles;           // style rows: `known` first, then the data's new ones
  std::vector<const Piece*> train, val;
  std::vector<int32_t> train_style, val_style;  // the style row of each piece
  SpillArray val_stream{kSpillTokens, {}};   // validation tokens
  StyleRuns val_styles;                      // and the style of each
  NgramIndex ngrams;                         // the training pieces of every root
  std::string identity, note;
  size_t train_tokens = 0, skipped_files = 0;
  std::vector<uint8_t> token_kinds;          // TokenKind of every vocabulary entry
  std::filesystem::path scratch;             // where streams spill: the first corpus's cache folder
  size_t spill_tokens = kSpillTokens;

  size_t pieces_of_style(size_t row, bool validation) const;
  // After reading that many tokens of pieces: every ~64 MiB the corpora's mapped shards are
  // released from the resident set (the page cache keeps them).
  void read_pieces(size_t tokens) const;

 private:
  mutable size_t pieces_read_ = 0;
};

struct DataOptions {
  std::string tokenizer = "beats";
  nlohmann::json tokenizer_config = nlohmann::json::object();
  double val_fraction = 0.1;
  unsigned threads = 0;
  std::filesystem::path cache;               // a single root only; several use their default caches
  std::vector<std::string> known_styles;     // rows that exist already (a base model's), in order
  const nlohmann::json* required_tokenizer = nullptr;  // a base model's: the data must tokenize the same
  bool for_validation = false;               // the messages say "to validate on" (etude evaluate, export)
  size_t spill_tokens = kSpillTokens;        // the streams' memory before they spill (tests: small)
  size_t shard_tokens = kShardTokens;        // a built cache's shard size (tests: small)
};

// InvalidArgument naming the folder with nothing to train on, or the base model whose tokenizer
// differs from the data's. A single root without known styles gives the identity a run always had.
TrainData load_train_data(const std::vector<std::filesystem::path>& roots, const DataOptions& options);

// Case-insensitive lookup of a style row; -1 when unknown.
int find_style_row(const std::vector<std::string>& styles, const std::string& name);

// The training stream of one epoch (every training piece, randomly transposed within
// [transpose_min, transpose_max] when that is not 0..0) and the style row of every token.
struct EpochStream {
  SpillArray tokens;
  StyleRuns styles;
};
EpochStream epoch_stream(const TrainData& d, int transpose_min, int transpose_max, std::mt19937_64& rng);

}  // namespace etude::train
