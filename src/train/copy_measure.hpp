// The over-training check run at each checkpoint: compose a short sample with the model (grammar-
// masked sampling at temperature 1) and measure how much of it the training pieces already hold
// (share of its notes in 8-note pitch runs found verbatim in the corpus's n-gram index).
#pragma once
#include <cstdint>

#include "corpus/ngram_index.hpp"
#include "nn/network.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude::train {

struct CopyMeasure {
  double copied_share = -1;  // 0..1; -1 when the sample has fewer notes than the index's n
  size_t notes = 0, tokens = 0;
};

CopyMeasure measure_copying(const nn::Model& model, const Tokenizer& tokenizer, const NgramIndex& index,
                            int max_tokens, uint64_t seed);

}  // namespace etude::train
