// DOT output: Graphviz parses it; node and edge counts match the graphs; files render.
#include <graphviz/cgraph.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "autodiff/autodiff.h"
#include "autodiff/dot.h"
#include "models/models.h"

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
  const auto dir = std::filesystem::temp_directory_path() / "gradc_dot_test";
  std::filesystem::create_directories(dir);
  const std::string svg = (dir / "l.svg").string(), png = (dir / "l.png").string();
  render_dot(to_dot(m->g), svg);
  render_dot(to_dot(m->g), png);
  std::ifstream s(svg);
  std::string text((std::istreambuf_iterator<char>(s)), {});
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_NE(text.find("softmax_xent"), std::string::npos);
  std::ifstream p(png, std::ios::binary);
  char magic[8] = {};
  p.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_THROW(render_dot(to_dot(m->g), (dir / "l.bmpx").string()), std::invalid_argument);
  EXPECT_THROW(render_dot("digraph { a -> ", svg), std::runtime_error);
}

}  // namespace
}  // namespace gradc
