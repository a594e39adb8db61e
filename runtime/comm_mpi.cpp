// Comm over MPI_COMM_WORLD. MPI is initialised with MPI_THREAD_FUNNELED: only the main thread
// (OpenMP's thread 0, which runs every collective) calls MPI. Errors return (MPI_ERRORS_RETURN)
// and become exceptions naming the call.
#include <mpi.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <vector>

#include "runtime/comm.h"

namespace gradc {

namespace {
void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw std::runtime_error(std::string("gradc: ") + what + " failed: " + std::string(msg, static_cast<size_t>(len)));
}

// mpirun ends the surviving ranks with SIGTERM when one rank dies: say so in one line (write(2) and
// _exit are async-signal-safe) instead of vanishing.
char g_term_line[160];
size_t g_term_len = 0;
extern "C" void on_sigterm(int) {
  if (::write(2, g_term_line, g_term_len) < 0) _exit(143);
  _exit(143);
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

class MpiComm : public Comm {
 public:
  MpiComm() {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    std::atexit(finalize_at_exit);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (provided < MPI_THREAD_FUNNELED)
      throw std::runtime_error("gradc: this MPI library does not support MPI_THREAD_FUNNELED");
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    g_term_len = static_cast<size_t>(std::snprintf(g_term_line, sizeof g_term_line,
                                                   "gradc: rank %d of %d: stopped by mpirun (another rank ended)\n",
                                                   rank_, size_));
    std::signal(SIGTERM, on_sigterm);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    library_ = std::string(version, static_cast<size_t>(len));
    if (const size_t cut = library_.find_first_of(",\n"); cut != std::string::npos) library_.resize(cut);
    warm_up();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string describe() const override {
    return "MPI (" + library_ + "), rank " + std::to_string(rank_) + " of " + std::to_string(size_);
  }
  int start_sum(float* data, int64_t n) override {
    if (n > INT32_MAX) throw std::runtime_error("gradc: allreduce of more than 2^31 floats");
    requests_.push_back(MPI_REQUEST_NULL);
    check(
        MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &requests_.back()),
        "MPI_Iallreduce");
    return static_cast<int>(requests_.size() - 1);
  }
  bool test(int r) override {
    MPI_Request& q = requests_.at(static_cast<size_t>(r));
    if (q == MPI_REQUEST_NULL) return true;
    int done = 0;
    check(MPI_Test(&q, &done, MPI_STATUS_IGNORE), "MPI_Test");
    return done != 0;
  }
  void wait(int r) override {
    check(MPI_Wait(&requests_.at(static_cast<size_t>(r)), MPI_STATUS_IGNORE), "MPI_Wait");
    if (static_cast<size_t>(r) + 1 == requests_.size()) trim();
  }
  void sum(double* data, int n) override {
    check(MPI_Allreduce(MPI_IN_PLACE, data, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  }
  void min_max(uint64_t v, uint64_t* mn, uint64_t* mx) override {
    check(MPI_Allreduce(&v, mn, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce(min)");
    check(MPI_Allreduce(&v, mx, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce(max)");
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  [[noreturn]] void abort(int status) override {
    MPI_Abort(MPI_COMM_WORLD, status);
    std::_Exit(status);
  }

 private:
  // Measured on Open MPI 4.1 (shared memory, 2 ranks): when the first large transfers are
  // non-blocking and overlapping, every later allreduce stays 10-20x slower (12 ms instead of
  // 0.9 ms for mlp512's 3.7 MB); a few blocking 2 MB sums first put it on the fast path for good.
  void warm_up() {
    if (size_ < 2) return;
    std::vector<float> b(size_t{1} << 19, 0.f);
    for (int i = 0; i < 8; ++i)
      check(MPI_Allreduce(MPI_IN_PLACE, b.data(), static_cast<int>(b.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
            "MPI_Allreduce (warm-up)");
  }
  // Completed requests at the end of the list are dropped so ids stay small across steps.
  void trim() {
    while (!requests_.empty() && requests_.back() == MPI_REQUEST_NULL) requests_.pop_back();
  }
  int rank_ = 0, size_ = 1;
  std::string library_;
  std::vector<MPI_Request> requests_;
};
}  // namespace

std::unique_ptr<Comm> make_mpi_comm() { return std::make_unique<MpiComm>(); }

}  // namespace gradc
