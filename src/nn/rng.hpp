// A small deterministic random generator (splitmix64) for weight init, dropout masks and
// random benchmark data; each owner keeps its own state (no global generator).
#pragma once
#include <cmath>
#include <cstdint>

namespace etude::nn {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0x5eed) : state_(seed) {}
  uint64_t next() { return hash(state_ += 0x9e3779b97f4a7c15ULL); }
  // splitmix64's finaliser: a counter-based generator (hash(base + i)) for parallel fills.
  static uint64_t hash(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal() {  // Box-Muller
    const double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((next() >> 32) * n >> 32); }

 private:
  uint64_t state_;
};

}  // namespace etude::nn
