// Optimizers over the contiguous parameter block, with PyTorch's exact update rules (Adam with
// eps outside the square root and bias correction; RMSprop; SGD with momentum), global
// gradient-norm clipping (torch.nn.utils.clip_grad_norm_), learning-rate schedules, L2 decay.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "nn/model_spec.hpp"

namespace etude::nn {

// The learning rate for a 0-based step under a schedule.
double scheduled_lr(const OptimizerSpec& opt, const ScheduleSpec& schedule, int64_t step);

// Scales grads so their global L2 norm is at most max_norm (as clip_grad_norm_: factor
// max_norm / (norm + 1e-6), only when below 1). Returns the norm before clipping.
double clip_grad_norm(std::span<float> grads, double max_norm);

class Optimizer {
 public:
  Optimizer(OptimizerSpec opt, ScheduleSpec schedule, float clip, size_t param_count);
  // One update: clip (if set), schedule, weight decay, rule. grads may be modified (clipping).
  // Returns the gradient norm before clipping (0 when clipping is off and not measured).
  double step(std::span<float> params, std::span<float> grads);
  int64_t steps_done() const { return step_; }
  std::span<float> state() { return state_; }  // one block: [m | v] (adam), [v] (rmsprop), [buf] (sgd)
  void set_steps_done(int64_t s) { step_ = s; }
  const OptimizerSpec& spec() const { return opt_; }
  const ScheduleSpec& schedule() const { return schedule_; }
  float clip() const { return clip_; }

 private:
  OptimizerSpec opt_;
  ScheduleSpec schedule_;
  float clip_;
  int64_t step_ = 0;
  std::vector<float> state_;
};

}  // namespace etude::nn
