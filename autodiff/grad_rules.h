// Gradient rules of the op table (one grad_<Op> per differentiable entry), written in the DSL so
// gradients are ordinary graph nodes that can be dumped, optimised and compiled.
#pragma once
#include "autodiff/graph.h"

namespace gradc {

#define GRADC_DECL_GRAD(E, name, arity, kind, diff) \
  void grad_##E(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx);
GRADC_OPS(GRADC_DECL_GRAD)
#undef GRADC_DECL_GRAD

}  // namespace gradc
