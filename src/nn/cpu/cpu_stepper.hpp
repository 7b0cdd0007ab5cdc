// Composing on the CPU: a DeviceStepper over a host Model, so Stepper holds one stepper interface
// whichever device composes (the CUDA plugin's is the other). Fast: packed weights (packed_lstm.hpp),
// a step's layers shared by a team of threads (step_team.hpp); reference: the naive kernels.
#pragma once
#include <memory>

#include "nn/device.hpp"

namespace etude::nn {

// Threads a step may use: 1 below this many multiply-adds a step (a barrier then costs more than it
// saves), otherwise the OpenMP default, chosen step by step by timing (see Stepper::step_threads).
inline constexpr double kSingleThreadMacs = 1e6;
// The first LSTM's input gates come from a per-token table when vocab x features x 4H stays below this.
inline constexpr double kTableMacs = double(1 << 29);

// Reads the model's parameters (fast: packs them once, here); the model must outlive the stepper.
std::unique_ptr<DeviceStepper> make_cpu_stepper(const Model& model, int streams, LstmBackend backend,
                                                Precision precision);

}  // namespace etude::nn
