// Lowering plan: which nodes run, as which kernels, in which buffers. Pure data, no LLVM.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "autodiff/graph.h"

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
  bool barrier_before = true;  // threads must sync before this kernel (it touches memory that a
                               // kernel since the previous barrier wrote, or writes what one read)
};

struct PlanOptions {
  bool fuse_elementwise = true;  // inline single-use elementwise producers into their consumer's loop
  bool plan_memory = true;       // reuse buffers whose last reader has run (liveness in kernel order)
};

struct Plan {
  std::vector<int> live;         // nodes needed by outputs/updates, topological
  std::vector<int> node_buffer;  // node id -> buffer index (-1: not materialised)
  std::vector<BufferInfo> buffers;
  std::vector<KernelInfo> kernels;  // in execution order
  int64_t arena_bytes = 0;
  int64_t unplanned_bytes = 0;  // what the arena would take with one buffer per node
};

// Dead-code elimination + kernel list + buffer assignment. Reshapes alias their input's buffer.
Plan make_plan(const Graph& g, const PlanOptions& opt = {});

// Compulsory memory traffic of one run: every kernel reads each distinct external input buffer
// once and writes its output once (cache reuse inside a kernel is not modelled).
int64_t plan_traffic_bytes(const Graph& g, const Plan& p);

// A structural hash of the graph (ops, shapes, attributes, edges, outputs, updates): equal hashes
// mean the same program, so the JIT cache can reuse compiled code.
uint64_t graph_hash(const Graph& g);

// True when codegen has a code path for this op (sources need none); the tests iterate this over
// the op table. Defined next to the dispatch in codegen.cpp.
bool has_lowering(Op op);

// Rows of C per GEMM microkernel call (the GEMM kernel's parallel unit), see codegen_gemm.cpp.
int64_t gemm_row_block(const Node& matmul);
// Cache blocking of a broadcast-form GEMM (C = op(A)·B, B not transposed). The K×N operand is swept
// in blocks of at most kGemmBlockBytes (sized to stay in a Zen 4/5 core's 1 MiB L2 next to the A
// rows and C tiles). With enough rows to amortise it (M ≥ kGemmPackMinRows), each kc×nc block of
// B is first copied into the thread's scratch as contiguous 64-column tiles (zero-padded, masks
// applied): unit-stride streams, no L2 set conflicts from power-of-two row strides, no masked loads.
inline constexpr int64_t kGemmBlockBytes = 512 * 1024;
inline constexpr int64_t kGemmPackMinRows = 256;
inline constexpr int64_t kGemmPackKc = 384;  // kc 256/384/512 × block 384K-768K tried: 384 & 512K best
struct GemmBlocking {
  int64_t kc = 0;  // K block (K: unblocked)
  int64_t nc = 0;  // N panel, a multiple of 64 when packed (N: unblocked)
  bool pack = false;
  bool pack_a = false;  // each row block's mr×kc slice of op(A) copied to scratch (after the B panel)
                        // (A strides of a multiple of 2 KiB)
  int64_t a_offset() const { return pack ? kc * nc : 0; }  // floats
  int64_t scratch_bytes() const { return (a_offset() + (pack_a ? kc * 12 : 0)) * 4; }
};
GemmBlocking gemm_blocking(const Graph& g, const Node& matmul);

// Elementwise view of a kernel computing n (and the inlined producers `fused`): rows × cols where
// cols is the period of the broadcast operands, or — none broadcast — a flat chunk of at most
// kElementwiseChunk elements (the last chunk may be short). The kernel's range is ceil(numel / cols).
inline constexpr int64_t kElementwiseChunk = 4096;
int64_t elementwise_cols(const Graph& g, const Node& n, const std::vector<int>& fused);
// The smallest period of an operand that repeats along the kernel's elements (1 < numel < n's),
// 0 when none does (the flat case).
int64_t elementwise_period(const Graph& g, const Node& n, const std::vector<int>& fused);

}  // namespace gradc
