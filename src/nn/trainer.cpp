// The training seam and the thread setting; see trainer.hpp. Every call goes to the one engine: the
// CPU's (cpu/cpu_engine: the Model and the Optimizer, bit for bit) or the CUDA plugin's.
#include "nn/trainer.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "base/error.hpp"
#include "nn/cpu/cpu_engine.hpp"

namespace etude::nn {

int set_compute_threads(int n) {
  if (n < 1) n = omp_get_num_procs();
  omp_set_num_threads(n);
  openblas_set_num_threads(1);  // our GEMMs split their rows over the OpenMP team instead
  return n;
}

Trainer::Trainer(Model& model, int batch, int time, TrainOptions options)
    : Trainer(model, batch, time,
              Optimizer(model.spec().optimizer, model.spec().schedule, model.spec().clip, model.params().size()),
              options) {}

Trainer::Trainer(Model& model, int batch, int time, Optimizer optimizer, TrainOptions options)
    : model_(model), optimizer_(std::move(optimizer)), options_(options), B_(batch), T_(time) {
  if (batch < 1 || time < 1) throw InvalidArgument("trainer: batch and time must be positive");
  check_precision(options.device, options.precision);
  logit_steps_ = stack_shape(model.spec(), batch, time).steps.back();
  row_targets_.resize(size_t(logit_steps_) * batch);
  tokens_tm_.resize(size_t(batch) * time);
  if (options.device == Device::cpu) {
    engine_ = make_cpu_engine(model_, optimizer_, batch, time, options.backend, options.precision);
  } else {
    if (options.backend == LstmBackend::reference)
      throw InvalidArgument("the reference LSTM runs on the CPU only; use --device cpu with it");
    engine_ = cuda_backend().make_engine(model.spec(), model.layout(), batch, time, options.precision);
    sync_to_device();
  }
  engine_->seed_dropout(options.dropout_seed);
  const DataParallel& p = options.parallel;
  parallel_ = p.collective && p.collective->size() > 1;
  if (!parallel_) return;
  if (options.device != Device::cpu)
    throw InvalidArgument("data-parallel training (mpirun) runs on the CPU engine: use --device cpu "
                          "(the GPUs' all-reduce, NCCL, is not written yet)");
  if (p.offset < 0 || p.global_batch < p.offset + batch)
    throw InvalidArgument("data-parallel: rows " + std::to_string(p.offset) + " .. " + std::to_string(p.offset + batch) +
                          " of rank " + std::to_string(p.collective->rank()) + " do not lie in a global batch of " +
                          std::to_string(p.global_batch));
  if (int64_t(p.global_batch) * logit_steps_ > (int64_t(1) << 24))
    throw InvalidArgument("data-parallel: " + std::to_string(int64_t(p.global_batch) * logit_steps_) +
                          " scored rows per step are more than the reduced count holds exactly (2^24)");
  engine_->set_batch_shard(p.offset, p.global_batch);
  check_replicas("the initial weights, batchnorm buffers or optimizer state");
}

Trainer::~Trainer() = default;

double Trainer::forward_backward(const int32_t* tokens, const int32_t* targets, const int32_t* styles) {
  const ModelSpec& s = model_.spec();
  to_time_major_checked(tokens, styles);
  check_tokens({targets, s.mode == Mode::seq2seq ? tokens_tm_.size() : size_t(B_)}, s.vocab, "targets");
  logit_row_targets(s.mode, targets, B_, T_, logit_steps_, row_targets_.data());
  last_rows_ = std::count_if(row_targets_.begin(), row_targets_.end(), [](int32_t y) { return y >= 0; });
  last_loss_ = engine_->forward_backward(tokens_tm_.data(), styles ? styles_tm_.data() : nullptr, row_targets_.data());
  return last_loss_;
}

void Trainer::to_time_major_checked(const int32_t* tokens, const int32_t* styles) {
  check_tokens({tokens, tokens_tm_.size()}, model_.spec().vocab, "tokens");
  check_styles(model_.spec(), styles, tokens_tm_.size());
  to_time_major(tokens, B_, T_, tokens_tm_.data());
  if (styles) {
    styles_tm_.resize(tokens_tm_.size());
    to_time_major(styles, B_, T_, styles_tm_.data());
  }
}

StepStats Trainer::update(uint32_t flags) {
  StepStats s;
  s.flags = flags;
  const int64_t done = optimizer_.steps_done();
  s.lr = scheduled_lr(optimizer_.spec(), optimizer_.schedule(), done);
  UpdateSettings u{.optimizer = optimizer_.spec(), .clip = optimizer_.clip(), .step = done + 1};
  u.optimizer.lr = float(s.lr);
  s.loss = last_loss_;
  if (parallel_) reduce_gradients(s, flags);
  const UpdateResult r = engine_->update(u);
  s.grad_norm = r.grad_norm;
  s.skipped = r.skipped;
  if (!r.skipped) optimizer_.set_steps_done(done + 1);  // (the CPU's host optimizer has counted it already)
  ++updates_;
  const int every = options_.parallel.check_every;
  if (parallel_ && every > 0 && updates_ % every == 0)
    check_replicas("after update " + std::to_string(updates_) + ", the weights, buffers or optimizer state");
  return s;
}

// Each rank's mean-loss gradient times its counted rows, summed over the ranks with the rows, the
// loss sum and the batchnorm running statistics (rows-weighted) in one all-reduce, then divided by
// the total rows: the mean-loss gradient of the whole batch on every rank.
void Trainer::reduce_gradients(StepStats& s, uint32_t flags) {
  const size_t P = model_.params().size(), NB = model_.buffers().size(), F = P + NB + 3;
  stage_.resize(F + kStepFlagBits);
  const std::span<float> grads(stage_.data(), P);
  engine_->download_grads(grads);
  const float rows = float(last_rows_);
  for (float& g : grads) g *= rows;
  const std::span<float> buffers = model_.buffers();  // the CPU engine trains the host blocks
  for (size_t i = 0; i < NB; ++i) stage_[P + i] = buffers[i] * rows;
  const double loss_sum = last_loss_ * double(last_rows_);
  const float hi = float(loss_sum);
  stage_[P + NB] = rows;
  stage_[P + NB + 1] = hi;
  stage_[P + NB + 2] = float(loss_sum - double(hi));
  for (int k = 0; k < kStepFlagBits; ++k) stage_[F + size_t(k)] = (flags >> k) & 1u ? 1.0f : 0.0f;
  const auto t0 = std::chrono::steady_clock::now();
  options_.parallel.collective->all_reduce_sum(stage_);
  s.reduce_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const float total = stage_[P + NB];
  if (total > 0) {
    for (float& g : grads) g /= total;
    for (size_t i = 0; i < NB; ++i) buffers[i] = stage_[P + i] / total;
  }
  engine_->upload_grads(grads);
  s.flags = 0;
  for (int k = 0; k < kStepFlagBits; ++k)
    if (stage_[F + size_t(k)] > 0) s.flags |= 1u << k;
  s.loss = total > 0 ? (double(stage_[P + NB + 1]) + double(stage_[P + NB + 2])) / double(total) : 0;
}

void Trainer::check_replicas(const std::string& what) {
  if (!parallel_) return;
  sync_to_host();
  uint64_t h = block_checksum(model_.params());
  h = block_checksum(model_.buffers(), h);
  h = block_checksum(optimizer_.state(), h);
  h ^= uint64_t(optimizer_.steps_done()) * 0x9e3779b97f4a7c15ULL;
  check_same_on_all_ranks(*options_.parallel.collective, h, what);
}

StepStats Trainer::step(const int32_t* tokens, const int32_t* targets, const int32_t* styles) {
  const double loss = forward_backward(tokens, targets, styles);
  StepStats s = update();
  if (!parallel_) s.loss = loss;
  return s;
}

void Trainer::forward(const int32_t* tokens, bool training, const int32_t* styles) {
  to_time_major_checked(tokens, styles);
  engine_->forward(tokens_tm_.data(), styles ? styles_tm_.data() : nullptr, training);
}

void Trainer::add_score(const int32_t* targets, int used, RowScore& total, std::span<const uint8_t> kind_of_token,
                        std::span<RowScore> by_kind) {
  const ModelSpec& s = model_.spec();
  const int V = s.vocab, rows = logit_steps_ * B_;
  check_tokens({targets, s.mode == Mode::seq2seq ? size_t(B_) * T_ : size_t(B_)}, V, "targets");
  logit_row_targets(s.mode, targets, B_, T_, logit_steps_, row_targets_.data());
  for (int r = 0; r < rows; ++r)
    if (r % B_ >= used) row_targets_[size_t(r)] = -1;
  if (!kind_of_token.empty() && kind_of_token.size() != size_t(V))
    throw InvalidArgument("add_score: kind_of_token needs one kind per vocabulary entry");
  if (kind_of_token.empty()) return engine_->add_score(row_targets_.data(), total);
  // By kind: every engine's logits scored on the host.
  row_loss_.resize(size_t(rows));
  row_right_.resize(size_t(rows));
  score_rows_on_host(engine_->logits(), row_targets_.data(), rows, V, row_loss_.data(), row_right_.data());
  for (int r = 0; r < rows; ++r) {
    const int32_t y = row_targets_[size_t(r)];
    if (y < 0) continue;
    total.loss_sum += row_loss_[size_t(r)], total.correct += row_right_[size_t(r)], ++total.count;
    const size_t kind = kind_of_token[size_t(y)];
    if (kind >= by_kind.size()) throw InvalidArgument("add_score: a token kind has no place in by_kind");
    RowScore& k = by_kind[kind];
    k.loss_sum += row_loss_[size_t(r)], k.correct += row_right_[size_t(r)], ++k.count;
  }
}

std::span<const float> Trainer::logits() { return engine_->logits(); }

void Trainer::seed_dropout(uint64_t seed) {
  model_.seed_dropout(seed);  // the host model's too, for a later CPU engine of a resumed run
  engine_->seed_dropout(seed);
}

void Trainer::sync_to_host() { engine_->download(model_.params(), model_.buffers(), optimizer_.state()); }

void Trainer::sync_to_device() { engine_->upload(model_.params(), model_.buffers(), optimizer_.state()); }

void Trainer::set_optimizer(Optimizer optimizer) {
  if (optimizer.state().size() != optimizer_.state().size())
    throw InvalidArgument("trainer: the new optimizer's state does not fit this model (another optimizer kind?)");
  optimizer_ = std::move(optimizer);
  sync_to_device();  // with the host model as the caller left it (a rollback restores both)
}

}  // namespace etude::nn
