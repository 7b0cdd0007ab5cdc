// What `etude train` is asked to do (TrainConfig, with the defaults a bare run uses), what it
// reports while it runs (TrainProgress through a callback: train/ never prints) and the history
// row written to history.csv after every epoch.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/run_events.hpp"

namespace etude::nn {
class Collective;
}

namespace etude::train {

// Whether the model gets a style table (a learned vector per style added to every token's input):
// automatic gives one when the data holds two or more styles or the base model (--from) has one.
enum class StyleTable { automatic, on, off };
// What fine-tuning (--from) trains: every weight, or only the style rows (the rest stays the base's).
enum class FineTune { all, styles };

struct TrainConfig {
  std::filesystem::path corpus_dir;
  std::vector<std::filesystem::path> extra_dirs;  // more roots trained together (their styles join)
  StyleTable style_table = StyleTable::automatic;
  std::filesystem::path from;                // a model to start from (fine-tuning); empty: random weights
  FineTune tune = FineTune::all;
  std::filesystem::path out;                 // the run folder (created)
  // beats: notes placed on a bar/position grid, so the model sees the meter and the vocabulary is
  // smaller (259 tokens against 391 for `events` on Chopin, with about as many tokens per piece);
  // piano-midi.de-style files are sequenced on a beat grid, so little is lost. Use `events` for
  // performed (unquantized) recordings.
  std::string tokenizer = "beats";
  nlohmann::json tokenizer_config = nlohmann::json::object();
  std::string preset = "default";            // nn preset (see nn::preset_names)
  nlohmann::json model_json;                 // when not null: a model JSON instead of the preset
  int epochs = 200;                          // an upper bound: early stopping usually ends sooner;
                                             // with resume, 0 keeps the run's own
  int checkpoint_every = 10;                 // checkpoints/epoch-NNNN.safetensors, plots, copy measure
  int batch = 0;                             // 0: the preset's (64)
  int seq = 0;                               // 0: the preset's window (128)
  double lr = 0;                             // 0: the preset's (Adam 1e-3)
  int threads = 0;                           // 0: every core
  uint64_t seed = 1;
  double val_fraction = 0.1;                 // pieces held out for validation, by a hash of the path
  int transpose_min = -5, transpose_max = 6; // random transposition of each training piece per epoch
  double max_minutes = 0;                    // 0: no time limit
  int patience = 15;                         // epochs without a better validation loss; 0: never stop
  int sample_tokens = 600;                   // length of the checkpoint sample for the copy measure
  int max_rollbacks = 5;                     // consecutive divergence rollbacks before giving up
  double lr_cut = 0.5;                       // learning-rate factor after each rollback
  bool resume = false;
  std::filesystem::path cache;               // corpus cache file; empty: the default place
  // Where and how the steps run; not part of a run's stored settings, so a run trained on the GPU
  // resumes on the CPU and the other way round (the files are the same).
  std::string device = "auto";               // cpu, cuda, or auto (cuda when usable)
  std::string precision = "f32";             // f32; bf16: CPU LSTM kernels in bf16; f16: CUDA mixed precision
  // Data-parallel (under mpirun; app/ makes it): this process is one rank of the job and trains its
  // share of every batch; rank 0 alone writes the run folder. nullptr or one rank: alone. The
  // session's too: a run resumes with any number of ranks.
  nn::Collective* collective = nullptr;
};

// This process writes the run folder (it is alone, or rank 0), and the number of ranks training.
bool writes_run(const TrainConfig& c);
int run_ranks(const TrainConfig& c);

// The settings that define a run (stored in its state; --resume reuses them). Device, precision,
// threads, time limit and cache are the session's and come from the command each time.
nlohmann::json config_to_json(const TrainConfig& c);
void config_from_json(const nlohmann::json& j, TrainConfig& c);  // fills the stored fields

struct EpochRow {
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0, val_loss = 0, val_accuracy = 0;
  double lr = 0, seconds = 0, tokens_per_second = 0;
  double copied_share = -1;  // share of the checkpoint sample's notes in copied 8-note runs; -1: none
  EpochEvents events;        // best, checkpoint, rollback, ... (written "best; checkpoint")
  // Validation loss (nats per predicted token) by the kind of token predicted; -1: not measured
  // (runs from before they were, or a tokenizer without that kind).
  double val_pitch_loss = -1, val_duration_loss = -1, val_velocity_loss = -1, val_time_loss = -1;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EpochRow, epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr,
                                                seconds, tokens_per_second, copied_share, events, val_pitch_loss,
                                                val_duration_loss, val_velocity_loss, val_time_loss)

struct TrainProgress {
  enum class Kind { step, epoch, event };
  Kind kind = Kind::step;
  int epoch = 0, epochs = 0;         // the epoch in progress (1-based) and the planned total
  int64_t batch = 0, batches = 0;    // step: batches done in this epoch, of batches
  double tokens_per_second = 0, loss = 0;  // step: running mean loss of this epoch
  double eta_seconds = 0;            // to the planned end (or the time limit)
  const EpochRow* row = nullptr;     // epoch: the row just written
  std::string message;               // event: a rollback, a note (gnuplot missing, ...)
};
using ProgressFn = std::function<void(const TrainProgress&)>;

struct TrainResult {
  int epochs_done = 0;
  int best_epoch = 0;
  double best_val_loss = 0;
  StopReason stop_reason = StopReason::epochs_done;
  std::filesystem::path best_model;
};

}  // namespace etude::train
