// The over-training check run at each checkpoint: compose a few short samples with the model
// exactly as `etude compose` samples (its loop and defaults) and measure how much of them the
// training pieces already hold (share of their notes in 8-note pitch runs found verbatim in the
// n-gram index).
#pragma once
#include <cstdint>

#include "corpus/ngram_index.hpp"
#include "nn/network.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude::train {

struct CopyMeasure {
  double copied_share = -1;  // 0..1 over all samples' notes; -1 when no sample has n notes
  size_t notes = 0, tokens = 0;
};

// `samples` streams of at most max_tokens tokens each (BOS included), stepped together, stream s
// with seed + s; a conditioned model's stream s composes in style row s mod styles (at compose's
// default style strength).
CopyMeasure measure_copying(const nn::Model& model, const Tokenizer& tokenizer, const NgramIndex& index,
                            int max_tokens, uint64_t seed, int samples = 4);

}  // namespace etude::train
