// The naive reference LSTM (plain loops, dot products accumulated in double) and its float
// LstmKernel adapter, which runs the double path. Obviously correct first, slow by design.
#include "nn/lstm_reference.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace etude::nn {
namespace {

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// What backward needs from forward: activated gates [T][B][4H] (i, f, g, o) and the hidden and
// cell states [T+1][B][H] (index 0 holds h0/c0).
struct Tape {
  std::vector<double> gates, h, c;
};

template <typename Real>
Tape run_forward(const LstmDims& d, const LstmRefParams<Real>& p, const Real* x,
                       const Real* h0, const Real* c0) {
  const int B = d.B, I = d.I, H = d.H, G = 4 * d.H;
  Tape tp;
  tp.gates.assign(size_t(d.T) * B * G, 0.0);
  tp.h.assign(size_t(d.T + 1) * B * H, 0.0);
  tp.c.assign(size_t(d.T + 1) * B * H, 0.0);
  for (int k = 0; k < B * H; ++k) {
    tp.h[k] = h0 ? double(h0[k]) : 0.0;
    tp.c[k] = c0 ? double(c0[k]) : 0.0;
  }
  for (int t = 0; t < d.T; ++t) {
    for (int b = 0; b < B; ++b) {
      const Real* xt = x + (size_t(t) * B + b) * I;
      const double* hp = &tp.h[(size_t(t) * B + b) * H];
      const double* cp = &tp.c[(size_t(t) * B + b) * H];
      double* gt = &tp.gates[(size_t(t) * B + b) * G];
      for (int r = 0; r < G; ++r) {
        double a = double(p.b_ih[r]) + double(p.b_hh[r]);
        for (int k = 0; k < I; ++k) a += double(p.w_ih[size_t(r) * I + k]) * double(xt[k]);
        for (int k = 0; k < H; ++k) a += double(p.w_hh[size_t(r) * H + k]) * hp[k];
        gt[r] = (r >= 2 * H && r < 3 * H) ? std::tanh(a) : sigmoid(a);
      }
      double* hn = &tp.h[(size_t(t + 1) * B + b) * H];
      double* cn = &tp.c[(size_t(t + 1) * B + b) * H];
      for (int j = 0; j < H; ++j) {
        cn[j] = gt[H + j] * cp[j] + gt[j] * gt[2 * H + j];
        hn[j] = gt[3 * H + j] * std::tanh(cn[j]);
      }
    }
  }
  return tp;
}

}  // namespace

template <typename Real>
void lstm_reference_forward(const LstmDims& d, const LstmRefParams<Real>& p, const Real* x,
                            const Real* h0, const Real* c0, Real* y, Real* hT, Real* cT) {
  const Tape tp = run_forward(d, p, x, h0, c0);
  const size_t BH = size_t(d.B) * d.H;
  if (y)
    for (size_t k = 0; k < size_t(d.T) * BH; ++k) y[k] = Real(tp.h[BH + k]);
  for (size_t k = 0; k < BH; ++k) {
    if (hT) hT[k] = Real(tp.h[size_t(d.T) * BH + k]);
    if (cT) cT[k] = Real(tp.c[size_t(d.T) * BH + k]);
  }
}

template <typename Real>
void lstm_reference_backward(const LstmDims& d, const LstmRefParams<Real>& p, const Real* x,
                             const Real* h0, const Real* c0, const Real* dy, const Real* dhT,
                             const Real* dcT, Real* dx, const LstmRefGrads<Real>& g, Real* dh0,
                             Real* dc0) {
  const int B = d.B, I = d.I, H = d.H, G = 4 * d.H;
  const Tape tp = run_forward(d, p, x, h0, c0);
  std::vector<double> gw_ih(size_t(G) * I, 0.0), gw_hh(size_t(G) * H, 0.0), gb(G, 0.0);
  std::vector<double> dh_next(size_t(B) * H), dc_next(size_t(B) * H), da(size_t(B) * G);
  for (int k = 0; k < B * H; ++k) {
    dh_next[k] = dhT ? double(dhT[k]) : 0.0;
    dc_next[k] = dcT ? double(dcT[k]) : 0.0;
  }
  for (int t = d.T - 1; t >= 0; --t) {
    // Through the cell: from dh, dc at step t to the pre-activation gradients da.
    for (int b = 0; b < B; ++b) {
      const size_t row = size_t(t) * B + b;
      const double* gt = &tp.gates[row * G];
      const double* cp = &tp.c[row * H];
      const double* cn = &tp.c[(row + B) * H];
      double* a = &da[size_t(b) * G];
      for (int j = 0; j < H; ++j) {
        const double i = gt[j], f = gt[H + j], gg = gt[2 * H + j], o = gt[3 * H + j];
        const double dh = dh_next[size_t(b) * H + j] + (dy ? double(dy[row * H + j]) : 0.0);
        const double tc = std::tanh(cn[j]);
        const double dc = dc_next[size_t(b) * H + j] + dh * o * (1.0 - tc * tc);
        a[j] = dc * gg * i * (1.0 - i);
        a[H + j] = dc * cp[j] * f * (1.0 - f);
        a[2 * H + j] = dc * i * (1.0 - gg * gg);
        a[3 * H + j] = dh * tc * o * (1.0 - o);
        dc_next[size_t(b) * H + j] = dc * f;
      }
    }
    // Through the affine maps: weight, bias, input and previous-hidden gradients.
    for (int b = 0; b < B; ++b) {
      const size_t row = size_t(t) * B + b;
      const Real* xt = x + row * I;
      const double* hp = &tp.h[row * H];
      const double* a = &da[size_t(b) * G];
      for (int r = 0; r < G; ++r) {
        gb[r] += a[r];
        for (int k = 0; k < I; ++k) gw_ih[size_t(r) * I + k] += a[r] * double(xt[k]);
        for (int k = 0; k < H; ++k) gw_hh[size_t(r) * H + k] += a[r] * hp[k];
      }
      if (dx)
        for (int k = 0; k < I; ++k) {
          double s = 0.0;
          for (int r = 0; r < G; ++r) s += a[r] * double(p.w_ih[size_t(r) * I + k]);
          dx[row * I + k] = Real(s);
        }
      for (int k = 0; k < H; ++k) {
        double s = 0.0;
        for (int r = 0; r < G; ++r) s += a[r] * double(p.w_hh[size_t(r) * H + k]);
        dh_next[size_t(b) * H + k] = s;
      }
    }
  }
  for (size_t k = 0; k < gw_ih.size(); ++k) g.w_ih[k] = Real(gw_ih[k]);
  for (size_t k = 0; k < gw_hh.size(); ++k) g.w_hh[k] = Real(gw_hh[k]);
  for (int r = 0; r < G; ++r) g.b_ih[r] = g.b_hh[r] = Real(gb[r]);
  for (int k = 0; k < B * H; ++k) {
    if (dh0) dh0[k] = Real(dh_next[k]);
    if (dc0) dc0[k] = Real(dc_next[k]);
  }
}

template void lstm_reference_forward<float>(const LstmDims&, const LstmRefParams<float>&,
                                            const float*, const float*, const float*, float*,
                                            float*, float*);
template void lstm_reference_forward<double>(const LstmDims&, const LstmRefParams<double>&,
                                             const double*, const double*, const double*,
                                             double*, double*, double*);
template void lstm_reference_backward<float>(const LstmDims&, const LstmRefParams<float>&,
                                             const float*, const float*, const float*,
                                             const float*, const float*, const float*, float*,
                                             const LstmRefGrads<float>&, float*, float*);
template void lstm_reference_backward<double>(const LstmDims&, const LstmRefParams<double>&,
                                              const double*, const double*, const double*,
                                              const double*, const double*, const double*,
                                              double*, const LstmRefGrads<double>&, double*,
                                              double*);

namespace {

// The float seam over the reference: inputs are used as given, all arithmetic in double.
class ReferenceLstm final : public LstmKernel {
 public:
  explicit ReferenceLstm(const LstmDims& d) : d_(d) {}
  const LstmDims& dims() const override { return d_; }
  void forward(const LstmParams& p, const float* x, const float* h0, const float* c0, float* y,
               float* hT, float* cT, bool) override {
    lstm_reference_forward<float>(d_, {p.w_ih, p.w_hh, p.b_ih, p.b_hh}, x, h0, c0, y, hT, cT);
  }
  void backward(const LstmParams& p, const float* x, const float* h0, const float* c0,
                const float* dy, const float* dhT, const float* dcT, float* dx,
                const LstmGrads& g, float* dh0, float* dc0) override {
    lstm_reference_backward<float>(d_, {p.w_ih, p.w_hh, p.b_ih, p.b_hh}, x, h0, c0, dy, dhT,
                                   dcT, dx, {g.w_ih, g.w_hh, g.b_ih, g.b_hh}, dh0, dc0);
  }

 private:
  LstmDims d_;
};

}  // namespace

std::unique_ptr<LstmKernel> make_reference_lstm(const LstmDims& dims) {
  if (dims.T < 1 || dims.B < 1 || dims.I < 1 || dims.H < 1)
    throw InvalidArgument("reference LSTM: dims T=" + std::to_string(dims.T) + " B=" +
                          std::to_string(dims.B) + " I=" + std::to_string(dims.I) + " H=" +
                          std::to_string(dims.H) + " must all be at least 1");
  return std::make_unique<ReferenceLstm>(dims);
}

}  // namespace etude::nn
