// Reference implementation of every op in the table: plain loops, double accumulation, no SIMD
// tricks. This is the oracle the JIT is tested against, so clarity beats speed here.
#pragma once
#include <vector>

#include "autodiff/graph.h"
#include "runtime/value.h"

namespace gradc {

using RefFn = void (*)(const Node& n, const std::vector<const Value*>& in, Value& out);

#define GRADC_DECL_REF(E, name, arity, kind, diff) \
  void ref_##E(const Node& n, const std::vector<const Value*>& in, Value& out);
GRADC_OPS(GRADC_DECL_REF)
#undef GRADC_DECL_REF

RefFn ref_kernel(Op op);

}  // namespace gradc
