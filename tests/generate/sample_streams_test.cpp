// The shared sampling loop (generate/sample_streams.hpp) on small random models, no corpus needed:
// batched streams equal single ones of seed + s, per-stream styles, and the two ways a stream ends
// early (an end token counted, and long_enough) cut the same stream at the right token.
#include <gtest/gtest.h>

#include <algorithm>

#include "generate/sample_streams.hpp"
#include "nn/model_spec.hpp"
#include "nn/trainer.hpp"

namespace etude {
namespace {

struct Fixture {
  std::unique_ptr<Tokenizer> tok = make_tokenizer("events");
  nn::Model model;
  explicit Fixture(int styles = 0) : model(spec(tok->vocab_size(), styles)) {
    model.init_random(11);
    for (const nn::TensorSlot& t : model.layout().tensors)  // style rows apart, as after training
      if (t.name == "style_embedding.weight") {
        const std::span<float> rows = model.tensor(t);
        for (size_t k = 0; k < rows.size(); ++k) rows[k] = float((k * 7919) % 13) * 0.5f - 3.0f;
      }
  }
  static nn::ModelSpec spec(int vocab, int styles) {
    nn::ModelSpec s = nn::preset_spec("small", vocab);
    s.styles = styles;
    return s;
  }
};

StreamOptions options(uint64_t seed, int count, size_t max_new) {
  StreamOptions o;
  o.seed = seed, o.count = count, o.max_new = max_new;
  return o;
}

TEST(SampleStreams, BatchedStreamsEqualSingleOnesOfTheirSeed) {
  nn::set_compute_threads(1);
  Fixture f;
  const auto batch = sample_streams(f.model, *f.tok, options(40, 3, 64));
  ASSERT_EQ(batch.size(), 3u);
  for (size_t s = 0; s < batch.size(); ++s) {
    EXPECT_EQ(batch[s].size(), 1u + 64u);
    EXPECT_EQ(batch[s].front(), kBosToken);
    EXPECT_EQ(batch[s], sample_streams(f.model, *f.tok, options(40 + s, 1, 64))[0]) << "stream " << s;
    EXPECT_EQ(f.tok->decode(batch[s]).repairs, 0);
  }
}

TEST(SampleStreams, EachStreamInItsOwnStyle) {
  nn::set_compute_threads(1);
  Fixture f(2);
  for (float strength : {1.0f, kDefaultStyleStrength}) {
    StreamOptions o = options(5, 2, 48);
    o.style_strength = strength;
    o.style_weights = {{1.0f, 0.0f}, {0.0f, 1.0f}};
    const auto both = sample_streams(f.model, *f.tok, o);
    StreamOptions one = options(6, 1, 48);
    one.style_strength = strength;
    one.style_weights = {{0.0f, 1.0f}};
    EXPECT_EQ(both[1], sample_streams(f.model, *f.tok, one)[0]) << "strength " << strength;
    one.style_weights = {{1.0f, 0.0f}};
    EXPECT_NE(both[1], sample_streams(f.model, *f.tok, one)[0]) << "strength " << strength;
  }
}

TEST(SampleStreams, EndTokenAndLongEnoughEndAStreamWhereAsked) {
  nn::set_compute_threads(1);
  Fixture f;
  const auto full = sample_streams(f.model, *f.tok, options(9, 1, 100))[0];
  ASSERT_EQ(full.size(), 101u);
  // The token at position 20 ends the stream on its n-th occurrence.
  StreamOptions o = options(9, 1, 100);
  o.end_token = full[20];
  o.end_count = int(std::count(full.begin() + 1, full.begin() + 21, full[20]));
  EXPECT_EQ(sample_streams(f.model, *f.tok, o)[0], std::vector<int32_t>(full.begin(), full.begin() + 21));
  // long_enough is asked every kCheckEvery tokens: the first answer true after 40 tokens is at 64.
  o = options(9, 1, 100);
  int asked = 0;
  o.long_enough = [&](int stream, const std::vector<int32_t>& tokens) {
    EXPECT_EQ(stream, 0);
    ++asked;
    return tokens.size() > 40;
  };
  EXPECT_EQ(sample_streams(f.model, *f.tok, o)[0],
            std::vector<int32_t>(full.begin(), full.begin() + 1 + 2 * StreamOptions::kCheckEvery));
  EXPECT_EQ(asked, 2);
}

}  // namespace
}  // namespace etude
