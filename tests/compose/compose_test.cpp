// Tests for compose(): determinism by seed, grammar masking (zero repairs for every tokenizer),
// batched streams equal to single ones, primer continuation and seconds mode.
#include <gtest/gtest.h>

#include <algorithm>

#include "base/error.hpp"
#include "compose/composer.hpp"
#include "music/sequence_ops.hpp"
#include "nn/inference.hpp"
#include "nn/trainer.hpp"
#include "compose_fixture.hpp"

namespace etude {
namespace {

class Compose : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::bach_dir().empty()) GTEST_SKIP() << "ETUDE_CORPUS not set or has no Bach folder";
    pieces_ = test::bach_pieces();
    nn::set_compute_threads(1);  // one token step is small: threads only add waiting
  }
  std::vector<NoteSequence> pieces_;
};

ComposeOptions opts(uint64_t seed, int length = 200, int count = 1) {
  ComposeOptions o;
  o.seed = seed, o.length = length, o.count = count;
  return o;
}

TEST_F(Compose, SameSeedSamePieceDifferentSeedDifferentPiece) {
  const StyleModel style = test::make_style("events", pieces_);
  const auto a = compose(style, opts(5)), b = compose(style, opts(5)), c = compose(style, opts(6));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].tokens.size(), 1u + 200u);  // BOS + the composed length
  EXPECT_EQ(a[0].tokens, b[0].tokens);
  EXPECT_EQ(a[0].seq.notes, b[0].seq.notes);
  EXPECT_NE(a[0].tokens, c[0].tokens);
}

TEST_F(Compose, MaskingKeepsEveryTokenizerWellFormed) {
  for (const char* name : {"events", "beats", "notes", "seed"}) {
    SCOPED_TRACE(name);
    const StyleModel style = test::make_style(name, pieces_);
    ComposeOptions o = opts(11, 300, 4);
    o.sampling = {.temperature = 2.0f};  // a random model, flattened: it proposes everything
    for (const ComposedPiece& p : compose(style, o)) {
      EXPECT_EQ(p.repairs, 0);
      EXPECT_EQ(style.tokenizer->decode(p.tokens).repairs, 0);
      EXPECT_GT(p.seq.notes.size(), 0u);
      auto grammar = style.tokenizer->grammar();  // every token was legal where it stands
      std::vector<uint8_t> mask(style.tokenizer->vocab_size());
      for (int32_t t : p.tokens) {
        grammar->legal_next(mask);
        ASSERT_TRUE(mask[t]) << "token " << style.tokenizer->vocab().name(t);
        grammar->advance(t);
      }
      EXPECT_EQ(std::count(p.tokens.begin(), p.tokens.end(), kEosToken), 0);
    }
  }
}

TEST_F(Compose, WithoutAMaskTheRandomModelWouldBreakTheGrammar) {
  // The control for the test above: the same model sampled freely emits ill-formed streams.
  const StyleModel style = test::make_style("beats", pieces_);
  nn::Stepper stepper(*style.model, 1);
  nn::Sampler sampler({.temperature = 2.0f});
  nn::Rng rng(3);
  std::vector<int32_t> tokens{kBosToken};
  for (int i = 0; i < 300; ++i) tokens.push_back(sampler.sample(stepper.step(std::span(tokens).last(1)), rng));
  EXPECT_GT(style.tokenizer->decode(tokens).repairs, 0);
}

TEST_F(Compose, BatchedStreamsEqualTheSameSeedsOneAtATime) {
  const StyleModel style = test::make_style("events", pieces_);
  const auto batch = compose(style, opts(10, 250, 3));
  ASSERT_EQ(batch.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const auto single = compose(style, opts(10 + i, 250));
    EXPECT_EQ(batch[i].seed, 10u + i);
    EXPECT_EQ(batch[i].tokens, single[0].tokens) << "stream " << i;
  }
}

TEST_F(Compose, PrimerIsContinuedAndNotRepeated) {
  const StyleModel style = test::make_style("beats", pieces_);
  ComposeOptions o = opts(4, 150);
  o.primer = pieces_[0];
  o.primer_seconds = 4.0;
  const auto plain = compose(style, o);
  o.keep_primer = true;
  const auto kept = compose(style, o);
  const ComposedPiece& p = plain[0];
  // The stream is BOS, the primer's tokens (the encoding of its first 4 seconds), the continuation.
  const auto primer_tokens = style.tokenizer->encode(truncate_seconds(pieces_[0], 4.0));
  ASSERT_GT(p.primer_tokens, 10u);
  EXPECT_EQ(p.primer_tokens, primer_tokens.size() - 2);
  EXPECT_TRUE(std::equal(primer_tokens.begin(), primer_tokens.end() - 1, p.tokens.begin()));
  EXPECT_EQ(p.tokens.size(), 1 + p.primer_tokens + 150);
  EXPECT_EQ(p.tokens, kept[0].tokens);  // keep_primer changes only what is written out
  // Kept: every note of the primer, then the continuation (which may join the primer's last
  // chord); plain: exactly the continuation, moved to start at zero.
  const NoteSequence primer_seq = style.tokenizer->decode(std::span(p.tokens).first(1 + p.primer_tokens)).seq;
  std::vector<Note> rest = kept[0].seq.notes;
  for (const Note& q : primer_seq.notes) {
    auto it = std::find_if(rest.begin(), rest.end(), [&](const Note& r) { return r.pitch == q.pitch && r.start_tick == q.start_tick; });
    ASSERT_NE(it, rest.end()) << "primer note " << q.pitch << " at tick " << q.start_tick << " missing from the kept piece";
    rest.erase(it);
  }
  const auto& n = p.seq.notes;
  ASSERT_FALSE(n.empty());
  ASSERT_EQ(n.size(), rest.size());
  EXPECT_EQ(n.front().start_tick, 0);
  const int64_t shift = rest.front().start_tick;
  EXPECT_GE(shift, primer_seq.notes.back().start_tick);  // nothing composed before the primer ends
  for (size_t i = 0; i < n.size(); ++i) {
    EXPECT_EQ(n[i].pitch, rest[i].pitch);
    EXPECT_EQ(n[i].start_tick + shift, rest[i].start_tick);
  }
}

TEST_F(Compose, SecondsModeStopsAtTheLength) {
  const StyleModel style = test::make_style("events", pieces_);
  ComposeOptions o = opts(2);
  o.seconds = 6.0;
  const auto p = compose(style, o);
  EXPECT_LE(p[0].seq.total_time, 6.0 + 1e-9);
  EXPECT_GT(p[0].seq.total_time, 5.0);
  for (const Note& n : p[0].seq.notes) EXPECT_LT(n.start, 6.0);
}

TEST_F(Compose, SecondsModeStopsAtMaxTokens) {
  const StyleModel style = test::make_style("events", pieces_);
  ComposeOptions o = opts(2);
  o.seconds = 600.0;  // far more music than 40 tokens hold
  o.max_tokens = 40;
  const auto p = compose(style, o);
  EXPECT_EQ(p[0].tokens.size(), 1 + 40u);  // BOS and the 40 composed tokens
}

TEST_F(Compose, GreedyIsAvailableAndDeterministicWithoutASeed) {
  const StyleModel style = test::make_style("events", pieces_);
  ComposeOptions a = opts(1, 100), b = opts(2, 100);
  a.sampling.greedy = b.sampling.greedy = true;
  EXPECT_EQ(compose(style, a)[0].tokens, compose(style, b)[0].tokens);
}

TEST_F(Compose, BadOptionsAreRefused) {
  const StyleModel style = test::make_style("events", pieces_);
  ComposeOptions o = opts(1);
  o.count = 0;
  EXPECT_THROW(compose(style, o), InvalidArgument);
  o = opts(1);
  o.sampling.top_p = 0;
  EXPECT_THROW(compose(style, o), InvalidArgument);
  o = opts(1);
  o.primer = NoteSequence{};
  EXPECT_THROW(compose(style, o), InvalidArgument);  // a primer with no notes
}

}  // namespace
}  // namespace etude
