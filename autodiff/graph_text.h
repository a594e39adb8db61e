// A graph as text, one line per node ("%5 = matmul(%0, %1) [30,100] tb=1  'h/W'  @ mlp.cpp:21"):
// what `gradc compile --dump-after` writes beside the DOT file, diffable from pass to pass.
#pragma once
#include <string>

#include "autodiff/graph.h"

namespace gradc {

// The attributes of `a` that differ from a default Attrs, from the one field list (for_each_attr).
std::string attrs_text(const Attrs& a);
std::string graph_text(const Graph& g);

}  // namespace gradc
