// The resumable state of a training run, one file (RUN/state.safetensors, written atomically after
// every epoch): the model's tensors, the optimizer's moments as one extra tensor, and in the
// metadata the run's settings, progress, history and the identity of the corpus it trained on.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/network.hpp"
#include "train/train_config.hpp"

namespace etude::train {

inline constexpr const char* kStateFile = "state.safetensors";

struct RunState {
  nlohmann::json config;              // config_to_json of the run
  std::string corpus_identity;        // options key and hash of the token streams
  int epoch = 0;                      // epochs completed
  int64_t steps = 0;                  // optimizer steps done
  double lr_scale = 1.0;              // product of the divergence guard's cuts
  int rollbacks = 0;                  // in all
  int best_epoch = 0;
  double best_val_loss = 0;
  int bad_epochs = 0;                 // epochs since the best (patience)
  double seconds = 0;                 // training time over all sessions
  std::vector<EpochRow> history;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RunState, config, corpus_identity, epoch, steps, lr_scale, rollbacks, best_epoch,
                                   best_val_loss, bad_epochs, seconds, history)

// Writes model tensors, "optimizer.state" and the metadata "etude.model", "etude.train_state".
void save_run_state(const std::filesystem::path& path, const nn::Model& model, std::span<const float> optimizer,
                    const RunState& state);

struct LoadedState {
  nn::Model model;
  std::vector<float> optimizer;
  RunState state;
};
// FormatError naming the file and what is wrong (truncated, not a state file, missing entries).
LoadedState load_run_state(const std::filesystem::path& path);

}  // namespace etude::train
