// The LLVM JIT: a graph's plan becomes one LLVM module (one function per kernel), optimised with
// the O3 pipeline for a target (compiler/target.h: the host by default, or x86-64-v3 / x86-64-v4 /
// an LLVM CPU name), compiled by ORC LLJIT. Compiled programs are cached by compiler/code_key.h's
// key (graph structure + target + options, compared byte for byte), so repeated steps and repeated
// builds of the same graph never recompile. The cache holds code: initial values come from the
// caller's graph.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/compile_options.h"
#include "compiler/pipeline.h"
#include "compiler/plan.h"
#include "compiler/target.h"

namespace gradc {

// `scratch`: this thread's KernelInfo::scratch_bytes of 64-byte-aligned private memory (packed
// GEMM panels); the caller gives every thread its own.
using KernelFn = void (*)(char** bufs, int64_t lo, int64_t hi, float* scratch);

struct CompiledProgram {
  Graph graph;                    // the graph after the passes; plan and kernels refer to its ids
  std::vector<int> node_map;      // original node id -> id in `graph` (-1: optimised away)
  std::vector<PassRun> pass_log;  // the passes that ran, in order (fixed-point groups unrolled)
  Plan plan;
  std::vector<KernelFn> fns;                       // parallel to plan.kernels
  uint64_t hash = 0;                               // key_hash(key)
  std::string key;                                 // code_key + target_key + options: what the cache compares
  double compile_ms = 0;                           // IR emission + O3 + machine code, measured
  double emit_ms = 0, opt_ms = 0, codegen_ms = 0;  // its parts (slowest of the parallel workers)
  std::string ir, assembly;
  Target target;                 // what the code was compiled for (runnable: the host can execute it)
  bool from_code_cache = false;  // machine code loaded from the persistent cache (compiler/code_cache.h)
};

std::shared_ptr<const CompiledProgram> compile(const Graph& g, const CompileOptions& opt = {});

// The passes and the plan of a compile, no code: fills prog's graph, node_map, pass_log, plan and
// target (what compile() and ahead-of-time export, compiler/aot.h, share).
void lower(const Graph& g, const CompileOptions& opt, const Target& target, CompiledProgram& prog);

// Number of compilations performed so far in this process (cache misses); for tests.
int compile_count();

}  // namespace gradc
