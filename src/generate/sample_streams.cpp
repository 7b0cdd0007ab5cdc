// The sampling loop (see sample_streams.hpp): BOS and the primer fed to every stream, then one
// batched step per token, a grammar mask per stream, pitch shape, nn::Sampler with a per-stream Rng.
#include "generate/sample_streams.hpp"

#include <algorithm>
#include <memory>
#include <span>

#include "base/error.hpp"
#include "generate/pitch_shape.hpp"
#include "nn/inference.hpp"

namespace etude {

std::vector<float> even_style_weights(size_t styles) { return std::vector<float>(styles, 1.0f / float(styles)); }

std::vector<std::vector<int32_t>> sample_streams(const nn::Model& model, const Tokenizer& tok, const StreamOptions& o) {
  nn::Sampler sampler(o.sampling);
  const int V = tok.vocab_size(), N = o.count;
  std::vector<std::vector<int32_t>> tokens(static_cast<size_t>(N));
  std::vector<std::unique_ptr<TokenGrammar>> grammars;
  std::vector<nn::Rng> rngs;
  for (int s = 0; s < N; ++s) {
    tokens[s].reserve(1 + o.primer.size() + o.max_new);
    grammars.push_back(tok.grammar());
    rngs.emplace_back(o.seed + uint64_t(s));
  }
  const size_t styles = size_t(model.spec().styles);
  const bool guided = styles > 0 && o.style_strength != 1.0f;
  const int streams = guided ? 2 * N : N;
  nn::Stepper stepper(model, streams, nn::LstmBackend::fast, o.precision, o.device);
  if (styles > 0) {  // every stream in its style or blend (else all equally); twins all equally
    const std::vector<float> even = even_style_weights(styles);
    const auto& w = o.style_weights;
    for (int s = 0; s < streams; ++s)
      stepper.set_style(s, s >= N || w.empty() ? even : w[w.size() == 1 ? 0 : size_t(s)]);
  }
  std::vector<int32_t> input(static_cast<size_t>(streams));
  std::vector<float> mixed(guided ? size_t(N) * V : 0);
  std::span<const float> logits;
  auto step = [&] {
    const std::span<const float> z = stepper.step(input);
    if (!guided) return z;
    for (size_t k = 0; k < mixed.size(); ++k) {
      const float twin = z[mixed.size() + k];
      mixed[k] = twin + o.style_strength * (z[k] - twin);
    }
    return std::span<const float>(mixed);
  };
  auto feed = [&](int32_t token) {  // the same token into every stream (BOS and the primer)
    for (int s = 0; s < N; ++s) {
      try {
        grammars[s]->advance(token);
      } catch (const InvalidArgument& e) {
        throw InvalidArgument("primer: token " + tok.vocab().name(token) + " is not well-formed here (" + e.what() + ")");
      }
      tokens[s].push_back(token);
    }
    std::fill(input.begin(), input.end(), token);
    logits = step();
  };
  feed(kBosToken);
  for (int32_t t : o.primer) feed(t);

  PitchShape pitch_shape(tok.token_kinds(), o.pitch_temperature);
  std::vector<uint8_t> mask(V), done(N, 0);
  std::vector<int> ends_seen(N, 0);
  int live = N;
  for (size_t i = 0; i < o.max_new && live > 0; ++i) {
    for (int s = 0; s < N; ++s) {
      if (done[s]) {
        input[s] = kPadToken;
        continue;
      }
      grammars[s]->legal_next(mask);
      mask[kEosToken] = 0;  // the stream runs for the length asked
      if (std::find(mask.begin(), mask.end(), 1) == mask.end()) {  // only EOS was left
        done[s] = 1, --live;
        input[s] = kPadToken;
        continue;
      }
      std::span<const float> row = logits.subspan(size_t(s) * V, V);
      if (pitch_shape.active()) row = pitch_shape.apply(row, mask);
      const int32_t t = sampler.sample(row, rngs[s], mask);
      grammars[s]->advance(t);
      tokens[s].push_back(t);
      input[s] = t;
      if (o.end_token >= 0 && t == o.end_token && ++ends_seen[s] >= o.end_count) done[s] = 1, --live;
    }
    if (o.long_enough && (i + 1) % StreamOptions::kCheckEvery == 0)
      for (int s = 0; s < N; ++s)
        if (!done[s] && o.long_enough(s, tokens[s])) done[s] = 1, --live;
    if (guided) std::copy_n(input.begin(), N, input.begin() + N);  // the twins read what was sampled
    if (live > 0 && i + 1 < o.max_new) logits = step();
  }
  return tokens;
}

}  // namespace etude
