// Windows, batches and scoring; see batches.hpp.
#include "train/batches.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "base/error.hpp"

namespace etude::train {

std::vector<size_t> window_starts(size_t n, int time, size_t stride, size_t offset) {
  std::vector<size_t> out;
  for (size_t s = offset; s + size_t(time) + 1 <= n; s += stride) out.push_back(s);
  return out;
}

void fill_batch(std::span<const int32_t> stream, std::span<const size_t> starts, int batch, int time,
                nn::Mode mode, int32_t* tokens, int32_t* targets) {
  if (starts.empty())
    throw InvalidArgument("no window of " + std::to_string(time + 1) + " tokens fits in a stream of " +
                          std::to_string(stream.size()) + " tokens; use a smaller --seq");
  for (int b = 0; b < batch; ++b) {
    const int32_t* w = stream.data() + starts[size_t(b) < starts.size() ? size_t(b) : 0];
    std::copy_n(w, time, tokens + size_t(b) * time);
    if (mode == nn::Mode::seq2seq) std::copy_n(w + 1, time, targets + size_t(b) * time);
    else targets[b] = w[time];
  }
}

void add_score(const nn::Model& model, const int32_t* targets, int used, Score& score) {
  const auto logits = model.logits();
  const int B = model.batch(), T = model.time(), V = model.spec().vocab, steps = model.logit_steps();
  for (int t = 0; t < steps; ++t)
    for (int b = 0; b < used; ++b) {
      const float* z = logits.data() + (size_t(t) * B + b) * V;
      const int32_t y = steps == 1 && model.spec().mode == nn::Mode::seq2one ? targets[b] : targets[size_t(b) * T + t];
      const float mx = *std::max_element(z, z + V);
      double sum = 0;
      for (int k = 0; k < V; ++k) sum += std::exp(double(z[k] - mx));
      score.loss_sum += std::log(sum) + mx - z[y];
      score.correct += int(std::max_element(z, z + V) - z) == y;
      ++score.count;
    }
}

Score evaluate(nn::Model& model, std::span<const int32_t> stream, size_t stride) {
  const int B = model.batch(), T = model.time();
  const std::vector<size_t> starts = window_starts(stream.size(), T, stride, 0);
  std::vector<int32_t> tokens(size_t(B) * T), targets(size_t(B) * T);
  Score score;
  for (size_t first = 0; first < starts.size(); first += size_t(B)) {
    const int used = int(std::min(starts.size() - first, size_t(B)));
    fill_batch(stream, std::span(starts).subspan(first, size_t(used)), B, T, model.spec().mode, tokens.data(),
               targets.data());
    model.forward(tokens.data(), false);
    add_score(model, targets.data(), used, score);
  }
  return score;
}

}  // namespace etude::train
