#include "runtime/comm.h"

#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace gradc {

#ifdef GRADC_HAVE_MPI
std::unique_ptr<Comm> make_mpi_comm();  // runtime/comm_mpi.cpp
#endif

namespace {
// A world of one: every collective is the identity and nothing waits.
class SoloComm : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string describe() const override { return "one process"; }
  int start_sum(float*, int64_t) override { return 0; }
  bool test(int) override { return true; }
  void wait(int) override {}
  void sum(double*, int) override {}
  void min_max(uint64_t v, uint64_t* mn, uint64_t* mx) override { *mn = *mx = v; }
  void barrier() override {}
  [[noreturn]] void abort(int status) override { std::exit(status); }
};

std::unique_ptr<Comm>& instance() {
  static std::unique_ptr<Comm> c;
  return c;
}
}  // namespace

bool under_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

Comm& world() {
  std::unique_ptr<Comm>& c = instance();
  if (c) return *c;
  if (!under_mpirun()) {
    c = std::make_unique<SoloComm>();
    return *c;
  }
#ifdef GRADC_HAVE_MPI
  c = make_mpi_comm();
  return *c;
#else
  throw std::runtime_error(
      "gradc: started by mpirun, but this gradc was built without MPI (install libopenmpi-dev, "
      "openmpi-bin and rebuild: tools/setup.sh)");
#endif
}

bool world_is_distributed() { return instance() && instance()->size() > 1; }

}  // namespace gradc
