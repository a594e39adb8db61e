// Reverse-mode automatic differentiation on the graph IR.
#pragma once
#include <vector>

#include "autodiff/graph.h"

namespace gradc {

// Appends the gradient of the scalar `loss` with respect to each of `wrt` to loss's graph and
// returns those gradient tensors (named "grad/<name>", role Grad). Walks nodes in reverse
// topological order and applies each op's rule from the op table; only nodes between `wrt` and
// `loss` are visited. Not supported: higher-order derivatives (backward-only ops have no rule and
// raise GraphError), gradients through i32 tensors (labels, dropout keys), in-place updates.
std::vector<Tensor> grad(Tensor loss, const std::vector<Tensor>& wrt);

}  // namespace gradc
