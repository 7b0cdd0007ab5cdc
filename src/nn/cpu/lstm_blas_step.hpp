// The inference-only LSTM path for small calls: B = 1 runs a fused matrix-vector step (OpenMP);
// B > 1 one OpenBLAS GEMM for the input projection of all steps, then one GEMM per step.
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
  std::vector<float> gates_;  // [T][B][4H] pre-activations (B > 1)
  std::vector<float> h_, c_;  // [B][H] running state
  std::vector<float> h2_, c2_, zeros_;  // B = 1: the other half of the state double buffer
};

}  // namespace etude::nn
