// The reference LSTM against hand-computed values (and float64 PyTorch numbers for the same
// weights) and its backward against central finite differences in double.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "base/error.hpp"
#include "nn/lstm_reference.hpp"

namespace etude::nn {
namespace {

double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// I=2, H=1, T=2, B=1 with round weights; gate rows i, f, g, o.
struct Tiny {
  std::vector<double> w_ih{0.5, -0.25, 0.1, 0.2, -0.7, 0.3, 0.4, 0.6};
  std::vector<double> w_hh{0.3, -0.2, 0.9, 0.05};
  std::vector<double> b_ih{0.1, 1.0, 0.0, -0.1};
  std::vector<double> b_hh{0.0, 0.5, 0.2, 0.0};
  std::vector<double> x{1.0, 2.0, -0.5, 0.25};
  double h0 = 0.5, c0 = -1.0;
  LstmRefParams<double> params() const { return {w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data()}; }
};

TEST(LstmReference, FirstStepMatchesHandComputation) {
  Tiny t;
  std::vector<double> y(2);
  double hT = 0, cT = 0;
  lstm_reference_forward<double>({2, 1, 2, 1}, t.params(), t.x.data(), &t.h0, &t.c0, y.data(), &hT, &cT);
  // Pre-activations of step 1: i = .5-.5+.15+.1, f = .1+.4-.1+1.5, g = -.7+.6+.45+.2, o = .4+1.2+.025-.1
  const double c1 = sig(1.9) * -1.0 + sig(0.25) * std::tanh(0.55);
  EXPECT_NEAR(y[0], sig(1.525) * std::tanh(c1), 1e-15);
  // Both steps and the final state, as float64 torch.nn.LSTM computes them for these weights.
  EXPECT_NEAR(y[0], -0.4343089574345346, 1e-14);
  EXPECT_NEAR(y[1], -0.17100252690259699, 1e-14);
  EXPECT_NEAR(hT, -0.17100252690259699, 1e-14);
  EXPECT_NEAR(cT, -0.393112817392222, 1e-14);
}

TEST(LstmReference, NullStateMeansZeros) {
  Tiny t;
  std::vector<double> y1(2), y2(2);
  const double zero = 0.0;
  lstm_reference_forward<double>({2, 1, 2, 1}, t.params(), t.x.data(), nullptr, nullptr, y1.data(), nullptr, nullptr);
  lstm_reference_forward<double>({2, 1, 2, 1}, t.params(), t.x.data(), &zero, &zero, y2.data(), nullptr, nullptr);
  EXPECT_EQ(y1, y2);
  EXPECT_NE(y1[0], 0.0);
}

// Loss L = sum(dy*y) + sum(dhT*hT) + sum(dcT*cT); every analytic gradient against central
// differences, for every element of every input.
TEST(LstmReference, BackwardMatchesFiniteDifferences) {
  const LstmDims d{3, 2, 3, 4};
  const int G = 4 * d.H;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-0.8, 0.8);
  auto rnd = [&](size_t n) { std::vector<double> v(n); for (auto& e : v) e = u(rng); return v; };
  auto w_ih = rnd(size_t(G) * d.I), w_hh = rnd(size_t(G) * d.H), b_ih = rnd(G), b_hh = rnd(G);
  auto x = rnd(size_t(d.T) * d.B * d.I), h0 = rnd(size_t(d.B) * d.H), c0 = rnd(size_t(d.B) * d.H);
  auto dy = rnd(size_t(d.T) * d.B * d.H), dhT = rnd(size_t(d.B) * d.H), dcT = rnd(size_t(d.B) * d.H);

  auto loss = [&] {
    std::vector<double> y(dy.size()), hT(dhT.size()), cT(dcT.size());
    lstm_reference_forward<double>(d, {w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data()}, x.data(),
                                   h0.data(), c0.data(), y.data(), hT.data(), cT.data());
    double s = 0;
    for (size_t k = 0; k < y.size(); ++k) s += dy[k] * y[k];
    for (size_t k = 0; k < hT.size(); ++k) s += dhT[k] * hT[k] + dcT[k] * cT[k];
    return s;
  };
  std::vector<double> gw_ih(w_ih.size()), gw_hh(w_hh.size()), gb_ih(G), gb_hh(G);
  std::vector<double> dx(x.size()), dh0(h0.size()), dc0(c0.size());
  lstm_reference_backward<double>(d, {w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data()}, x.data(),
                                  h0.data(), c0.data(), dy.data(), dhT.data(), dcT.data(), dx.data(),
                                  {gw_ih.data(), gw_hh.data(), gb_ih.data(), gb_hh.data()}, dh0.data(),
                                  dc0.data());
  auto check = [&](const char* name, std::vector<double>& v, const std::vector<double>& grad) {
    for (size_t k = 0; k < v.size(); ++k) {
      const double keep = v[k], eps = 1e-6;
      v[k] = keep + eps;
      const double up = loss();
      v[k] = keep - eps;
      const double down = loss();
      v[k] = keep;
      const double fd = (up - down) / (2 * eps);
      EXPECT_NEAR(grad[k], fd, 1e-8 + 1e-6 * std::abs(fd)) << name << "[" << k << "]";
    }
  };
  check("w_ih", w_ih, gw_ih);
  check("w_hh", w_hh, gw_hh);
  check("b_ih", b_ih, gb_ih);
  check("b_hh", b_hh, gb_hh);
  check("x", x, dx);
  check("h0", h0, dh0);
  check("c0", c0, dc0);
}

TEST(LstmReference, FloatSeamAgreesWithDouble) {
  Tiny t;
  std::vector<float> w_ih(t.w_ih.begin(), t.w_ih.end()), w_hh(t.w_hh.begin(), t.w_hh.end());
  std::vector<float> b_ih(t.b_ih.begin(), t.b_ih.end()), b_hh(t.b_hh.begin(), t.b_hh.end());
  std::vector<float> x(t.x.begin(), t.x.end()), y(2);
  const float h0 = 0.5f, c0 = -1.0f;
  auto k = make_reference_lstm({2, 1, 2, 1});
  k->forward({w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data()}, x.data(), &h0, &c0, y.data(), nullptr, nullptr, true);
  EXPECT_NEAR(y[1], -0.17100252690259699, 1e-7);
  EXPECT_THROW(make_reference_lstm({0, 1, 2, 1}), InvalidArgument);
}

}  // namespace
}  // namespace etude::nn
