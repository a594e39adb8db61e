// The graph verifier (XLA's HloVerifier): what every pass must leave true. The pass pipeline runs
// it after every pass (compiler/pipeline.h), so a pass that breaks an invariant is named at once
// instead of surfacing as a wrong kernel three passes later.
#pragma once
#include <stdexcept>
#include <string>

#include "autodiff/graph.h"
#include "compiler/passes.h"

namespace gradc {

class VerifyError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// g alone: ids dense and equal to positions, inputs precede their users (topological order),
// each op's arity, shapes and dtypes equal to the op's shape rule re-run, sources without inputs,
// outputs and updates in range, every update a Parameter taking a value of its shape and dtype.
// Throws VerifyError naming `context` (e.g. "after pass cse") and the node.
void verify_graph(const Graph& g, const std::string& context);

// What a rewrite must keep of the graph it was given: every input and parameter (same op, name,
// role, shape, dtype) and the outputs and updates (same count, each mapped to a node of the same
// shape), with a map entry for every old node that is in range.
void verify_rewrite(const Graph& before, const PassResult& after, const std::string& context);

}  // namespace gradc
