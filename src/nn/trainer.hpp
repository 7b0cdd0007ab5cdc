// One training step over a model: forward, loss, backward, clipping, schedule, optimizer update,
// with activations, gradients and optimizer state sized once at construction. Also the thread
// setting shared by oneDNN (OpenMP) and OpenBLAS so the two pools do not fight over cores.
#pragma once
#include <cstdint>

#include "nn/network.hpp"
#include "nn/optimizer.hpp"

namespace etude::nn {

// Runs everything on one pool of n threads (n < 1: one per core); returns n. OpenMP gets n
// (oneDNN and our loops), OpenBLAS gets 1 and our GEMMs split rows over the OpenMP team, so
// OpenBLAS's own spinning workers never compete with oneDNN's for the cores.
int set_compute_threads(int n);

struct TrainOptions {
  LstmBackend backend = LstmBackend::fast;
  Precision precision = Precision::f32;  // bf16: LSTM kernels in bf16, master weights fp32
  uint64_t dropout_seed = 0xd509;
};

struct StepStats {
  double loss = 0;
  double grad_norm = 0;  // before clipping (measured with clipping off too)
  double lr = 0;         // the learning rate this step used
};

class Trainer {
 public:
  Trainer(Model& model, int batch, int time, TrainOptions options = {});
  // tokens [B][T]; targets [B][T] (seq2seq) or [B] (seq2one).
  StepStats step(const int32_t* tokens, const int32_t* targets);
  Model& model() { return model_; }
  Optimizer& optimizer() { return optimizer_; }

 private:
  Model& model_;
  Optimizer optimizer_;
};

}  // namespace etude::nn
