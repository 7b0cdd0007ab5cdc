// The packed inference step kernels (cpu/packed_lstm) and the Stepper built on them: against the
// reference kernel and plain loops, the per-token table path against the plain path, batched
// streams and two threads against one stream and one thread (bit for bit).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "nn/cpu/packed_lstm.hpp"
#include "nn/cpu/step_team.hpp"
#include "nn/inference.hpp"
#include "nn_test_util.hpp"

namespace etude::nn {
namespace {

using Vec = std::vector<float>;

double rel_err(const Vec& a, std::span<const float> b) { return testing::rel_error<float, float>(a, b); }

Vec random_vec(size_t n, float scale, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-scale, scale);
  Vec v(n);
  for (float& e : v) e = u(rng);
  return v;
}

struct Layer {
  int I, H;
  Vec w_ih, w_hh, b_ih, b_hh;
  Layer(int i, int h, unsigned seed) : I(i), H(h) {
    std::mt19937 rng(seed);
    const float s = 1.0f / std::sqrt(float(h));
    w_ih = random_vec(size_t(4) * h * i, s, rng), w_hh = random_vec(size_t(4) * h * h, s, rng);
    b_ih = random_vec(size_t(4) * h, s, rng), b_hh = random_vec(size_t(4) * h, s, rng);
  }
  LstmParams params() const { return {w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data()}; }
};

// T steps of B streams from a random state: the outputs of every step [T][B][H], then c.
struct Steps {
  Vec y, c;
};
Steps run_packed(const Layer& l, int B, const Vec& xs, const Vec& h0, const Vec& c0, Precision precision,
                 bool table = false, int parts = 1) {
  const int T = int(xs.size() / (size_t(B) * l.I));
  const PackedLstm k(l.params(), l.I, l.H, precision, !table);
  Vec gates;
  std::vector<const float*> rows(B);
  if (table) {
    gates.resize(size_t(T) * B * k.gate_size());
    PackedLstm::input_gates(l.params(), l.I, l.H, xs.data(), T * B, gates.data());
  }
  Vec h = h0, c = c0, hn(h.size()), cn(c.size()), y;
  for (int t = 0; t < T; ++t) {
    for (int b = 0; b < B; ++b) rows[b] = gates.data() + (size_t(t) * B + b) * k.gate_size();
    for (int part = 0; part < parts; ++part)
      k.step(B, xs.data() + size_t(t) * B * l.I, table ? rows.data() : nullptr, h.data(), c.data(), hn.data(),
             cn.data(), part, parts);
    std::swap(h, hn), std::swap(c, cn);
    y.insert(y.end(), h.begin(), h.end());
  }
  return {y, c};
}

Steps run_reference(const Layer& l, int B, const Vec& xs, const Vec& h0, const Vec& c0) {
  const int T = int(xs.size() / (size_t(B) * l.I));
  auto k = make_reference_lstm({T, B, l.I, l.H});
  Steps r{Vec(size_t(T) * B * l.H), Vec(size_t(B) * l.H)};
  Vec hT(r.c.size());
  k->forward(l.params(), xs.data(), h0.data(), c0.data(), r.y.data(), hT.data(), r.c.data(), false);
  return r;
}

struct Shape {
  int I, H, B, T;
};
const Shape kShapes[] = {{5, 7, 1, 3}, {9, 16, 3, 2}, {33, 40, 2, 4}, {64, 160, 1, 3}, {1, 20, 4, 2}};

std::string name(const Shape& s) {
  return "I=" + std::to_string(s.I) + " H=" + std::to_string(s.H) + " B=" + std::to_string(s.B);
}

TEST(PackedStep, LstmMatchesReferenceInF32AndBf16) {
  for (const Shape& s : kShapes) {
    const Layer l(s.I, s.H, 3);
    std::mt19937 rng(5);
    const Vec xs = random_vec(size_t(s.T) * s.B * s.I, 1.0f, rng), h0 = random_vec(size_t(s.B) * s.H, 0.5f, rng),
              c0 = random_vec(size_t(s.B) * s.H, 0.5f, rng);
    const Steps want = run_reference(l, s.B, xs, h0, c0);
    const Steps f32 = run_packed(l, s.B, xs, h0, c0, Precision::f32);
    EXPECT_LT(rel_err(f32.y, want.y), 1e-5) << name(s);
    EXPECT_LT(rel_err(f32.c, want.c), 1e-5) << name(s);
    // bf16 weights (f32 activations and sums): measured below 4e-3 at these shapes.
    const Steps bf16 = run_packed(l, s.B, xs, h0, c0, Precision::bf16);
    EXPECT_LT(rel_err(bf16.y, want.y), 1.5e-2) << name(s) << " bf16";
    EXPECT_GT(rel_err(bf16.y, want.y), 0.0) << name(s) << " bf16 rounds the weights";
    // The table path (input part precomputed from the f32 weights) equals the plain f32 path.
    const Steps table = run_packed(l, s.B, xs, h0, c0, Precision::f32, true);
    EXPECT_EQ(table.y, f32.y) << name(s) << " table";
    // A step split in parts (threads share the panels): each unit's arithmetic is the same.
    EXPECT_EQ(run_packed(l, s.B, xs, h0, c0, Precision::bf16, false, 3).y, bf16.y) << name(s) << " 3 parts";
  }
}

TEST(PackedStep, BatchedStreamsEqualSingleStreams) {
  const Shape s{12, 24, 3, 3};
  const Layer l(s.I, s.H, 7);
  std::mt19937 rng(9);
  const Vec xs = random_vec(size_t(s.T) * s.B * s.I, 1.0f, rng), h0 = random_vec(size_t(s.B) * s.H, 0.5f, rng),
            c0 = random_vec(size_t(s.B) * s.H, 0.5f, rng);
  for (Precision p : {Precision::f32, Precision::bf16}) {
    const Steps all = run_packed(l, s.B, xs, h0, c0, p);
    for (int b = 0; b < s.B; ++b) {
      Vec x1, h1(h0.begin() + b * s.H, h0.begin() + (b + 1) * s.H), c1(c0.begin() + b * s.H, c0.begin() + (b + 1) * s.H);
      for (int t = 0; t < s.T; ++t)
        x1.insert(x1.end(), xs.begin() + (size_t(t) * s.B + b) * s.I, xs.begin() + (size_t(t) * s.B + b + 1) * s.I);
      const Steps one = run_packed(l, 1, x1, h1, c1, p);
      for (int t = 0; t < s.T; ++t)
        for (int j = 0; j < s.H; ++j)
          ASSERT_EQ(one.y[size_t(t) * s.H + j], all.y[(size_t(t) * s.B + b) * s.H + j]) << "stream " << b << " t " << t;
    }
  }
}

TEST(PackedStep, DenseMatchesPlainLoops) {
  const int in = 37, out = 70, B = 2;
  std::mt19937 rng(11);
  const Vec w = random_vec(size_t(out) * in, 0.3f, rng), b = random_vec(out, 0.3f, rng), x = random_vec(size_t(B) * in, 1.0f, rng);
  for (int act : {0, 1, 2}) {
    Vec want(size_t(B) * out), got(size_t(B) * out, 9.0f);
    for (int r = 0; r < B; ++r)
      for (int o = 0; o < out; ++o) {
        double z = b[o];
        for (int k = 0; k < in; ++k) z += double(w[size_t(o) * in + k]) * x[size_t(r) * in + k];
        want[size_t(r) * out + o] = float(act == 1 ? std::max(z, 0.0) : act == 2 ? std::tanh(z) : z);
      }
    PackedDense(w.data(), b.data(), in, out, Activation(act)).step(B, x.data(), got.data());
    EXPECT_LT(rel_err(got, want), 1e-6) << "activation " << act;
  }
}

// Jobs and barriers of the step team: every member sees what the others wrote before the barrier.
TEST(PackedStep, TeamBarriersOrderEveryJob) {
  for (int threads : {1, 2, 3}) {
    StepTeam team(threads);
    std::vector<int> slot(threads);
    long bad = 0, runs = 0;
    for (int job_no = 0; job_no < 2000; ++job_no) {
      auto job = [&](int m, int n) {
        slot[m] = job_no * 10 + m;
        team.barrier();
        int wrong = 0;
        for (int k = 0; k < n; ++k) wrong += slot[k] != job_no * 10 + k;
        team.barrier();  // nobody writes the next job's value before all have read
        if (m == 0) bad += wrong, ++runs;
      };
      team.run(job);
    }
    EXPECT_EQ(bad, 0) << threads << " threads";
    EXPECT_EQ(runs, 2000);
  }
}

// The whole stack: fast (packed, table) against the reference backend for each input kind, with
// batchnorm, a relu dense layer and dropout in between; two threads equal one.
TEST(PackedStep, StepperMatchesReferenceBackendForEveryInputKind) {
  for (InputKind input : {InputKind::embedding, InputKind::scalar, InputKind::onehot}) {
    using namespace testing;
    const ModelSpec spec = small_spec(input, Mode::seq2seq,
                                      {lstm(20), dropout(0.3f), batchnorm(), activation(Activation::tanh), lstm(33), dense(12, Activation::relu),
                                       dense(kVocabUnits)},
                                      11);
    Model model(spec);
    model.init_random(5);
    for (size_t i = 0; i < model.buffers().size(); ++i) model.buffers()[i] = 0.5f + 0.1f * float(i % 5);
    const int B = 2;
    Stepper fast(model, B), ref(model, B, LstmBackend::reference), fast2(model, B);
    fast2.set_step_threads(2);
    const auto tokens = random_tokens(size_t(B) * 6, spec.vocab, 3);
    for (size_t t = 0; t < 6; ++t) {
      const std::span<const int32_t> col(tokens.data() + t * B, B);
      const auto a = fast.step(col);
      const Vec got(a.begin(), a.end());
      const auto want = ref.step(col);
      EXPECT_LT(rel_err(got, want), 1e-5) << "input kind " << int(input) << " step " << t;
      const auto b = fast2.step(col);
      EXPECT_EQ(got, Vec(b.begin(), b.end())) << "two threads, step " << t;
    }
  }
}

}  // namespace
}  // namespace etude::nn
