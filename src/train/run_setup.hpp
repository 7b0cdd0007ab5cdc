// The load step of a training run: the command's settings (or a resumed run's own), the device,
// the base model when fine-tuning, the data, the model and the run's state, every check that can
// refuse the run made before the run folder is written.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/device.hpp"
#include "nn/network.hpp"
#include "train/run_state.hpp"
#include "train/train_config.hpp"
#include "train/train_data.hpp"

namespace etude::train {

struct RunSetup {
  TrainConfig config;  // the command's; a resumed run's stored settings with the session's own
  nn::Precision precision;
  nn::Device device;
  std::string device_label;    // "cpu" or "cuda (GPU NAME)"
  nlohmann::json device_json;  // summary.json's "device"
  TrainData data;
  nn::Model model;
  RunState state;
  std::vector<float> optimizer;  // a resumed run's optimizer state; empty: a new run's
  std::vector<std::pair<size_t, size_t>> trainable;  // --tune styles: the parameters trained; empty: all
};

// note: messages for people (the data's note, the device). Throws what run_training documents.
RunSetup load_run(TrainConfig config, const std::function<void(const std::string&)>& note);

}  // namespace etude::train
