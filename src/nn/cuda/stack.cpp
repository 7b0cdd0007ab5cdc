// The input stage and the dense layer on the GPU; see stack.hpp. cuBLAS is column-major: a
// row-major [r][c] matrix is its transpose there, so each product below is written transposed.
#include "nn/cuda/stack.hpp"

#include "nn/cuda/kernels.hpp"

namespace etude::nn::cuda {

void input_forward_on(const Context& ctx, const ModelSpec& spec, const ParamLayout& layout, const float* params,
                      const int32_t* tok, int n, float* act0) {
  switch (spec.input) {
    case InputKind::embedding:
      embedding_forward(input_tensors(layout, params).embedding, spec.embed_dim, tok, n, act0, ctx.stream);
      break;
    case InputKind::scalar: scalar_forward(tok, n, spec.vocab, act0, ctx.stream); break;
    case InputKind::onehot: onehot_forward(tok, n, spec.vocab, act0, ctx.stream); break;
  }
}

void dense_forward_on(const Context& ctx, const float* x, int n, int in, const float* w, const float* b, int out,
                      Activation act, float* y) {
  const float one = 1, zero = 0;
  // y^T [out][n] = W [out][in] * x^T [in][n]
  check(cublasSgemm(ctx.blas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, w, in, x, in, &zero, y, out),
        "cublasSgemm (dense forward)");
  bias_activation(y, b, n, out, int(act), ctx.stream);  // the kernels take Activation's value
}

void dense_backward_on(const Context& ctx, const float* x, int n, int in, const float* w, int out, Activation act,
                       const float* y, float* dy, float* dx, float* dw, float* db) {
  const float one = 1, zero = 0;
  activation_backward(dy, y, int64_t(n) * out, int(act), ctx.stream);
  // dW^T [in][out] = x^T [in][n] * dy [n][out]
  check(cublasSgemm(ctx.blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x, in, dy, out, &zero, dw, in),
        "cublasSgemm (dense weight gradient)");
  column_sums(dy, n, out, db, ctx.stream);
  // dx^T [in][n] = W^T [in][out] * dy^T [out][n]
  if (dx)
    check(cublasSgemm(ctx.blas, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, w, in, dy, out, &zero, dx, in),
          "cublasSgemm (dense input gradient)");
}

}  // namespace etude::nn::cuda
