// The training loop behind `etude train`; see train_run.hpp. It runs the named steps in order:
// load (run_setup), then per epoch the epoch (epoch_step), validate (validation), and either the
// rollback (divergence_guard) or the epoch's record and the checkpoint (checkpoint). A stop (the
// stop token, the time limit) saves the epoch in progress as done, marked partial.
#include "train/train_run.hpp"

#include <cstdio>
#include <optional>

#include "base/error.hpp"
#include "nn/collective.hpp"
#include "nn/optimizer.hpp"
#include "nn/trainer.hpp"
#include "train/checkpoint.hpp"
#include "train/copy_measure.hpp"
#include "train/divergence_guard.hpp"
#include "train/epoch_step.hpp"
#include "train/run_setup.hpp"
#include "train/validation.hpp"

namespace etude::train {
namespace {

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// The epoch's record: its row (losses, rate, speed, events) added to the state, with the best
// epoch, patience and, at a checkpoint, the copy measure. `stop` becomes patience when it runs out.
void record_epoch(RunSetup& run, nn::Trainer& trainer, int epoch, const EpochResult& e, const EpochValidation& v,
                  EpochEvents& pending, std::optional<StopReason>& stop) {
  const TrainConfig& c = run.config;
  const nn::ModelSpec& spec = run.model.spec();
  RunState& st = run.state;
  EpochRow row{.epoch = epoch, .train_loss = e.score.loss(), .train_accuracy = e.score.accuracy(),
               .val_loss = v.score.loss(), .val_accuracy = v.score.accuracy(),
               .lr = nn::scheduled_lr(spec.optimizer, spec.schedule, trainer.optimizer().steps_done() - 1) * st.lr_scale,
               .tokens_per_second = double(e.done) * spec.batch * spec.window / e.seconds, .events = pending};
  set_kind_losses(row, v.kind_loss);
  pending.clear();
  if (run.device != nn::Device::cpu || run.precision != nn::Precision::f32)
    row.events.add(device_note(run.device_label, c.precision));
  if (e.skipped > 0) row.events.add(skipped_steps_note(e.skipped));
  if (e.done < e.batches) row.events.add(partial_note(e.done, e.batches, stop.value_or(StopReason::interrupted)));
  st.epoch = epoch;
  st.steps = trainer.optimizer().steps_done();
  if (st.best_epoch == 0 || row.val_loss < st.best_val_loss) {
    st.best_epoch = epoch, st.best_val_loss = row.val_loss, st.bad_epochs = 0;
    row.events.add(best_note());
  } else {
    ++st.bad_epochs;
  }
  if (!stop && c.patience > 0 && st.bad_epochs >= c.patience) {
    stop = StopReason::patience;
    row.events.add(early_stop_note(c.patience));
  }
  if (!stop && epoch == c.epochs) stop = StopReason::epochs_done;
  if (epoch % c.checkpoint_every == 0 || stop) {
    if (writes_run(c))  // (data-parallel: rank 0, which alone writes the row)
      row.copied_share = measure_copying(run.model, *run.data.tokenizer, run.data.ngrams, c.sample_tokens,
                                         epoch_seed(c.seed, uint64_t(epoch), 0x5a3)).copied_share;
    row.events.add(checkpoint_note());
  }
  st.history.push_back(row);
}

// Data-parallel: rank 0 loads first (it builds the corpus cache and the run folder), then the other
// ranks, reading the cache it wrote. Alone: load_run.
RunSetup load_in_turn(TrainConfig config, const std::function<void(const std::string&)>& note) {
  nn::Collective* ranks = config.collective;
  if (!ranks || ranks->size() == 1) return load_run(std::move(config), note);
  std::optional<RunSetup> run;
  if (ranks->rank() == 0) run.emplace(load_run(std::move(config), note));
  ranks->barrier();
  if (ranks->rank() != 0) run.emplace(load_run(std::move(config), note));
  return std::move(*run);
}

}  // namespace

TrainResult run_training(TrainConfig config, const ProgressFn& progress, std::stop_token stop_token) {
  RunClock clock;
  clock.limit_s = config.max_minutes > 0 ? config.max_minutes * 60 : 0;
  auto note = [&](const std::string& m) {
    TrainProgress p;
    p.kind = TrainProgress::Kind::event;
    p.message = m;
    progress(p);
  };
  RunSetup run = load_in_turn(std::move(config), note);
  const TrainConfig& c = run.config;
  RunState& st = run.state;
  const nn::ModelSpec spec = run.model.spec();
  // Data-parallel: this rank's share of every batch (the global batch is the model's).
  const int ranks = run_ranks(c);
  const nn::BatchShare share = ranks > 1 ? nn::batch_share(spec.batch, c.collective->rank(), ranks)
                                         : nn::BatchShare{0, spec.batch};
  nn::Trainer trainer(run.model, share.rows, spec.window,
                      run_optimizer(spec, st, run.model.params().size(), run.optimizer),
                      {.precision = run.precision, .device = run.device,
                       .parallel = {.collective = c.collective, .offset = share.offset, .global_batch = spec.batch}});
  run.optimizer = {};
  GoodState good;  // the last good state, in memory, for rollbacks
  good.take(run.model, trainer);
  RunFiles files(run);

  std::optional<StopReason> stop;  // none while the run goes on
  EpochEvents pending;             // rollbacks not yet in a row
  int consecutive = 0;             // rollbacks in a row
  while (st.epoch < c.epochs) {
    const int epoch = st.epoch + 1;
    const EpochResult e = train_epoch(run, trainer, epoch, clock, progress, stop_token);
    if (e.stop) stop = e.stop;
    if (e.done == 0) break;
    EpochValidation v;
    std::string diverged = e.diverged;
    if (diverged.empty()) v = validate_epoch(trainer, run.model, run.data), diverged = v.diverged;
    if (!diverged.empty()) {  // roll back to the last good state with a smaller learning rate
      const EpochNote n = good.roll_back(run.model, trainer, st, c.lr_cut, epoch, e.done, diverged);
      pending.add(n);
      note(n.text);
      if (++consecutive > c.max_rollbacks) { stop = StopReason::diverged; break; }
      if (stop) break;  // (data-parallel: a stop voted in the step that diverged)
      continue;
    }
    consecutive = 0;
    record_epoch(run, trainer, epoch, e, v, pending, stop);
    EpochRow& row = st.history.back();
    row.seconds = RunClock::since(e.started);
    clock.epoch_seconds = row.seconds;
    st.seconds += row.seconds;
    if (writes_run(c))
      if (const std::string why = files.save_epoch(run.model, trainer.optimizer().state(), st, stop); !why.empty())
        note(why);
    good.take(run.model, trainer);
    TrainProgress p;
    p.kind = TrainProgress::Kind::epoch;
    p.epoch = epoch, p.epochs = c.epochs, p.row = &st.history.back();
    progress(p);
    if (stop) break;
  }
  const StopReason reason = stop.value_or(StopReason::epochs_done);
  if (writes_run(c)) files.save_summary(run.model, st, reason, pending);
  TrainResult r{st.epoch, st.best_epoch, st.best_val_loss, reason, c.out / "best.safetensors"};
  if (reason == StopReason::diverged)
    throw InvalidArgument("training diverged " + std::to_string(consecutive) + " times in a row in epoch " +
                          std::to_string(st.epoch + 1) + " even after cutting the learning rate to " +
                          number_text(spec.optimizer.lr * st.lr_scale) + "; " +
                          (st.best_epoch ? "best model kept: " + r.best_model.string() + " (epoch " +
                                               std::to_string(st.best_epoch) + ")"
                                         : std::string("no epoch completed")) +
                          "; try a smaller --lr");
  return r;
}

}  // namespace etude::train
