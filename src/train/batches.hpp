// Training data for the network: pieces' token streams concatenated, cut into windows of T+1
// tokens (inputs and shifted targets), gathered into batches; and the scoring of a model over a
// window set (mean cross-entropy in nats per predicted token, top-1 accuracy).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "base/mapped_file.hpp"
#include "nn/network.hpp"
#include "nn/trainer.hpp"

namespace etude::train {

// Window starts in a stream of n tokens: offset, offset + stride, ... while start + T + 1 <= n.
std::vector<size_t> window_starts(size_t n, int time, size_t stride, size_t offset);

// The token stream windows are cut from: tokens in memory, or a spill array (a stream past its
// memory limit, read back window by window without growing the resident set).
class TokenSource {
 public:
  TokenSource(std::span<const int32_t> tokens) : span_(tokens) {}
  TokenSource(const std::vector<int32_t>& tokens) : span_(tokens) {}
  TokenSource(const SpillArray& spill) : spill_(&spill) {}
  size_t size() const { return spill_ ? spill_->size() : span_.size(); }
  void read(size_t start, size_t count, int32_t* out) const;  // tokens [start, start + count)

 private:
  std::span<const int32_t> span_;
  const SpillArray* spill_ = nullptr;
};

// Batch of windows starts[0..B): tokens [B][T]; targets [B][T] (seq2seq: the next token at every
// position) or [B] (seq2one: the token after the window). Rows past starts.size() repeat row 0.
void fill_batch(const TokenSource& stream, std::span<const size_t> starts, int batch, int time,
                nn::Mode mode, int32_t* tokens, int32_t* targets);

// The style row of every token of a stream, as runs (a piece's tokens share its row): run i covers
// tokens [ends[i - 1], ends[i]) (from 0 for the first).
struct StyleRuns {
  std::vector<size_t> ends;
  std::vector<int32_t> rows;
  void add(size_t tokens, int32_t row);  // the next `tokens` tokens are in `row`
  size_t size() const { return ends.empty() ? 0 : ends.back(); }
  bool empty() const { return ends.empty(); }
  // rows of tokens [start, start + count) into out
  void fill(size_t start, size_t count, int32_t* out) const;
};

// The style row of every input token of the same windows: styles [B][T].
void fill_styles(const StyleRuns& styles, std::span<const size_t> starts, int batch, int time, int32_t* out);

// Summed cross-entropy (nats) and top-1 hits of scored positions; nn::Trainer::add_score adds to it.
struct Score : nn::RowScore {
  double loss() const { return count ? loss_sum / double(count) : 0.0; }
  double accuracy() const { return count ? double(correct) / double(count) : 0.0; }
};

// A score split by the kind of the predicted token (tokenize's TokenKind values index `kinds`).
struct KindScores {
  std::vector<uint8_t> kind_of_token;  // one per vocabulary entry; empty: no split
  std::vector<nn::RowScore> kinds;     // sized by the caller (kTokenKinds)
};

// Part `index` of `count` of a window set: its consecutive windows [W index / count, W (index + 1)
// / count) (data-parallel validation: each rank scores its part, the sums are reduced).
struct WindowPart {
  int index = 0, count = 1;
};

// Evaluation mode (no dropout, running batchnorm statistics) over non-overlapping windows of a
// stream, in the trainer's batch and window, on its device. styles: the style row of every token
// of the stream (null for a model without styles); by_kind, when given, gets the split too.
Score evaluate(nn::Trainer& trainer, const TokenSource& stream, size_t stride, const StyleRuns* styles = nullptr,
               KindScores* by_kind = nullptr, WindowPart part = {});

// Data-parallel: the scores of every rank summed (one all-reduce of doubles), on every rank.
void reduce_scores(nn::Trainer& trainer, Score& score, KindScores* by_kind = nullptr);

}  // namespace etude::train
