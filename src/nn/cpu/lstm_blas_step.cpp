// The inference-only LSTM path on OpenBLAS (see lstm_blas_step.hpp): weights are read in
// PyTorch's layout as they are (C = A * W^T), so nothing is reordered or allocated per call.
#include "nn/cpu/lstm_blas_step.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>

namespace etude::nn {

LstmBlasStep::LstmBlasStep(const LstmDims& d)
    : d_(d), gates_(size_t(d.T) * d.B * 4 * d.H), h_(size_t(d.B) * d.H), c_(size_t(d.B) * d.H) {}

// rows x 4H += A[rows][K] * W[4H][K]^T
static void add_projection(int rows, int K, int G, const float* A, const float* W, float* C) {
  if (rows == 1)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, G, K, 1.0f, W, K, A, 1, 1.0f, C, 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, G, K, 1.0f, A, K, W, K, 1.0f, C, G);
}

static float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

void LstmBlasStep::forward(const LstmParams& p, const float* x, const float* h0, const float* c0,
                           float* y, float* hT, float* cT) {
  const int B = d_.B, H = d_.H, G = 4 * d_.H;
  const size_t BH = size_t(B) * H;
  for (size_t row = 0; row < size_t(d_.T) * B; ++row)
    for (int r = 0; r < G; ++r) gates_[row * G + r] = p.b_ih[r] + p.b_hh[r];
  add_projection(d_.T * B, d_.I, G, x, p.w_ih, gates_.data());
  if (h0) std::copy(h0, h0 + BH, h_.begin()); else std::fill(h_.begin(), h_.end(), 0.0f);
  if (c0) std::copy(c0, c0 + BH, c_.begin()); else std::fill(c_.begin(), c_.end(), 0.0f);
  for (int t = 0; t < d_.T; ++t) {
    float* gt = &gates_[size_t(t) * B * G];
    add_projection(B, H, G, h_.data(), p.w_hh, gt);
    for (int b = 0; b < B; ++b) {
      const float* a = gt + size_t(b) * G;
      float* h = &h_[size_t(b) * H];
      float* c = &c_[size_t(b) * H];
      for (int j = 0; j < H; ++j) {
        c[j] = sigmoid(a[H + j]) * c[j] + sigmoid(a[j]) * std::tanh(a[2 * H + j]);
        h[j] = sigmoid(a[3 * H + j]) * std::tanh(c[j]);
      }
    }
    if (y) std::copy(h_.begin(), h_.end(), y + size_t(t) * BH);
  }
  if (hT) std::copy(h_.begin(), h_.end(), hT);
  if (cT) std::copy(c_.begin(), c_.end(), cT);
}

}  // namespace etude::nn
