// Graphviz views of a graph: DOT text and in-process rendering to SVG/PNG through libgvc.
#pragma once
#include <string>
#include <vector>

#include "autodiff/graph.h"

namespace gradc {

// One DOT node per graph node (label: op, name, shape), one edge per operand. Inputs are blue
// ellipses, parameters gold boxes, gradients red, outputs bold, constants small grey.
// With `kernel_of` (node id -> kernel index, -1 = none), nodes computed by the same multi-node
// kernel are drawn inside one cluster box labelled with the kernel number and its ops. With
// `legend`: a box of one example node per style (and the kernel box) above the graph.
std::string to_dot(const Graph& g, const std::vector<int>* kernel_of = nullptr, bool legend = false);

// What a kernel computing nodes `ids` does, its ops in graph order ("matmul+add+relu"; inputs,
// parameters and constants left out): the kernel clusters' labels, and any table naming kernels.
std::string kernel_ops_label(const Graph& g, std::vector<int> ids);

// DOT text laid out and rendered by libgvc in memory: the bytes of an "svg" or "png" image.
// Throws std::invalid_argument for another format and std::runtime_error naming `what` (the file
// the caller will write) if Graphviz cannot parse or render the text. Writing is the caller's
// (tools/graph_image.h), so that every write is checked and atomic.
std::string render_graphviz(const std::string& dot, const std::string& format, const std::string& what);

}  // namespace gradc
