// Launchers of the CUDA plugin's own kernels (kernels.cu): the layers around cuDNN's LSTM, the
// loss, the gradient norm and the optimizers. Each mirrors its CPU twin in nn/layers.hpp or
// nn/optimizer.cpp; every reduction runs in a fixed order, so a run repeats bit for bit.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace etude::nn::cuda {

// Input stage: y[n][dim] = table[tok[n]]; scalar y[n] = tok / vocab; one-hot y[n][vocab].
void embedding_forward(const float* table, int dim, const int32_t* tok, int n, float* y, cudaStream_t s);
// dtable[v] = sum of dy[i] over the tokens i equal to v, in token order (overwrites dtable).
void embedding_backward(float* dtable, int vocab, int dim, const int32_t* tok, int n, const float* dy,
                        cudaStream_t s);
// Style input (a conditioned model): y[n][dim] += table[style[n]], after embedding_forward. The
// style table's gradient is the embedding's over the style ids: embedding_backward with
// vocab = styles (it overwrites every row, as the CPU's zeroing then accumulating in token order).
void style_forward(const float* table, int dim, const int32_t* style, int n, float* y, cudaStream_t s);
// The composing stepper's per-stream style vectors: y[i] += x[i] for i < n.
void add(float* y, const float* x, int64_t n, cudaStream_t s);
void scalar_forward(const int32_t* tok, int n, int vocab, float* y, cudaStream_t s);
void onehot_forward(const int32_t* tok, int n, int vocab, float* y, cudaStream_t s);

// Dense layer around cuBLAS: y[n][out] += b, then activation (0 none, 1 relu, 2 tanh); backward
// turns dy into the pre-activation gradient in place; column sums give the bias gradient.
void bias_activation(float* y, const float* b, int n, int out, int act, cudaStream_t s);
void activation_backward(float* dy, const float* y, int64_t count, int act, cudaStream_t s);
// Activation layer: y = act(x) elementwise (0 none, 1 relu, 2 tanh).
void activation_forward(const float* x, int64_t count, int act, float* y, cudaStream_t s);
void column_sums(const float* x, int n, int f, float* out, cudaStream_t s);  // out[f], overwritten

// Inverted dropout with nn::Rng's counter-based mask: element i is dropped when
// Rng::hash(base + i) >> 11 < rate * 2^53, kept ones scaled by 1 / (1 - rate). backward redraws the mask.
void dropout_forward(const float* x, int64_t n, float rate, uint64_t base, float* y, cudaStream_t s);
void dropout_backward(const float* dy, int64_t n, float rate, uint64_t base, float* dx, cudaStream_t s);

// BatchNorm1d over [n][f]: batch mean and biased variance (double sums), running mean / unbiased
// variance moved by momentum; xhat [n][f] and invstd [f] kept for backward. dx may alias dy.
void batchnorm_train(const float* x, int n, int f, const float* gamma, const float* beta, float momentum,
                     float eps, float* running_mean, float* running_var, float* xhat, float* invstd, float* y,
                     cudaStream_t s);
void batchnorm_eval(const float* x, int n, int f, const float* gamma, const float* beta, float eps,
                    const float* running_mean, const float* running_var, float* y, cudaStream_t s);
void batchnorm_backward(const float* dy, const float* xhat, const float* invstd, const float* gamma, int n, int f,
                        float* dx, float* dgamma, float* dbeta, cudaStream_t s);

// Softmax cross-entropy over rows with target >= 0: dlogits = (softmax - onehot) * inv * grad_scale
// (inv = 1 / counted rows; grad_scale: the loss scale under mixed precision, else 1), zero on
// other rows; row_loss[r] = log(sum exp(z - max)) + max - z[target] (0 on other rows).
void softmax_xent(const float* logits, const int32_t* targets, int rows, int v, float inv, float grad_scale,
                  float* dlogits, double* row_loss, cudaStream_t s);
// For rows with target >= 0: row_loss[r] = log(sum exp(z - max)) + max - z[target] (in double, as
// the CPU's Trainer::add_score) and row_right[r] = 1 when the first largest logit is the target;
// 0 on other rows.
void score_rows(const float* logits, const int32_t* targets, int rows, int v, double* row_loss, double* row_right,
                cudaStream_t s);
// out[0] = sum of x[0..n) / divisor (one block, fixed order).
void sum(const double* x, int n, double divisor, double* out, cudaStream_t s);
// out[0] = sum of x[i]^2 in double; partials holds kSumBlocks doubles.
inline constexpr int kSumBlocks = 256;
void sum_squares(const float* x, int64_t n, double* partials, double* out, cudaStream_t s);
void scale(float* x, int64_t n, float factor, cudaStream_t s);

// torch.optim's rules in optimizer.cpp's float arithmetic (weight decay added to the gradient).
struct AdamStep {
  float step_size, bc2_sqrt, beta1, beta2, eps, weight_decay;
};
void adam_update(float* p, const float* g, float* m, float* v, int64_t n, AdamStep a, cudaStream_t s);
void rmsprop_update(float* p, const float* g, float* v, int64_t n, float lr, float alpha, float eps,
                    float weight_decay, cudaStream_t s);
void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay,
                bool first, cudaStream_t s);

// f32 <-> f16 at the boundary of cuDNN's half LSTM (round to nearest; overflow gives inf).
void to_half(const float* x, __half* y, int64_t n, cudaStream_t s);
void to_float(const __half* x, float* y, int64_t n, cudaStream_t s);

}  // namespace etude::nn::cuda
