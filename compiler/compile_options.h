// What a compilation is asked for: read by the pass pipeline (which passes), the plan and the JIT.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "compiler/target.h"

namespace gradc {

struct CompileOptions {
  bool keep_ir = false;   // keep the optimised IR text (for --dump-ir)
  bool keep_asm = false;  // keep the generated assembly (for --dump-asm)
  bool fuse = true;       // graph fusion passes + plan-level elementwise fusion
  bool plan_memory = true;
  // --precision bf16: packed GEMMs round their operands to bf16 and multiply them with vdpbf16ps,
  // accumulating in f32; everything else (weights, optimizer state, activations) stays f32. Needs
  // a target with AVX512_BF16 (Target::bf16).
  bool bf16 = false;
  std::vector<std::string> passes;  // explicit pipeline, each pass once in order (overrides the default)
  std::optional<Target> target;     // what to compile for (unset: default_target())
};

}  // namespace gradc
