// The inference-only LSTM path on OpenBLAS: one GEMM for the input projection of all steps, then
// per step one GEMM (GEMV when B = 1) on the hidden state with the gate math fused after it.
#pragma once
#include <vector>

#include "nn/lstm_kernel.hpp"

namespace etude::nn {

// Up to this many rows (T*B) an inference forward of the CPU kernel takes the BLAS path:
// oneDNN's per-call weight reorder and setup dominate there (see bench/nn_lstm_kernel_bench).
inline constexpr int kBlasStepMaxRows = 64;

class LstmBlasStep {
 public:
  explicit LstmBlasStep(const LstmDims& d);
  // Same buffers and meaning as LstmKernel::forward (inference: nothing kept for backward).
  void forward(const LstmParams& p, const float* x, const float* h0, const float* c0, float* y,
               float* hT, float* cT);

 private:
  LstmDims d_;
  std::vector<float> gates_;  // [T][B][4H] pre-activations
  std::vector<float> h_, c_;  // [B][H] running state
};

}  // namespace etude::nn
