// The Collective over MPI (compiled only with ETUDE_MPI): MPI_COMM_WORLD duplicated, errors
// returned (not fatal) and thrown as ParallelError naming the rank and the MPI error.
#pragma once
#include <memory>

#include "nn/collective.hpp"

namespace etude::nn {

// Initializes MPI (MPI_THREAD_FUNNELED: only the calling thread talks to MPI; OpenMP's workers
// never do) unless it already is; ParallelError when it was finalized in this process before.
std::unique_ptr<Collective> make_mpi_collective();

}  // namespace etude::nn
