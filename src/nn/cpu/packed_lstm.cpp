// Packed inference step kernels (see packed_lstm.hpp). The loops are written on GCC vector types
// (16 floats), so they compile to whatever vector width the build targets.
#include "nn/cpu/packed_lstm.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

#include "nn/cpu/vec_math.hpp"
#include "nn/device.hpp"

namespace etude::nn {

void PackedMatrix::Free::operator()(void* p) const { std::free(p); }

PackedMatrix::PackedMatrix(const float* w, int cols, const std::vector<int>& rows, Precision precision)
    : cols_(cols), panels_(int(rows.size()) / kPanelRows), bf16_(precision == Precision::bf16) {
  check_precision(Device::cpu, precision);  // f16 is CUDA's
  const size_t vectors = size_t(panels_) * cols * (bf16_ ? 2 : 4), bytes = vectors * 64;
  constexpr size_t kHuge = size_t(2) << 20;
  const size_t align = bytes >= kHuge ? kHuge : 64;
  data_.reset(std::aligned_alloc(align, (bytes + align - 1) / align * align));
  if (!data_) throw std::bad_alloc();
  if (align == kHuge) madvise(data_.get(), bytes, MADV_HUGEPAGE);  // advice only: failure is harmless
  // Each source row is copied to its slot of every column: f32 slots are floats 16v + u of a
  // column's 64; bf16 slots are halves 32h + 2u + (v & 1) of a column's 64, h = v / 2. One thread:
  // on a busy machine OpenMP's spinning workers made this 5x slower with two.
  for (int p = 0; p < panels_; ++p) {
    std::byte* panel = static_cast<std::byte*>(data_.get()) + size_t(p) * cols * kPanelRows * (bf16_ ? 2 : 4);
    std::memset(panel, 0, size_t(cols) * kPanelRows * (bf16_ ? 2 : 4));
    for (int v = 0; v < 4; ++v)
      for (int u = 0; u < kPanelLanes; ++u) {
        const int r = rows[size_t(p) * kPanelRows + v * kPanelLanes + u];
        if (r < 0) continue;
        const float* src = w + size_t(r) * cols;
        if (!bf16_) {
          float* dst = reinterpret_cast<float*>(panel) + v * kPanelLanes + u;
          for (int k = 0; k < cols; ++k) dst[size_t(k) * kPanelRows] = src[k];
        } else {
          uint16_t* dst = reinterpret_cast<uint16_t*>(panel) + (v / 2) * 2 * kPanelLanes + 2 * u + (v & 1);
          for (int k = 0; k < cols; ++k) dst[size_t(k) * kPanelRows] = to_bf16(src[k]);
        }
      }
  }
}

void PackedMatrix::accumulate(int p, const float* x, float* acc) const {
  V16 a[4];
  std::memcpy(a, acc, sizeof a);
  V16 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
  if (!bf16_) {
    const V16* w = static_cast<const V16*>(data_.get()) + size_t(p) * cols_ * 4;
    for (int k = 0; k < cols_; ++k, w += 4) {
      const float v = x[k];
      a0 += w[0] * v;
      a1 += w[1] * v;
      a2 += w[2] * v;
      a3 += w[3] * v;
    }
  } else {  // bf16 pairs: the low half widens by a shift, the high half by a mask
    const U16* w = static_cast<const U16*>(data_.get()) + size_t(p) * cols_ * 2;
    for (int k = 0; k < cols_; ++k, w += 2) {
      const float v = x[k];
      const U16 q0 = w[0], q1 = w[1];
      a0 += (V16)(q0 << 16) * v;
      a1 += (V16)(q0 & 0xffff0000u) * v;
      a2 += (V16)(q1 << 16) * v;
      a3 += (V16)(q1 & 0xffff0000u) * v;
    }
  }
  a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3;
  std::memcpy(acc, a, sizeof a);
}

namespace {
int lstm_panels(int H) { return (H + kPanelLanes - 1) / kPanelLanes; }
// LSTM panels: vector v is gate v, lane u is unit 16p + u.
std::vector<int> lstm_rows(int H) {
  std::vector<int> rows(size_t(lstm_panels(H)) * kPanelRows);
  for (size_t s = 0; s < rows.size(); ++s) {
    const int p = int(s / kPanelRows), v = int(s / kPanelLanes % 4), j = p * kPanelLanes + int(s % kPanelLanes);
    rows[s] = j < H ? v * H + j : -1;
  }
  return rows;
}
std::vector<float> lstm_bias(const LstmParams& p, int H) {
  const std::vector<int> rows = lstm_rows(H);
  std::vector<float> bias(rows.size());
  for (size_t s = 0; s < rows.size(); ++s)
    if (rows[s] >= 0) bias[s] = p.b_ih[rows[s]] + p.b_hh[rows[s]];
  return bias;
}
std::vector<int> dense_rows(int out) {
  std::vector<int> rows(size_t(out + kPanelRows - 1) / kPanelRows * kPanelRows);
  for (size_t r = 0; r < rows.size(); ++r) rows[r] = int(r) < out ? int(r) : -1;
  return rows;
}
}  // namespace

PackedLstm::PackedLstm(const LstmParams& p, int I, int H, Precision precision, bool with_input)
    : I_(I), H_(H), panels_(lstm_panels(H)), bias_(lstm_bias(p, H)) {
  const std::vector<int> rows = lstm_rows(H);
  w_.emplace_back(p.w_hh, H, rows, precision);
  if (with_input) w_.emplace_back(p.w_ih, I, rows, precision);
}

void PackedLstm::input_gates(const LstmParams& p, int I, int H, const float* x, int n, float* g) {
  const int panels = lstm_panels(H), G = panels * kPanelRows;
  const PackedMatrix w_ih(p.w_ih, I, lstm_rows(H), Precision::f32);
  const std::vector<float> bias = lstm_bias(p, H);
  for (int q = 0; q < panels; ++q)  // a panel's weights stay in cache over the n rows (one thread, as above)
    for (int r = 0; r < n; ++r) {
      float* z = g + size_t(r) * G + size_t(q) * kPanelRows;
      std::copy_n(&bias[size_t(q) * kPanelRows], kPanelRows, z);
      w_ih.accumulate(q, x + size_t(r) * I, z);
    }
}

void PackedLstm::step(int B, const float* x, const float* const* gates, const float* hp, const float* cp, float* hn,
                      float* cn, int part, int parts) const {
  for (int q = panels_ * part / parts; q < panels_ * (part + 1) / parts; ++q) {
    const int j0 = q * kPanelLanes, n = std::min(kPanelLanes, H_ - j0);
    for (int b = 0; b < B; ++b) {
      alignas(64) float z[kPanelRows];
      if (gates) {
        std::copy_n(gates[b] + size_t(q) * kPanelRows, kPanelRows, z);
      } else {
        std::copy_n(&bias_[size_t(q) * kPanelRows], kPanelRows, z);
        w_[1].accumulate(q, x + size_t(b) * I_, z);
      }
      w_[0].accumulate(q, hp + size_t(b) * H_, z);
      const size_t o = size_t(b) * H_ + j0;
      lstm_cell(z, kPanelLanes, n, cp + o, cn + o, hn + o);
    }
  }
}

PackedDense::PackedDense(const float* w, const float* b, int in, int out, Activation act)
    : in_(in),
      out_(out),
      act_(act),
      bias_(size_t(out + kPanelRows - 1) / kPanelRows * kPanelRows),
      w_(w, in, dense_rows(out), Precision::f32) {
  std::copy_n(b, out, bias_.begin());
}

void PackedDense::step(int B, const float* x, float* y, int part, int parts) const {
  for (int q = w_.panels() * part / parts; q < w_.panels() * (part + 1) / parts; ++q) {
    const int r0 = q * kPanelRows, n = std::min(kPanelRows, out_ - r0);
    for (int b = 0; b < B; ++b) {
      alignas(64) float z[kPanelRows];
      std::copy_n(&bias_[r0], kPanelRows, z);
      w_.accumulate(q, x + size_t(b) * in_, z);
      float* row = y + size_t(b) * out_ + r0;
      for (int k = 0; k < n; ++k) row[k] = act_ == Activation::relu ? std::max(z[k], 0.0f) : act_ == Activation::tanh ? std::tanh(z[k]) : z[k];
    }
  }
}

}  // namespace etude::nn
