// Training data for the network: pieces' token streams concatenated, cut into windows of T+1
// tokens (inputs and shifted targets), gathered into batches; and the scoring of a model over a
// window set (mean cross-entropy in nats per predicted token, top-1 accuracy).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "nn/network.hpp"
#include "nn/trainer.hpp"

namespace etude::train {

// Window starts in a stream of n tokens: offset, offset + stride, ... while start + T + 1 <= n.
std::vector<size_t> window_starts(size_t n, int time, size_t stride, size_t offset);

// Batch of windows starts[0..B): tokens [B][T]; targets [B][T] (seq2seq: the next token at every
// position) or [B] (seq2one: the token after the window). Rows past starts.size() repeat row 0.
void fill_batch(std::span<const int32_t> stream, std::span<const size_t> starts, int batch, int time,
                nn::Mode mode, int32_t* tokens, int32_t* targets);

// Summed cross-entropy (nats) and top-1 hits of scored positions; nn::Trainer::add_score adds to it.
struct Score : nn::RowScore {
  double loss() const { return count ? loss_sum / double(count) : 0.0; }
  double accuracy() const { return count ? double(correct) / double(count) : 0.0; }
};

// Evaluation mode (no dropout, running batchnorm statistics) over non-overlapping windows of a
// stream, in the trainer's batch and window, on its device.
Score evaluate(nn::Trainer& trainer, std::span<const int32_t> stream, size_t stride);

}  // namespace etude::train
