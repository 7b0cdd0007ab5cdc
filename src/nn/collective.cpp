// The one process, the choice of collective, checksums and batch shares; see collective.hpp.
#include "nn/collective.hpp"

#include <cstdlib>
#include <cstring>

#ifdef ETUDE_HAVE_MPI
#include "nn/mpi/mpi_collective.hpp"
#endif

namespace etude::nn {
namespace {

class SingleProcess final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string describe() const override { return "single process"; }
  void all_reduce_sum(std::span<float>) override {}
  void all_reduce_sum(std::span<double>) override {}
  void broadcast(std::span<std::byte>, int root) override {
    if (root != 0) throw InvalidArgument("broadcast from rank " + std::to_string(root) + " of a single process");
  }
  std::vector<uint64_t> all_gather(uint64_t value) override { return {value}; }
  void barrier() override {}
};

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

}  // namespace

std::unique_ptr<Collective> single_process() { return std::make_unique<SingleProcess>(); }

bool mpi_built() {
#ifdef ETUDE_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool launched_as_rank() { return env("OMPI_COMM_WORLD_SIZE") || env("PMIX_RANK") || env("PMI_SIZE"); }

int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (const char* v = env(name)) return std::atoi(v);
  return -1;
}

std::unique_ptr<Collective> make_collective() {
  if (!launched_as_rank()) return single_process();
#ifdef ETUDE_HAVE_MPI
  return make_mpi_collective();
#else
  throw ParallelError(
      "this process was started by mpirun, but this etude was built without MPI: every rank would train alone "
      "(install libopenmpi-dev, scripts/setup.sh, and rebuild with -DETUDE_MPI=ON)");
#endif
}

uint64_t block_checksum(std::span<const float> data, uint64_t seed) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  uint64_t lane[4] = {seed ^ 0x243f6a8885a308d3ULL, seed ^ 0x13198a2e03707344ULL, seed ^ 0xa4093822299f31d0ULL,
                      seed ^ 0x082efa98ec4e6c89ULL};
  const size_t n = data.size();
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 4; ++k) {
      uint64_t w;
      std::memcpy(&w, data.data() + i + 2 * size_t(k), sizeof w);
      lane[k] = (lane[k] ^ w) * kMul;
      lane[k] ^= lane[k] >> 29;
    }
  for (; i < n; ++i) {
    uint32_t w;
    std::memcpy(&w, data.data() + i, sizeof w);
    lane[i % 4] = ((lane[i % 4] ^ w) * kMul) ^ (lane[i % 4] >> 31);
  }
  uint64_t h = uint64_t(n) * kMul;
  for (uint64_t l : lane) h = (h ^ l ^ (l >> 32)) * kMul;
  return h ^ (h >> 33);
}

void check_same_on_all_ranks(Collective& c, uint64_t checksum, const std::string& what) {
  const std::vector<uint64_t> all = c.all_gather(checksum);
  std::string differ;
  int count = 0;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) {
      if (count < 8) differ += (count ? ", " : "") + std::to_string(r);
      ++count;
    }
  if (count == 0) return;
  if (count > 8) differ += " and " + std::to_string(count - 8) + " more";
  throw ParallelError(what + " differ between ranks: rank" + (count > 1 ? "s " : " ") + differ +
                      (count > 1 ? " disagree" : " disagrees") + " with rank 0 (the ranks must start from the same state and apply the same updates; "
                      "a rank that read another state, or a nondeterministic reduction, makes them drift)");
}

BatchShare batch_share(int global_batch, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size)
    throw InvalidArgument("batch share: rank " + std::to_string(rank) + " of " + std::to_string(size));
  if (global_batch < size)
    throw InvalidArgument("a batch of " + std::to_string(global_batch) + " rows cannot be shared by " +
                          std::to_string(size) + " ranks: give every rank at least one row (a larger --batch, "
                          "or fewer ranks)");
  const int base = global_batch / size, extra = global_batch % size;
  return {.offset = rank * base + std::min(rank, extra), .rows = base + (rank < extra ? 1 : 0)};
}

}  // namespace etude::nn
