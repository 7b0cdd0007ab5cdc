// The training split, validation scoring outside a training run, and a run's validate step; see
// validation.hpp.
#include "train/validation.hpp"

#include <algorithm>

#include "base/error.hpp"
#include "train/divergence_guard.hpp"
#include "train/train_data.hpp"

namespace etude::train {
namespace {
// The mean loss of each kind of predicted token (TokenKind order), -1 where none was scored.
std::vector<double> kind_losses(const KindScores& scores) {
  std::vector<double> out;
  for (const nn::RowScore& k : scores.kinds) out.push_back(k.count ? k.loss_sum / double(k.count) : -1.0);
  return out;
}
}  // namespace

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

Validation validate_model(nn::Model& model, const nlohmann::json& tokenizer_json, const std::vector<std::filesystem::path>& dirs,
                          const std::vector<std::string>& styles, double val_fraction, unsigned threads) {
  DataOptions o;
  o.tokenizer = tokenizer_json.value("name", "");
  o.tokenizer_config = tokenizer_json.value("config", nlohmann::json::object());
  o.val_fraction = val_fraction;
  o.threads = threads;
  o.known_styles = styles;
  o.required_tokenizer = &tokenizer_json;
  o.for_validation = true;
  const TrainData d = load_train_data(dirs, o);
  const nn::ModelSpec& spec = model.spec();
  if (spec.styles > 0 && d.styles.size() > size_t(spec.styles))
    throw InvalidArgument(dirs[0].string() + ": holds the style " + d.styles[size_t(spec.styles)] +
                          " that the model has no row for; give the folders it was trained on");
  if (d.val_stream.size() < size_t(spec.window) + 1)
    throw InvalidArgument(dirs[0].string() + ": the validation pieces hold " + std::to_string(d.val_stream.size()) +
                          " tokens, fewer than one window of " + std::to_string(spec.window + 1));
  nn::Trainer trainer(model, spec.batch, spec.window);  // on the CPU
  Validation v;
  KindScores kinds{d.token_kinds, std::vector<nn::RowScore>(kTokenKinds)};
  v.score = evaluate(trainer, d.val_stream, window_stride(spec), spec.styles > 0 ? &d.val_styles : nullptr, &kinds);
  v.kind_loss = kind_losses(kinds);
  v.pieces = d.val.size();
  v.tokens = d.val_stream.size();
  for (const Piece* p : d.val) v.paths.push_back(p->path);
  v.note = d.note;
  for (size_t row = 0; spec.styles > 0 && row < d.styles.size(); ++row) {
    StyleValidation sv{d.styles[row], {}, {}};
    std::vector<int32_t> stream;
    for (size_t i = 0; i < d.val.size(); ++i) {
      if (d.val_style[i] != int32_t(row)) continue;
      stream.insert(stream.end(), d.val[i]->tokens.begin(), d.val[i]->tokens.end());
      sv.paths.push_back(d.val[i]->path);
    }
    if (stream.size() < size_t(spec.window) + 1) continue;  // too little to score in whole windows
    StyleRuns rows;
    rows.add(stream.size(), int32_t(row));
    sv.score = evaluate(trainer, stream, window_stride(spec), &rows);
    v.styles.push_back(std::move(sv));
  }
  return v;
}

EpochValidation validate_epoch(nn::Trainer& trainer, const nn::Model& model, const TrainData& d) {
  const nn::ModelSpec& spec = model.spec();
  KindScores kinds{d.token_kinds, std::vector<nn::RowScore>(kTokenKinds)};
  EpochValidation v;
  // Data-parallel: each rank scores its part of the windows; the sums are reduced.
  const WindowPart part = trainer.data_parallel()
                              ? WindowPart{trainer.parallel().collective->rank(), trainer.parallel().collective->size()}
                              : WindowPart{};
  v.score = evaluate(trainer, d.val_stream, window_stride(spec), spec.styles > 0 ? &d.val_styles : nullptr, &kinds,
                     part);
  reduce_scores(trainer, v.score, &kinds);
  v.kind_loss = kind_losses(kinds);
  trainer.sync_to_host();  // what follows (checks, snapshot, files, sample) reads the host copies
  v.diverged = state_divergence(v.score.loss(), model, trainer);
  return v;
}

void set_kind_losses(EpochRow& row, const std::vector<double>& kind_loss) {
  auto loss = [&](TokenKind kind) { return size_t(kind) < kind_loss.size() ? kind_loss[size_t(kind)] : -1.0; };
  row.val_pitch_loss = loss(TokenKind::pitch), row.val_duration_loss = loss(TokenKind::duration);
  row.val_velocity_loss = loss(TokenKind::velocity), row.val_time_loss = loss(TokenKind::time);
}

}  // namespace etude::train
