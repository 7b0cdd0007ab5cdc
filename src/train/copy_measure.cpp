// Checkpoint samples and copy measure; see copy_measure.hpp. The samples come from the sampling
// loop `etude compose` uses (generate/sample_streams.hpp) with its defaults.
#include "train/copy_measure.hpp"

#include "generate/sample_streams.hpp"

namespace etude::train {

CopyMeasure measure_copying(const nn::Model& model, const Tokenizer& tokenizer, const NgramIndex& index,
                            int max_tokens, uint64_t seed, int samples) {
  StreamOptions o;  // compose's defaults: sampling, pitch temperature, style strength
  o.seed = seed;
  o.count = samples;
  o.max_new = size_t(std::max(0, max_tokens - 1));  // after BOS
  const int styles = model.spec().styles;  // a conditioned model: sample s in style row s mod styles
  for (int s = 0; s < samples && styles > 0; ++s) {
    o.style_weights.emplace_back(size_t(styles), 0.0f);
    o.style_weights.back()[size_t(s % styles)] = 1.0f;
  }
  CopyMeasure m;
  double copied = 0;
  for (const auto& tokens : sample_streams(model, tokenizer, o)) {
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
