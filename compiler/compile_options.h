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
  std::vector<std::string> passes;  // explicit pipeline, each pass once in order (overrides the default)
  std::optional<Target> target;     // what to compile for (unset: default_target())
};

}  // namespace gradc
