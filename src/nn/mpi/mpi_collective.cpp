// The Collective over MPI; see mpi_collective.hpp.
#include "nn/mpi/mpi_collective.hpp"

// The C API only (mpi.h would otherwise pull in the deprecated C++ bindings, which need libmpi_cxx).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <string>

namespace etude::nn {
namespace {

class MpiCollective final : public Collective {
 public:
  MpiCollective() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (finalized)
      throw ParallelError("MPI was already finalized in this process: make one collective per process and keep it");
    if (!initialized) {
      int provided = 0;
      if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        throw ParallelError("MPI_Init_thread failed: is this process one rank of an mpirun job?");
      owns_ = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    MPI_Comm local = MPI_COMM_NULL;  // the ranks sharing this machine's memory (and cores)
    if (MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
      MPI_Comm_size(local, &local_size_);
      MPI_Comm_free(&local);
    }
  }
  ~MpiCollective() override {
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    // Leaving by an exception, this rank does not finalize (finalizing waits for the others, who
    // may be waiting in a collective for this one): it exits, and mpirun then ends the job.
    if (owns_ && std::uncaught_exceptions() == 0) MPI_Finalize();
  }
  MpiCollective(const MpiCollective&) = delete;
  MpiCollective& operator=(const MpiCollective&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }
  std::string describe() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    std::string v(version, size_t(std::max(length, 0)));
    v = v.substr(0, v.find_first_of(",\n"));
    return v + ", " + std::to_string(size_) + (size_ == 1 ? " rank" : " ranks");
  }
  void all_reduce_sum(std::span<float> data) override { reduce(data.data(), data.size(), MPI_FLOAT, "floats"); }
  void all_reduce_sum(std::span<double> data) override { reduce(data.data(), data.size(), MPI_DOUBLE, "doubles"); }
  void broadcast(std::span<std::byte> data, int root) override {
    if (root < 0 || root >= size_)
      throw InvalidArgument("broadcast from rank " + std::to_string(root) + " of " + std::to_string(size_));
    for (size_t at = 0; at < data.size(); at += kChunk) {
      const int n = int(std::min(kChunk, data.size() - at));
      check(MPI_Bcast(data.data() + at, n, MPI_BYTE, root, comm_), "MPI_Bcast of " + std::to_string(data.size()) + " bytes");
    }
  }
  std::vector<uint64_t> all_gather(uint64_t value) override {
    std::vector<uint64_t> all(static_cast<size_t>(size_));
    check(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, comm_), "MPI_Allgather");
    return all;
  }
  void barrier() override { check(MPI_Barrier(comm_), "MPI_Barrier"); }

 private:
  static constexpr size_t kChunk = size_t(1) << 30;  // MPI counts are ints

  void reduce(void* data, size_t n, MPI_Datatype type, const char* what) {
    int bytes = 0;
    MPI_Type_size(type, &bytes);
    for (size_t at = 0; at < n; at += kChunk) {
      const int count = int(std::min(kChunk, n - at));
      check(MPI_Allreduce(MPI_IN_PLACE, static_cast<char*>(data) + at * size_t(bytes), count, type, MPI_SUM, comm_),
            "MPI_Allreduce of " + std::to_string(n) + " " + what);
    }
  }
  void check(int rc, const std::string& what) const {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(rc, text, &length);
    throw ParallelError(what + " failed on rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " +
                        std::string(text, size_t(std::max(length, 0))) +
                        " (another rank may have died: see mpirun's message naming it)");
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_size_ = 1;
  bool owns_ = false;
};

}  // namespace

std::unique_ptr<Collective> make_mpi_collective() { return std::make_unique<MpiCollective>(); }

}  // namespace etude::nn
