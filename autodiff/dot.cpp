#include "autodiff/dot.h"

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

namespace gradc {

namespace {
std::string escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    r += c;
  }
  return r;
}

std::string style_of(const Node& n) {
  switch (n.role) {
    case Role::Input:
      return "shape=ellipse, style=filled, fillcolor=\"#cfe2ff\"";
    case Role::Param:
      return "shape=box, style=\"filled,rounded\", fillcolor=\"#ffe08a\"";
    case Role::State:
    case Role::Moving:
      return "shape=box, style=\"filled,rounded,dashed\", fillcolor=\"#fff4cc\"";
    case Role::Grad:
      return "shape=box, style=filled, fillcolor=\"#f8b4b4\", penwidth=2";
    case Role::Output:
      return "shape=box, style=filled, fillcolor=\"#c3e6cb\", penwidth=2";
    case Role::Op:
      break;
  }
  if (n.op == Op::Constant) return "shape=plaintext, fontsize=9, fontcolor=\"#666666\"";
  if (n.op == Op::AllReduce) return "shape=hexagon, style=filled, fillcolor=\"#ffc078\"";
  if (n.where.rfind("∂", 0) == 0) return "shape=box, style=filled, fillcolor=\"#fde2e2\"";
  return "shape=box, style=filled, fillcolor=\"#eeeeee\"";
}

std::string label_of(const Node& n) {
  std::string l = op_name(n.op);
  if (n.op == Op::MatMul && (n.a.ta || n.a.tb))
    l += std::string(" (") + (n.a.ta ? "Aᵀ" : "A") + "·" + (n.a.tb ? "Bᵀ" : "B") + ")";
  if ((n.op == Op::Sum || n.op == Op::Mean) && n.a.axis >= 0) l += " axis=" + std::to_string(n.a.axis);
  if (n.op == Op::AllReduce) {  // Σ over ranks × scale (1/ranks: the mean)
    char buf[48];
    std::snprintf(buf, sizeof buf, " ×%g, bucket %d", static_cast<double>(n.a.value), n.a.bucket);
    l += buf;
  }
  if (n.op == Op::Constant && n.a.data.empty()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", static_cast<double>(n.a.value));
    l = buf;
  }
  if (!n.name.empty()) l += "\\n" + escape(n.name);
  l += "\\n" + n.shape.str();
  if (n.dtype == DType::I32) l += " i32";
  return l;
}

// One example node per style the picture uses, side by side in a box of their own (no edges into
// the graph); the fused-kernel box only when a kernel holds more than one node.
std::string legend(const Graph& g, bool kernels) {
  std::set<std::string> used;
  for (const Node& n : g.nodes()) used.insert(style_of(n));
  std::string s =
      "  subgraph cluster_legend { label=\"legend\"; fontname=\"Helvetica\"; style=\"rounded\"; color=\"#999999\";\n"
      "    node [fontsize=10];\n";
  auto node = [](Role role, Op op = Op::Input, const char* where = "") {
    Node n;
    n.role = role, n.op = op, n.where = where;
    return style_of(n);
  };
  const std::pair<const char*, std::string> items[] = {{"input", node(Role::Input)},
                                                       {"parameter", node(Role::Param)},
                                                       {"optimizer state", node(Role::State)},
                                                       {"op", node(Role::Op)},
                                                       {"backward op", node(Role::Op, Op::Input, "∂")},
                                                       {"gradient", node(Role::Grad)},
                                                       {"output", node(Role::Output)},
                                                       {"constant", node(Role::Op, Op::Constant)},
                                                       {"allreduce (MPI)", node(Role::Op, Op::AllReduce)}};
  std::string chain;
  for (size_t i = 0; i < std::size(items); ++i) {
    if (!used.count(items[i].second)) continue;
    s += "    legend" + std::to_string(i) + " [label=\"" + items[i].first + "\", " + items[i].second + "];\n";
    chain += (chain.empty() ? "" : " -> ") + std::string("legend") + std::to_string(i);
  }
  if (kernels)
    s += "    subgraph cluster_legend_kernel { label=\"fused kernel\"; style=\"rounded,dashed\"; color=\"#7b3fb6\"; "
         "fontcolor=\"#7b3fb6\"; legend_k [label=\"ops of one kernel\", shape=box, style=filled, "
         "fillcolor=\"#eeeeee\"]; }\n";
  return s + "    { rank=same; " + chain + (chain.find("->") == std::string::npos ? "" : " [style=invis]") +
         "; }\n  }\n";
}
}  // namespace

std::string kernel_ops_label(const Graph& g, std::vector<int> ids) {
  std::sort(ids.begin(), ids.end());
  std::string ops;
  for (int id : ids)
    if (g.node(id).role != Role::Input && g.node(id).role != Role::Param && g.node(id).op != Op::Constant)
      ops += (ops.empty() ? "" : "+") + std::string(op_name(g.node(id).op));
  return ops;
}

std::string to_dot(const Graph& g, const std::vector<int>* kernel_of, bool with_legend) {
  std::string s = "digraph \"" + escape(g.name.empty() ? "gradc" : g.name) + "\" {\n";
  s += "  rankdir=TB; graph [fontname=\"Helvetica\"]; node [fontname=\"Helvetica\", fontsize=11]; "
       "edge [color=\"#555555\"];\n";
  if (with_legend) {
    bool fused = false;  // a kernel of more than one node
    if (kernel_of) {
      std::map<int, int> size;
      for (int k : *kernel_of)
        if (k >= 0) fused |= ++size[k] > 1;
    }
    s += legend(g, fused);
  }
  auto node_line = [&](const Node& n) {
    return "  n" + std::to_string(n.id) + " [label=\"" + label_of(n) + "\", " + style_of(n) + "];\n";
  };
  std::vector<std::vector<int>> clusters;
  for (const Node& n : g.nodes()) {
    const int k =
        kernel_of && static_cast<size_t>(n.id) < kernel_of->size() ? (*kernel_of)[static_cast<size_t>(n.id)] : -1;
    if (k < 0) {
      s += node_line(n);
      continue;
    }
    if (clusters.size() <= static_cast<size_t>(k)) clusters.resize(static_cast<size_t>(k) + 1);
    clusters[static_cast<size_t>(k)].push_back(n.id);
  }
  for (size_t k = 0; k < clusters.size(); ++k) {
    if (clusters[k].empty()) continue;
    if (clusters[k].size() == 1) {
      s += node_line(g.node(clusters[k][0]));
      continue;
    }
    const std::string ops = kernel_ops_label(g, clusters[k]);  // "kernel 4: matmul+add+relu"
    s += "  subgraph cluster_k" + std::to_string(k) + " { label=\"kernel " + std::to_string(k) + ": " + ops +
         "\"; labeljust=l; style=\"rounded,dashed\"; color=\"#7b3fb6\"; fontcolor=\"#7b3fb6\"; margin=14;\n";
    for (int id : clusters[k]) s += "  " + node_line(g.node(id));
    s += "  }\n";
  }
  for (const Node& n : g.nodes())
    for (int i : n.in) s += "  n" + std::to_string(i) + " -> n" + std::to_string(n.id) + ";\n";
  return s + "}\n";
}

std::string render_graphviz(const std::string& dot, const std::string& format, const std::string& what) {
  if (format != "svg" && format != "png")
    throw std::invalid_argument("gradc: " + what + ": unknown image format '" + format + "' (use .svg, .png or .dot)");
  // One context for the process, and the previous graph is closed only after the next layout:
  // Graphviz 2.42's pango plugin caches a pointer to the last font name, which lives in the last
  // laid-out graph, and compares against it on the next layout (a use-after-free otherwise).
  static std::mutex mu;
  static GVC_t* gvc = gvContext();
  static Agraph_t* previous = nullptr;
  std::lock_guard<std::mutex> lock(mu);
  Agraph_t* graph = agmemread(dot.c_str());
  if (!graph) throw std::runtime_error("gradc: Graphviz could not parse the DOT text for " + what);
  // Rendered to memory: Graphviz writing a file itself calls exit(1) on a full disk, leaving a
  // truncated file; the caller writes the bytes with every write checked.
  char* data = nullptr;
  unsigned int size = 0;
  int rc = gvLayout(gvc, graph, "dot");
  if (rc == 0) {
    rc = gvRenderData(gvc, graph, format.c_str(), &data, &size);
    gvFreeLayout(gvc, graph);
  }
  if (previous) agclose(previous);
  previous = graph;
  std::string out = data ? std::string(data, size) : std::string();
  if (data) gvFreeRenderData(data);
  if (rc != 0 || out.empty()) throw std::runtime_error("gradc: Graphviz failed to render " + what);
  return out;
}

}  // namespace gradc
