// The graph as the compiler sees it part-way through (or at the end of) its pipeline, for drawing
// and inspection: what `gradc dot --after PASS` shows, available to any graph through the library.
#pragma once
#include <string>
#include <vector>

#include "autodiff/graph.h"
#include "compiler/jit.h"

namespace gradc {

struct CompilerView {
  Graph g;                     // the graph after the passes that ran
  std::vector<int> kernel_of;  // node id -> kernel index (-1: none); empty unless the whole pipeline ran with fusion
  std::vector<std::string> passes;  // the passes that ran, in order
};

// Runs `opt`'s pipeline (pipeline_for) on `g` up to and including the first run of `after`; "fuse" (or "") runs all of
// it and, with fusion on, also makes the lowering plan so that kernel_of groups the nodes each multi-node kernel
// computes. Throws std::invalid_argument naming the pass when `after` is not in the pipeline.
CompilerView view_after(const Graph& g, const CompileOptions& opt, const std::string& after);

// DOT text of view_after's graph, fused kernels drawn as clusters (see to_dot).
std::string dot_after(const Graph& g, const CompileOptions& opt, const std::string& after);

}  // namespace gradc
