// Sampling one token from a row of logits: temperature, top-k, nucleus (top-p), an optional mask
// of allowed tokens, and greedy (argmax) for comparison; randomness from a caller-owned seeded Rng.
// Shared by compose/ (pieces) and train/ (checkpoint samples); nn/ knows no music.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "nn/rng.hpp"

namespace etude::nn {

struct SamplingOptions {
  float temperature = 1.0f;  // > 0; logits are divided by it (below 1: sharper, above 1: flatter)
  int top_k = 0;             // keep the k most likely tokens; 0 = all
  float top_p = 1.0f;        // keep the smallest most-likely set whose mass reaches p; 1 = all
  bool greedy = false;       // argmax of the allowed tokens (ignores the three above)
};

// Etude's composing default, also used for the checkpoint samples of the copy measure:
// temperature 1 with nucleus 0.95 (never argmax, which is what made the original repeat a note).
inline constexpr SamplingOptions kDefaultSampling{.temperature = 1.0f, .top_k = 0, .top_p = 0.95f};

// Throws InvalidArgument naming the option (temperature <= 0, top_k < 0, top_p outside (0, 1]).
void validate_sampling(const SamplingOptions& options);

// Keeps scratch buffers so sampling allocates nothing after the first call of a vocabulary size.
class Sampler {
 public:
  explicit Sampler(SamplingOptions options = {});  // validates
  const SamplingOptions& options() const { return options_; }

  // The distribution sampled from: probs[v] after masking, temperature, top-k then top-p,
  // renormalised; zero outside the kept set (greedy: 1 at the argmax). allowed (optional, same
  // size as logits): nonzero where a token may be chosen. InvalidArgument when nothing is allowed.
  std::span<const double> distribution(std::span<const float> logits, std::span<const uint8_t> allowed = {});
  // One token drawn from distribution(): exactly one rng.uniform() per call (none when greedy).
  int32_t sample(std::span<const float> logits, Rng& rng, std::span<const uint8_t> allowed = {});

 private:
  SamplingOptions options_;
  std::vector<double> probs_;
  std::vector<int32_t> order_;
};

}  // namespace etude::nn
