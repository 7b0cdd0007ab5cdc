// The inference-only f32 LSTM path for small calls: one stream, or one step of any number of
// streams, runs a fused matrix-vector step (OpenMP), each stream's arithmetic independent of the
// others; a few steps of several streams use OpenBLAS GEMMs. Weights are read as given (they may
// change between calls); composing steps packed copies instead (packed_lstm.hpp).
#pragma once
#include <cstdint>
#include <vector>

#include "nn/lstm_kernel.hpp"

namespace etude::nn {

// Up to this many rows (T*B) an inference forward of the CPU kernel takes the BLAS path:
// oneDNN's per-call weight reorder and setup dominate there (see bench/nn_lstm_kernel_bench).
inline constexpr int kBlasStepMaxRows = 64;

class LstmBlasStep {
 public:
  explicit LstmBlasStep(const LstmDims& d);
  // Same buffers and meaning as LstmKernel::forward (inference: nothing kept for backward). Each
  // stream's arithmetic is the same for every B, so a batch of streams equals the streams alone.
  void forward(const LstmParams& p, const float* x, const float* h0, const float* c0, float* y,
               float* hT, float* cT);

 private:
  void forward_fused(const LstmParams& p, const float* x, const float* h0, const float* c0, float* y, float* hT,
                     float* cT);
  LstmDims d_;
  std::vector<float> gates_;  // [T][B][4H] pre-activations (B > 1)
  std::vector<float> h_, c_;  // [B][H] running state
  std::vector<float> h2_, c2_, zeros_;  // the other half of the fused path's state double buffer
};

}  // namespace etude::nn
