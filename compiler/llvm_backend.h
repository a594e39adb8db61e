// The LLVM back half shared by the JIT (compiler/jit.h) and ahead-of-time export (compiler/aot.h):
// target machines for a Target, the O3 pipeline, and object/assembly emission.
#pragma once
#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include <memory>
#include <string>

#include "compiler/target.h"

namespace gradc {

// Registers LLVM's targets and gradc's code-generation flags once per process.
void init_llvm();
// Registers the native and AArch64 backends only (what target descriptions need to query CPUs).
void init_llvm_targets();

// A TargetMachine for `t` at -O3 (not thread-safe: one per compiling thread). `pic`: position-
// independent code, as an object linked into a PIE executable or a shared library needs.
std::unique_ptr<llvm::TargetMachine> make_target_machine(const Target& t, bool pic);

// Stamps the module with tm's data layout and triple and every defined function with the target's
// cpu, features and tuning, so the O3 pipeline and the backend see the same ISA.
void prepare_module(llvm::Module& m, llvm::TargetMachine& tm, const Target& t);

// LLVM's O3 module pipeline, tuned for gradc's kernels.
void optimise_module(llvm::Module& m, llvm::TargetMachine& tm);

// Machine code (object file bytes) or assembly text of an optimised module.
std::string emit_object(llvm::Module& m, llvm::TargetMachine& tm);
std::string emit_assembly(llvm::Module& m, llvm::TargetMachine& tm);

}  // namespace gradc
