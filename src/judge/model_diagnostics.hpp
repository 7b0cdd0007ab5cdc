// What a model believes about human music it never trained on: the probability it puts on the
// pitches of a held-out piece's own key at pitch positions (a model without tonality puts about
// 7/12 there), and composer identification (which style row explains a held-out piece best).
#pragma once
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "corpus/corpus.hpp"
#include "nn/network.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude::judge {

struct DiagnosticsOptions {
  double validation_fraction = 0.1;  // the training run's --val-fraction
  size_t max_tokens = 512;           // each held-out piece is read from its start up to this many tokens
  size_t max_pieces_per_style = 20;  // the first held-out pieces of a style (by path), to bound the time
  size_t min_style_pieces = 10;      // identification: among (and of) styles with at least this many pieces
  double min_piece_in_key = 0.9;     // the key figure averages pieces at least this much in their key
  unsigned threads = 0;
};

struct PieceDiagnosis {
  std::string path, style;
  std::string key;                   // Krumhansl estimate of the whole piece (as decoded from its tokens)
  double piece_in_key = 0;           // share of the piece's notes in that key's scale
  double model_in_key = 0;           // mean over pitch positions of P(in-key pitch | a pitch)
  size_t pitch_positions = 0;
  std::string identified;            // the style row with the lowest loss ("" when not identified)
  double own_loss = 0, best_loss = 0;  // nats per token under its own style and the best one
};

struct ModelDiagnostics {
  std::vector<PieceDiagnosis> pieces;  // the held-out pieces of every style the model has a row for
  double in_key_mean = 0;              // over pieces with piece_in_key >= min_piece_in_key
  size_t in_key_pieces = 0;
  std::map<std::string, double> identification;  // style -> share of its held-out pieces identified
  double identification_mean = 0;                // mean over those styles (each counted once)
  size_t identification_styles = 0;
  size_t candidates = 0;  // the rows a piece may be identified as: styles with min_style_pieces or more
};

// The roots are the folders the model was trained on (their hash split gives the held-out pieces);
// the model must be conditioned to be identified with (else only the key figure is computed) and its
// tokenizer must have single-pitch tokens (PITCH_n or NOTE_ON_n). InvalidArgument otherwise.
ModelDiagnostics diagnose_model(const nn::Model& model, const Tokenizer& tokenizer,
                                const std::vector<std::string>& style_names,
                                const std::vector<std::filesystem::path>& roots, const DiagnosticsOptions& options = {});

}  // namespace etude::judge
