// The train/validation split exactly as `etude train` uses it (the corpus's hash split, with one
// piece moved to validation when the hash held out none), and the validation loss of any model on
// it: what `etude evaluate` re-measures for a model card; and the validate step of a training run.
#pragma once
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corpus/corpus.hpp"
#include "nn/network.hpp"
#include "train/batches.hpp"
#include "train/train_config.hpp"

namespace etude::train {

struct PieceSplit {
  std::vector<const Piece*> train, val;
  std::string note;  // set when the hash held out no piece and one was moved to validation
};
// InvalidArgument naming `dir` when the corpus has no pieces or fewer than two.
PieceSplit split_pieces(const Corpus& corpus, const std::filesystem::path& dir);

// Window stride of training and validation: the whole window for seq2seq, T/16 for seq2one.
size_t window_stride(const nn::ModelSpec& spec);

// The validation pieces' tokens, concatenated in corpus order (what training validates on).
std::vector<int32_t> validation_stream(std::span<const Piece* const> val);

struct StyleValidation {
  std::string style;
  Score score;
  std::vector<std::string> paths;  // its validation pieces, relative to their folder
};

struct Validation {
  Score score;                 // mean cross-entropy (nats per token) and top-1 accuracy
  size_t pieces = 0, tokens = 0;
  std::vector<std::string> paths;  // the validation pieces, relative to the folder
  std::string note;
  std::vector<double> kind_loss;   // by TokenKind: the loss of predicted tokens of that kind (-1: none)
  std::vector<StyleValidation> styles;  // a conditioned model: each style's own validation pieces
};

// Loads (or reuses the caches of) the folders with the tokenizer stored in the model file (its
// to_json(): {"name", "config", "vocab"}) and scores `model` on the validation split over
// non-overlapping windows of the model's own batch and window, as training does; a conditioned
// model (its style names in `styles`) reads each piece in its own style. InvalidArgument when the
// folders tokenize to another vocabulary than the model's or hold a style the model lacks.
Validation validate_model(nn::Model& model, const nlohmann::json& tokenizer_json,
                          const std::vector<std::filesystem::path>& dirs, const std::vector<std::string>& styles,
                          double val_fraction = 0.1, unsigned threads = 0);

struct TrainData;

// The validate step of a training run's epoch: the trainer's model scored on the run's validation
// stream (by token kind too), then the host copies synced and checked by the divergence guard.
struct EpochValidation {
  Score score;
  std::vector<double> kind_loss;  // by TokenKind, -1 where none was scored
  std::string diverged;           // why the state looks diverged ("": it does not)
};
EpochValidation validate_epoch(nn::Trainer& trainer, const nn::Model& model, const TrainData& data);
// The row's validation losses by kind (pitch, duration, velocity, time) from kind_loss.
void set_kind_losses(EpochRow& row, const std::vector<double>& kind_loss);

}  // namespace etude::train
