// nn::Sampler's top-p shortcut (only tokens above a floor are sorted unless they fall short)
// against the plain definition: sort every allowed token, keep the shortest prefix reaching p.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "nn/sampling.hpp"

namespace etude::nn {
namespace {

// The nucleus by definition, in double: probabilities relative to the top token, sorted (ties by
// id), the shortest prefix whose mass reaches p of the total, renormalised.
std::vector<double> nucleus(const std::vector<float>& logits, const std::vector<uint8_t>& allowed, double p) {
  std::vector<int> ids;
  for (int v = 0; v < int(logits.size()); ++v)
    if (allowed[v]) ids.push_back(v);
  float top = -INFINITY;
  for (int v : ids) top = std::max(top, logits[v]);
  std::vector<double> q(logits.size(), 0.0);
  for (int v : ids) q[v] = std::exp(double(logits[v]) - top);
  std::sort(ids.begin(), ids.end(), [&](int a, int b) { return q[a] != q[b] ? q[a] > q[b] : a < b; });
  double total = 0, mass = 0;
  for (int v : ids) total += q[v];
  size_t i = 0;
  while (i < ids.size() && mass < p * total * (1 - 1e-12)) mass += q[ids[i++]];
  for (; i < ids.size(); ++i) q[ids[i]] = 0;
  const double kept = std::accumulate(q.begin(), q.end(), 0.0);
  for (double& x : q) x /= kept;
  return q;
}

TEST(Sampler, TopPEqualsTheDefinitionForPeakedAndFlatDistributions) {
  Rng rng(3);
  int checked = 0;
  // Peaked rows keep a few tokens (the shortcut); flat rows need tokens below the floor (the full sort).
  for (float spread : {0.5f, 4.0f, 12.0f, 30.0f})
    for (float p : {0.5f, 0.9f, 0.95f, 0.999f})
      for (int row = 0; row < 20; ++row) {
        std::vector<float> logits(259);
        std::vector<uint8_t> allowed(259);
        for (size_t v = 0; v < logits.size(); ++v) {
          logits[v] = spread * float(rng.uniform() * 2 - 1);
          allowed[v] = rng.uniform() < 0.7;
        }
        allowed[row] = 1;
        Sampler s({.temperature = 1.0f, .top_k = 0, .top_p = p});
        const auto got = s.distribution(logits, allowed);
        const auto want = nucleus(logits, allowed, p);
        for (size_t v = 0; v < want.size(); ++v) ASSERT_NEAR(got[v], want[v], 1e-12) << "token " << v;
        ++checked;
      }
  EXPECT_EQ(checked, 320);
}

TEST(Sampler, TopPReachesIntoALongTailBelowTheFloor) {
  // One likely token and 258 at 0.9e-4 of it (below the shortcut's floor, 2.3% of the mass
  // together): p 0.95 keeps the top token alone, p 0.999 needs most of the tail.
  std::vector<float> logits(259, std::log(0.9e-4f));
  logits[7] = 0.0f;
  const std::vector<uint8_t> allowed(259, 1);
  for (float p : {0.95f, 0.999f}) {
    Sampler s({.temperature = 1.0f, .top_k = 0, .top_p = p});
    const auto got = s.distribution(logits, allowed);
    const auto want = nucleus(logits, allowed, p);
    const auto kept = std::count_if(want.begin(), want.end(), [](double x) { return x > 0; });
    EXPECT_EQ(kept, p < 0.99f ? 1 : 248) << "p " << p;
    for (size_t v = 0; v < want.size(); ++v) ASSERT_NEAR(got[v], want[v], 1e-12) << "p " << p << " token " << v;
  }
}

}  // namespace
}  // namespace etude::nn
