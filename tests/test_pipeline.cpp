// The pass pipeline and its verifier: the verifier names what a broken pass did; the cleanup group
// runs to a fixed point; every compile path (compile, view_after) runs pipeline_for's passes.
#include <gtest/gtest.h>

#include "autodiff/dsl.h"
#include "autodiff/optim.h"
#include "compiler/jit.h"
#include "compiler/pipeline.h"
#include "compiler/verifier.h"
#include "compiler/view.h"
#include "models/models.h"

namespace gradc {
namespace {

std::string verify_message(const Graph& g) {
  try {
    verify_graph(g, "in the test");
  } catch (const VerifyError& e) {
    return e.what();
  }
  return "";
}

Graph small() {
  Graph g;
  Tensor x = g.input("x", {2, 3});
  Tensor w = g.param("w", {3, 4}, Init::GlorotUniform);
  g.mark_output(relu(matmul(x, w)), "y");
  g.assign(w, w * 0.5f);
  return g;
}

TEST(Verifier, AcceptsWellFormedGraphsAndNamesEachBreakage) {
  EXPECT_EQ(verify_message(small()), "");
  auto broken = [](auto edit) {
    Graph g = small();
    edit(g);
    return verify_message(g);
  };
  auto has = [](const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                               : ::testing::AssertionFailure() << msg << " lacks " << part;
  };
  EXPECT_TRUE(has(broken([](Graph& g) { g.node(3).shape = Shape{2, 5}; }), "shape [2,5], the shape rule says [2,4]"));
  EXPECT_TRUE(has(broken([](Graph& g) { g.node(3).dtype = DType::I32; }), "dtype"));
  EXPECT_TRUE(has(broken([](Graph& g) { g.node(2).in = {4, 1}; }), "does not precede"));
  EXPECT_TRUE(has(broken([](Graph& g) { g.node(3).in.push_back(0); }), "inputs, the op takes 1"));
  EXPECT_TRUE(has(broken([](Graph& g) { g.node(2).id = 7; }), "id 7 at position 2"));
  EXPECT_TRUE(has(broken([](Graph& g) { g.outputs().push_back(99); }), "output 99 out of range"));
  EXPECT_TRUE(has(broken([](Graph& g) { g.node(1).role = Role::Op; }), "role"));
  EXPECT_TRUE(has(broken([](Graph& g) { g.node(2).a.tb = true; }), "shape rule rejects it"));
  EXPECT_TRUE(has(broken([](Graph& g) { g.node(3).in = {0}; }), "node 3 (relu"));
}

TEST(Verifier, RewritesMustKeepInputsParametersOutputsAndUpdates) {
  const Graph g = small();
  PassResult same{g, {0, 1, 2, 3, 4, 5}};
  EXPECT_NO_THROW(verify_rewrite(g, same, "after pass t"));
  PassResult renamed = same;
  renamed.g.node(1).name = "v";
  EXPECT_THROW(verify_rewrite(g, renamed, "after pass t"), VerifyError);
  PassResult lost = same;
  lost.map[1] = -1;
  EXPECT_THROW(verify_rewrite(g, lost, "after pass t"), VerifyError);
  PassResult no_output = same;
  no_output.g.outputs().clear();
  EXPECT_THROW(verify_rewrite(g, no_output, "after pass t"), VerifyError);
  PassResult short_map = same;
  short_map.map.pop_back();
  EXPECT_THROW(verify_rewrite(g, short_map, "after pass t"), VerifyError);
}

// x·1 + (c1·c2 - 6)·x: fold makes (c1·c2 - 6) a zero only after it runs, so simplify needs a second
// round to drop the product; the group repeats until a round changes nothing.
TEST(Pipeline, CleanupRunsToAFixedPointAndLogsEveryPass) {
  Graph g;
  Tensor x = g.input("x", {4});
  Tensor zero = constant(g, 2.f) * constant(g, 3.f) - constant(g, 6.f);
  g.mark_output(x * 1.f + zero * x, "y");
  std::vector<PassRun> log;
  const PassResult r = pipeline_for({}).run(g, default_target(), {}, &log);
  int muls = 0;
  for (const Node& n : r.g.nodes()) muls += n.op == Op::Mul;
  EXPECT_LE(muls, 1);
  ASSERT_GE(log.size(), 8u);
  EXPECT_EQ(log[0].name, "simplify");
  EXPECT_TRUE(log[1].changed);  // fold
  EXPECT_FALSE(log[4].changed && log[5].changed && log[6].changed && log[7].changed)
      << "the second cleanup round still changing every pass";
  // The first cleanup group stops at the first round that changes nothing.
  size_t first_fuse = 0;
  while (first_fuse < log.size() && log[first_fuse].name != "conv-gemm") ++first_fuse;
  ASSERT_LT(first_fuse, log.size());
  ASSERT_EQ(first_fuse % 4, 0u);
  for (size_t i = first_fuse - 4; i < first_fuse; ++i) EXPECT_FALSE(log[i].changed) << log[i].name;
  EXPECT_EQ(pipeline_for({}).describe(),
            "cleanup*(simplify,fold,cse,dce) conv-gemm sink-reshape dce mask-before-pool pool-grad-sums fuse-xent "
            "dropout-mask fuse-dense fuse-update cleanup*(simplify,fold,cse,dce) gemm-layout split-k split-rows dce");
}

TEST(Pipeline, StopsAfterTheNamedPassAndRefusesUnknownOnes) {
  auto m = build_model("dnn", {});
  add_optimizer(m->loss, {});
  std::vector<PassRun> log;
  PipelineOptions o;
  o.stop_after = "fuse-dense";
  int calls = 0;
  o.after_pass = [&](const PassRun& r, int index, const Graph& g) {
    EXPECT_EQ(index, calls++);
    EXPECT_EQ(r.nodes, g.size());
  };
  pipeline_for({}).run(m->g, default_target(), o, &log);
  EXPECT_EQ(log.back().name, "fuse-dense");
  EXPECT_EQ(calls, static_cast<int>(log.size()));
  EXPECT_THROW(PassPipeline().add("no-such-pass"), std::invalid_argument);
  CompileOptions explicit_passes;
  explicit_passes.passes = {"cse", "dce"};
  EXPECT_EQ(pipeline_for(explicit_passes).describe(), "cse dce");
}

TEST(Pipeline, CompileRunsTheSamePipelineAsTheView) {
  auto m = build_model("linear", {.batch = 7});
  add_optimizer(m->loss, {});
  const auto code = compile(m->g);
  std::vector<std::string> compiled;
  for (const PassRun& r : code->pass_log) compiled.push_back(r.name);
  const CompilerView v = view_after(m->g, {}, "fuse");
  EXPECT_EQ(v.passes, compiled);
  EXPECT_EQ(v.g.size(), code->graph.size());
}

}  // namespace
}  // namespace gradc
