// The checkpoint step of a training run: what an epoch leaves in the run folder (checkpoints/,
// best and last model files with their model card, the resumable state, history.csv,
// summary.json and, at checkpoints, the graphs), every file written atomically.
#pragma once
#include <map>
#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "train/run_setup.hpp"

namespace etude::train {

class RunFiles {
 public:
  explicit RunFiles(const RunSetup& run);
  // After an epoch (its row the last of st.history): the model files its events call for
  // (checkpoint, best; last always), the state, the history and the summary (stop: how the run
  // ends after this epoch; nullopt while it goes on), then at a checkpoint the graphs. Returns
  // why the graphs could not be drawn, once ("" otherwise): drawing never stops a run.
  std::string save_epoch(const nn::Model& model, std::span<const float> optimizer, const RunState& st,
                         const std::optional<StopReason>& stop);
  // summary.json once the run ends; pending: rollbacks of an epoch that never completed.
  void save_summary(const nn::Model& model, const RunState& st, StopReason stop, const EpochEvents& pending);

 private:
  nlohmann::json summary(const nn::Model& model, const RunState& st, const std::optional<StopReason>& stop,
                         const EpochEvents& pending) const;
  std::map<std::string, std::string> model_meta(const EpochRow& row, const RunState& st) const;

  const RunSetup& run_;
  std::string tokenizer_json_, ngrams_text_;
  bool plots_failed_ = false;
};

}  // namespace etude::train
