// Tests for nn::Sampler on known distributions: temperature, top-k, top-p, masks, greedy, seeds,
// and the empirical frequencies of many draws against the exact kept distribution.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/error.hpp"
#include "nn/sampling.hpp"

namespace etude::nn {
namespace {

// Logits of the distribution {0.4, 0.3, 0.2, 0.1}.
std::vector<float> four_logits() { return {std::log(0.4f), std::log(0.3f), std::log(0.2f), std::log(0.1f)}; }

TEST(Sampling, PlainDistributionIsTheSoftmax) {
  Sampler s;
  auto p = s.distribution(four_logits());
  EXPECT_NEAR(p[0], 0.4, 1e-6);
  EXPECT_NEAR(p[1], 0.3, 1e-6);
  EXPECT_NEAR(p[2], 0.2, 1e-6);
  EXPECT_NEAR(p[3], 0.1, 1e-6);
}

TEST(Sampling, TemperatureSharpensAndFlattens) {
  Sampler cold({.temperature = 0.5f});
  auto p = cold.distribution(four_logits());  // p^2 renormalised: 16, 9, 4, 1 over 30
  EXPECT_NEAR(p[0], 16.0 / 30, 1e-6);
  EXPECT_NEAR(p[3], 1.0 / 30, 1e-6);
  Sampler hot({.temperature = 1000.0f});
  auto q = hot.distribution(four_logits());
  for (double x : q) EXPECT_NEAR(x, 0.25, 1e-3);
}

TEST(Sampling, TopKKeepsTheKMostLikely) {
  Sampler s({.top_k = 2});
  auto p = s.distribution(four_logits());
  EXPECT_NEAR(p[0], 0.4 / 0.7, 1e-6);
  EXPECT_NEAR(p[1], 0.3 / 0.7, 1e-6);
  EXPECT_EQ(p[2], 0.0);
  EXPECT_EQ(p[3], 0.0);
}

TEST(Sampling, TopPKeepsTheSmallestSetReachingP) {
  Sampler s({.top_p = 0.65f});  // 0.4 < 0.65 <= 0.4 + 0.3
  auto p = s.distribution(four_logits());
  EXPECT_NEAR(p[0], 0.4 / 0.7, 1e-6);
  EXPECT_NEAR(p[1], 0.3 / 0.7, 1e-6);
  EXPECT_EQ(p[2], 0.0);
  Sampler t({.top_p = 0.9f});  // needs 0.4 + 0.3 + 0.2
  auto q = t.distribution(four_logits());
  EXPECT_NEAR(q[2], 0.2 / 0.9, 1e-6);
  EXPECT_EQ(q[3], 0.0);
  Sampler u({.top_p = 0.1f});  // the top token alone
  EXPECT_NEAR(u.distribution(four_logits())[0], 1.0, 1e-12);
}

TEST(Sampling, TopKThenTopPOnTheKeptMass) {
  Sampler s({.top_k = 3, .top_p = 0.6f});  // top-3 mass 0.9: 0.4/0.9 < 0.6 needs the second too
  auto p = s.distribution(four_logits());
  EXPECT_NEAR(p[0], 0.4 / 0.7, 1e-6);
  EXPECT_NEAR(p[1], 0.3 / 0.7, 1e-6);
  EXPECT_EQ(p[2], 0.0);
}

TEST(Sampling, MaskRemovesTokensBeforeEverythingElse) {
  const std::vector<uint8_t> allowed = {0, 1, 1, 1};
  Sampler s({.top_k = 1});
  auto p = s.distribution(four_logits(), allowed);
  EXPECT_EQ(p[0], 0.0);
  EXPECT_EQ(p[1], 1.0);
  Sampler g({.greedy = true});
  Rng rng(1);
  EXPECT_EQ(g.sample(four_logits(), rng, allowed), 1);
  EXPECT_EQ(g.sample(four_logits(), rng), 0);
  EXPECT_THROW(s.distribution(four_logits(), std::vector<uint8_t>(4, 0)), InvalidArgument);
  EXPECT_THROW(s.distribution(four_logits(), std::vector<uint8_t>(3, 1)), InvalidArgument);
}

TEST(Sampling, FrequenciesMatchTheKeptDistribution) {
  Sampler s({.temperature = 0.8f, .top_k = 3});
  const auto logits = four_logits();
  const auto kept = s.distribution(logits);
  const std::vector<double> expected(kept.begin(), kept.end());
  Rng rng(42);
  std::vector<int> counts(4, 0);
  const int n = 200000;
  for (int i = 0; i < n; ++i) ++counts[s.sample(logits, rng)];
  EXPECT_EQ(counts[3], 0);
  for (int v = 0; v < 3; ++v) EXPECT_NEAR(counts[v] / double(n), expected[v], 0.005) << "token " << v;
}

TEST(Sampling, SameSeedSameDrawsDifferentSeedDifferentDraws) {
  Sampler s;
  auto draws = [&](uint64_t seed) {
    Rng rng(seed);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(four_logits(), rng));
    return out;
  };
  EXPECT_EQ(draws(7), draws(7));
  EXPECT_NE(draws(7), draws(8));
}

TEST(Sampling, BadOptionsAreRefused) {
  EXPECT_THROW(Sampler({.temperature = 0.0f}), InvalidArgument);
  EXPECT_THROW(Sampler({.top_k = -1}), InvalidArgument);
  EXPECT_THROW(Sampler({.top_p = 0.0f}), InvalidArgument);
  EXPECT_THROW(Sampler({.top_p = 1.5f}), InvalidArgument);
}

}  // namespace
}  // namespace etude::nn
