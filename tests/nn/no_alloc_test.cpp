// "No allocation inside the training step after the first": counts every operator new in this
// test binary (a replaced global operator new) around training and inference steps.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <omp.h>

#include "nn/inference.hpp"
#include "nn/trainer.hpp"
#include "nn_test_util.hpp"

namespace {
std::atomic<size_t> g_news{0};        // test-only instrumentation of the global allocator
std::atomic<size_t> g_large_news{0};  // of which 4 KiB or more (activations, workspaces)
constexpr std::size_t kLarge = 4096;
}

void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (n >= kLarge) g_large_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace etude::nn {
namespace {
using namespace testing;

// Counts operator new calls (all, or only those of 4 KiB or more) over 3 training steps after a
// first one.
size_t allocations_in_steps(const std::vector<LayerSpec>& layers, Mode mode, bool large_only = false) {
  const std::atomic<size_t>& counter = large_only ? g_large_news : g_news;
  size_t total = 0;
  for (InputKind input : {InputKind::embedding, InputKind::scalar}) {
    ModelSpec spec = small_spec(input, mode, layers, 12);
    spec.clip = 1.0f;
    Model model(spec);
    model.init_random(3);
    Trainer trainer(model, 4, 6);
    const auto tokens = random_tokens(24, 12, 1);
    const auto targets = random_tokens(mode == Mode::seq2seq ? 24 : 4, 12, 2);
    trainer.step(tokens.data(), targets.data());
    const float* params = model.params().data();
    const float* logits = model.logits().data();
    const size_t before = counter.load();
    for (int i = 0; i < 3; ++i) trainer.step(tokens.data(), targets.data());
    total += counter.load() - before;
    EXPECT_EQ(model.params().data(), params);
    EXPECT_EQ(model.logits().data(), logits);
  }
  return total;
}

// Everything of ours around the kernels: input stages, dropout, batchnorm, dense, loss, clipping,
// Adam (the stack without an lstm is a valid model).
TEST(NoAlloc, TrainingStepOfTheLayersAllocatesNothingAfterTheFirst) {
  for (Mode mode : {Mode::seq2seq, Mode::seq2one})
    EXPECT_EQ(allocations_in_steps({dense(16, Activation::tanh), dropout(0.2f), batchnorm(),
                                    dense(8, Activation::relu), dense(kVocabUnits)},
                                   mode),
              0u);
}

// The whole stack with the fast (oneDNN) LSTM kernels. oneDNN's primitive execute makes a few
// small bookkeeping allocations of its own (about 6-8 of ~424 bytes per call, measured with a
// bare reorder); no activation, workspace or weight buffer (>= 4 KiB) is allocated after the first
// step, and the small ones stay bounded.
TEST(NoAlloc, TrainingStepWithFastLstmAllocatesNoBuffersAfterTheFirst) {
  for (Mode mode : {Mode::seq2seq, Mode::seq2one}) {
    const std::vector<LayerSpec> layers{lstm(16), dropout(0.2f), batchnorm(), lstm(8, mode == Mode::seq2seq),
                                        dense(8, Activation::relu), dense(kVocabUnits)};
    EXPECT_EQ(allocations_in_steps(layers, mode, /*large_only=*/true), 0u);
    // 2 input kinds x 3 steps x 2 lstm layers x (forward, backward, reorders): bounded bookkeeping.
    EXPECT_LT(allocations_in_steps(layers, mode), 2u * 3u * 2u * 100u);
  }
}

TEST(NoAlloc, InferenceStepAllocatesNothingAfterTheFirst) {
  ModelSpec spec = small_spec(InputKind::scalar, Mode::seq2one,
                              {lstm(16), batchnorm(), lstm(8, false), dense(kVocabUnits)}, 12);
  Model model(spec);
  model.init_random(4);
  Stepper stepper(model, 3);
  const std::vector<int32_t> tok{1, 5, 7};
  stepper.step(tok);
  const size_t before = g_news.load();
  for (int i = 0; i < 5; ++i) stepper.step(tok);
  EXPECT_EQ(g_news.load() - before, 0u) << "allocations inside inference steps";
}

// A model big enough for several threads: the automatic choice tries 1 and 2 threads on
// alternate steps at first, and switching between them must not start threads or allocate.
TEST(NoAlloc, InferenceStepsSwitchingThreadCountsAllocateNothing) {
  ModelSpec spec = small_spec(InputKind::embedding, Mode::seq2seq, {lstm(512), dense(kVocabUnits)}, 12);
  spec.embed_dim = 64;  // 4 x 512 x (64 + 512) multiply-adds a step: above kSingleThreadMacs
  Model model(spec);
  model.init_random(5);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  Stepper stepper(model, 1);
  ASSERT_EQ(stepper.step_threads(), 2);
  const std::vector<int32_t> tok{3};
  stepper.step(tok);
  stepper.step(tok);  // both choices have run once
  const size_t before = g_news.load();
  for (int i = 0; i < 30; ++i) stepper.step(tok);
  EXPECT_EQ(g_news.load() - before, 0u) << "allocations while the step switches between 1 and 2 threads";
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace etude::nn
