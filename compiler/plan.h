// Lowering plan: which nodes run, as which kernels, in which buffers. Pure data, no LLVM.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "autodiff/graph.h"
#include "compiler/schedule.h"

namespace gradc {

struct BufferInfo {
  int64_t bytes = 0;
  int64_t offset = 0;  // in the program arena, 64-byte aligned
  int owner = -1;      // node that defines the contents
};

// One kernel = one JIT function `void k(char** bufs, int64_t lo, int64_t hi, float* scratch)`, run over [0, range)
// split into contiguous static chunks across threads. Every output element is computed entirely by
// the thread that owns its chunk, so results do not depend on the thread count.
struct KernelInfo {
  std::string fn;              // symbol name
  int node = -1;               // node whose value the kernel produces
  std::vector<int> fused;      // further nodes computed inside this kernel (issue 4's fusion)
  int64_t range = 1;           // parallel iteration space
  double flops = 0;            // for benchmarks
  int copy_from = -1;          // >= 0: a parameter-update copy kernel from this node's buffer
  int64_t scratch_bytes = 0;   // per-thread private memory the kernel needs (packed GEMM panels)
  KernelSpec spec;             // the schedule stage's choices for the target (compiler/schedule.h)
  bool host = false;           // a collective the runtime executes (no generated code runs)
  bool barrier_before = true;  // threads must sync before this kernel (it touches memory that a
                               // kernel since the previous barrier wrote, or writes what one read)
  // The plan's norm_epilogues: a GEMM also writes the sum of squares of each parallel unit's results
  // into this node's buffer (global-norm clipping's sum(square(dW))), and that sum's kernel adds up
  // its fold_parts partial sums instead of reading dW again.
  int norm_out = -1;
  int64_t fold_parts = 0;
  // The plan's bias_sums: a weight gradient's GEMM Xᵀ·dY also writes this node, the column sums of its
  // B (a bias gradient), which then has no kernel of its own.
  int colsum_out = -1;
};

// Kernels below this many flops run on one thread (the others wait at the barrier): splitting
// them costs more in cache traffic than it saves. Read by every executor of a plan.
inline constexpr double kParallelMinFlops = 16384;
// Whether every executor runs the kernel on thread 0 alone (the others skip it).
inline bool runs_on_one_thread(const KernelInfo& k) { return k.range < 2 || k.flops < kParallelMinFlops; }

struct PlanOptions {
  bool fuse_elementwise = true;    // inline single-use elementwise producers into their consumer's loop
  bool implicit_gemm = true;       // GEMMs read a convolution's im2col from its input and a transposed B
                                   // while packing it (neither written)
  bool plan_memory = true;         // reuse buffers whose last reader has run (liveness in kernel order)
  const Target* target = nullptr;  // what the kernels are scheduled for (nullptr: default_target())
  bool bf16 = false;               // CompileOptions::bf16
};

struct Plan {
  std::vector<int> live;         // nodes needed by outputs/updates, topological
  std::vector<int> node_buffer;  // node id -> buffer index (-1: not materialised)
  std::vector<BufferInfo> buffers;
  std::vector<KernelInfo> kernels;  // in execution order
  int64_t arena_bytes = 0;
  int64_t unplanned_bytes = 0;  // what the arena would take with one buffer per node
  Target target;                // the kernels' specs were chosen for this target
};

// Dead-code elimination + kernel list + schedule (a spec per kernel) + buffer assignment. Reshapes alias their input's
// buffer.
Plan make_plan(const Graph& g, const PlanOptions& opt = {});

// Compulsory memory traffic of one run: every kernel reads each distinct external input buffer
// once and writes its output once (cache reuse inside a kernel is not modelled).
int64_t plan_traffic_bytes(const Graph& g, const Plan& p);

// True when codegen has a code path for this op (sources need none); the tests iterate this over
// the op table. Defined next to the dispatch in codegen.cpp.
bool has_lowering(Op op);

}  // namespace gradc
