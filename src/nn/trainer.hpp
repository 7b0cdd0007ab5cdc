// The training seam: one model trained on the CPU engine (Network + Optimizer, in this process) or
// on the CUDA backend (a DeviceEngine that keeps parameters, gradients and optimizer state on the
// GPU), behind one interface. Also the thread setting shared by oneDNN (OpenMP) and OpenBLAS.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nn/collective.hpp"
#include "nn/device.hpp"
#include "nn/network.hpp"
#include "nn/optimizer.hpp"

namespace etude::nn {

// Runs everything on one pool of n threads (n < 1: one per core); returns n. OpenMP gets n
// (oneDNN and our loops), OpenBLAS gets 1 and our GEMMs split rows over the OpenMP team, so
// OpenBLAS's own spinning workers never compete with oneDNN's for the cores.
int set_compute_threads(int n);

// Data-parallel training: this process is one rank of `collective`, and the trainer's batch is
// its share of a global batch (batch_share). Each rank computes the mean-loss gradient of its rows;
// update() weights it by the rank's counted rows and sums the ranks' gradients (with the rows, the
// loss and the batchnorm running statistics) in ONE all-reduce of one flat buffer, divides by the
// total rows, and every rank applies the same optimizer step: the whole batch's update, whatever
// the number of ranks (up to float rounding). Dropout masks are the whole batch's; batchnorm uses
// each rank's own batch statistics (as PyTorch's DDP without SyncBatchNorm), its running
// statistics averaged every step. The CPU engine only.
struct DataParallel {
  Collective* collective = nullptr;  // nullptr or a world of one: a single process, as before
  int offset = 0;                    // this rank's first row in the global batch
  int global_batch = 0;              // the rows of all ranks together
  int check_every = 50;              // compare the ranks' weights every K updates (0: never)
};

struct TrainOptions {
  LstmBackend backend = LstmBackend::fast;  // reference: CPU only
  Precision precision = Precision::f32;     // bf16: CPU LSTM kernels; f16: CUDA mixed precision
  uint64_t dropout_seed = 0xd509;
  Device device = Device::cpu;
  DataParallel parallel{};
};

struct StepStats {
  double loss = 0;       // the whole batch's mean loss (data-parallel: over every rank's rows)
  double grad_norm = 0;  // before clipping (measured with clipping off too)
  double lr = 0;         // the learning rate this step used
  bool skipped = false;  // f16: the scaled gradients overflowed; no update was made
  double reduce_seconds = 0;  // data-parallel: in the all-reduce, waiting for the slowest rank included
  uint32_t flags = 0;         // update(flags) of every rank OR-ed together (alone: its own)
};
inline constexpr int kStepFlagBits = 4;  // the flags update() carries to every rank

class Trainer {
 public:
  // The model must outlive the trainer. The optimizer comes from the model's spec (a new run) or
  // is given (a resumed run or a rollback: its state and steps_done carry on).
  Trainer(Model& model, int batch, int time, TrainOptions options = {});
  Trainer(Model& model, int batch, int time, Optimizer optimizer, TrainOptions options = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // tokens [B][T]; targets [B][T] (seq2seq) or [B] (seq2one). Training forward, loss, backward;
  // returns the mean loss. logits() then holds this forward's logits. styles [B][T]: the style row
  // of every token, for a conditioned model (nullptr for one without styles).
  double forward_backward(const int32_t* tokens, const int32_t* targets, const int32_t* styles = nullptr);
  // One optimizer update from the last forward_backward's gradients, at the scheduled learning
  // rate of steps_done (which advances unless the step was skipped). StepStats::loss is the last
  // forward_backward's, or data-parallel the mean over every rank's rows (the same on all ranks).
  // Data-parallel, every rank must call it (it holds the step's one all-reduce). flags (the low
  // kStepFlagBits bits): a rank's votes (stop now, out of time), OR-ed over the ranks in the same
  // all-reduce into StepStats::flags, so every rank takes the same decision after the step.
  StepStats update(uint32_t flags = 0);
  StepStats step(const int32_t* tokens, const int32_t* targets, const int32_t* styles = nullptr);  // both
  // tokens [B][T]. Training mode draws dropout and uses batch statistics; otherwise inference.
  void forward(const int32_t* tokens, bool training, const int32_t* styles = nullptr);
  // The last forward's logits on the host, time-major [logit_steps][B][vocab] (on cuda a copy,
  // valid until the next call).
  std::span<const float> logits();
  // Adds the last forward's rows to `total` (cross-entropy in nats and top-1 hits): targets as
  // forward_backward takes them, batch columns >= used not counted, and in seq2one only the last
  // step. The CPU scores rows in parallel and adds them in order (no dependence on the thread
  // count); cuda scores on the device.
  // With kind_of_token (one kind index per vocabulary entry) each counted row is also added to
  // by_kind[kind of its target] (on cuda the logits are then read back to the host).
  void add_score(const int32_t* targets, int used, RowScore& total, std::span<const uint8_t> kind_of_token = {},
                 std::span<RowScore> by_kind = {});
  int logit_steps() const { return logit_steps_; }
  int batch() const { return B_; }
  int time() const { return T_; }
  void seed_dropout(uint64_t seed);

  // cuda: parameters, batchnorm buffers and optimizer state between the device and the host
  // Model/Optimizer (read the host copies only after sync_to_host; write them, then
  // sync_to_device). No-ops on the CPU, where the host copies are the ones trained.
  void sync_to_host();
  void sync_to_device();
  // Replaces the optimizer (state, steps_done, learning rate); on cuda it then uploads the host
  // model and the new state (a rollback: restore the host model, then set the optimizer).
  void set_optimizer(Optimizer optimizer);

  // Data-parallel: throws ParallelError naming the ranks whose weights, batchnorm buffers or
  // optimizer state differ from rank 0's (`what` says when, e.g. "after epoch 3"); a collective
  // call every rank makes. update() calls it every check_every updates. Nothing to do alone.
  void check_replicas(const std::string& what);
  bool data_parallel() const { return parallel_; }
  const DataParallel& parallel() const { return options_.parallel; }

  Device device() const { return options_.device; }
  Precision precision() const { return options_.precision; }
  Model& model() { return model_; }
  Optimizer& optimizer() { return optimizer_; }

 private:
  Model& model_;
  Optimizer optimizer_;
  TrainOptions options_;
  int B_, T_, logit_steps_;
  void to_time_major_checked(const int32_t* tokens, const int32_t* styles);  // into tokens_tm_, styles_tm_
  std::unique_ptr<DeviceEngine> engine_;  // the CPU's (cpu/cpu_engine) or the CUDA plugin's
  std::vector<int32_t> tokens_tm_, styles_tm_, row_targets_;  // time-major tokens, styles; targets per logit row
  std::vector<double> row_loss_;                  // scoring by token kind: per row
  std::vector<uint8_t> row_right_;
  bool parallel_ = false;            // a world of more than one rank
  double last_loss_ = 0;             // the last forward_backward's mean loss and counted rows
  int64_t last_rows_ = 0, updates_ = 0;
  std::vector<float> stage_;         // data-parallel: [grads | buffers | rows | loss hi, lo | flags]
  void reduce_gradients(StepStats& s, uint32_t flags);
};

}  // namespace etude::nn
