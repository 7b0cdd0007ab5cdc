// The CUDA plugin's own kernels; see kernels.hpp. Plain grid-stride loops and shared-memory tree
// reductions (no atomics), written to follow nn/layers.hpp and nn/optimizer.cpp operation by operation.
#include "nn/cuda/common.hpp"
#include "nn/cuda/kernels.hpp"

#include <algorithm>

namespace etude::nn::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kCols = 32, kColRows = 8;  // column kernels: 32 features x 8 row lanes per block

unsigned blocks(int64_t n) { return unsigned(std::clamp<int64_t>((n + kThreads - 1) / kThreads, 1, 1 << 16)); }
void launched(const char* kernel) { check(cudaGetLastError(), kernel); }

#define GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(blockDim.x) * gridDim.x)

// The block's total (or maximum), returned to every thread; the tree's order is fixed.
template <class T, bool kMax = false>
__device__ T block_reduce(T v, T* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) sh[threadIdx.x] = kMax ? max(sh[threadIdx.x], sh[threadIdx.x + w]) : sh[threadIdx.x] + sh[threadIdx.x + w];
    __syncthreads();
  }
  const T t = sh[0];
  __syncthreads();
  return t;
}

// Column kernels: thread (x, y) of a kCols x kColRows block sums rows y, y + kColRows, ... of
// column blockIdx.x * kCols + x; column_total adds the kColRows partial sums in order.
__device__ double column_total(double v, double (*sh)[kCols + 1]) {
  sh[threadIdx.y][threadIdx.x] = v;
  __syncthreads();
  double t = 0;
  for (int j = 0; j < kColRows; ++j) t += sh[j][threadIdx.x];
  __syncthreads();
  return t;
}
dim3 column_grid(int f) { return dim3(unsigned((f + kCols - 1) / kCols)); }
const dim3 kColumnBlock(kCols, kColRows);

// nn::Rng::hash (splitmix64's finaliser), the dropout mask's counter-based generator.
__device__ uint64_t rng_hash(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

__global__ void embedding_forward_k(const float* table, int dim, const int32_t* tok, int n, float* y) {
  GRID_STRIDE(i, int64_t(n) * dim) y[i] = table[int64_t(tok[i / dim]) * dim + i % dim];
}
// One block per vocabulary row: its gradient sums the matching tokens' rows in token order, as the
// CPU loop does, so no atomics and the same float sum.
__global__ void embedding_backward_k(float* dtable, int dim, const int32_t* tok, int n, const float* dy) {
  const int v = blockIdx.x;
  for (int k = threadIdx.x; k < dim; k += blockDim.x) {
    float acc = 0;
    for (int i = 0; i < n; ++i)
      if (tok[i] == v) acc += dy[int64_t(i) * dim + k];
    dtable[int64_t(v) * dim + k] = acc;
  }
}
__global__ void style_forward_k(const float* table, int dim, const int32_t* style, int n, float* y) {
  GRID_STRIDE(i, int64_t(n) * dim) y[i] += table[int64_t(style[i / dim]) * dim + i % dim];
}
__global__ void add_k(float* y, const float* x, int64_t n) {
  GRID_STRIDE(i, n) y[i] += x[i];
}
__global__ void scalar_forward_k(const int32_t* tok, int n, int vocab, float* y) {
  GRID_STRIDE(i, n) y[i] = float(tok[i]) / float(vocab);
}
__global__ void onehot_forward_k(const int32_t* tok, int n, int vocab, float* y) {
  GRID_STRIDE(i, int64_t(n) * vocab) y[i] = tok[i / vocab] == int(i % vocab) ? 1.0f : 0.0f;
}

__global__ void bias_activation_k(float* y, const float* b, int64_t count, int out, int act) {
  GRID_STRIDE(i, count) {
    const float v = y[i] + b[i % out];
    y[i] = act == 1 ? fmaxf(v, 0.0f) : act == 2 ? tanhf(v) : v;
  }
}
__global__ void activation_k(const float* x, float* y, int64_t count, int act) {
  GRID_STRIDE(i, count) y[i] = act == 1 ? fmaxf(x[i], 0.0f) : act == 2 ? tanhf(x[i]) : x[i];
}
__global__ void activation_backward_k(float* dy, const float* y, int64_t count, int act) {
  GRID_STRIDE(i, count) dy[i] *= act == 1 ? float(y[i] > 0) : 1.0f - y[i] * y[i];
}
__global__ void column_sums_k(const float* x, int n, int f, float* out) {
  __shared__ double sh[kColRows][kCols + 1];
  const int k = blockIdx.x * kCols + threadIdx.x;
  double s = 0;
  if (k < f)
    for (int r = threadIdx.y; r < n; r += kColRows) s += x[int64_t(r) * f + k];
  s = column_total(s, sh);
  if (k < f && threadIdx.y == 0) out[k] = float(s);
}

__global__ void dropout_k(const float* x, int64_t n, uint64_t threshold, float keep, uint64_t base, float* y) {
  GRID_STRIDE(i, n) y[i] = x[i] * ((rng_hash(base + uint64_t(i)) >> 11) < threshold ? 0.0f : keep);
}

__global__ void batchnorm_train_k(const float* x, int n, int f, const float* gamma, const float* beta,
                                  float momentum, float eps, float* running_mean, float* running_var, float* xhat,
                                  float* invstd, float* y) {
  __shared__ double sh[kColRows][kCols + 1];
  const int k = blockIdx.x * kCols + threadIdx.x;
  const bool valid = k < f;
  double s = 0;
  if (valid)
    for (int r = threadIdx.y; r < n; r += kColRows) s += x[int64_t(r) * f + k];
  const double mean = column_total(s, sh) / n;
  double q = 0;
  if (valid)
    for (int r = threadIdx.y; r < n; r += kColRows) {
      const double d = x[int64_t(r) * f + k] - mean;
      q += d * d;
    }
  const double var = column_total(q, sh) / n;
  if (!valid) return;
  const float inv = float(1.0 / sqrt(var + eps));
  if (threadIdx.y == 0) {
    invstd[k] = inv;
    const double unbiased = n > 1 ? var * n / (n - 1) : var;
    running_mean[k] = float((1 - momentum) * running_mean[k] + momentum * mean);
    running_var[k] = float((1 - momentum) * running_var[k] + momentum * unbiased);
  }
  for (int r = threadIdx.y; r < n; r += kColRows) {
    const int64_t i = int64_t(r) * f + k;
    const float h = float(x[i] - mean) * inv;
    xhat[i] = h;
    y[i] = gamma[k] * h + beta[k];
  }
}
__global__ void batchnorm_eval_k(const float* x, int64_t count, int f, const float* gamma, const float* beta,
                                 float eps, const float* running_mean, const float* running_var, float* y) {
  GRID_STRIDE(i, count) {
    const int k = int(i % f);
    y[i] = gamma[k] * (x[i] - running_mean[k]) / sqrtf(running_var[k] + eps) + beta[k];
  }
}
// Each block owns its columns: all of them are read (the sums) before any is written, so dx may alias dy.
__global__ void batchnorm_backward_k(const float* dy, const float* xhat, const float* invstd, const float* gamma,
                                     int n, int f, float* dx, float* dgamma, float* dbeta) {
  __shared__ double sh[kColRows][kCols + 1];
  const int k = blockIdx.x * kCols + threadIdx.x;
  const bool valid = k < f;
  double s = 0, sx = 0;
  if (valid)
    for (int r = threadIdx.y; r < n; r += kColRows) {
      const int64_t i = int64_t(r) * f + k;
      s += dy[i];
      sx += dy[i] * xhat[i];
    }
  const double sum_dy = column_total(s, sh), sum_dy_xhat = column_total(sx, sh);
  if (!valid) return;
  if (threadIdx.y == 0) {
    dgamma[k] = float(sum_dy_xhat);
    dbeta[k] = float(sum_dy);
  }
  const double scale = gamma[k] * invstd[k] / n;  // in float, as the CPU's Real arithmetic
  for (int r = threadIdx.y; r < n; r += kColRows) {
    const int64_t i = int64_t(r) * f + k;
    dx[i] = float(scale * (n * dy[i] - sum_dy - xhat[i] * sum_dy_xhat));
  }
}

__global__ void softmax_xent_k(const float* logits, const int32_t* targets, int v, float inv, float grad_scale,
                               float* dlogits, double* row_loss) {
  __shared__ float sh[kThreads];
  const int64_t row = blockIdx.x;
  const float* z = logits + row * v;
  float* d = dlogits + row * v;
  const int t = targets[row];
  if (t < 0) {  // the whole block takes this branch
    for (int k = threadIdx.x; k < v; k += kThreads) d[k] = 0;
    if (threadIdx.x == 0) row_loss[row] = 0;
    return;
  }
  float mx = -INFINITY;
  for (int k = threadIdx.x; k < v; k += kThreads) mx = fmaxf(mx, z[k]);
  mx = block_reduce<float, true>(mx, sh);
  float s = 0;
  for (int k = threadIdx.x; k < v; k += kThreads) s += d[k] = expf(z[k] - mx);  // d holds exp until scaled
  s = block_reduce<float>(s, sh);
  const float scale = inv * grad_scale / s;
  for (int k = threadIdx.x; k < v; k += kThreads) d[k] *= scale;
  __syncthreads();
  if (threadIdx.x == 0) {
    d[t] -= inv * grad_scale;
    row_loss[row] = log(double(s)) + mx - z[t];
  }
}
__global__ void score_rows_k(const float* logits, const int32_t* targets, int v, double* row_loss,
                             double* row_right) {
  __shared__ float sh[kThreads];
  __shared__ int shi[kThreads];
  __shared__ double shd[kThreads];
  const int64_t row = blockIdx.x;
  const float* z = logits + row * v;
  const int t = targets[row];
  if (t < 0) {  // the whole block takes this branch
    if (threadIdx.x == 0) row_loss[row] = row_right[row] = 0;
    return;
  }
  float mx = -INFINITY;
  for (int k = threadIdx.x; k < v; k += kThreads) mx = fmaxf(mx, z[k]);
  mx = block_reduce<float, true>(mx, sh);
  int first = -v;  // -(index of the first maximum), so a max-reduction finds the smallest index
  for (int k = threadIdx.x; k < v; k += kThreads)
    if (z[k] == mx) first = max(first, -k);
  first = block_reduce<int, true>(first, shi);
  double s = 0;
  for (int k = threadIdx.x; k < v; k += kThreads) s += exp(double(z[k] - mx));
  s = block_reduce<double>(s, shd);
  if (threadIdx.x == 0) {
    row_loss[row] = log(s) + mx - z[t];
    row_right[row] = -first == t ? 1.0 : 0.0;
  }
}
__global__ void sum_k(const double* x, int n, double divisor, double* out) {
  __shared__ double sh[kThreads];
  double s = 0;
  for (int i = threadIdx.x; i < n; i += kThreads) s += x[i];
  s = block_reduce<double>(s, sh);
  if (threadIdx.x == 0) out[0] = s / divisor;
}
__global__ void sum_squares_k(const float* x, int64_t n, double* partials) {
  __shared__ double sh[kThreads];
  double s = 0;
  GRID_STRIDE(i, n) s += double(x[i]) * x[i];
  s = block_reduce<double>(s, sh);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}
__global__ void scale_k(float* x, int64_t n, float factor) {
  GRID_STRIDE(i, n) x[i] *= factor;
}

__global__ void adam_k(float* p, const float* g, float* m, float* v, int64_t n, AdamStep a) {
  GRID_STRIDE(i, n) {
    const float gi = a.weight_decay != 0 ? g[i] + a.weight_decay * p[i] : g[i];
    m[i] = m[i] * a.beta1 + (1 - a.beta1) * gi;
    v[i] = v[i] * a.beta2 + (1 - a.beta2) * gi * gi;
    const float denom = sqrtf(v[i]) / a.bc2_sqrt + a.eps;
    p[i] -= a.step_size * (m[i] / denom);
  }
}
__global__ void rmsprop_k(float* p, const float* g, float* v, int64_t n, float lr, float alpha, float eps, float wd) {
  GRID_STRIDE(i, n) {
    const float gi = wd != 0 ? g[i] + wd * p[i] : g[i];
    v[i] = v[i] * alpha + (1 - alpha) * gi * gi;
    p[i] -= lr * (gi / (sqrtf(v[i]) + eps));
  }
}
__global__ void sgd_k(float* p, const float* g, float* buf, int64_t n, float lr, float mom, float wd, bool first) {
  GRID_STRIDE(i, n) {
    const float gi = wd != 0 ? g[i] + wd * p[i] : g[i];
    buf[i] = first ? gi : buf[i] * mom + gi;
    p[i] -= lr * (mom != 0 ? buf[i] : gi);
  }
}

__global__ void to_half_k(const float* x, __half* y, int64_t n) {
  GRID_STRIDE(i, n) y[i] = __float2half_rn(x[i]);
}
__global__ void to_float_k(const __half* x, float* y, int64_t n) {
  GRID_STRIDE(i, n) y[i] = __half2float(x[i]);
}

}  // namespace

void embedding_forward(const float* table, int dim, const int32_t* tok, int n, float* y, cudaStream_t s) {
  embedding_forward_k<<<blocks(int64_t(n) * dim), kThreads, 0, s>>>(table, dim, tok, n, y);
  launched("embedding_forward");
}
void embedding_backward(float* dtable, int vocab, int dim, const int32_t* tok, int n, const float* dy,
                        cudaStream_t s) {
  embedding_backward_k<<<unsigned(vocab), std::min(dim, kThreads), 0, s>>>(dtable, dim, tok, n, dy);
  launched("embedding_backward");
}
void style_forward(const float* table, int dim, const int32_t* style, int n, float* y, cudaStream_t s) {
  style_forward_k<<<blocks(int64_t(n) * dim), kThreads, 0, s>>>(table, dim, style, n, y);
  launched("style_forward");
}
void add(float* y, const float* x, int64_t n, cudaStream_t s) {
  add_k<<<blocks(n), kThreads, 0, s>>>(y, x, n);
  launched("add");
}
void scalar_forward(const int32_t* tok, int n, int vocab, float* y, cudaStream_t s) {
  scalar_forward_k<<<blocks(n), kThreads, 0, s>>>(tok, n, vocab, y);
  launched("scalar_forward");
}
void onehot_forward(const int32_t* tok, int n, int vocab, float* y, cudaStream_t s) {
  onehot_forward_k<<<blocks(int64_t(n) * vocab), kThreads, 0, s>>>(tok, n, vocab, y);
  launched("onehot_forward");
}
void bias_activation(float* y, const float* b, int n, int out, int act, cudaStream_t s) {
  bias_activation_k<<<blocks(int64_t(n) * out), kThreads, 0, s>>>(y, b, int64_t(n) * out, out, act);
  launched("bias_activation");
}
void activation_forward(const float* x, int64_t count, int act, float* y, cudaStream_t s) {
  if (count == 0) return;
  activation_k<<<blocks(count), kThreads, 0, s>>>(x, y, count, act);
  launched("activation_forward");
}
void activation_backward(float* dy, const float* y, int64_t count, int act, cudaStream_t s) {
  if (act == 0) return;
  activation_backward_k<<<blocks(count), kThreads, 0, s>>>(dy, y, count, act);
  launched("activation_backward");
}
void column_sums(const float* x, int n, int f, float* out, cudaStream_t s) {
  column_sums_k<<<column_grid(f), kColumnBlock, 0, s>>>(x, n, f, out);
  launched("column_sums");
}

void dropout_forward(const float* x, int64_t n, float rate, uint64_t base, float* y, cudaStream_t s) {
  const uint64_t threshold = static_cast<uint64_t>(double(rate) * 0x1.0p53);
  dropout_k<<<blocks(n), kThreads, 0, s>>>(x, n, threshold, 1.0f / (1.0f - rate), base, y);
  launched("dropout_forward");
}
void dropout_backward(const float* dy, int64_t n, float rate, uint64_t base, float* dx, cudaStream_t s) {
  dropout_forward(dy, n, rate, base, dx, s);  // dx = dy * mask: the same product
}

void batchnorm_train(const float* x, int n, int f, const float* gamma, const float* beta, float momentum,
                     float eps, float* running_mean, float* running_var, float* xhat, float* invstd, float* y,
                     cudaStream_t s) {
  batchnorm_train_k<<<column_grid(f), kColumnBlock, 0, s>>>(x, n, f, gamma, beta, momentum, eps, running_mean,
                                                           running_var, xhat, invstd, y);
  launched("batchnorm_train");
}
void batchnorm_eval(const float* x, int n, int f, const float* gamma, const float* beta, float eps,
                    const float* running_mean, const float* running_var, float* y, cudaStream_t s) {
  batchnorm_eval_k<<<blocks(int64_t(n) * f), kThreads, 0, s>>>(x, int64_t(n) * f, f, gamma, beta, eps,
                                                                running_mean, running_var, y);
  launched("batchnorm_eval");
}
void batchnorm_backward(const float* dy, const float* xhat, const float* invstd, const float* gamma, int n, int f,
                        float* dx, float* dgamma, float* dbeta, cudaStream_t s) {
  batchnorm_backward_k<<<column_grid(f), kColumnBlock, 0, s>>>(dy, xhat, invstd, gamma, n, f, dx, dgamma, dbeta);
  launched("batchnorm_backward");
}

void softmax_xent(const float* logits, const int32_t* targets, int rows, int v, float inv, float grad_scale,
                  float* dlogits, double* row_loss, cudaStream_t s) {
  softmax_xent_k<<<unsigned(rows), kThreads, 0, s>>>(logits, targets, v, inv, grad_scale, dlogits, row_loss);
  launched("softmax_xent");
}
void score_rows(const float* logits, const int32_t* targets, int rows, int v, double* row_loss, double* row_right,
                cudaStream_t s) {
  score_rows_k<<<unsigned(rows), kThreads, 0, s>>>(logits, targets, v, row_loss, row_right);
  launched("score_rows");
}
void sum(const double* x, int n, double divisor, double* out, cudaStream_t s) {
  sum_k<<<1, kThreads, 0, s>>>(x, n, divisor, out);
  launched("sum");
}
void sum_squares(const float* x, int64_t n, double* partials, double* out, cudaStream_t s) {
  sum_squares_k<<<kSumBlocks, kThreads, 0, s>>>(x, n, partials);
  launched("sum_squares");
  sum(partials, kSumBlocks, 1.0, out, s);
}
void scale(float* x, int64_t n, float factor, cudaStream_t s) {
  scale_k<<<blocks(n), kThreads, 0, s>>>(x, n, factor);
  launched("scale");
}

void adam_update(float* p, const float* g, float* m, float* v, int64_t n, AdamStep a, cudaStream_t s) {
  adam_k<<<blocks(n), kThreads, 0, s>>>(p, g, m, v, n, a);
  launched("adam_update");
}
void rmsprop_update(float* p, const float* g, float* v, int64_t n, float lr, float alpha, float eps,
                    float weight_decay, cudaStream_t s) {
  rmsprop_k<<<blocks(n), kThreads, 0, s>>>(p, g, v, n, lr, alpha, eps, weight_decay);
  launched("rmsprop_update");
}
void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay,
                bool first, cudaStream_t s) {
  sgd_k<<<blocks(n), kThreads, 0, s>>>(p, g, buf, n, lr, momentum, weight_decay, first);
  launched("sgd_update");
}

void to_half(const float* x, __half* y, int64_t n, cudaStream_t s) {
  to_half_k<<<blocks(n), kThreads, 0, s>>>(x, y, n);
  launched("to_half");
}
void to_float(const __half* x, float* y, int64_t n, cudaStream_t s) {
  to_float_k<<<blocks(n), kThreads, 0, s>>>(x, y, n);
  launched("to_float");
}

}  // namespace etude::nn::cuda
