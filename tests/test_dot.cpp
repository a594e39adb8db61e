// DOT output: Graphviz parses it; node and edge counts match the graphs; files render.
#include <graphviz/cgraph.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "autodiff/autodiff.h"
#include "autodiff/dot.h"
#include "compiler/passes.h"
#include "compiler/pipeline.h"
#include "compiler/view.h"
#include "models/models.h"
#include "tests/test_dir.h"
#include "tools/graph_image.h"

namespace gradc {
namespace {

struct Counts {
  int nodes, edges;
};
Counts parse(const std::string& dot) {
  Agraph_t* g = agmemread(dot.c_str());
  EXPECT_NE(g, nullptr) << dot;
  if (!g) return {-1, -1};
  Counts c{agnnodes(g), agnedges(g)};
  agclose(g);
  return c;
}

TEST(Dot, LinearModelCounts) {
  auto m = build_model("linear", {});
  // x, y, W, b, matmul, add, softmax_xent; edges x->mm, W->mm, mm->add, b->add, add->xent, y->xent.
  Counts c = parse(to_dot(m->g));
  EXPECT_EQ(c.nodes, 7);
  EXPECT_EQ(c.edges, 6);
}

TEST(Dot, LegendAddsOneNodePerStyleUsedAndKernelLabelsNameTheOps) {
  auto m = build_model("linear", {});
  const std::string dot = to_dot(m->g, nullptr, true);
  EXPECT_EQ(parse(dot).nodes, 7 + 4);  // the graph + input, parameter, op, output: the styles it uses
  EXPECT_EQ(dot.find("label=\"gradient\""), std::string::npos);
  EXPECT_EQ(dot.find("allreduce (MPI)"), std::string::npos);
  EXPECT_NE(dot.find("cluster_legend"), std::string::npos);
  EXPECT_EQ(dot.find("cluster_legend_kernel"), std::string::npos);  // no kernels shown: no kernel box
  std::vector<int> kernel_of(m->g.size(), -1);
  for (const Node& n : m->g.nodes())
    if (n.op == Op::Add || n.op == Op::MatMul) kernel_of[static_cast<size_t>(n.id)] = 0;
  const std::string k = to_dot(m->g, &kernel_of, true);
  EXPECT_NE(k.find("label=\"kernel 0: matmul+add\""), std::string::npos) << k;
  EXPECT_NE(k.find("cluster_legend_kernel"), std::string::npos);
  EXPECT_EQ(parse(k).nodes, 7 + 5);
}

TEST(Dot, DnnModelCounts) {
  auto m = build_model("dnn", {});
  // x, y + 3 dense layers (W, b, matmul, add) + 2 relu + loss = 2 + 12 + 2 + 1.
  Counts c = parse(to_dot(m->g));
  EXPECT_EQ(c.nodes, 17);
  EXPECT_EQ(c.edges, 3 * 4 + 2 + 2);
}

TEST(Dot, GradientGraphParsesWithEveryNodeAndEdge) {
  auto m = build_model("dnn", {});
  auto gs = grad(m->loss, m->g.params());
  size_t edges = 0;
  for (const Node& n : m->g.nodes()) edges += n.in.size();
  const std::string dot = to_dot(m->g);
  Counts c = parse(dot);
  EXPECT_EQ(static_cast<size_t>(c.nodes), m->g.size());
  EXPECT_EQ(static_cast<size_t>(c.edges), edges);
  EXPECT_NE(dot.find("grad/hidden1/W"), std::string::npos);
  EXPECT_NE(dot.find("fillcolor=\"#f8b4b4\""), std::string::npos);  // gradients styled distinctly
}

TEST(Dot, RendersSvgAndPng) {
  auto m = build_model("linear", {});
  const TestDir dir;
  const std::string svg = (dir / "l.svg").string(), png = (dir / "l.png").string();
  cli::render_dot(to_dot(m->g), svg);
  cli::render_dot(to_dot(m->g), png);
  std::ifstream s(svg);
  std::string text((std::istreambuf_iterator<char>(s)), {});
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_NE(text.find("softmax_xent"), std::string::npos);
  std::ifstream p(png, std::ios::binary);
  char magic[8] = {};
  p.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_THROW(cli::render_dot(to_dot(m->g), (dir / "l.bmpx").string()), std::invalid_argument);
  EXPECT_THROW(cli::render_dot("digraph { a -> ", svg), std::runtime_error);
}

int count_op(const Graph& g, Op op) {
  return static_cast<int>(std::count_if(g.nodes().begin(), g.nodes().end(), [&](const Node& n) { return n.op == op; }));
}

// view_after: the pipeline stops where asked; the whole fused pipeline groups kernels into clusters.
TEST(Dot, ViewAfterPassesAndKernelClusters) {
  auto m = build_model("dnn", {});
  const std::vector<Tensor> ps = m->g.params();
  const std::vector<Tensor> gs = grad(m->loss, ps);
  for (size_t i = 0; i < gs.size(); ++i) m->g.mark_output(gs[i], "grad/" + ps[i].node().name);
  const CompileOptions co;
  const CompilerView before = view_after(m->g, co, "dce");
  EXPECT_EQ(count_op(before.g, Op::Dense), 0);
  EXPECT_TRUE(before.kernel_of.empty());
  EXPECT_EQ(before.passes.back(), "dce");
  const CompilerView dense = view_after(m->g, co, "fuse-dense");
  EXPECT_EQ(count_op(dense.g, Op::Dense), 3);  // one per layer
  const CompilerView all = view_after(m->g, co, "fuse");
  std::vector<PassRun> log;
  pipeline_for(co).run(m->g, default_target(), {}, &log);
  ASSERT_EQ(all.passes.size(), log.size());
  for (size_t i = 0; i < log.size(); ++i) EXPECT_EQ(all.passes[i], log[i].name);
  EXPECT_EQ(all.passes.back(), "dce");
  ASSERT_EQ(all.kernel_of.size(), all.g.size());
  std::vector<int> per_kernel(all.g.size(), 0);
  for (int k : all.kernel_of)
    if (k >= 0) ++per_kernel[static_cast<size_t>(k)];
  EXPECT_GT(*std::max_element(per_kernel.begin(), per_kernel.end()), 1);  // a multi-node kernel exists
  const std::string dot = dot_after(m->g, co, "fuse");
  EXPECT_NE(dot.find("subgraph cluster_k"), std::string::npos);
  EXPECT_GT(parse(dot).nodes, 0);
  CompileOptions unfused;
  unfused.fuse = false;
  EXPECT_TRUE(view_after(m->g, unfused, "fuse").kernel_of.empty());
  EXPECT_THROW(view_after(m->g, unfused, "fuse-dense"), std::invalid_argument);  // not in this pipeline
  EXPECT_THROW(view_after(m->g, co, "no-such-pass"), std::invalid_argument);
}

}  // namespace
}  // namespace gradc
