// The training seam: on the CPU, Trainer does exactly what driving Model + Optimizer by hand does
// (bit for bit: runs and shipped models rely on it); f16 is refused by every CPU path; devices and
// precisions are parsed and chosen as documented; on a GPU (skipped elsewhere, saying why) the cuda
// Trainer follows the CPU one within float tolerance and syncs its state back to the host.
#include <gtest/gtest.h>

#include <cmath>

#include <algorithm>
#include <functional>

#include "base/error.hpp"
#include "nn/inference.hpp"
#include "nn/trainer.hpp"
#include "nn_test_util.hpp"

namespace etude::nn {
namespace {
using namespace testing;

// Dropout, batchnorm, clipping and a cosine schedule: every part of a step that could differ.
ModelSpec seam_spec() {
  ModelSpec s = small_spec(InputKind::embedding, Mode::seq2seq,
                           {lstm(16), dropout(0.3f), batchnorm(), dense(kVocabUnits)}, 12);
  s.clip = 0.5f;
  s.schedule = {.kind = ScheduleKind::cosine, .total_steps = 10, .min_lr = 1e-4f};
  return s;
}

TEST(TrainerCpu, EqualsModelAndOptimizerDrivenByHand) {
  set_compute_threads(1);
  const ModelSpec spec = seam_spec();
  const int B = 3, T = 5, steps = 6;
  Model a(spec), b(spec);
  a.init_random(4), b.init_random(4);
  Trainer trainer(a, B, T, {.dropout_seed = 77});
  b.prepare(B, T);
  b.seed_dropout(77);
  Optimizer opt(spec.optimizer, spec.schedule, spec.clip, b.params().size());
  for (int i = 0; i < steps; ++i) {
    const auto tok = random_tokens(size_t(B) * T, 12, 10 + i), tgt = random_tokens(size_t(B) * T, 12, 20 + i);
    const StepStats s = trainer.step(tok.data(), tgt.data());
    const double want_lr = scheduled_lr(spec.optimizer, spec.schedule, opt.steps_done());
    const double loss = b.forward_backward(tok.data(), tgt.data());
    const double norm = opt.step(b.params(), b.grads());
    EXPECT_EQ(s.loss, loss) << "step " << i;
    EXPECT_EQ(s.grad_norm, norm) << "step " << i;
    EXPECT_EQ(s.lr, want_lr) << "step " << i;
    EXPECT_FALSE(s.skipped);
  }
  EXPECT_EQ(trainer.optimizer().steps_done(), steps);
  trainer.sync_to_host();  // a no-op on the CPU
  auto same = [](std::span<const float> x, std::span<const float> y) { return std::equal(x.begin(), x.end(), y.begin(), y.end()); };
  EXPECT_TRUE(same(a.params(), b.params()));
  EXPECT_TRUE(same(a.buffers(), b.buffers()));
  EXPECT_TRUE(same(trainer.optimizer().state(), opt.state()));
  // Inference through the seam is the model's own.
  const auto tok = random_tokens(size_t(B) * T, 12, 99);
  trainer.forward(tok.data(), false);
  b.forward(tok.data(), false);
  EXPECT_TRUE(same(trainer.logits(), b.logits()));
  EXPECT_EQ(trainer.logit_steps(), b.logit_steps());
}

TEST(TrainerCpu, SetOptimizerCarriesStateAndRefusesAnotherShape) {
  const ModelSpec spec = seam_spec();
  Model m(spec);
  Trainer trainer(m, 3, 5);
  Optimizer o(spec.optimizer, spec.schedule, spec.clip, m.params().size());
  o.set_steps_done(7);
  trainer.set_optimizer(o);
  EXPECT_EQ(trainer.optimizer().steps_done(), 7);
  OptimizerSpec rms = spec.optimizer;
  rms.kind = OptimizerKind::rmsprop;  // half Adam's state
  EXPECT_THROW(trainer.set_optimizer(Optimizer(rms, spec.schedule, 0, m.params().size())), InvalidArgument);
}

// seq2one scores the window's last position only, also when the last LSTM returns sequences (the
// logits then have T steps, and targets hold one token per window), and never a column >= used.
TEST(TrainerCpu, ScoresSeq2OneAtTheLastStepOfUsedColumns) {
  const ModelSpec spec = small_spec(InputKind::embedding, Mode::seq2one, {lstm(8), dense(kVocabUnits)}, 7);
  Model model(spec);
  model.init_random(4);
  const int B = 4, T = 6, used = 3;
  Trainer trainer(model, B, T);
  ASSERT_EQ(trainer.logit_steps(), T);
  const auto tok = random_tokens(size_t(B) * T, 7, 1), tgt = random_tokens(size_t(B), 7, 2);
  trainer.forward(tok.data(), false);
  RowScore got;
  trainer.add_score(tgt.data(), used, got);
  EXPECT_EQ(got.count, used);
  double want = 0;
  for (int b = 0; b < used; ++b) {
    const float* z = model.logits().data() + (size_t(T - 1) * B + b) * 7;
    double sum = 0;
    for (int k = 0; k < 7; ++k) sum += std::exp(double(z[k]));
    want += std::log(sum) - z[tgt[size_t(b)]];
  }
  EXPECT_NEAR(got.loss_sum, want, 1e-6 * want);  // the engine subtracts the row maximum in float first
}

TEST(Precisions, F16IsRefusedOnEveryCpuPath) {
  const ModelSpec spec = seam_spec();
  Model m(spec);
  auto says_cuda = [](auto&& make) {
    try {
      make();
    } catch (const InvalidArgument& e) {
      return std::string(e.what()).find("CUDA") != std::string::npos;
    }
    return false;
  };
  EXPECT_TRUE(says_cuda([] { make_cpu_lstm({2, 2, 3, 4}, Precision::f16); }));
  EXPECT_TRUE(says_cuda([&] { Stepper(m, 1, LstmBackend::fast, Precision::f16); }));
  EXPECT_TRUE(says_cuda([&] { Stepper(m, 1, LstmBackend::reference, Precision::f16); }));
  EXPECT_TRUE(says_cuda([&] { Trainer(m, 3, 5, {.precision = Precision::f16}); }));
  EXPECT_TRUE(says_cuda([&] { Trainer(m, 3, 5, {.backend = LstmBackend::reference, .precision = Precision::f16}); }));
  EXPECT_THROW(check_precision(Device::cuda, Precision::bf16), InvalidArgument);
  EXPECT_NO_THROW(check_precision(Device::cpu, Precision::bf16));
  EXPECT_NO_THROW(check_precision(Device::cuda, Precision::f16));
}

TEST(Precisions, NamesParseAndPrint) {
  for (Precision p : {Precision::f32, Precision::bf16, Precision::f16}) EXPECT_EQ(parse_precision(precision_name(p)), p);
  EXPECT_THROW(parse_precision("fp8"), InvalidArgument);
  EXPECT_THROW(parse_device("gpu"), InvalidArgument);
}

TEST(Devices, AutomaticKeepsCpuOnlyWorkOnTheCpu) {
  EXPECT_EQ(choose_device(DeviceChoice::automatic, Precision::bf16), Device::cpu);
  EXPECT_EQ(choose_device(DeviceChoice::automatic, Precision::f32, LstmBackend::reference), Device::cpu);
  EXPECT_EQ(choose_device(DeviceChoice::cpu, Precision::f32), Device::cpu);
  EXPECT_EQ(choose_device(DeviceChoice::automatic, Precision::f32),
            cuda_status().usable ? Device::cuda : Device::cpu);
}

// The note a run prints when auto kept the CPU names the real reason (it was empty when CUDA was usable).
TEST(Devices, WhyCpuNamesTheReason) {
  EXPECT_EQ(why_cpu(DeviceChoice::automatic, Precision::bf16), "bf16 runs on the CPU kernels");
  EXPECT_EQ(why_cpu(DeviceChoice::automatic, Precision::f32, LstmBackend::reference), "the reference LSTM runs on the CPU");
  EXPECT_EQ(why_cpu(DeviceChoice::cpu, Precision::f32), "the CPU was asked for");
  EXPECT_EQ(why_cpu(DeviceChoice::cuda, Precision::f32), "");
  const CudaStatus g = cuda_status();
  EXPECT_EQ(why_cpu(DeviceChoice::automatic, Precision::f32), g.usable ? "" : g.why);
}

TEST(Devices, CudaWithoutAGpuSaysWhy) {
  const CudaStatus g = cuda_status();
  if (g.usable) GTEST_SKIP() << "CUDA is usable here (" << g.name << "); this checks the refusal elsewhere";
  EXPECT_FALSE(g.why.empty());
  Model m(seam_spec());
  for (auto make : std::initializer_list<std::function<void()>>{
           [&] { Trainer(m, 3, 5, {.device = Device::cuda}); },
           [&] { Stepper(m, 2, LstmBackend::fast, Precision::f32, Device::cuda); },
           [&] { choose_device(DeviceChoice::cuda, Precision::f32); },
           [&] { choose_device(DeviceChoice::automatic, Precision::f16); }}) {
    try {
      make();
      ADD_FAILURE() << "cuda was not refused";
    } catch (const DeviceError& e) {
      EXPECT_NE(std::string(e.what()).find(g.why), std::string::npos) << e.what();
    }
  }
}

// ---- On a GPU only.
class TrainerCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    const CudaStatus g = cuda_status();
    if (!g.usable) GTEST_SKIP() << "no usable CUDA here: " << g.why;
  }
};

// A CPU and a GPU run of one seed see the same batches and dropout masks (the engine draws them as
// Network does, from the seed the Trainer passes on) and must agree step by step within float
// tolerance (f32: cuDNN and cuBLAS without TF32), scoring each batch as the training loop does
// (forward_backward, add_score, update). A host model and optimizer set on the GPU trainer (a
// rollback, a resume) are what its next step starts from.
TEST_F(TrainerCuda, FollowsTheCpuTrainerAndSyncsBack) {
  ModelSpec spec =
      small_spec(InputKind::embedding, Mode::seq2seq, {lstm(32), dropout(0.25f), lstm(24), dense(kVocabUnits)}, 20);
  spec.clip = 1.0f;
  const int B = 8, T = 16, steps = 5;
  Model cpu(spec), gpu(spec);
  cpu.init_random(2), gpu.init_random(2);
  Trainer tc(cpu, B, T), tg(gpu, B, T, {.device = Device::cuda});
  EXPECT_EQ(tg.device(), Device::cuda);
  // One training step on both, scored between backward and update; returns the CPU's stats.
  auto step_both = [&](uint64_t seed) {
    const auto tok = random_tokens(size_t(B) * T, 20, seed), tgt = random_tokens(size_t(B) * T, 20, seed + 100);
    const double la = tc.forward_backward(tok.data(), tgt.data()), lb = tg.forward_backward(tok.data(), tgt.data());
    RowScore sa, sb;
    tc.add_score(tgt.data(), B, sa);
    tg.add_score(tgt.data(), B, sb);
    const StepStats a = tc.update(), b = tg.update();
    EXPECT_NEAR(lb, la, 1e-4 * la) << "seed " << seed;
    EXPECT_EQ(sb.count, sa.count) << "seed " << seed;
    EXPECT_NEAR(sb.loss_sum / sb.count, la, 1e-4 * la) << "seed " << seed << ": the score is the step's loss";
    EXPECT_NEAR(double(sb.correct), double(sa.correct), 2.0) << "seed " << seed;
    EXPECT_NEAR(b.grad_norm, a.grad_norm, 1e-3 * a.grad_norm) << "seed " << seed;
    EXPECT_EQ(b.lr, a.lr) << "seed " << seed;
    EXPECT_FALSE(b.skipped);
  };
  for (int i = 0; i < steps; ++i) step_both(30 + i);
  EXPECT_EQ(tg.optimizer().steps_done(), steps);
  const auto tok = random_tokens(size_t(B) * T, 20, 77);
  tc.forward(tok.data(), false);
  tg.forward(tok.data(), false);
  const auto lc = tc.logits();
  const auto lg = tg.logits();
  ASSERT_EQ(lg.size(), lc.size());
  EXPECT_LT(rel_error(lg, lc), 1e-3);
  // Scoring on the device (used columns only) agrees with the CPU's host scoring.
  const auto tgt = random_tokens(size_t(B) * T, 20, 78);
  RowScore sc, sg;
  tc.add_score(tgt.data(), B - 3, sc);
  tg.add_score(tgt.data(), B - 3, sg);
  EXPECT_EQ(sg.count, int64_t(T) * (B - 3));
  EXPECT_EQ(sg.count, sc.count);
  EXPECT_NEAR(sg.loss_sum, sc.loss_sum, 1e-3 * sc.loss_sum);
  EXPECT_NEAR(double(sg.correct), double(sc.correct), 2.0);  // near-ties may flip under 1e-3 logit error
  tg.sync_to_host();
  EXPECT_LT((rel_error<float, float>(gpu.params(), cpu.params())), 1e-3);
  EXPECT_LT((rel_error<float, float>(tg.optimizer().state(), tc.optimizer().state())), 1e-2);
  // A host change reaches the device: the CPU's weights uploaded give the CPU's logits.
  std::copy(cpu.params().begin(), cpu.params().end(), gpu.params().begin());
  tg.sync_to_device();
  tg.forward(tok.data(), false);
  EXPECT_LT(rel_error(tg.logits(), lc), 1e-4);

  // The CPU trains on alone (its model, optimizer state and step count move away from the GPU's);
  // then the GPU trainer gets the CPU's model and a copy of its optimizer, as a rollback restores
  // them: set_optimizer uploads both, so the next step starts where the CPU's does.
  for (int i = 0; i < 3; ++i) {
    const auto t = random_tokens(size_t(B) * T, 20, 50 + i), g = random_tokens(size_t(B) * T, 20, 60 + i);
    tc.step(t.data(), g.data());
  }
  std::copy(cpu.params().begin(), cpu.params().end(), gpu.params().begin());
  tg.set_optimizer(Optimizer(tc.optimizer()));
  EXPECT_EQ(tg.optimizer().steps_done(), steps + 3);
  tc.seed_dropout(91), tg.seed_dropout(91);  // the same masks from here on
  step_both(70);
  tg.sync_to_host();
  EXPECT_LT((rel_error<float, float>(gpu.params(), cpu.params())), 1e-3);
  EXPECT_LT((rel_error<float, float>(tg.optimizer().state(), tc.optimizer().state())), 1e-3);
  EXPECT_EQ(tg.optimizer().steps_done(), tc.optimizer().steps_done());
}

// f16 (half LSTM, f32 master weights, dynamic loss scaling) against f32 on the GPU over a few
// updates on the same batches. The loss scale starts high, so the first steps may overflow and be
// skipped: the f32 trainer then skips its update too, so both make the same updates; after the
// first two, no step may be skipped. The last loss (after the updates) within 1e-2 relative and
// the weights within 2e-2 of their largest magnitude: the stated f16 bounds.
TEST_F(TrainerCuda, MixedPrecisionTrainsNearTheF32Loss) {
  ModelSpec spec = small_spec(InputKind::embedding, Mode::seq2seq, {lstm(64), dense(kVocabUnits)}, 20);
  const int B = 16, T = 32, steps = 6;
  Model f32(spec), f16(spec);
  f32.init_random(3), f16.init_random(3);
  Trainer a(f32, B, T, {.device = Device::cuda}), h(f16, B, T, {.precision = Precision::f16, .device = Device::cuda});
  double la = 0, lh = 0;
  int updates = 0;
  for (int i = 0; i < steps; ++i) {
    const auto tok = random_tokens(size_t(B) * T, 20, 5 + i), tgt = random_tokens(size_t(B) * T, 20, 50 + i);
    la = a.forward_backward(tok.data(), tgt.data());
    lh = h.forward_backward(tok.data(), tgt.data());
    const bool skipped = h.update().skipped;
    if (i >= 2) {
      EXPECT_FALSE(skipped) << "step " << i << ": the loss scale should have settled";
    }
    if (!skipped) a.update(), ++updates;
  }
  ASSERT_GE(updates, steps - 2);
  EXPECT_EQ(h.optimizer().steps_done(), a.optimizer().steps_done());
  EXPECT_NEAR(lh, la, 1e-2 * la) << "the last loss, after " << updates - 1 << " updates";
  a.sync_to_host(), h.sync_to_host();
  EXPECT_LT((rel_error<float, float>(f16.params(), f32.params())), 2e-2);
}

}  // namespace
}  // namespace etude::nn
