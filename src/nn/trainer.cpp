// The training step and the thread setting; see trainer.hpp.
#include "nn/trainer.hpp"

#include <cblas.h>
#include <omp.h>

namespace etude::nn {

int set_compute_threads(int n) {
  if (n < 1) n = omp_get_num_procs();
  omp_set_num_threads(n);
  openblas_set_num_threads(1);  // our GEMMs split their rows over the OpenMP team instead
  return n;
}

Trainer::Trainer(Model& model, int batch, int time, TrainOptions options)
    : model_(model),
      optimizer_(model.spec().optimizer, model.spec().schedule, model.spec().clip, model.params().size()) {
  model_.prepare(batch, time, options.backend, options.precision);
  model_.seed_dropout(options.dropout_seed);
}

StepStats Trainer::step(const int32_t* tokens, const int32_t* targets) {
  StepStats s;
  s.lr = scheduled_lr(model_.spec().optimizer, model_.spec().schedule, optimizer_.steps_done());
  s.loss = model_.forward_backward(tokens, targets);
  s.grad_norm = optimizer_.step(model_.params(), model_.grads());
  return s;
}

}  // namespace etude::nn
