// The divergence guard; see divergence_guard.hpp.
#include "train/divergence_guard.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace etude::train {
namespace {
bool all_finite(std::span<const float> v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}
}  // namespace

std::string step_divergence(double loss, double norm, const std::vector<double>& losses,
                            const std::vector<double>& norms, int vocab) {
  char buf[160];
  if (!std::isfinite(loss)) return std::isnan(loss) ? "loss is NaN" : "loss is infinite";
  if (!std::isfinite(norm)) return "gradient norm is not finite";
  const double chance = std::log(double(vocab));
  if (loss > 3 * chance) {
    std::snprintf(buf, sizeof buf, "loss %.3g is far above chance level (%.3g)", loss, chance);
    return buf;
  }
  constexpr size_t kWindow = 50, kWarm = 20;
  auto recent_mean = [&](const std::vector<double>& v) {
    const size_t n = std::min(v.size(), kWindow);
    return std::accumulate(v.end() - long(n), v.end(), 0.0) / double(n);
  };
  if (losses.size() >= kWarm && loss > 2 * recent_mean(losses) + 0.5) {
    std::snprintf(buf, sizeof buf, "loss spike %.3g (recent mean %.3g)", loss, recent_mean(losses));
    return buf;
  }
  if (norms.size() >= kWarm && norm > 100 * recent_mean(norms) && recent_mean(norms) > 0) {
    std::snprintf(buf, sizeof buf, "gradient-norm spike %.3g (recent mean %.3g)", norm, recent_mean(norms));
    return buf;
  }
  return "";
}

std::string state_divergence(double val_loss, const nn::Model& model, nn::Trainer& trainer) {
  if (!std::isfinite(val_loss) || !all_finite(model.params()) || !all_finite(model.buffers()) ||
      !all_finite(trainer.optimizer().state()))
    return "validation loss, weights or optimizer state not finite";
  return "";
}

nn::Optimizer run_optimizer(const nn::ModelSpec& spec, const RunState& st, size_t params, std::span<const float> state) {
  nn::OptimizerSpec o = spec.optimizer;
  o.lr = float(o.lr * st.lr_scale);
  nn::Optimizer opt(o, spec.schedule, spec.clip, params);
  if (state.size() == opt.state().size()) std::copy(state.begin(), state.end(), opt.state().begin());
  opt.set_steps_done(st.steps);
  return opt;
}

void GoodState::take(const nn::Model& model, nn::Trainer& trainer) {
  params_.assign(model.params().begin(), model.params().end());
  buffers_.assign(model.buffers().begin(), model.buffers().end());
  optimizer_.assign(trainer.optimizer().state().begin(), trainer.optimizer().state().end());
}

EpochNote GoodState::roll_back(nn::Model& model, nn::Trainer& trainer, RunState& st, double lr_cut, int epoch,
                               int64_t batch, const std::string& why) const {
  std::copy(params_.begin(), params_.end(), model.params().begin());
  std::copy(buffers_.begin(), buffers_.end(), model.buffers().begin());
  ++st.rollbacks;
  st.lr_scale *= lr_cut;
  trainer.set_optimizer(run_optimizer(model.spec(), st, model.params().size(), optimizer_));  // uploads the model too
  return rollback_note(epoch, batch, why, double(model.spec().optimizer.lr * st.lr_scale));
}

}  // namespace etude::train
