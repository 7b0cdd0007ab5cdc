// `etude train` without the terminal: corpus -> model -> epochs with validation, checkpoints,
// graphs, the copy measure, a resumable state after every epoch, the divergence guard and early
// stopping, all into one run folder (see the layout below). Progress goes through a callback.
//
//   RUN/state.safetensors      resumable state (weights, optimizer moments, schedule step, history)
//   RUN/history.csv            one row per epoch        RUN/summary.json   corpus, model, best epoch
//   RUN/last.safetensors       RUN/best.safetensors     RUN/checkpoints/epoch-NNNN.safetensors
//   RUN/plots/loss.png         RUN/plots/accuracy.png   RUN/plots/training.gif
#pragma once
#include <functional>
#include <stop_token>

#include "train/train_config.hpp"

namespace etude::train {

// stop is polled between steps (Ctrl-C, the server's Stop): the epoch in progress ends early, is
// validated and saved, and the run ends StopReason::interrupted. Throws IoError for an unwritable run folder, InvalidArgument for a folder with nothing
// to train on or a resume that does not fit, and InvalidArgument after repeated divergence (the
// best model is kept). Every file of the run is written atomically.
TrainResult run_training(TrainConfig config, const ProgressFn& progress, std::stop_token stop);

}  // namespace etude::train
