// What the training engine and the composing stepper share: the input stage and the dense layer
// (cuBLAS on row-major data), both over device buffers laid out as nn::Network's (the typed views of
// nn/param_layout.hpp read them).
#pragma once
#include <cstdint>

#include "nn/cuda/common.hpp"
#include "nn/model_spec.hpp"
#include "nn/network.hpp"

namespace etude::nn::cuda {

// act0[n][input_features] from tokens tok[n] (device), reading the embedding table in params.
void input_forward_on(const Context& ctx, const ModelSpec& spec, const ParamLayout& layout, const float* params,
                   const int32_t* tok, int n, float* act0);

// y[n][out] = act(x[n][in] W[out][in]^T + b).
void dense_forward_on(const Context& ctx, const float* x, int n, int in, const float* w, const float* b, int out,
                      Activation act, float* y);
// dy (turned into the pre-activation gradient in place), then dw, db (overwritten) and dx (if wanted).
void dense_backward_on(const Context& ctx, const float* x, int n, int in, const float* w, int out, Activation act,
                       const float* y, float* dy, float* dx, float* dw, float* db);

}  // namespace etude::nn::cuda
