// The divergence guard of a training run: whether a step or an epoch's validation looks like
// divergence, the last good state kept in memory, and the rollback step that returns to it with a
// smaller learning rate.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nn/network.hpp"
#include "nn/optimizer.hpp"
#include "nn/trainer.hpp"
#include "train/run_events.hpp"
#include "train/run_state.hpp"

namespace etude::train {

// Why a step looks like divergence ("" when it does not): a non-finite loss or gradient norm, a
// loss far worse than guessing, or a loss or gradient-norm spike over this epoch's recent steps.
std::string step_divergence(double loss, double norm, const std::vector<double>& losses,
                            const std::vector<double>& norms, int vocab);
// After validation (host copies in sync): why the validation loss, weights or optimizer state look
// diverged ("" when they do not).
std::string state_divergence(double val_loss, const nn::Model& model, nn::Trainer& trainer);

// The run's optimizer at its learning-rate scale and step count, with `state` when it fits (a
// resumed run's, a snapshot's), else fresh.
nn::Optimizer run_optimizer(const nn::ModelSpec& spec, const RunState& st, size_t params, std::span<const float> state);

class GoodState {
 public:
  void take(const nn::Model& model, nn::Trainer& trainer);  // after an epoch is saved
  // The rollback step: the model and optimizer back to the last good state, the learning rate cut
  // by lr_cut (st.lr_scale, st.rollbacks). Returns the note that goes in the next epoch's events.
  EpochNote roll_back(nn::Model& model, nn::Trainer& trainer, RunState& st, double lr_cut, int epoch, int64_t batch,
                      const std::string& why) const;

 private:
  std::vector<float> params_, buffers_, optimizer_;
};

}  // namespace etude::train
