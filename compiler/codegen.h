// Builds the LLVM module of a plan: one kernel function per KernelInfo.
#pragma once
#include <llvm/IR/Module.h>

#include <memory>

#include "compiler/plan.h"

namespace gradc {

// Kernel symbol names are prefixed with `prefix` so modules of many programs share one JIT.
// Only the kernels listed in `which` (indices into p.kernels) are emitted, so a plan can be split
// into several modules compiled in parallel.
std::unique_ptr<llvm::Module> emit_module(const Graph& g, const Plan& p, llvm::LLVMContext& ctx,
                                          const std::string& prefix, const std::vector<size_t>& which);

}  // namespace gradc
