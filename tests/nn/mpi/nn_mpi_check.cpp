// The data-parallel check over Open MPI, run by run_ranks.sh as `mpirun -np 2 nn_mpi_check`: the
// collectives (sums of floats and doubles, broadcast, gather), then K Adam steps of a small model
// with dropout, each rank training its half of every batch, against one process training the
// whole (doubled) batch on the same data in the same order (every rank computes that reference
// itself): the weights must agree within 1e-5 relative, the ranks exactly; then a drifted rank
// must be named. Prints one line per rank; exit 0 when every check passed on every rank.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "nn/collective.hpp"
#include "nn/trainer.hpp"
#include "../data_parallel_util.hpp"
#include "../nn_test_util.hpp"

using namespace etude::nn;
using namespace etude::nn::testing;

namespace {

int failures = 0;
void expect(bool ok, int rank, const std::string& what) {
  if (ok) return;
  ++failures;
  std::fprintf(stderr, "rank %d: FAILED: %s\n", rank, what.c_str());
}

ModelSpec check_spec() {
  ModelSpec s;
  s.input = InputKind::embedding;
  s.embed_dim = 16;
  s.vocab = 40;
  LayerSpec l{.kind = LayerKind::lstm, .units = 32};
  s.layers = {l, {.kind = LayerKind::dropout, .rate = 0.2f}, l, {.kind = LayerKind::dense, .units = kVocabUnits}};
  s.mode = Mode::seq2seq;
  s.window = 16;
  s.batch = 8;
  s.clip = 1.0f;  // clip_grad_norm_ sees the whole batch's gradient norm
  validate_model_spec(s);
  return s;
}

using Run = ShardedRun;

// K steps over batches of `global` rows; with a collective this rank trains its share of each.
Run train(const ModelSpec& spec, int global, int steps, Collective* c) {
  return train_sharded(spec, global, spec.window, steps, c, {.model = 11, .dropout = 5, .tokens = 100, .targets = 200});
}

}  // namespace

int main() {
  set_compute_threads(1);
  try {
    auto world = make_collective();
    Collective& c = *world;
    const int rank = c.rank(), size = c.size();
    if (size < 2) {
      std::fprintf(stderr, "nn_mpi_check: run it under mpirun with 2 or more ranks (got %s)\n", c.describe().c_str());
      return 2;
    }
    // The collectives themselves.
    std::vector<float> f{float(rank), 1.5f, -2.0f};
    c.all_reduce_sum(f);
    const float n = float(size);
    expect(f[0] == n * (n - 1) / 2 && f[1] == 1.5f * n && f[2] == -2.0f * n, rank, "all_reduce_sum(float)");
    std::vector<double> d{0.25 * rank, 1e-12};
    c.all_reduce_sum(d);
    expect(std::abs(d[0] - 0.25 * n * (n - 1) / 2) < 1e-15 && std::abs(d[1] - 1e-12 * n) < 1e-25, rank,
           "all_reduce_sum(double)");
    std::vector<std::byte> bytes(5, std::byte(rank == 1 ? 7 : 0));
    c.broadcast(bytes, 1);
    expect(bytes == std::vector<std::byte>(5, std::byte(7)), rank, "broadcast from rank 1");
    const auto gathered = c.all_gather(uint64_t(rank) * 3);
    bool in_order = gathered.size() == size_t(size);
    for (size_t r = 0; in_order && r < gathered.size(); ++r) in_order = gathered[r] == r * 3;
    expect(in_order, rank, "all_gather");

    // K steps of size x 4 rows split over the ranks against one process on all of them.
    const ModelSpec spec = check_spec();
    const int global = 4 * size, steps = 8;
    const Run ranks = train(spec, global, steps, &c);
    const Run one = train(spec, global, steps, nullptr);
    const double rel = rel_error<float, float>(ranks.params, one.params);
    double loss_diff = 0;
    for (int i = 0; i < steps; ++i) loss_diff = std::max(loss_diff, std::abs(ranks.losses[size_t(i)] - one.losses[size_t(i)]));
    expect(rel < 1e-5, rank, "weights after " + std::to_string(steps) + " steps differ from one process by " + std::to_string(rel));
    expect(loss_diff < 1e-5, rank, "losses differ from one process by " + std::to_string(loss_diff));
    const uint64_t mine = block_checksum(ranks.params);
    bool same = true;
    for (uint64_t h : c.all_gather(mine)) same = same && h == mine;
    expect(same, rank, "the ranks' weights are not bit-identical");

    // A drifted rank is named by every rank.
    std::vector<float> w = ranks.params;
    if (rank == size - 1) w[3] += 1e-4f;
    std::string named;
    try {
      check_same_on_all_ranks(c, block_checksum(w), "the test's weights");
    } catch (const ParallelError& e) {
      named = e.what();
    }
    expect(named.find("rank " + std::to_string(size - 1) + " disagrees with rank 0") != std::string::npos, rank,
           "drift not named: \"" + named + "\"");

    std::printf("rank %d of %d (%s): %zu weights after %d Adam steps at batch %d (%d per rank): max relative "
                "difference to one process %.3g, loss %.3g; collectives ok; drift named: %s\n",
                rank, size, c.describe().c_str(), ranks.params.size(), steps, global, global / size, rel, loss_diff,
                named.empty() ? "no" : "yes");
    std::fflush(stdout);
    c.barrier();
    std::vector<double> failed{double(failures)};
    c.all_reduce_sum(failed);
    return failed[0] == 0 ? 0 : 1;
  } catch (const etude::Error& e) {
    std::fprintf(stderr, "nn_mpi_check: %s: %s\n", e.kind(), e.what());
    return 2;
  }
}
