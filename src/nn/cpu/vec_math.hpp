// Small math shared by the inference step kernels (lstm_blas_step, packed_lstm): bf16 rounding and
// gate activations written so that a loop over units vectorizes (no libm calls inside).
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace etude::nn {

// f32 -> bf16, rounded to nearest even (bf16 is the upper half of an f32; weights are finite).
inline uint16_t to_bf16(float v) {
  const uint32_t u = std::bit_cast<uint32_t>(v);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// Cephes' expf: range reduction by ln 2, degree-6 polynomial, about 1 ulp; inputs clamped to
// where the result is a normal float.
inline float exp_vec(float x) {
  x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float q = 1.9875691500e-4f;
  q = q * r + 1.3981999507e-3f;
  q = q * r + 8.3334519073e-3f;
  q = q * r + 4.1665795894e-2f;
  q = q * r + 1.6666665459e-1f;
  q = q * r + 5.0000001201e-1f;
  const float y = q * r * r + r + 1.0f;
  return y * std::bit_cast<float>(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);
}
inline float sigmoid_vec(float v) { return 1.0f / (1.0f + exp_vec(-v)); }
inline float tanh_vec(float v) { return 1.0f - 2.0f / (exp_vec(2.0f * v) + 1.0f); }

// The LSTM cell for n units: gates z = [i | f | g | o] pre-activations, each `stride` apart.
inline void lstm_cell(const float* z, int stride, int n, const float* c_prev, float* c, float* h) {
#pragma omp simd
  for (int u = 0; u < n; ++u) {
    const float cv = sigmoid_vec(z[stride + u]) * c_prev[u] + sigmoid_vec(z[u]) * tanh_vec(z[2 * stride + u]);
    c[u] = cv;
    h[u] = sigmoid_vec(z[3 * stride + u]) * tanh_vec(cv);
  }
}

}  // namespace etude::nn
