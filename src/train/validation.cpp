// The training split and validation scoring outside a training run; see validation.hpp.
#include "train/validation.hpp"

#include <algorithm>

#include "base/error.hpp"

namespace etude::train {

PieceSplit split_pieces(const Corpus& corpus, const std::filesystem::path& dir) {
  PieceSplit s;
  for (const Piece& p : corpus.pieces) (p.split == Split::train ? s.train : s.val).push_back(&p);
  if (s.val.empty()) {
    if (s.train.size() < 2)
      throw InvalidArgument(dir.string() + ": only " + std::to_string(s.train.size()) +
                            " usable piece(s); training needs at least two (one is held out for validation)");
    s.val.push_back(s.train.back());
    s.train.pop_back();
    s.note = "the split held out no piece; " + s.val[0]->path + " is the validation piece";
  }
  return s;
}

size_t window_stride(const nn::ModelSpec& spec) {
  return spec.mode == nn::Mode::seq2seq ? size_t(spec.window) : size_t(std::max(1, spec.window / 16));
}

std::vector<int32_t> validation_stream(std::span<const Piece* const> val) {
  std::vector<int32_t> out;
  for (const Piece* p : val) out.insert(out.end(), p->tokens.begin(), p->tokens.end());
  return out;
}

Validation validate_model(nn::Model& model, const nlohmann::json& tokenizer_json, const std::filesystem::path& dir,
                          double val_fraction, unsigned threads) {
  CorpusOptions o;
  o.tokenizer = tokenizer_json.value("name", "");
  o.tokenizer_config = tokenizer_json.value("config", nlohmann::json::object());
  o.validation_fraction = val_fraction;
  o.threads = threads;
  const Corpus corpus = load_or_build_corpus(dir, o);
  if (corpus.pieces.empty())
    throw InvalidArgument(dir.string() + ": no usable MIDI files to validate on; give the folder the model was trained on");
  if (corpus.tokenizer.value("vocab", nlohmann::json()) != tokenizer_json.value("vocab", nlohmann::json()))
    throw InvalidArgument(dir.string() + ": tokenizes to another vocabulary than the model's (" +
                          std::to_string(corpus.tokenizer.value("vocab", nlohmann::json::array()).size()) + " against " +
                          std::to_string(tokenizer_json.value("vocab", nlohmann::json::array()).size()) +
                          " tokens); give the folder the model was trained on");
  const PieceSplit split = split_pieces(corpus, dir);
  const std::vector<int32_t> stream = validation_stream(split.val);
  const nn::ModelSpec& spec = model.spec();
  if (stream.size() < size_t(spec.window) + 1)
    throw InvalidArgument(dir.string() + ": the validation pieces hold " + std::to_string(stream.size()) +
                          " tokens, fewer than one window of " + std::to_string(spec.window + 1));
  nn::Trainer trainer(model, spec.batch, spec.window);  // on the CPU
  Validation v;
  v.score = evaluate(trainer, stream, window_stride(spec));
  v.pieces = split.val.size();
  v.tokens = stream.size();
  for (const Piece* p : split.val) v.paths.push_back(p->path);
  v.note = split.note;
  return v;
}

}  // namespace etude::train
