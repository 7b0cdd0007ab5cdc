// The epoch step of run_training; see epoch_step.hpp.
#include "train/epoch_step.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "train/divergence_guard.hpp"
#include "train/fine_tune.hpp"
#include "train/validation.hpp"

namespace etude::train {

namespace {
constexpr uint32_t kVoteInterrupted = 1, kVoteOutOfTime = 2;  // a rank's votes (Trainer::update flags)
}  // namespace

uint64_t epoch_seed(uint64_t seed, uint64_t epoch, uint64_t salt) {
  return nn::Rng::hash(seed * 0x9e3779b97f4a7c15ULL + nn::Rng::hash(epoch * 0x10001ULL + salt));
}

EpochResult train_epoch(RunSetup& run, nn::Trainer& trainer, int epoch, const RunClock& clock,
                        const ProgressFn& progress, const std::stop_token& stop) {
  const TrainConfig& c = run.config;
  const nn::ModelSpec& spec = run.model.spec();
  const int B = spec.batch, T = spec.window;
  EpochResult r;
  r.started = RunClock::Clock::now();
  const auto t_epoch = r.started;
  const auto rollbacks = uint64_t(run.state.rollbacks);
  std::mt19937_64 rng(epoch_seed(c.seed, uint64_t(epoch), rollbacks));
  trainer.seed_dropout(epoch_seed(c.seed, uint64_t(epoch), 0xd509 + rollbacks));
  const EpochStream epoch_data = epoch_stream(run.data, c.transpose_min, c.transpose_max, rng);
  const TokenSource stream(epoch_data.tokens);
  const size_t stride = window_stride(spec);
  std::vector<size_t> starts =
      window_starts(stream.size(), T, stride, spec.mode == nn::Mode::seq2seq ? size_t(rng() % size_t(T)) : 0);
  if (starts.empty()) starts = window_starts(stream.size(), T, stride, 0);
  std::shuffle(starts.begin(), starts.end(), rng);
  std::vector<int32_t> tokens(size_t(B) * T), targets(size_t(B) * T), styles(spec.styles > 0 ? size_t(B) * T : 0);
  // Data-parallel: every rank fills the whole batch (as one process would) and trains its rows.
  const bool parallel = trainer.data_parallel();
  const int offset = parallel ? trainer.parallel().offset : 0, rows = trainer.batch();
  std::vector<int32_t> my_tokens, my_targets, my_styles;
  auto my_rows = [&](const std::vector<int32_t>& all, std::vector<int32_t>& mine) -> const int32_t* {
    if (!parallel || all.empty()) return all.empty() ? nullptr : all.data();
    mine.assign(all.begin() + ptrdiff_t(offset) * T, all.begin() + ptrdiff_t(offset + rows) * T);
    return mine.data();
  };
  std::vector<double> losses, norms;  // this epoch's, for the guard's spike window
  r.batches = std::max<int64_t>(1, int64_t(starts.size()) / B);
  for (int64_t b = 0; b < r.batches; ++b) {
    // Alone, a stop comes before the next step; data-parallel, each rank's vote travels with the
    // step's all-reduce and all stop after it together.
    uint32_t votes = 0;
    if (!parallel) {
      if (stop.stop_requested()) { r.stop = StopReason::interrupted; break; }
      if (clock.out_of_time()) { r.stop = StopReason::max_minutes; break; }
    } else {
      votes = (stop.stop_requested() ? kVoteInterrupted : 0u) | (clock.out_of_time() ? kVoteOutOfTime : 0u);
    }
    const size_t first = size_t(b) * size_t(B), used = std::min(size_t(B), starts.size() - first);
    const auto window = std::span(starts).subspan(first, used);
    fill_batch(stream, window, B, T, spec.mode, tokens.data(), targets.data());
    if (!styles.empty()) fill_styles(epoch_data.styles, window, B, T, styles.data());
    const int32_t* x = my_rows(tokens, my_tokens);
    const int32_t* y = my_rows(targets, my_targets);
    const double loss = trainer.forward_backward(x, y, my_rows(styles, my_styles));
    trainer.add_score(y, std::clamp(int(used) - offset, 0, rows), r.score);
    if (!run.trainable.empty()) keep_gradients(run.model.grads(), run.trainable);
    const nn::StepStats s = trainer.update(votes);
    ++r.done;
    if (parallel && s.flags) {  // a rank voted to stop: all stop after this step, which the guard still watches
      r.stop = s.flags & kVoteInterrupted ? StopReason::interrupted : StopReason::max_minutes;
      r.diverged = step_divergence(s.loss, s.grad_norm, losses, norms, spec.vocab);
      break;
    }
    // A skipped step (f16: the loss scale overflowed and was halved) made no update: only a
    // non-finite loss counts against it, and its gradient norm stays out of the spike window.
    // Data-parallel, the guard watches the whole batch's loss (s.loss, the same on every rank);
    // alone s.loss is this loss.
    r.diverged = s.skipped ? (std::isfinite(loss) ? "" : "loss is not finite")
                           : step_divergence(s.loss, s.grad_norm, losses, norms, spec.vocab);
    if (!r.diverged.empty()) break;
    if (s.skipped) {
      ++r.skipped;
    } else {
      losses.push_back(s.loss);
      norms.push_back(s.grad_norm);
    }
    const double elapsed = RunClock::since(t_epoch);
    TrainProgress p;
    p.epoch = epoch, p.epochs = c.epochs, p.batch = r.done, p.batches = r.batches;
    p.loss = r.score.loss();
    p.tokens_per_second = double(r.done) * B * T / elapsed;
    const double per_epoch = clock.epoch_seconds > 0 ? clock.epoch_seconds : elapsed / double(r.done) * double(r.batches);
    p.eta_seconds = elapsed / double(r.done) * double(r.batches - r.done) + per_epoch * (c.epochs - epoch);
    if (clock.limit_s > 0) p.eta_seconds = std::min(p.eta_seconds, clock.limit_s - RunClock::since(clock.start));
    progress(p);
  }
  r.seconds = RunClock::since(t_epoch);
  reduce_scores(trainer, r.score);  // data-parallel: the whole batches' score on every rank
  return r;
}

}  // namespace etude::train
