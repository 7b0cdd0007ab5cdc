// The LSTM kernels alone, without the rest of Etude: training steps (forward + backward) of the
// `default` shapes and single inference steps, as JSON lines; --sgemm: the GEMM peak instead.
// Built on demand: cmake --build build --target nn_lstm_kernel_bench.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include <cblas.h>
#include <oneapi/dnnl/dnnl.hpp>

#include "nn/cpu/lstm_cpu.hpp"

using namespace etude::nn;
using Clock = std::chrono::steady_clock;

namespace {

struct Buffers {
  std::vector<float> w_ih, w_hh, b_ih, b_hh, gw_ih, gw_hh, gb_ih, gb_hh, x, y, dy, dx, h, c;
  explicit Buffers(const LstmDims& d) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-0.05f, 0.05f);
    auto rnd = [&](size_t n) { std::vector<float> v(n); for (auto& e : v) e = u(rng); return v; };
    const size_t G = 4 * size_t(d.H), TB = size_t(d.T) * d.B;
    w_ih = rnd(G * d.I); w_hh = rnd(G * d.H); b_ih = rnd(G); b_hh = rnd(G);
    gw_ih.resize(w_ih.size()); gw_hh.resize(w_hh.size()); gb_ih.resize(G); gb_hh.resize(G);
    x = rnd(TB * d.I); y.resize(TB * d.H); dy = rnd(TB * d.H); dx.resize(TB * d.I);
    h = rnd(size_t(d.B) * d.H); c = rnd(size_t(d.B) * d.H);
  }
  LstmParams p() const { return {w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data()}; }
  LstmGrads g() { return {gw_ih.data(), gw_hh.data(), gb_ih.data(), gb_hh.data()}; }
};

// Median milliseconds of `reps` runs of f after `warm` untimed ones.
template <typename F>
double median_ms(int warm, int reps, F f) {
  for (int k = 0; k < warm; ++k) f();
  std::vector<double> ms;
  for (int k = 0; k < reps; ++k) {
    const auto t0 = Clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::nth_element(ms.begin(), ms.begin() + reps / 2, ms.end());
  return ms[reps / 2];
}

// The 2-layer LSTM of `default` (256 -> 512 -> 512), T=128, B=64: forward in training mode and
// full backward, layer 2's dx feeding layer 1's dy.
void train_step(Precision prec, const char* name, int reps) {
  const LstmDims d1{128, 64, 256, 512}, d2{128, 64, 512, 512};
  auto k1 = make_onednn_lstm(d1, prec, true), k2 = make_onednn_lstm(d2, prec, true);
  Buffers b1(d1), b2(d2);
  const double ms = median_ms(2, reps, [&] {
    k1->forward(b1.p(), b1.x.data(), nullptr, nullptr, b1.y.data(), nullptr, nullptr, true);
    k2->forward(b2.p(), b1.y.data(), nullptr, nullptr, b2.y.data(), nullptr, nullptr, true);
    k2->backward(b2.p(), b1.y.data(), nullptr, nullptr, b2.dy.data(), nullptr, nullptr, b1.dy.data(), b2.g(), nullptr, nullptr);
    k1->backward(b1.p(), b1.x.data(), nullptr, nullptr, b1.dy.data(), nullptr, nullptr, nullptr, b1.g(), nullptr, nullptr);
  });
  const double flop = 3.0 * 2.0 * 128 * 64 * ((256 + 512) + (512 + 512)) * 4.0 * 512;
  std::printf("{\"bench\":\"lstm_train\",\"kernel\":\"%s\",\"ms_per_step\":%.2f,\"tokens_per_second\":%.0f,\"gflops\":%.1f}\n",
              name, ms, 128 * 64 / (ms / 1e3), flop / (ms / 1e6) / 1e9 / 1e3);
}

// One generation step of the same 2-layer LSTM: T=1, B streams, state carried.
void infer_step(int B, bool blas, int reps) {
  const LstmDims d1{1, B, 256, 512}, d2{1, B, 512, 512};
  auto k1 = make_onednn_lstm(d1, Precision::f32, blas), k2 = make_onednn_lstm(d2, Precision::f32, blas);
  Buffers b1(d1), b2(d2);
  const double ms = median_ms(20, reps, [&] {
    k1->forward(b1.p(), b1.x.data(), b1.h.data(), b1.c.data(), b1.y.data(), b1.h.data(), b1.c.data(), false);
    k2->forward(b2.p(), b1.y.data(), b2.h.data(), b2.c.data(), b2.y.data(), b2.h.data(), b2.c.data(), false);
  });
  std::printf("{\"bench\":\"lstm_step\",\"kernel\":\"%s\",\"batch\":%d,\"ms_per_step\":%.4f,\"tokens_per_second\":%.0f}\n",
              blas ? "blas" : "onednn", B, ms, B / (ms / 1e3));
}

// The machine's single-precision GEMM peak as the two libraries reach it: 2048^3, best of 10.
void sgemm_peak() {
  const int n = 2048;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  auto best_gflops = [&](auto f) {
    f();
    double best = 1e30;
    for (int k = 0; k < 10; ++k) {
      const auto t0 = Clock::now();
      f();
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return 2.0 * n * n * n / best / 1e9;
  };
  const double openblas = best_gflops([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  });
  const double onednn = best_gflops([&] {
    dnnl::sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  });
  std::printf("{\"bench\":\"sgemm\",\"n\":%d,\"openblas_gflops\":%.1f,\"onednn_gflops\":%.1f}\n", n, openblas, onednn);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--sgemm") == 0) {
    sgemm_peak();
    return 0;
  }
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int reps = quick ? 3 : 7;
  train_step(Precision::f32, "onednn-f32", reps);
  try {
    train_step(Precision::bf16, "onednn-bf16", reps);
  } catch (const std::exception& e) {
    std::printf("{\"bench\":\"lstm_train\",\"kernel\":\"onednn-bf16\",\"error\":\"%s\"}\n", e.what());
  }
  for (int B : {1, 16}) {
    infer_step(B, true, 200);
    infer_step(B, false, 200);
  }
  return 0;
}
