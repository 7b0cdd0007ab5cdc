// Adam, RMSprop, SGD, clipping and schedules; see optimizer.hpp. The loops are written so the
// float arithmetic follows torch.optim's (single-tensor, foreach=False) order of operations.
#include "nn/optimizer.hpp"

#include <cmath>
#include <limits>

#include "base/error.hpp"

namespace etude::nn {

double scheduled_lr(const OptimizerSpec& opt, const ScheduleSpec& s, int64_t step) {
  switch (s.kind) {
    case ScheduleKind::constant: return opt.lr;
    case ScheduleKind::cosine: {
      const double p = std::min<double>(step, s.total_steps) / double(s.total_steps);
      return s.min_lr + (opt.lr - s.min_lr) * 0.5 * (1 + std::cos(M_PI * p));
    }
    case ScheduleKind::step: return opt.lr * std::pow(double(s.gamma), double(step / s.step_size));
  }
  return opt.lr;
}

double clip_grad_norm(std::span<float> grads, double max_norm) {
  double sum = 0;
  const int64_t n = int64_t(grads.size());
#pragma omp parallel for schedule(static) reduction(+ : sum) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) sum += double(grads[i]) * grads[i];
  const double norm = std::sqrt(sum);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1) {
    const float c = static_cast<float>(coef);
#pragma omp parallel for schedule(static) if (n > (1 << 15))
    for (int64_t i = 0; i < n; ++i) grads[i] *= c;
  }
  return norm;
}

Optimizer::Optimizer(OptimizerSpec opt, ScheduleSpec schedule, float clip, size_t n)
    : opt_(opt), schedule_(schedule), clip_(clip) {
  state_.assign(opt.kind == OptimizerKind::adam ? 2 * n : n, 0.0f);
}

double Optimizer::step(std::span<float> p, std::span<float> g) {
  if (p.size() != g.size() || state_.size() != (opt_.kind == OptimizerKind::adam ? 2 : 1) * p.size())
    throw InvalidArgument("optimizer: parameter, gradient and state sizes disagree");
  // The norm is measured even without clipping: the training guard needs it to see divergence.
  const double norm = clip_grad_norm(g, clip_ > 0 ? double(clip_) : std::numeric_limits<double>::infinity());
  const float lr = static_cast<float>(scheduled_lr(opt_, schedule_, step_));
  ++step_;
  const float wd = opt_.weight_decay;
  const int64_t n = int64_t(p.size());
  switch (opt_.kind) {
    case OptimizerKind::adam: {
      float* m = state_.data();
      float* v = state_.data() + n;
      const float b1 = opt_.beta1, b2 = opt_.beta2, eps = opt_.eps;
      const double bc1 = 1 - std::pow(double(b1), double(step_));
      const double bc2_sqrt = std::sqrt(1 - std::pow(double(b2), double(step_)));
      const float step_size = static_cast<float>(lr / bc1);
      const float bc2s = static_cast<float>(bc2_sqrt);
#pragma omp parallel for schedule(static) if (n > (1 << 15))
      for (int64_t i = 0; i < n; ++i) {
        const float gi = wd != 0 ? g[i] + wd * p[i] : g[i];
        m[i] = m[i] * b1 + (1 - b1) * gi;
        v[i] = v[i] * b2 + (1 - b2) * gi * gi;
        const float denom = std::sqrt(v[i]) / bc2s + eps;
        p[i] -= step_size * (m[i] / denom);
      }
      break;
    }
    case OptimizerKind::rmsprop: {
      float* v = state_.data();
      const float a = opt_.alpha, eps = opt_.eps;
#pragma omp parallel for schedule(static) if (n > (1 << 15))
      for (int64_t i = 0; i < n; ++i) {
        const float gi = wd != 0 ? g[i] + wd * p[i] : g[i];
        v[i] = v[i] * a + (1 - a) * gi * gi;
        p[i] -= lr * (gi / (std::sqrt(v[i]) + eps));
      }
      break;
    }
    case OptimizerKind::sgd: {
      float* buf = state_.data();
      const float mom = opt_.momentum;
#pragma omp parallel for schedule(static) if (n > (1 << 15))
      for (int64_t i = 0; i < n; ++i) {
        const float gi = wd != 0 ? g[i] + wd * p[i] : g[i];
        buf[i] = step_ == 1 ? gi : buf[i] * mom + gi;
        p[i] -= lr * (mom != 0 ? buf[i] : gi);
      }
      break;
    }
  }
  return norm;
}

}  // namespace etude::nn
