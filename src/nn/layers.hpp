// The non-recurrent layers as explicit forward/backward pairs over caller-owned buffers
// (llm.c style), templated on Real so the same code runs in float (training) and double
// (finite-difference gradient checks). Rows are [N][F] row-major; N = time * batch.
#pragma once
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "nn/rng.hpp"

namespace etude::nn {

// C[M][N] = alpha * op(A) op(B) + beta * C, row-major, through OpenBLAS.
template <class Real>
void gemm(bool ta, bool tb, int M, int N, int K, Real alpha, const Real* A, int lda, const Real* B,
          int ldb, Real beta, Real* C, int ldc) {
  const auto a = ta ? CblasTrans : CblasNoTrans, b = tb ? CblasTrans : CblasNoTrans;
  if constexpr (sizeof(Real) == 4)
    cblas_sgemm(CblasRowMajor, a, b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    cblas_dgemm(CblasRowMajor, a, b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Embedding: y[n] = table[tok[n]] (tokens already checked to lie in [0, vocab)).
template <class Real>
void embedding_forward(const Real* table, int dim, const int32_t* tok, int n, Real* y) {
  for (int i = 0; i < n; ++i) std::copy_n(table + int64_t{tok[i]} * dim, dim, y + int64_t{i} * dim);
}
// Accumulates into dtable (the caller zeroes it first).
template <class Real>
void embedding_backward(Real* dtable, int dim, const int32_t* tok, int n, const Real* dy) {
  for (int i = 0; i < n; ++i) {
    Real* row = dtable + int64_t{tok[i]} * dim;
    const Real* g = dy + int64_t{i} * dim;
    for (int k = 0; k < dim; ++k) row[k] += g[k];
  }
}

// Scalar input: one feature, token / vocab. One-hot input: vocab features.
template <class Real>
void scalar_forward(const int32_t* tok, int n, int vocab, Real* y) {
  for (int i = 0; i < n; ++i) y[i] = static_cast<Real>(static_cast<float>(tok[i]) / static_cast<float>(vocab));
}
template <class Real>
void onehot_forward(const int32_t* tok, int n, int vocab, Real* y) {
  std::fill_n(y, int64_t{n} * vocab, Real(0));
  for (int i = 0; i < n; ++i) y[int64_t{i} * vocab + tok[i]] = Real(1);
}

// Dense: y[N][out] = act(x[N][in] W[out][in]^T + b[out]) (PyTorch's nn.Linear layout).
template <class Real>
void dense_forward(const Real* x, int n, int in, const Real* w, const Real* b, int out, int act, Real* y) {
  gemm<Real>(false, true, n, out, in, Real(1), x, in, w, in, Real(0), y, out);
  for (int64_t i = 0; i < n; ++i) {
    Real* row = y + i * out;
    for (int k = 0; k < out; ++k) {
      const Real v = row[k] + b[k];
      row[k] = act == 1 ? std::max(v, Real(0)) : act == 2 ? std::tanh(v) : v;
    }
  }
}
// dy is modified in place (turned into the pre-activation gradient). dx may be nullptr.
// Overwrites dw and db.
template <class Real>
void dense_backward(const Real* x, int n, int in, const Real* w, int out, int act, const Real* y, Real* dy,
                    Real* dx, Real* dw, Real* db) {
  if (act != 0) {
    for (int64_t i = 0; i < int64_t{n} * out; ++i)
      dy[i] *= act == 1 ? Real(y[i] > 0) : Real(1) - y[i] * y[i];
  }
  gemm<Real>(true, false, out, in, n, Real(1), dy, out, x, in, Real(0), dw, in);
  std::fill_n(db, out, Real(0));
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < out; ++k) db[k] += dy[i * out + k];
  if (dx) gemm<Real>(false, false, n, in, out, Real(1), dy, out, w, in, Real(0), dx, in);
}

// Inverted dropout: mask holds 0 or 1/(1-rate); training only (inference is the identity).
template <class Real>
void dropout_forward(const Real* x, int64_t n, float rate, Rng& rng, Real* mask, Real* y) {
  const Real keep = Real(1) / (Real(1) - Real(rate));
  for (int64_t i = 0; i < n; ++i) {
    mask[i] = rng.uniform() < rate ? Real(0) : keep;
    y[i] = x[i] * mask[i];
  }
}
template <class Real>
void dropout_backward(const Real* dy, const Real* mask, int64_t n, Real* dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * mask[i];
}

// BatchNorm over features (PyTorch's BatchNorm1d on [N][F]): training uses the batch's mean and
// biased variance, and moves the running mean / unbiased variance by momentum; xhat and invstd
// are kept for backward.
template <class Real>
void batchnorm_forward_train(const Real* x, int n, int f, const Real* gamma, const Real* beta, float momentum,
                             float eps, Real* running_mean, Real* running_var, Real* xhat, Real* invstd,
                             Real* y) {
  for (int k = 0; k < f; ++k) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[i * f + k];
    mean /= n;
    for (int64_t i = 0; i < n; ++i) var += (x[i * f + k] - mean) * (x[i * f + k] - mean);
    var /= n;
    const Real is = static_cast<Real>(1.0 / std::sqrt(var + eps));
    invstd[k] = is;
    for (int64_t i = 0; i < n; ++i) {
      const Real h = static_cast<Real>(x[i * f + k] - mean) * is;
      xhat[i * f + k] = h;
      y[i * f + k] = gamma[k] * h + beta[k];
    }
    const double unbiased = n > 1 ? var * n / (n - 1) : var;
    running_mean[k] = static_cast<Real>((1 - momentum) * running_mean[k] + momentum * mean);
    running_var[k] = static_cast<Real>((1 - momentum) * running_var[k] + momentum * unbiased);
  }
}
template <class Real>
void batchnorm_forward_eval(const Real* x, int64_t n, int f, const Real* gamma, const Real* beta, float eps,
                            const Real* running_mean, const Real* running_var, Real* y) {
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < f; ++k)
      y[i * f + k] = gamma[k] * (x[i * f + k] - running_mean[k]) / std::sqrt(running_var[k] + Real(eps)) + beta[k];
}
// Overwrites dgamma, dbeta and dx.
template <class Real>
void batchnorm_backward(const Real* dy, const Real* xhat, const Real* invstd, const Real* gamma, int n, int f,
                        Real* dx, Real* dgamma, Real* dbeta) {
  for (int k = 0; k < f; ++k) {
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t i = 0; i < n; ++i) {
      sum_dy += dy[i * f + k];
      sum_dy_xhat += dy[i * f + k] * xhat[i * f + k];
    }
    dgamma[k] = static_cast<Real>(sum_dy_xhat);
    dbeta[k] = static_cast<Real>(sum_dy);
    const double scale = gamma[k] * invstd[k] / n;
    for (int64_t i = 0; i < n; ++i)
      dx[i * f + k] = static_cast<Real>(scale * (n * dy[i * f + k] - sum_dy - xhat[i * f + k] * sum_dy_xhat));
  }
}

// Softmax cross-entropy over the rows whose target is >= 0 (others get zero gradient); the loss is
// the mean over counted rows (PyTorch's CrossEntropyLoss). Writes dlogits; returns the mean loss.
template <class Real>
double softmax_xent(const Real* logits, const int32_t* targets, int n, int v, Real* dlogits) {
  int counted = 0;
  for (int i = 0; i < n; ++i) counted += targets[i] >= 0;
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {
    const Real* z = logits + i * v;
    Real* d = dlogits + i * v;
    if (targets[i] < 0) {
      std::fill_n(d, v, Real(0));
      continue;
    }
    const Real mx = *std::max_element(z, z + v);
    double sum = 0;
    for (int k = 0; k < v; ++k) sum += std::exp(static_cast<double>(z[k] - mx));
    const double log_sum = std::log(sum) + mx;
    loss += log_sum - z[targets[i]];
    for (int k = 0; k < v; ++k) d[k] = static_cast<Real>(std::exp(z[k] - log_sum) / counted);
    d[targets[i]] -= static_cast<Real>(1.0 / counted);
  }
  return counted ? loss / counted : 0.0;
}

}  // namespace etude::nn
