// Behaviour: tiny models learn a repeating token pattern to near-zero loss (sequence-to-sequence
// and the seed models' sequence-to-one), then the stepper continues the pattern; the stepper's
// logits equal the network's inference-mode logits position by position.
#include <gtest/gtest.h>

#include <algorithm>

#include "nn/inference.hpp"
#include "nn/trainer.hpp"
#include "nn_test_util.hpp"

namespace etude::nn {
namespace {
using namespace testing;

const std::vector<int32_t> kPattern{3, 1, 4, 1, 5, 9, 2, 6};  // period 8 over vocab 10

int32_t pattern_at(size_t i) { return kPattern[i % kPattern.size()]; }

// Trains on windows of the endless pattern at random offsets; returns the last loss.
double train_pattern(Model& model, int steps) {
  const ModelSpec& s = model.spec();
  const int B = s.batch, T = s.window;
  set_compute_threads(1);  // tiny shapes: a second thread only adds barriers (and ctest runs -j2)
  Trainer trainer(model, B, T);
  Rng rng(11);
  std::vector<int32_t> tokens(size_t(B) * T), targets(s.mode == Mode::seq2seq ? size_t(B) * T : B);
  double loss = 0;
  for (int step = 0; step < steps; ++step) {
    for (int b = 0; b < B; ++b) {
      const size_t start = rng.below(1000);
      for (int t = 0; t < T; ++t) {
        tokens[size_t(b) * T + t] = pattern_at(start + t);
        if (s.mode == Mode::seq2seq) targets[size_t(b) * T + t] = pattern_at(start + t + 1);
      }
      if (s.mode == Mode::seq2one) targets[b] = pattern_at(start + T);
    }
    loss = trainer.step(tokens.data(), targets.data()).loss;
  }
  return loss;
}

// Greedy continuation after a primer of one period; returns how many of n predictions are right.
int continues_pattern(const Model& model, int n) {
  Stepper stepper(model, 1);
  int32_t tok = 0;
  std::span<const float> logits;
  for (size_t i = 0; i < kPattern.size(); ++i) logits = stepper.step(std::span<const int32_t>(&kPattern[i], 1));
  int right = 0;
  for (int i = 0; i < n; ++i) {
    tok = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    right += tok == pattern_at(kPattern.size() + i);
    logits = stepper.step(std::span<const int32_t>(&tok, 1));
  }
  return right;
}

TEST(Learning, Seq2SeqLearnsARepeatingPattern) {
  ModelSpec spec = small_spec(InputKind::embedding, Mode::seq2seq, {lstm(32), dense(kVocabUnits)}, 10);
  spec.embed_dim = 8;
  spec.window = 12;
  spec.batch = 8;
  spec.optimizer.lr = 0.02f;
  spec.clip = 1.0f;
  Model model(spec);
  model.init_random(5);
  const double loss = train_pattern(model, 300);
  EXPECT_LT(loss, 0.05);
  EXPECT_EQ(continues_pattern(model, 24), 24);
}

TEST(Learning, Seq2OneScalarInputLearnsARepeatingPattern) {
  ModelSpec spec = small_spec(InputKind::scalar, Mode::seq2one,
                              {lstm(32), lstm(32, false), dense(16, Activation::relu), dense(kVocabUnits)}, 10);
  spec.window = 10;
  spec.batch = 16;
  spec.optimizer.lr = 0.01f;
  Model model(spec);
  model.init_random(6);
  EXPECT_LT(train_pattern(model, 300), 0.05);
}

TEST(Learning, StepperMatchesNetworkInferenceLogits) {
  ModelSpec spec = small_spec(InputKind::embedding, Mode::seq2seq,
                              {lstm(8), dropout(0.5f), batchnorm(), lstm(6), dense(5, Activation::tanh),
                               dense(kVocabUnits)},
                              9);
  Model model(spec);
  model.init_random(2);
  for (size_t i = 0; i < model.buffers().size(); ++i) model.buffers()[i] = 0.5f + 0.1f * float(i % 7);
  const int B = 3, T = 6;
  model.prepare(B, T);
  const auto tokens = random_tokens(B * T, 9, 4);
  model.forward(tokens.data(), false);
  const auto want = model.logits();  // [T][B][V]
  Stepper stepper(model, B);
  for (int t = 0; t < T; ++t) {
    std::vector<int32_t> column(B);
    for (int b = 0; b < B; ++b) column[b] = tokens[size_t(b) * T + t];
    const auto got = stepper.step(column);
    EXPECT_LT(rel_error(got, want.subspan(size_t(t) * B * 9, size_t(B) * 9)), 1e-5) << "step " << t;
  }
  stepper.reset_stream(1);  // a reset stream starts over; the others carry on
  Stepper fresh(model, B);
  std::vector<int32_t> first(B);
  for (int b = 0; b < B; ++b) first[b] = tokens[size_t(b) * T];
  const auto a = stepper.step(first);
  const std::vector<float> got(a.begin(), a.end());
  const auto f = fresh.step(first);
  EXPECT_LT(rel_error(std::span<const float>(got).subspan(9, 9), f.subspan(9, 9)), 1e-6);
  EXPECT_GT(rel_error(std::span<const float>(got).subspan(0, 9), f.subspan(0, 9)), 1e-3);
}

}  // namespace
}  // namespace etude::nn
