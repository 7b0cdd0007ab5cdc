// The non-recurrent layers as explicit forward/backward pairs over caller-owned buffers
// (llm.c style), templated on Real so the same code runs in float (training) and double
// (finite-difference gradient checks). Rows are [N][F] row-major; N = time * batch.
#pragma once
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "nn/model_spec.hpp"
#include "nn/rng.hpp"

namespace etude::nn {

// Loops over fewer elements than this stay on one thread (a parallel region costs microseconds).
inline constexpr int64_t kParallelMin = 1 << 15;

// C[M][N] = alpha * op(A) op(B) + beta * C, row-major, through OpenBLAS. When OpenBLAS runs
// single-threaded (set_compute_threads does that) a large product is split by rows of C over
// the OpenMP team that oneDNN also uses, so one thread pool serves the whole step.
template <class Real>
void gemm(bool ta, bool tb, int M, int N, int K, Real alpha, const Real* A, int lda, const Real* B,
          int ldb, Real beta, Real* C, int ldc) {
  auto call = [&](int m0, int m1) {
    const auto a = ta ? CblasTrans : CblasNoTrans, b = tb ? CblasTrans : CblasNoTrans;
    const Real* a0 = ta ? A + m0 : A + int64_t{m0} * lda;
    if constexpr (sizeof(Real) == 4)
      cblas_sgemm(CblasRowMajor, a, b, m1 - m0, N, K, alpha, a0, lda, B, ldb, beta, C + int64_t{m0} * ldc, ldc);
    else
      cblas_dgemm(CblasRowMajor, a, b, m1 - m0, N, K, alpha, a0, lda, B, ldb, beta, C + int64_t{m0} * ldc, ldc);
  };
  if (int64_t{M} * N * K < (int64_t{1} << 22) || M < 64 || openblas_get_num_threads() != 1 ||
      omp_get_max_threads() == 1 || omp_in_parallel()) {
    call(0, M);
    return;
  }
#pragma omp parallel
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int m0 = int(int64_t{M} * t / nt) / 16 * 16, m1 = t + 1 == nt ? M : int(int64_t{M} * (t + 1) / nt) / 16 * 16;
    if (m1 > m0) call(m0, m1);
  }
}

// Embedding: y[n] = table[tok[n]] (tokens already checked to lie in [0, vocab)).
template <class Real>
void embedding_forward(const Real* table, int dim, const int32_t* tok, int n, Real* y) {
  for (int i = 0; i < n; ++i) std::copy_n(table + int64_t{tok[i]} * dim, dim, y + int64_t{i} * dim);
}
// Overwrites dtable [vocab][dim]: row v is the sum of dy over the tokens equal to v, in token order
// (rows of unseen tokens get zero).
template <class Real>
void embedding_backward(Real* dtable, int vocab, int dim, const int32_t* tok, int n, const Real* dy) {
  std::fill_n(dtable, int64_t{vocab} * dim, Real(0));
  for (int i = 0; i < n; ++i) {
    Real* row = dtable + int64_t{tok[i]} * dim;
    const Real* g = dy + int64_t{i} * dim;
    for (int k = 0; k < dim; ++k) row[k] += g[k];
  }
}

// Style input: y[n] += table[style[n]], the style's learned vector added to the token's embedding
// (styles already checked to lie in [0, styles)).
template <class Real>
void style_forward(const Real* table, int dim, const int32_t* style, int n, Real* y) {
  for (int i = 0; i < n; ++i) {
    const Real* row = table + int64_t{style[i]} * dim;
    Real* out = y + int64_t{i} * dim;
    for (int k = 0; k < dim; ++k) out[k] += row[k];
  }
}
// Overwrites dtable [styles][dim]: the same gradient the embedding gets, over the style rows.
template <class Real>
void style_backward(Real* dtable, int styles, int dim, const int32_t* style, int n, const Real* dy) {
  embedding_backward(dtable, styles, dim, style, n, dy);
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

// An activation and its slope at the output y = act(v) (relu: y > 0; tanh: 1 - y^2).
template <class Real>
Real activate(Real v, Activation act) {
  return act == Activation::relu ? std::max(v, Real(0)) : act == Activation::tanh ? std::tanh(v) : v;
}
template <class Real>
Real activation_slope(Real y, Activation act) {
  return act == Activation::relu ? Real(y > 0) : act == Activation::tanh ? Real(1) - y * y : Real(1);
}

// Activation layer: y = act(x) elementwise, no parameters; backward writes dx = dy * act'(y).
template <class Real>
void activation_forward(const Real* x, int64_t n, Activation act, Real* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = activate(x[i], act);
}
template <class Real>
void activation_backward(const Real* y, const Real* dy, int64_t n, Activation act, Real* dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * activation_slope(y[i], act);
}

// Dense: y[N][out] = act(x[N][in] W[out][in]^T + b[out]) (PyTorch's nn.Linear layout).
template <class Real>
void dense_forward(const Real* x, int n, int in, const Real* w, const Real* b, int out, Activation act, Real* y) {
  gemm<Real>(false, true, n, out, in, Real(1), x, in, w, in, Real(0), y, out);
#pragma omp parallel for schedule(static) if (int64_t{n} * out > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    Real* row = y + i * out;
    for (int k = 0; k < out; ++k) row[k] = activate(row[k] + b[k], act);
  }
}
// dy is modified in place (turned into the pre-activation gradient). dx may be nullptr.
// Overwrites dw and db.
template <class Real>
void dense_backward(const Real* x, int n, int in, const Real* w, int out, Activation act, const Real* y, Real* dy,
                    Real* dx, Real* dw, Real* db) {
  if (act != Activation::none) {
#pragma omp parallel for schedule(static) if (int64_t{n} * out > kParallelMin)
    for (int64_t i = 0; i < int64_t{n} * out; ++i)
      dy[i] *= activation_slope(y[i], act);
  }
  gemm<Real>(true, false, out, in, n, Real(1), dy, out, x, in, Real(0), dw, in);
  std::fill_n(db, out, Real(0));
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < out; ++k) db[k] += dy[i * out + k];
  if (dx) gemm<Real>(false, false, n, in, out, Real(1), dy, out, w, in, Real(0), dx, in);
}

// Inverted dropout: mask holds 0 or 1/(1-rate); training only (inference is the identity). The
// mask of element i comes from a counter-based hash of (one draw of rng, i), so it can be filled
// in parallel and is the same in float and double.
template <class Real>
void dropout_forward(const Real* x, int64_t n, float rate, Rng& rng, Real* mask, Real* y) {
  const Real keep = Real(1) / (Real(1) - Real(rate));
  const uint64_t base = rng.next();
  const uint64_t threshold = static_cast<uint64_t>(double(rate) * 0x1.0p53);
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    mask[i] = (Rng::hash(base + uint64_t(i)) >> 11) < threshold ? Real(0) : keep;
    y[i] = x[i] * mask[i];
  }
}
// The masks of a shard of a larger batch: these rows are time-major [rows / batch][batch], columns
// offset .. offset + batch of a batch of `global` columns, and each element takes the mask that
// element of the whole batch would get (ranks that split a batch drop what one process would).
template <class Real>
void dropout_forward_shard(const Real* x, int rows, int features, int batch, int offset, int global, float rate,
                           Rng& rng, Real* mask, Real* y) {
  const Real keep = Real(1) / (Real(1) - Real(rate));
  const uint64_t base = rng.next();
  const uint64_t threshold = static_cast<uint64_t>(double(rate) * 0x1.0p53);
#pragma omp parallel for schedule(static) if (int64_t(rows) * features > kParallelMin)
  for (int r = 0; r < rows; ++r) {
    const uint64_t g = (uint64_t(r / batch) * uint64_t(global) + uint64_t(offset + r % batch)) * uint64_t(features);
    for (int f = 0; f < features; ++f) {
      const size_t i = size_t(r) * size_t(features) + size_t(f);
      mask[i] = (Rng::hash(base + g + uint64_t(f)) >> 11) < threshold ? Real(0) : keep;
      y[i] = x[i] * mask[i];
    }
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
  // Features in blocks of 16 so each pass over the rows reads whole cache lines.
#pragma omp parallel for schedule(static) if (int64_t{n} * f > kParallelMin)
  for (int k0 = 0; k0 < f; k0 += 16) {
    const int k1 = std::min(f, k0 + 16);
    double mean[16] = {}, var[16] = {};
    for (int64_t i = 0; i < n; ++i)
      for (int k = k0; k < k1; ++k) mean[k - k0] += x[i * f + k];
    for (int k = k0; k < k1; ++k) mean[k - k0] /= n;
    for (int64_t i = 0; i < n; ++i)
      for (int k = k0; k < k1; ++k) {
        const double d = x[i * f + k] - mean[k - k0];
        var[k - k0] += d * d;
      }
    for (int k = k0; k < k1; ++k) {
      const double v = var[k - k0] / n, m = mean[k - k0];
      invstd[k] = static_cast<Real>(1.0 / std::sqrt(v + eps));
      const double unbiased = n > 1 ? v * n / (n - 1) : v;
      running_mean[k] = static_cast<Real>((1 - momentum) * running_mean[k] + momentum * m);
      running_var[k] = static_cast<Real>((1 - momentum) * running_var[k] + momentum * unbiased);
    }
    for (int64_t i = 0; i < n; ++i)
      for (int k = k0; k < k1; ++k) {
        const Real h = static_cast<Real>(x[i * f + k] - mean[k - k0]) * invstd[k];
        xhat[i * f + k] = h;
        y[i * f + k] = gamma[k] * h + beta[k];
      }
  }
}
template <class Real>
void batchnorm_forward_eval(const Real* x, int64_t n, int f, const Real* gamma, const Real* beta, float eps,
                            const Real* running_mean, const Real* running_var, Real* y) {
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < f; ++k)
      y[i * f + k] = gamma[k] * (x[i * f + k] - running_mean[k]) / std::sqrt(running_var[k] + Real(eps)) + beta[k];
}
// Overwrites dgamma, dbeta and dx (dx may alias dy).
template <class Real>
void batchnorm_backward(const Real* dy, const Real* xhat, const Real* invstd, const Real* gamma, int n, int f,
                        Real* dx, Real* dgamma, Real* dbeta) {
#pragma omp parallel for schedule(static) if (int64_t{n} * f > kParallelMin)
  for (int k0 = 0; k0 < f; k0 += 16) {
    const int k1 = std::min(f, k0 + 16);
    double sum_dy[16] = {}, sum_dy_xhat[16] = {};
    for (int64_t i = 0; i < n; ++i)
      for (int k = k0; k < k1; ++k) {
        sum_dy[k - k0] += dy[i * f + k];
        sum_dy_xhat[k - k0] += dy[i * f + k] * xhat[i * f + k];
      }
    double scale[16];
    for (int k = k0; k < k1; ++k) {
      dgamma[k] = static_cast<Real>(sum_dy_xhat[k - k0]);
      dbeta[k] = static_cast<Real>(sum_dy[k - k0]);
      scale[k - k0] = gamma[k] * invstd[k] / n;
    }
    for (int64_t i = 0; i < n; ++i)
      for (int k = k0; k < k1; ++k)
        dx[i * f + k] = static_cast<Real>(scale[k - k0] *
                                          (n * dy[i * f + k] - sum_dy[k - k0] - xhat[i * f + k] * sum_dy_xhat[k - k0]));
  }
}

// Softmax cross-entropy over the rows whose target is >= 0 (others get zero gradient); the loss is
// the mean over counted rows (PyTorch's CrossEntropyLoss). Writes dlogits; returns the mean loss.
template <class Real>
double softmax_xent(const Real* logits, const int32_t* targets, int n, int v, Real* dlogits) {
  int counted = 0;
  for (int i = 0; i < n; ++i) counted += targets[i] >= 0;
  const Real inv = Real(1) / Real(counted ? counted : 1);
  double loss = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss) if (int64_t{n} * v > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const Real* z = logits + i * v;
    Real* d = dlogits + i * v;
    if (targets[i] < 0) {
      std::fill_n(d, v, Real(0));
      continue;
    }
    const Real mx = *std::max_element(z, z + v);
    Real sum = 0;
    for (int k = 0; k < v; ++k) sum += d[k] = std::exp(z[k] - mx);  // d holds exp until scaled
    const Real scale = inv / sum;
    for (int k = 0; k < v; ++k) d[k] *= scale;
    d[targets[i]] -= inv;
    loss += std::log(static_cast<double>(sum)) + mx - z[targets[i]];
  }
  return counted ? loss / counted : 0.0;
}

}  // namespace etude::nn
