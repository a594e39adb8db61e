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

// Renders DOT text to `path`; format from the extension (.svg, .png, .dot). Throws
// std::runtime_error naming the file if Graphviz cannot parse the text or write the file.
void render_dot(const std::string& dot, const std::string& path);

}  // namespace gradc
