// The one sampling loop of Etude, used by compose/ (pieces) and by train/'s checkpoint copy
// measure: N token streams of a model stepped as one batch, each under its tokenizer's grammar mask
// with its own seed, in a style or blend, optionally guided against the even blend of all styles.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "generate/pitch_shape.hpp"
#include "nn/device.hpp"
#include "nn/network.hpp"
#include "nn/sampling.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude {

// How strongly a conditioned model's style is followed when nothing is asked (1 = as trained;
// measured: at 1 the `piano` model's Mozart pieces sat closer to Chopin's held-out music than to
// Mozart's; at 2 each style's pieces are closest to their own), and the strengths allowed.
inline constexpr float kDefaultStyleStrength = 2.0f;
inline constexpr float kMaxStyleStrength = 8.0f;

// Every style row of a model with `styles` rows weighted equally (1 / styles each).
std::vector<float> even_style_weights(size_t styles);

struct StreamOptions {
  nn::SamplingOptions sampling = nn::kDefaultSampling;  // temperature 1, top-p 0.95
  float pitch_temperature = kDefaultPitchTemperature;  // generate/pitch_shape.hpp
  uint64_t seed = 1;               // stream s draws from nn::Rng(seed + s)
  int count = 1;                   // streams
  // Conditioned models: one weight per style row, either one list for every stream or one list per
  // stream; empty: the even blend. A model without style rows takes none.
  std::vector<std::vector<float>> style_weights;
  // Conditioned models, strength other than 1: each stream has a twin in the even blend, fed the
  // same tokens, and the logits sampled are twin + strength x (styled - twin) (classifier-free
  // guidance), which doubles the streams stepped.
  float style_strength = kDefaultStyleStrength;
  nn::Precision precision = nn::Precision::f32;
  nn::Device device = nn::Device::cpu;
  std::vector<int32_t> primer;  // tokens fed to every stream after BOS (grammar-checked)
  size_t max_new = 500;         // tokens sampled per stream at most (EOS is masked out)
  int32_t end_token = -1;       // >= 0: a stream ends when it samples this token the end_count-th time
  int end_count = 1;
  // Asked every kCheckEvery tokens for each running stream (BOS, primer and tokens so far): true
  // ends it. Empty: never asked.
  std::function<bool(int stream, const std::vector<int32_t>& tokens)> long_enough;
  static constexpr size_t kCheckEvery = 32;
};

// The streams' tokens: BOS, the primer, then what was sampled (no EOS). A stream also ends when
// its grammar allows nothing but EOS. InvalidArgument for a primer token the grammar refuses, bad
// sampling options, or style weights the model does not take (nn::Stepper::set_style).
std::vector<std::vector<int32_t>> sample_streams(const nn::Model& model, const Tokenizer& tokenizer,
                                                 const StreamOptions& options);

}  // namespace etude
