// Checkpoint samples and copy measure; see copy_measure.hpp.
#include "train/copy_measure.hpp"

#include "nn/inference.hpp"
#include "nn/sampling.hpp"

namespace etude::train {

CopyMeasure measure_copying(const nn::Model& model, const Tokenizer& tokenizer, const NgramIndex& index,
                            int max_tokens, uint64_t seed, int samples) {
  nn::Stepper stepper(model, samples);
  const int styles = model.spec().styles;  // a conditioned model: sample s in style row s mod styles
  for (int s = 0; s < samples && styles > 0; ++s) {
    std::vector<float> w(size_t(styles), 0.0f);
    w[size_t(s % styles)] = 1.0f;
    stepper.set_style(s, w);
  }
  nn::Sampler sampler(nn::kDefaultSampling);  // as `etude compose` samples
  nn::Rng rng(seed);
  const size_t V = size_t(tokenizer.vocab_size());
  std::vector<std::unique_ptr<TokenGrammar>> grammars;
  std::vector<std::vector<int32_t>> pieces(size_t(samples), std::vector<int32_t>{kBosToken});
  std::vector<int32_t> next(size_t(samples), kBosToken);
  std::vector<uint8_t> mask(V);
  for (int s = 0; s < samples; ++s) grammars.push_back(tokenizer.grammar()), grammars.back()->advance(kBosToken);
  for (int t = 1; t < max_tokens; ++t) {
    const auto logits = stepper.step(next);
    bool running = false;
    for (size_t s = 0; s < size_t(samples); ++s) {
      if (grammars[s]->finished()) continue;  // a finished stream is fed PAD until the others end
      grammars[s]->legal_next(mask);
      next[s] = sampler.sample(logits.subspan(s * V, V), rng, mask);
      grammars[s]->advance(next[s]);
      pieces[s].push_back(next[s]);
      running = true;
    }
    if (!running) break;
    for (size_t s = 0; s < size_t(samples); ++s)
      if (grammars[s]->finished()) next[s] = kPadToken;
  }
  CopyMeasure m;
  double copied = 0;
  for (const auto& tokens : pieces) {
    const std::vector<uint8_t> pitches = pitch_line(tokenizer.decode(tokens).seq);
    m.tokens += tokens.size();
    if (pitches.size() < size_t(index.n())) continue;
    m.notes += pitches.size();
    copied += index.copied_share(pitches) * double(pitches.size());
  }
  if (m.notes > 0) m.copied_share = copied / double(m.notes);
  return m;
}

}  // namespace etude::train
