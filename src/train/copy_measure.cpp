// Checkpoint sample and copy measure; see copy_measure.hpp.
#include "train/copy_measure.hpp"

#include "nn/inference.hpp"
#include "nn/sampling.hpp"

namespace etude::train {

CopyMeasure measure_copying(const nn::Model& model, const Tokenizer& tokenizer, const NgramIndex& index,
                            int max_tokens, uint64_t seed) {
  nn::Stepper stepper(model, 1);
  nn::Sampler sampler;
  nn::Rng rng(seed);
  const auto grammar = tokenizer.grammar();
  std::vector<uint8_t> mask(size_t(tokenizer.vocab_size()));
  std::vector<int32_t> tokens{kBosToken};
  grammar->advance(kBosToken);
  while (int(tokens.size()) < max_tokens && !grammar->finished()) {
    const auto logits = stepper.step(std::span(&tokens.back(), 1));
    grammar->legal_next(mask);
    const int32_t next = sampler.sample(logits, rng, mask);
    grammar->advance(next);
    tokens.push_back(next);
  }
  const std::vector<uint8_t> pitches = pitch_line(tokenizer.decode(tokens).seq);
  CopyMeasure m;
  m.notes = pitches.size();
  m.tokens = tokens.size();
  if (pitches.size() >= size_t(index.n())) m.copied_share = index.copied_share(pitches);
  return m;
}

}  // namespace etude::train
