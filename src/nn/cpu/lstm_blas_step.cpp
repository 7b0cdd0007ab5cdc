// The inference-only LSTM path for small calls (see lstm_blas_step.hpp): weights are read in
// PyTorch's layout as they are, so nothing is reordered or allocated per call.
#include "nn/cpu/lstm_blas_step.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "nn/cpu/vec_math.hpp"

namespace etude::nn {

LstmBlasStep::LstmBlasStep(const LstmDims& d)
    : d_(d),
      gates_(d.B > 1 && d.T > 1 ? size_t(d.T) * d.B * 4 * d.H : 0),
      h_(size_t(d.B) * d.H),
      c_(size_t(d.B) * d.H),
      h2_(size_t(d.B) * d.H),
      c2_(size_t(d.B) * d.H),
      zeros_(size_t(d.B) * d.H) {}

// C[rows][4H] += A[rows][K] * W[4H][K]^T
static void add_projection(int rows, int K, int G, const float* A, const float* W, float* C) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, G, K, 1.0f, A, K, W, K, 1.0f, C, G);
}

static float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// One step of B streams over weights wi [4H][I], wh [4H][H], the
// threads sharing blocks of hidden units: each unit's four gate rows are read in one pass for
// both matrix-vector products, then the block's cell updates run vectorized; one barrier per
// step. Each stream's arithmetic does not depend on B. h and c are read from hp/cp [B][H] and
// written to hn/cn.
static void fused_step(const float* wi, const float* wh, const LstmParams& p, int I, int H, int B, const float* x,
                       const float* hp, const float* cp, float* hn, float* cn) {
  constexpr int kBlock = 16;
  const size_t si = size_t(H) * I, sh = size_t(H) * H;  // from one gate's rows to the next
#pragma omp parallel for schedule(static) if (size_t(H) * (I + H) >= 32768)
  for (int j0 = 0; j0 < H; j0 += kBlock) {
    const int n = std::min(kBlock, H - j0);
    for (int b = 0; b < B; ++b) {
      const float *xb = x + size_t(b) * I, *hb = hp + size_t(b) * H;
      float z[4][kBlock];  // gate pre-activations i, f, g, o of the block's units
      for (int u = 0; u < n; ++u) {
        const int j = j0 + u;
        const float *wi0 = wi + size_t(j) * I, *wh0 = wh + size_t(j) * H;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
        for (int k = 0; k < I; ++k) {
          s0 += wi0[k] * xb[k];
          s1 += wi0[si + k] * xb[k];
          s2 += wi0[2 * si + k] * xb[k];
          s3 += wi0[3 * si + k] * xb[k];
        }
#pragma omp simd reduction(+ : s0, s1, s2, s3)
        for (int k = 0; k < H; ++k) {
          s0 += wh0[k] * hb[k];
          s1 += wh0[sh + k] * hb[k];
          s2 += wh0[2 * sh + k] * hb[k];
          s3 += wh0[3 * sh + k] * hb[k];
        }
        z[0][u] = p.b_ih[j] + p.b_hh[j] + s0;
        z[1][u] = p.b_ih[H + j] + p.b_hh[H + j] + s1;
        z[2][u] = p.b_ih[2 * H + j] + p.b_hh[2 * H + j] + s2;
        z[3][u] = p.b_ih[3 * H + j] + p.b_hh[3 * H + j] + s3;
      }
      const size_t o = size_t(b) * H + j0;
      lstm_cell(&z[0][0], kBlock, n, cp + o, cn + o, hn + o);
    }
  }
}

void LstmBlasStep::forward_fused(const LstmParams& p, const float* x, const float* h0,
                                 const float* c0, float* y, float* hT, float* cT) {
  const int B = d_.B, H = d_.H, I = d_.I;
  const size_t BH = size_t(B) * H;
  const float* hp = h0 ? h0 : zeros_.data();
  const float* cp = c0 ? c0 : zeros_.data();
  for (int t = 0; t < d_.T; ++t) {  // h_/c_ and h2_/c2_: the state's double buffer
    float* hn = t % 2 ? h_.data() : h2_.data();
    float* cn = t % 2 ? c_.data() : c2_.data();
    fused_step(p.w_ih, p.w_hh, p, I, H, B, x + size_t(t) * B * I, hp, cp, hn, cn);
    if (y) std::copy(hn, hn + BH, y + size_t(t) * BH);
    hp = hn, cp = cn;
  }
  if (hT) std::copy(hp, hp + BH, hT);
  if (cT) std::copy(cp, cp + BH, cT);
}

void LstmBlasStep::forward(const LstmParams& p, const float* x, const float* h0, const float* c0,
                           float* y, float* hT, float* cT) {
  const int B = d_.B, H = d_.H, G = 4 * d_.H;
  const size_t BH = size_t(B) * H;
  // One step of any number of streams, or one stream: fused, each stream alone.
  if (B == 1 || d_.T == 1) return forward_fused(p, x, h0, c0, y, hT, cT);
  // A few steps of several streams: the input projection of all steps in one GEMM, then per step.
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
