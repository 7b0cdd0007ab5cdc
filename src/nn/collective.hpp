// The collective seam of data-parallel training: ranks that each compute the gradients of their
// share of a batch, sum them, agree on a few numbers and check that their weights stay the same.
// nn/ knows no launcher and no flags: make_collective() joins the MPI job when this process was
// started by mpirun and etude was built with MPI (ETUDE_MPI; nn/mpi/), and is the one process
// otherwise. The MPI world is the only state kept outside the objects (MPI keeps it).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace etude::nn {

// A rank failed or the ranks disagree: the message names the ranks and hints at the fix.
class ParallelError : public Error {
 public:
  using Error::Error;
  const char* kind() const noexcept override { return "parallel error"; }
};

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The ranks on this machine (they share its cores), this one included.
  virtual int local_size() const { return size(); }
  // "single process", or the MPI library and the world's size.
  virtual std::string describe() const = 0;
  // Sums `data` over the ranks, in place; every rank receives the same bits. Every rank calls
  // with the same length (else ParallelError, or MPI's own error).
  virtual void all_reduce_sum(std::span<float> data) = 0;
  virtual void all_reduce_sum(std::span<double> data) = 0;
  // root's bytes to every rank.
  virtual void broadcast(std::span<std::byte> data, int root) = 0;
  // One value from each rank, in rank order.
  virtual std::vector<uint64_t> all_gather(uint64_t value) = 0;
  virtual void barrier() = 0;
};

// The one process: rank 0 of 1; every collective is the identity.
std::unique_ptr<Collective> single_process();

// Whether this etude was built with MPI (-DETUDE_MPI=ON and Open MPI found).
bool mpi_built();
// Whether a launcher (mpirun, srun with PMIx) started this process as one rank of a job: its
// environment names the world's size (OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_SIZE).
bool launched_as_rank();
// This process's rank as the launcher's environment names it (before or without MPI), or -1.
int launcher_rank();
// The MPI world when launched_as_rank() and MPI is built in (MPI is initialized here and finalized
// when the object goes, unless it was already initialized); single_process() otherwise. Under a
// launcher without MPI built in: ParallelError (the ranks would each train alone).
std::unique_ptr<Collective> make_collective();

// A 64-bit checksum of the bytes of a float block (fast: one multiply per word, four lanes).
uint64_t block_checksum(std::span<const float> data, uint64_t seed = 0);
// Compares `checksum` across the ranks (one all-gather); ParallelError naming every rank whose
// value differs from rank 0's, and `what` (e.g. "weights after update 200").
void check_same_on_all_ranks(Collective& c, uint64_t checksum, const std::string& what);

// A rank's share of a global batch of rows: `rows` rows from `offset`. The first global % size
// ranks take one row more; InvalidArgument when there are fewer rows than ranks.
struct BatchShare {
  int offset = 0, rows = 0;
};
BatchShare batch_share(int global_batch, int rank, int size);

}  // namespace etude::nn
