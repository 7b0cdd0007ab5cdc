// The record of a training run as its folder holds it, typed, for readers other than the trainer
// (the server): the epochs (history.csv), the best epoch and the checkpoints (from the epochs'
// events) and how the run ended (summary.json's stop reason).
#pragma once
#include <filesystem>
#include <optional>
#include <vector>

#include "train/train_config.hpp"

namespace etude::train {

inline constexpr const char* kSummaryFile = "summary.json";

struct RunRecord {
  std::vector<EpochRow> history;
  int best_epoch = 0;              // 0: no epoch yet
  double best_val_loss = 0;        // the best epoch's
  std::vector<int> checkpoints;    // epochs saved as checkpoints/epoch-NNNN.safetensors
  bool summarized = false;         // summary.json names a stop reason, or that the run was running
  std::optional<StopReason> stop;  // how it ended; nullopt while (or if it ended while) running
  int epochs_done = 0;             // summary.json's count
  nlohmann::json config;           // summary.json's: the run's settings (config_to_json); null: none

  // Appends an epoch, keeping best_epoch and checkpoints (a resumed run's rows come again: the
  // later row of an epoch replaces nothing, as history.csv never repeats one).
  void add(const EpochRow& row);
};

// The record from a rows list, or from a run folder's history.csv and summary.json (missing or
// damaged files read as what they would have said before the first epoch).
RunRecord run_record(std::vector<EpochRow> history);
RunRecord read_run_record(const std::filesystem::path& run_dir);

}  // namespace etude::train
