// Windows, batches and scoring; see batches.hpp.
#include "train/batches.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "base/error.hpp"

namespace etude::train {

std::vector<size_t> window_starts(size_t n, int time, size_t stride, size_t offset) {
  std::vector<size_t> out;
  for (size_t s = offset; s + size_t(time) + 1 <= n; s += stride) out.push_back(s);
  return out;
}

void TokenSource::read(size_t start, size_t count, int32_t* out) const {
  if (spill_) return spill_->read(start, count, out);
  if (start > span_.size() || count > span_.size() - start) throw InvalidArgument("token stream: read past the end");
  std::copy_n(span_.begin() + ptrdiff_t(start), count, out);
}

void fill_batch(const TokenSource& stream, std::span<const size_t> starts, int batch, int time,
                nn::Mode mode, int32_t* tokens, int32_t* targets) {
  if (starts.empty())
    throw InvalidArgument("no window of " + std::to_string(time + 1) + " tokens fits in a stream of " +
                          std::to_string(stream.size()) + " tokens; use a smaller --seq");
  for (int b = 0; b < batch; ++b) {  // a window is the row's inputs and, one token on, its targets
    const size_t start = starts[size_t(b) < starts.size() ? size_t(b) : 0];
    int32_t* x = tokens + size_t(b) * time;
    int32_t last = 0;
    stream.read(start, size_t(time), x);
    stream.read(start + size_t(time), 1, &last);
    if (mode == nn::Mode::seq2seq) {
      std::copy_n(x + 1, time - 1, targets + size_t(b) * time);
      targets[size_t(b) * time + size_t(time) - 1] = last;
    } else {
      targets[b] = last;
    }
  }
}

void StyleRuns::add(size_t tokens, int32_t row) {
  if (tokens == 0) return;
  if (!rows.empty() && rows.back() == row) {
    ends.back() += tokens;
    return;
  }
  ends.push_back(size() + tokens);
  rows.push_back(row);
}

void StyleRuns::fill(size_t start, size_t count, int32_t* out) const {
  if (start + count > size()) throw InvalidArgument("style runs: tokens past the end of the stream");
  size_t run = size_t(std::upper_bound(ends.begin(), ends.end(), start) - ends.begin());
  for (size_t done = 0; done < count; ++run) {
    const size_t n = std::min(count - done, ends[run] - (start + done));
    std::fill_n(out + done, n, rows[run]);
    done += n;
  }
}

void fill_styles(const StyleRuns& styles, std::span<const size_t> starts, int batch, int time, int32_t* out) {
  for (int b = 0; b < batch; ++b)
    styles.fill(starts[size_t(b) < starts.size() ? size_t(b) : 0], size_t(time), out + size_t(b) * time);
}

Score evaluate(nn::Trainer& trainer, const TokenSource& stream, size_t stride, const StyleRuns* styles,
               KindScores* by_kind, WindowPart part) {
  const int B = trainer.batch(), T = trainer.time();
  if (styles && styles->size() != stream.size())
    throw InvalidArgument("evaluate: the style stream is not as long as the token stream");
  std::vector<size_t> starts = window_starts(stream.size(), T, stride, 0);
  if (part.count > 1) {
    const size_t n = starts.size(), from = n * size_t(part.index) / size_t(part.count),
                 to = n * size_t(part.index + 1) / size_t(part.count);
    starts = std::vector<size_t>(starts.begin() + ptrdiff_t(from), starts.begin() + ptrdiff_t(to));
  }
  std::vector<int32_t> tokens(size_t(B) * T), targets(size_t(B) * T), rows(styles ? size_t(B) * T : 0);
  Score score;
  for (size_t first = 0; first < starts.size(); first += size_t(B)) {
    const int used = int(std::min(starts.size() - first, size_t(B)));
    const auto window = std::span(starts).subspan(first, size_t(used));
    fill_batch(stream, window, B, T, trainer.model().spec().mode, tokens.data(), targets.data());
    if (!rows.empty()) fill_styles(*styles, window, B, T, rows.data());
    trainer.forward(tokens.data(), false, rows.empty() ? nullptr : rows.data());
    if (by_kind) trainer.add_score(targets.data(), used, score, by_kind->kind_of_token, by_kind->kinds);
    else trainer.add_score(targets.data(), used, score);
  }
  return score;
}

void reduce_scores(nn::Trainer& trainer, Score& score, KindScores* by_kind) {
  if (!trainer.data_parallel()) return;
  std::vector<double> sums{score.loss_sum, double(score.count), double(score.correct)};
  if (by_kind)
    for (const nn::RowScore& k : by_kind->kinds) sums.insert(sums.end(), {k.loss_sum, double(k.count), double(k.correct)});
  trainer.parallel().collective->all_reduce_sum(sums);
  auto take = [&](nn::RowScore& s, size_t at) {
    s.loss_sum = sums[at], s.count = int64_t(sums[at + 1]), s.correct = int64_t(sums[at + 2]);
  };
  take(score, 0);
  if (by_kind)
    for (size_t i = 0; i < by_kind->kinds.size(); ++i) take(by_kind->kinds[i], 3 + 3 * i);
}

}  // namespace etude::train
