// Inference: a batch of independent token streams stepped together, one token per stream per
// step, carrying each LSTM's (h, c) state between steps; batchnorm uses running statistics and
// dropout is the identity. Used for composing and for `etude forward`.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "nn/network.hpp"

namespace etude::nn {

class Stepper {
 public:
  // Reads the model's parameters in place: the model must outlive the stepper and not move, and
  // its weights must not change while the stepper lives (a bf16 stepper rounds them once).
  Stepper(const Model& model, int streams, LstmBackend backend = LstmBackend::fast,
          Precision precision = Precision::f32);
  ~Stepper();
  int streams() const { return streams_; }
  // Threads a step runs on: 1 when a step's GEMM work is below kSingleThreadMacs (a tiny model: a
  // barrier then costs more than it saves), otherwise the OpenMP default (set_compute_threads).
  // A step of `default` (about 3.9M multiply-adds) is memory-bound: two cores stream its weights
  // about 1.5x faster than one on an idle machine. On a busy machine one descheduled thread stalls
  // every step: compose with --threads 1 there.
  int step_threads() const;
  static constexpr double kSingleThreadMacs = 1e6;
  void reset();                 // every stream back to the zero state
  void reset_stream(int s);     // one stream back to the zero state
  // Feeds tokens[s] to stream s; returns the logits [streams][vocab], valid until the next step.
  std::span<const float> step(std::span<const int32_t> tokens);
  // Feeds a whole sequence to a single-stream stepper; returns logits [tokens][vocab].
  std::vector<float> run(std::span<const int32_t> tokens);

 private:
  const Model& model_;
  int streams_;
  double step_macs_ = 0;
  std::vector<std::unique_ptr<LstmKernel>> kernels_;       // per layer (lstm only), T=1
  std::vector<std::vector<float>> h_, c_, h_next_, c_next_;  // per layer [streams][H]
  std::vector<std::vector<float>> act_;                      // act_[0] input, act_[i+1] layer i
};

}  // namespace etude::nn
