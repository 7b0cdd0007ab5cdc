// The fast CPU LSTM kernel (oneDNN; BLAS for small inference steps) against the reference
// kernel: outputs, final state and every gradient, at several shapes, in f32 and bf16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "nn/lstm_kernel.hpp"

namespace etude::nn {
namespace {

using Vec = std::vector<float>;

// Random weights, inputs, states and output gradients for one shape.
struct Case {
  LstmDims d;
  Vec w_ih, w_hh, b_ih, b_hh, x, h0, c0, dy, dhT, dcT;
  explicit Case(const LstmDims& dims, unsigned seed = 1) : d(dims) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const float scale = 1.0f / std::sqrt(float(d.H));
    auto rnd = [&](size_t n, float s) { Vec v(n); for (auto& e : v) e = s * u(rng); return v; };
    const size_t G = 4 * size_t(d.H), BH = size_t(d.B) * d.H, TB = size_t(d.T) * d.B;
    w_ih = rnd(G * d.I, scale); w_hh = rnd(G * d.H, scale); b_ih = rnd(G, scale); b_hh = rnd(G, scale);
    x = rnd(TB * d.I, 1.0f); h0 = rnd(BH, 0.5f); c0 = rnd(BH, 0.5f);
    dy = rnd(TB * d.H, 1.0f); dhT = rnd(BH, 1.0f); dcT = rnd(BH, 1.0f);
  }
  LstmParams params() const { return {w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data()}; }
};

// Everything one kernel computes for a case.
struct Result {
  Vec y, hT, cT, dx, dh0, dc0, gw_ih, gw_hh, gb_ih, gb_hh;
};

Result run(LstmKernel& k, const Case& c, bool with_state = true, bool backward = true) {
  const LstmDims& d = c.d;
  const size_t G = 4 * size_t(d.H), BH = size_t(d.B) * d.H, TB = size_t(d.T) * d.B;
  Result r{Vec(TB * d.H), Vec(BH), Vec(BH), Vec(TB * d.I), Vec(BH), Vec(BH),
           Vec(G * d.I, 7.0f), Vec(G * d.H, 7.0f), Vec(G, 7.0f), Vec(G, 7.0f)};
  const float* h0 = with_state ? c.h0.data() : nullptr;
  const float* c0 = with_state ? c.c0.data() : nullptr;
  k.forward(c.params(), c.x.data(), h0, c0, r.y.data(), r.hT.data(), r.cT.data(), backward);
  if (backward)
    k.backward(c.params(), c.x.data(), h0, c0, c.dy.data(), c.dhT.data(), c.dcT.data(), r.dx.data(),
               {r.gw_ih.data(), r.gw_hh.data(), r.gb_ih.data(), r.gb_hh.data()}, r.dh0.data(), r.dc0.data());
  return r;
}

// Largest |a-b| relative to the largest |b| of the tensor (elementwise relative error is
// meaningless for entries near zero).
double rel_err(const Vec& a, const Vec& b) {
  double diff = 0, ref = 1e-30;
  for (size_t k = 0; k < a.size(); ++k) {
    diff = std::max(diff, double(std::abs(a[k] - b[k])));
    ref = std::max(ref, double(std::abs(b[k])));
  }
  return diff / ref;
}

void expect_close(const Result& got, const Result& want, double tol, bool backward, const std::string& what) {
  const std::pair<const char*, std::pair<const Vec*, const Vec*>> fwd[] = {
      {"y", {&got.y, &want.y}}, {"hT", {&got.hT, &want.hT}}, {"cT", {&got.cT, &want.cT}}};
  for (const auto& [name, v] : fwd) EXPECT_LT(rel_err(*v.first, *v.second), tol) << what << " " << name;
  if (!backward) return;
  const std::pair<const char*, std::pair<const Vec*, const Vec*>> bwd[] = {
      {"dx", {&got.dx, &want.dx}},       {"dh0", {&got.dh0, &want.dh0}},
      {"dc0", {&got.dc0, &want.dc0}},    {"grad w_ih", {&got.gw_ih, &want.gw_ih}},
      {"grad w_hh", {&got.gw_hh, &want.gw_hh}}, {"grad b_ih", {&got.gb_ih, &want.gb_ih}},
      {"grad b_hh", {&got.gb_hh, &want.gb_hh}}};
  for (const auto& [name, v] : bwd) EXPECT_LT(rel_err(*v.first, *v.second), tol) << what << " " << name;
}

const LstmDims kShapes[] = {{5, 3, 5, 7}, {1, 4, 6, 8}, {7, 1, 3, 5}, {1, 1, 9, 4},
                            {16, 8, 32, 64}, {12, 10, 24, 16}};

std::string name(const LstmDims& d) {
  return "T=" + std::to_string(d.T) + " B=" + std::to_string(d.B) + " I=" + std::to_string(d.I) +
         " H=" + std::to_string(d.H);
}

TEST(LstmCpu, F32TrainingMatchesReference) {
  for (const LstmDims& d : kShapes) {
    const Case c(d);
    auto fast = make_cpu_lstm(d, Precision::f32);
    auto ref = make_reference_lstm(d);
    // Measured: at most 4.2e-7 relative (to each tensor's largest entry) at these shapes.
    expect_close(run(*fast, c), run(*ref, c), 1e-5, true, name(d));
    expect_close(run(*fast, c, false), run(*ref, c, false), 1e-5, true, name(d) + " zero state");
  }
}

TEST(LstmCpu, F32InferenceMatchesReference) {
  // Covers every path: fused single-stream steps (B = 1; threaded from H*(I+H) >= 32768), BLAS
  // (T*B <= kBlasStepMaxRows) and oneDNN inference (larger).
  for (const LstmDims& d : {LstmDims{1, 1, 5, 7}, LstmDims{5, 1, 3, 9}, LstmDims{3, 1, 64, 160},
                            LstmDims{1, 16, 8, 12}, LstmDims{3, 2, 4, 6}, LstmDims{40, 8, 16, 24}}) {
    const Case c(d, 3);
    auto fast = make_cpu_lstm(d);
    auto ref = make_reference_lstm(d);
    expect_close(run(*fast, c, true, false), run(*ref, c, true, false), 1e-5, false, name(d));
    expect_close(run(*fast, c, false, false), run(*ref, c, false, false), 1e-5, false, name(d) + " zero state");
  }
}

TEST(LstmCpu, RepeatedCallsGiveTheSameGradients) {
  // Weight gradients are accumulated inside oneDNN: a second step must not add to the first.
  const LstmDims d{4, 3, 5, 7};
  const Case c(d);
  auto fast = make_cpu_lstm(d);
  const Result first = run(*fast, c), second = run(*fast, c);
  EXPECT_EQ(first.gw_ih, second.gw_ih);
  EXPECT_EQ(first.gb_hh, second.gb_hh);
}

TEST(LstmCpu, NullOutputsAreAllowed) {
  const LstmDims d{3, 2, 4, 5};
  const Case c(d);
  auto fast = make_cpu_lstm(d);
  const Result want = run(*make_reference_lstm(d), c);
  Vec gw_ih(want.gw_ih.size()), gw_hh(want.gw_hh.size()), gb_ih(want.gb_ih.size()), gb_hh(want.gb_hh.size());
  fast->forward(c.params(), c.x.data(), nullptr, nullptr, nullptr, nullptr, nullptr, true);
  fast->forward(c.params(), c.x.data(), c.h0.data(), c.c0.data(), nullptr, nullptr, nullptr, true);
  fast->backward(c.params(), c.x.data(), c.h0.data(), c.c0.data(), c.dy.data(), c.dhT.data(), c.dcT.data(),
                 nullptr, {gw_ih.data(), gw_hh.data(), gb_ih.data(), gb_hh.data()}, nullptr, nullptr);
  EXPECT_LT(rel_err(gw_ih, want.gw_ih), 1e-4);
  EXPECT_LT(rel_err(gb_hh, want.gb_hh), 1e-4);
}

// bf16 data and weights with f32 gradients: about 3 significant digits per operand. Measured
// at these shapes: at most 5.5e-3 relative (dx, dh0); the bound is that with a 3x margin.
TEST(LstmCpu, Bf16TrainingStaysWithinStatedBounds) {
  for (const LstmDims& d : kShapes) {
    const Case c(d);
    std::unique_ptr<LstmKernel> fast;
    try {
      fast = make_cpu_lstm(d, Precision::bf16);
    } catch (const DeviceError& e) {
      GTEST_SKIP() << "oneDNN has no bf16 LSTM on this CPU: " << e.what();
    }
    auto ref = make_reference_lstm(d);
    expect_close(run(*fast, c), run(*ref, c), 1.5e-2, true, name(d) + " bf16");
  }
}

// One step of several streams runs each stream alone: batch == single, bit for bit. (bf16 steps
// for composing are packed_step_test's.)
TEST(LstmCpu, OneStepOfSeveralStreamsEqualsEachStreamAlone) {
  const LstmDims batch{1, 3, 6, 10};
  const Case c(batch, 9);
  const Result all = run(*make_cpu_lstm(batch), c, true, false);
  for (int b = 0; b < batch.B; ++b) {
    const LstmDims one{batch.T, 1, batch.I, batch.H};
    Case s(one);
    s.w_ih = c.w_ih, s.w_hh = c.w_hh, s.b_ih = c.b_ih, s.b_hh = c.b_hh;
    std::copy_n(c.x.begin() + size_t(b) * batch.I, batch.I, s.x.begin());
    std::copy_n(c.h0.begin() + size_t(b) * batch.H, batch.H, s.h0.begin());
    std::copy_n(c.c0.begin() + size_t(b) * batch.H, batch.H, s.c0.begin());
    const Result single = run(*make_cpu_lstm(one), s, true, false);
    for (int j = 0; j < batch.H; ++j)
      ASSERT_EQ(single.y[j], all.y[size_t(b) * batch.H + j]) << "stream " << b << " unit " << j;
  }
}

// A kernel that trains sees every change of the weights, in inference calls too (no bf16 copy).
TEST(LstmCpu, Bf16TrainingKernelInferenceFollowsChangedWeights) {
  const LstmDims d{2, 2, 5, 7};
  Case c(d, 11);
  auto fast = make_cpu_lstm(d, Precision::bf16);
  run(*fast, c, true, false);
  for (float& w : c.w_hh) w = -w;
  c.b_ih[0] += 0.5f;
  expect_close(run(*fast, c, true, false), run(*make_reference_lstm(d), c, true, false), 1.5e-2, false,
               name(d) + " after a weight change");
}

TEST(LstmCpu, RefusesEmptyShapes) {
  EXPECT_THROW(make_cpu_lstm({1, 0, 3, 4}), InvalidArgument);
}

}  // namespace
}  // namespace etude::nn
