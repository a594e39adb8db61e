// The elementwise definitions (autodiff/elementwise.h) at fixed points, in float and double, and
// the three engines that instantiate them — reference interpreter, constant folding and the JIT —
// agreeing on them; the activation registry behind --activation.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/elementwise.h"
#include "compiler/pipeline.h"
#include "runtime/interpreter.h"
#include "runtime/program.h"

namespace gradc {
namespace {

double at(Op op, double x, float alpha = 0.f) {
  Attrs a;
  a.alpha = alpha;
  return apply_elementwise(ScalarMath<double>{}, op, x, 0.0, a);
}

TEST(Elementwise, DefinitionsAtFixedPoints) {
  EXPECT_DOUBLE_EQ(at(Op::Sigmoid, 0), 0.5);
  EXPECT_DOUBLE_EQ(at(Op::Relu, -2), 0);
  EXPECT_DOUBLE_EQ(at(Op::LeakyRelu, -2, 0.3f), -2 * static_cast<double>(0.3f));
  EXPECT_DOUBLE_EQ(at(Op::LeakyRelu, 3, 0.3f), 3);
  EXPECT_DOUBLE_EQ(at(Op::Elu, -1, 1.f), std::exp(-1.0) - 1);
  EXPECT_DOUBLE_EQ(at(Op::Elu, 2, 1.f), 2);
  EXPECT_DOUBLE_EQ(at(Op::Softplus, 0), std::log(2.0));
  EXPECT_DOUBLE_EQ(at(Op::Softplus, 1000), 1000);  // log(1 + e^1000) overflows; the definition does not
  EXPECT_NEAR(at(Op::Softplus, -50), std::exp(-50.0), 1e-36);
  EXPECT_NEAR(at(Op::Softplus, -1e-3) / std::log1p(std::exp(-1e-3)), 1, 1e-14);
  EXPECT_DOUBLE_EQ(apply_elementwise(ScalarMath<double>{}, Op::ReluGrad, 1.0, 7.0, {}), 7);
  EXPECT_THROW(apply_elementwise(ScalarMath<float>{}, Op::MatMul, 1.f, 1.f, {}), std::logic_error);
  EXPECT_EQ(apply_elementwise(ScalarMath<float>{}, Op::Softplus, 100.f, 0.f, {}), 100.f);
}

// activation(x) of a constant folds to exactly what the interpreter and the JIT compute.
TEST(Elementwise, FoldingInterpreterAndJitAgree) {
  for (const ActivationInfo& act : activations()) {
    if (!act.op) continue;  // gelu: a composite of table ops
    for (float v : {-3.f, -0.5f, 0.f, 0.75f, 90.f}) {
      SCOPED_TRACE(std::string(act.name) + " at " + std::to_string(v));
      Graph g;
      Tensor x = g.input("x", {1});
      g.mark_output(act.build(x, Loc::current()), "live");
      g.mark_output(x * act.build(constant(g, v, {1}), Loc::current()), "x times folded");
      const PassResult r = run_passes(g, {"fold"});
      const Node& folded = r.g.node(r.g.node(r.g.outputs()[1]).in[1]);
      ASSERT_EQ(folded.op, Op::Constant);
      Interpreter ip(g);
      ip.set_input("x", {v});
      ip.run();
      Program jit(g);
      jit.set_input("x", std::vector<float>{v});
      jit.run();
      const float ref = ip.value(g.outputs()[0]).f[0];
      EXPECT_EQ(folded.a.value, ref);
      EXPECT_NEAR(jit.get(g.outputs()[0])[0], ref, 1e-6 + 1e-6 * std::fabs(ref));
      EXPECT_TRUE(std::isfinite(ref));
    }
  }
}

TEST(Elementwise, ActivationRegistryIsTheOneList) {
  Graph g;
  Tensor x = g.input("x", {2});
  for (const ActivationInfo& act : activations()) {
    Tensor y = activation(x, act.name);
    if (act.op) EXPECT_EQ(op_name(y.node().op), std::string(act.op));
    EXPECT_NE(activation_names().find(act.name), std::string::npos);
  }
  EXPECT_EQ(activation(x, "linear").id, x.id);
  EXPECT_THROW(activation(x, "swish"), std::invalid_argument);
}

}  // namespace
}  // namespace gradc
