// Sampling one token from a row of logits (see sampling.hpp): mask, temperature, top-k, top-p,
// then one uniform draw walked over the cumulative distribution in token order.
#include "nn/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "base/error.hpp"

namespace etude::nn {

// Below this probability relative to the most likely token, a token is sorted for top-p only when
// the likelier ones do not reach the mass asked for (the result is the same either way).
constexpr double kTopPFloor = 1e-4;

void validate_sampling(const SamplingOptions& o) {
  if (!(o.temperature > 0.0f) || !std::isfinite(o.temperature))
    throw InvalidArgument("sampling: temperature " + std::to_string(o.temperature) +
                          " must be a positive number (try 0.8 to 1.2; --greedy for argmax)");
  if (o.top_k < 0)
    throw InvalidArgument("sampling: top-k " + std::to_string(o.top_k) + " must be >= 0 (0 keeps every token)");
  if (!(o.top_p > 0.0f && o.top_p <= 1.0f))
    throw InvalidArgument("sampling: top-p " + std::to_string(o.top_p) + " must lie in (0, 1] (1 keeps every token)");
}

Sampler::Sampler(SamplingOptions options) : options_(options) { validate_sampling(options_); }

std::span<const double> Sampler::distribution(std::span<const float> logits, std::span<const uint8_t> allowed) {
  const size_t V = logits.size();
  if (!allowed.empty() && allowed.size() != V)
    throw InvalidArgument("sampling: mask has " + std::to_string(allowed.size()) + " entries for " +
                          std::to_string(V) + " logits");
  probs_.assign(V, 0.0);
  // Raw pointers in the loops below: checked builds (fuzzing, _GLIBCXX_ASSERTIONS) do not inline
  // operator[], and this runs once per composed token over the whole vocabulary.
  double* const probs = probs_.data();
  const float* const lg = logits.data();
  order_.clear();
  int32_t best = -1;
  for (size_t v = 0; v < V; ++v) {
    if ((!allowed.empty() && !allowed[v]) || std::isnan(lg[v]) || lg[v] == -std::numeric_limits<float>::infinity())
      continue;
    order_.push_back(static_cast<int32_t>(v));
    if (best < 0 || lg[v] > lg[best]) best = static_cast<int32_t>(v);
  }
  if (best < 0) throw InvalidArgument("sampling: no token is allowed at this position (empty mask or all logits -inf/NaN)");
  if (options_.greedy) {
    probs[best] = 1.0;
    return probs_;
  }
  const double top = lg[best], inv_t = 1.0 / options_.temperature;
  for (int32_t v : order_) probs[v] = std::exp((lg[v] - top) * inv_t);
  // Most likely first; ties broken by the lower id so the kept set never depends on sort order.
  auto likelier = [&](int32_t a, int32_t b) { return probs[a] != probs[b] ? probs[a] > probs[b] : a < b; };
  int32_t* const ids = order_.data();  // the allowed ids (raw, like probs)
  size_t n = order_.size();
  if (options_.top_k > 0 && static_cast<size_t>(options_.top_k) < n) {
    const size_t keep = options_.top_k;
    std::nth_element(ids, ids + keep, ids + n, likelier);
    for (size_t i = keep; i < n; ++i) probs[ids[i]] = 0.0;
    n = keep;
  }
  if (options_.top_p < 1.0f) {
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) total += probs[ids[i]];
    const double goal = options_.top_p * total * (1.0 - 1e-12);
    // The kept set is the shortest most-likely prefix reaching the goal. Usually it lies among the
    // tokens above kTopPFloor (relative to the most likely): those sort first in the full order,
    // so sorting only them gives the same prefix and the same sums; if they fall short, sort all.
    int32_t* first = ids;
    int32_t* const candidates = std::partition(ids, ids + n, [&](int32_t v) { return probs[v] >= kTopPFloor; });
    for (int32_t* end : {candidates, ids + n}) {
      std::sort(first, end, likelier);
      double mass = 0.0;
      size_t i = 0;
      while (i < size_t(end - ids) && mass < goal) mass += probs[ids[i++]];
      if (mass < goal && end != ids + n) {
        first = end;  // the candidates are sorted already; the rest follow them
        continue;
      }
      for (; i < n; ++i) probs[ids[i]] = 0.0;
      break;
    }
  }
  double total = 0.0;
  for (double p : probs_) total += p;
  for (double& p : probs_) p /= total;
  return probs_;
}

int32_t Sampler::sample(std::span<const float> logits, Rng& rng, std::span<const uint8_t> allowed) {
  const auto probs = distribution(logits, allowed);
  if (options_.greedy) return static_cast<int32_t>(std::max_element(probs.begin(), probs.end()) - probs.begin());
  const double u = rng.uniform();
  double acc = 0.0;
  int32_t last = 0;
  for (size_t v = 0; v < probs.size(); ++v) {
    if (probs[v] <= 0.0) continue;
    acc += probs[v];
    last = static_cast<int32_t>(v);
    if (u < acc) return last;
  }
  return last;  // rounding left u just above the total: the last kept token
}

}  // namespace etude::nn
