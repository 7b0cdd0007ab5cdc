// The epoch step of a training run: one pass over a freshly drawn epoch (pieces transposed, window
// order shuffled, dropout seeded, all from (seed, epoch, rollbacks)), an optimizer step per batch,
// the divergence guard watching each step and the stop token and time limit checked between them.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>

#include "nn/trainer.hpp"
#include "train/batches.hpp"
#include "train/run_setup.hpp"

namespace etude::train {

// Seeds of everything random in an epoch: (run seed, epoch, salt) mixed, so a resumed run repeats
// what an uninterrupted one would do.
uint64_t epoch_seed(uint64_t seed, uint64_t epoch, uint64_t salt);

// The session's time: since it started, against --max-minutes, and the last epoch's length (ETA).
struct RunClock {
  using Clock = std::chrono::steady_clock;
  Clock::time_point start = Clock::now();
  double limit_s = 0;          // 0: no limit
  double epoch_seconds = 0;    // the last epoch's, 0 before the first
  static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
  bool out_of_time() const { return limit_s > 0 && since(start) > limit_s; }
};

struct EpochResult {
  int64_t done = 0, batches = 0, skipped = 0;  // steps made, planned, and skipped (f16 overflow)
  Score score;                                 // the training loss and accuracy of the steps made
  std::string diverged;                        // why the guard stopped the epoch ("": it did not)
  std::optional<StopReason> stop;              // interrupted or max_minutes before a step
  RunClock::Clock::time_point started;         // when the epoch began
  double seconds = 0;                          // the steps' time (without validation)
};

// Steps through the epoch `epoch` (1-based), reporting progress after each step.
EpochResult train_epoch(RunSetup& run, nn::Trainer& trainer, int epoch, const RunClock& clock,
                        const ProgressFn& progress, const std::stop_token& stop);

}  // namespace etude::train
