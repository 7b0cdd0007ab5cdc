// Optimizer pieces by hand-computed values: learning-rate schedules, clip_grad_norm_'s formula,
// weight decay added to the gradient, SGD momentum's first step; the update rules themselves
// are checked against torch.optim in torch_parity_test.
#include <gtest/gtest.h>

#include <cmath>

#include "base/error.hpp"
#include "nn/optimizer.hpp"

namespace etude::nn {
namespace {

TEST(Schedule, ConstantCosineAndStep) {
  OptimizerSpec o;
  o.lr = 0.1f;
  EXPECT_NEAR(scheduled_lr(o, {}, 1000), 0.1, 1e-7);
  ScheduleSpec cos{.kind = ScheduleKind::cosine, .total_steps = 100, .min_lr = 0.01f};
  EXPECT_NEAR(scheduled_lr(o, cos, 0), 0.1, 1e-7);
  EXPECT_NEAR(scheduled_lr(o, cos, 50), 0.01 + 0.09 * 0.5, 1e-7);
  EXPECT_NEAR(scheduled_lr(o, cos, 100), 0.01, 1e-7);
  EXPECT_NEAR(scheduled_lr(o, cos, 500), 0.01, 1e-7);  // stays at the floor
  ScheduleSpec step{.kind = ScheduleKind::step, .step_size = 10, .gamma = 0.5f};
  EXPECT_NEAR(scheduled_lr(o, step, 9), 0.1, 1e-7);
  EXPECT_NEAR(scheduled_lr(o, step, 10), 0.05, 1e-8);
  EXPECT_NEAR(scheduled_lr(o, step, 25), 0.025, 1e-8);
}

TEST(Clip, ScalesToMaxNormOnlyWhenAbove) {
  std::vector<float> g{3, 4};  // norm 5
  EXPECT_NEAR(clip_grad_norm(g, 10.0), 5.0, 1e-12);
  EXPECT_EQ(g, (std::vector<float>{3, 4}));
  EXPECT_NEAR(clip_grad_norm(g, 1.0), 5.0, 1e-12);
  EXPECT_NEAR(g[0], 3.0 / (5.0 + 1e-6), 1e-7);  // torch: max_norm / (norm + 1e-6)
  EXPECT_NEAR(g[1], 4.0 / (5.0 + 1e-6), 1e-7);
}

TEST(Optimizer, SgdMomentumAndWeightDecayFollowTorch) {
  OptimizerSpec o{.kind = OptimizerKind::sgd, .lr = 0.5f, .momentum = 0.9f, .weight_decay = 0.1f};
  Optimizer opt(o, {}, 0.0f, 2);
  std::vector<float> p{1.0f, -2.0f}, g{0.2f, 0.4f};
  opt.step(p, g);  // buf = g + wd*p = {0.3, 0.2}; p -= lr*buf
  EXPECT_NEAR(p[0], 1.0 - 0.5 * 0.3, 1e-6);
  EXPECT_NEAR(p[1], -2.0 - 0.5 * 0.2, 1e-6);
  std::vector<float> g2{0.2f, 0.4f};
  opt.step(p, g2);  // buf = 0.9*buf + g + wd*p
  EXPECT_NEAR(p[0], 0.85 - 0.5 * (0.9 * 0.3 + 0.2 + 0.1 * 0.85), 1e-6);
  EXPECT_EQ(opt.steps_done(), 2);
}

TEST(Optimizer, AdamFirstStepIsLrTimesSign) {
  Optimizer opt({.kind = OptimizerKind::adam, .lr = 0.01f}, {}, 0.0f, 3);
  std::vector<float> p{0, 0, 0}, g{0.5f, -2.0f, 1e-3f};
  opt.step(p, g);  // m/(sqrt(v)+eps) after bias correction = sign(g) for |g| >> eps
  EXPECT_NEAR(p[0], -0.01, 1e-7);
  EXPECT_NEAR(p[1], 0.01, 1e-7);
  EXPECT_NEAR(p[2], -0.01, 1e-6);
  EXPECT_EQ(opt.state().size(), 6u);
}

// The training guard reads the norm to see divergence: it is measured with clipping off too.
TEST(Optimizer, ReportsTheGradientNormWithoutClipping) {
  Optimizer opt({.kind = OptimizerKind::rmsprop, .lr = 0.01f}, {}, 0.0f, 2);
  std::vector<float> p{0, 0}, g{3.0f, 4.0f};
  EXPECT_NEAR(opt.step(p, g), 5.0, 1e-9);
  EXPECT_EQ(g[0], 3.0f);  // not clipped
}

TEST(Optimizer, RefusesMismatchedSizes) {
  Optimizer opt({}, {}, 0.0f, 3);
  std::vector<float> p(3), g(2);
  EXPECT_THROW(opt.step(p, g), InvalidArgument);
}

}  // namespace
}  // namespace etude::nn
