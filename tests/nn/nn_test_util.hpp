// Shared helpers for the nn tests: small model specs of each kind, random data, and the
// relative error used throughout (max|a-b| / max(max|b|, tiny)).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "nn/model_spec.hpp"
#include "nn/rng.hpp"

namespace etude::nn::testing {

// tiny: the smallest scale, so a tensor whose true gradient is (almost) zero is judged against the
// size of the model's other gradients rather than against round-off.
template <class A, class B>
double rel_error(std::span<const A> a, std::span<const B> b, double tiny = 1e-12) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return diff / std::max(scale, tiny);
}

inline LayerSpec lstm(int units, bool seq = true) {
  LayerSpec l{.kind = LayerKind::lstm, .units = units};
  l.return_sequences = seq;
  l.forget_bias = 0.5f;
  return l;
}
inline LayerSpec dropout(float rate) { return {.kind = LayerKind::dropout, .rate = rate}; }
inline LayerSpec activation(Activation act) { return {.kind = LayerKind::activation, .activation = act}; }
inline LayerSpec batchnorm() { return {.kind = LayerKind::batchnorm}; }
inline LayerSpec dense(int units, Activation a = Activation::none) {
  return {.kind = LayerKind::dense, .units = units, .activation = a};
}

inline ModelSpec small_spec(InputKind input, Mode mode, std::vector<LayerSpec> layers, int vocab = 7) {
  ModelSpec s;
  s.input = input;
  s.embed_dim = 3;
  s.vocab = vocab;
  s.layers = std::move(layers);
  s.mode = mode;
  s.window = 4;
  s.batch = 3;
  validate_model_spec(s);
  return s;
}

inline std::vector<int32_t> random_tokens(size_t n, int vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> t(n);
  for (auto& v : t) v = int32_t(rng.below(uint32_t(vocab)));
  return t;
}

template <class A>
double max_abs(std::span<const A> a) {
  double m = 0;
  for (const A& v : a) m = std::max(m, std::abs(double(v)));
  return m;
}

}  // namespace etude::nn::testing
