// The data-parallel world: this process's rank among `size` processes and the collectives the
// trainer and the step program need. Under `mpirun` (and with gradc built with MPI) it is
// MPI_COMM_WORLD; a process started on its own is a world of one that never calls MPI.
#pragma once
#include <cstdint>
#include <string>

namespace gradc {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string describe() const = 0;  // "MPI (Open MPI v4.1.4), rank 0 of 2" / "one process"

  // In-place sum of n floats over all ranks, started without waiting; returns a request id that
  // test()/wait() take. Every rank must start the same sums in the same order.
  virtual int start_sum(float* data, int64_t n) = 0;
  virtual bool test(int request) = 0;  // drives progress; true once complete
  virtual void wait(int request) = 0;
  // Blocking sums (metrics) and min/max of a value (checksums).
  virtual void sum(double* data, int n) = 0;
  virtual void min_max(uint64_t v, uint64_t* min, uint64_t* max) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job with `status` after an error on this one (never returns).
  [[noreturn]] virtual void abort(int status) = 0;
};

// True when this process was started by mpirun/mpiexec (Open MPI, MPICH or PMIx environment).
bool under_mpirun();

// The world, set up on first use: MPI when under_mpirun(), else one process. Throws
// std::runtime_error naming the problem when mpirun started a gradc built without MPI or MPI
// cannot initialise.
Comm& world();

// True once world() has set up MPI (so errors must end every rank, not just this one).
bool world_is_distributed();

}  // namespace gradc
