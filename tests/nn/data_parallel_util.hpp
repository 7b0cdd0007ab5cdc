// One data-parallel training run for the tests (DataParallel.* in-process, nn_mpi_check under
// mpirun): K steps over batches of `global` rows of random tokens; with a collective, this rank
// trains its share of every batch; without one, the single process trains the whole batch.
#pragma once
#include <cstdint>
#include <vector>

#include "nn/collective.hpp"
#include "nn/trainer.hpp"
#include "nn_test_util.hpp"

namespace etude::nn::testing {

struct ShardedRun {
  std::vector<float> params;
  std::vector<double> losses;
};
struct ShardedSeeds {
  uint64_t model, dropout, tokens, targets;  // step i draws its tokens and targets from seed + i
};

// Batch-major rows [global][T]; a rank takes rows offset .. offset + rows.
inline std::vector<int32_t> rows_of(const std::vector<int32_t>& all, BatchShare share, int T) {
  return {all.begin() + ptrdiff_t(share.offset) * T, all.begin() + ptrdiff_t(share.offset + share.rows) * T};
}

inline ShardedRun train_sharded(const ModelSpec& spec, int global, int T, int steps, Collective* c, ShardedSeeds seeds) {
  const BatchShare share = c ? batch_share(global, c->rank(), c->size()) : BatchShare{0, global};
  Model m(spec);
  m.init_random(seeds.model);
  TrainOptions o{.dropout_seed = seeds.dropout};
  if (c) o.parallel = {.collective = c, .offset = share.offset, .global_batch = global, .check_every = 2};
  Trainer trainer(m, share.rows, T, o);
  ShardedRun run;
  for (int i = 0; i < steps; ++i) {
    const auto tok = random_tokens(size_t(global) * T, spec.vocab, seeds.tokens + uint64_t(i));
    const auto tgt = random_tokens(size_t(global) * T, spec.vocab, seeds.targets + uint64_t(i));
    const auto mine = rows_of(tok, share, T), mine_tgt = rows_of(tgt, share, T);
    run.losses.push_back(trainer.step(mine.data(), mine_tgt.data()).loss);
  }
  run.params.assign(m.params().begin(), m.params().end());
  return run;
}

}  // namespace etude::nn::testing
