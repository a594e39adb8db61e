// Graph-to-graph compiler passes, each usable and testable alone, run by name:
//   dce        dead-code elimination (keeps inputs/parameters so names still bind)
//   cse        common-subexpression elimination
//   fold       constant folding of uniform constants through elementwise/broadcast/reduce ops
//   simplify   algebraic identities: x·1, x+0, x-0, x/1, -(-x), transpose(transpose x), reshape chains
//   fuse-dense           matmul + bias (+ ReLU) -> dense (one GEMM with the epilogue)
//   fuse-dense-backward  matmul(relu_grad(y, dy), ·) -> matmul_relu_mask (mask applied in the GEMM)
//   dropout-mask         relu_grad(y, dropout(dy, k)) -> relu_grad(dropout(y, k), dy·s): the forward's
//                        dropped activation is the mask (no second draw, y read by dropout alone)
//   fuse-xent            (softmax(L) - one_hot(y))·s -> softmax_xent_grad (one pass over the logits)
//   gemm-layout          A·Bᵀ with a short k -> A·transpose(B), so the GEMM vectorises along n
//   split-k              long-k Aᵀ·B with a small result -> sum of partial products over k chunks;
//                        a first layer's forward GEMM one chunk per core (each reads the W rows it updates)
//   conv-gemm            conv2d and its gradients -> im2col/col2im + GEMM (conv_gemm.cpp)
//   sink-reshape         elementwise(reshape(x)) -> reshape(elementwise(x)), so fuse-dense sees
//                        through conv-gemm's reshapes
//   mask-before-pool     relu_grad(y, max_pool2d_grad(y, dy)) -> max_pool2d_grad(y, relu_grad(pool(y), dy))
// Each pass rewrites once and leaves what it made dead to the cleanup passes; which passes run, in
// what order and how often is compiler/pipeline.h's business. Elementwise chains (and elementwise
// producers of reductions) are fused at plan level, see PlanOptions in plan.h.
#pragma once
#include <span>
#include <string>
#include <vector>

#include "autodiff/graph.h"
#include "compiler/target.h"

namespace gradc {

// A rewritten graph and where each node of the input went (old id -> new id, -1 = removed).
struct PassResult {
  Graph g;
  std::vector<int> map;
};

// What a pass may know besides the graph: the target whose thresholds apply, and what the plan
// after the pipeline does with the result.
struct PassContext {
  const Target& target;
  // The plan runs a GEMM's elementwise readers in its epilogue (CompileOptions::fuse): a layout
  // that pays only with them there (gemm-layout's narrow products) may be chosen.
  bool epilogues = true;
};

struct PassInfo {
  const char* name;
  const char* summary;
  PassResult (*run)(const Graph&, const PassContext&);
};

std::span<const PassInfo> pass_table();
// Throws std::invalid_argument listing the known passes.
const PassInfo& find_pass(const std::string& name);

// The conv-gemm pass (compiler/conv_gemm.cpp).
PassResult conv_gemm(const Graph& g);

// Parses "a,b,c".
std::vector<std::string> split_passes(const std::string& list);

}  // namespace gradc
