// Executes a JIT-compiled graph: owns the 64-byte-aligned buffer arena (parameters, inputs,
// intermediates), binds inputs, runs every kernel of the step inside ONE OpenMP parallel region
// with a barrier between kernels (fork/join once per step, not per kernel).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "compiler/jit.h"
#include "runtime/collectives.h"
#include "runtime/labels.h"

namespace gradc {

class Program {
 public:
  // Compiles g (or reuses the cached code for a graph with the same code key); parameters get
  // their initial values from g, constants their contents. g must outlive the Program.
  explicit Program(const Graph& g, const CompileOptions& opt = {});
  ~Program();
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  // One execution of the whole graph, then the parameter updates. No heap allocation. Class-index
  // inputs are checked first (runtime/labels.h): an out-of-range label throws DataError.
  void run();

  void set_input(const std::string& name, std::span<const float> data);
  void set_input_i32(const std::string& name, std::span<const int32_t> data);
  float* data(int node);
  const float* data(int node) const;
  int32_t* data_i32(int node) { return reinterpret_cast<int32_t*>(data(node)); }
  std::vector<float> get(int node) const;
  int64_t numel(int node) const { return g_.node(node).shape.numel(); }

  // Median µs of each kernel (plan order) over `reps` runs, each kernel alone with the same thread
  // split as run(). Runs the whole program once first so every buffer holds real values.
  std::vector<double> profile_kernels(int reps);
  // Median µs of each kernel inside whole steps (`reps` of them, run()'s threads and split): from
  // the barrier after the previous kernel to one after this kernel, so each kernel finds its
  // operands where the step's earlier kernels left them (another core's cache, L3, memory) instead
  // of warm from its own previous call. The extra barriers cost ~1 µs each on 2 threads.
  std::vector<double> profile_in_step(int reps);

  // For tests: fills every buffer a kernel computes (not inputs, parameters or constants) with
  // NaN, so an element some kernel leaves unwritten shows in the next run's results.
  void poison_computed();

  // Threads for run(): 0 = automatic — one thread for programs under kSerialBelowFlops per run,
  // else OpenMP's default (OMP_NUM_THREADS or the core count). n > 0 forces n.
  void set_threads(int n) { threads_ = n; }
  int threads() const;

  const CompiledProgram& code() const { return *code_; }
  // The node's id in the optimised graph, or throws if the passes removed or fused it away.
  int opt_id(int node) const;
  const Graph& graph() const { return g_; }
  // Thread t's private kernel scratch (nullptr when no kernel needs any).
  float* scratch(int thread) const;
  // The step's allreduce kernels (data-parallel training): null when the graph has none.
  Collectives* collectives() { return coll_.get(); }

 private:
  int input_id(const std::string& name, DType t, size_t n) const;
  void reserve_scratch(int threads);
  void init_values();

  const Graph& g_;
  std::shared_ptr<const CompiledProgram> code_;
  char* arena_ = nullptr;
  std::vector<char*> bufs_;
  int threads_ = 0;
  double flops_ = 0;         // per run, from the plan
  char* scratch_ = nullptr;  // scratch_threads_ slices of scratch_stride_ bytes, 64-byte aligned
  int64_t scratch_stride_ = 0;
  int scratch_threads_ = 0;
  std::vector<LabelCheck> labels_;  // in the optimised graph's ids
  std::unique_ptr<Collectives> coll_;
  void run_serial();
  void run_parallel(int T);
};

// Whole programs below this many flops per run are faster on one thread: measured on the 2-core
// Zen 5 VM, dnn b30 (11 MFLOP) 86 µs on 1 thread vs 115 µs on 2, dnn b128 (46 MFLOP) 325 vs 274 µs.
inline constexpr double kSerialBelowFlops = 24e6;

}  // namespace gradc
