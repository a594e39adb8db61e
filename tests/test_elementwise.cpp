// The elementwise definitions (autodiff/elementwise.h) at fixed points, in float and double, and
// the three engines that instantiate them — reference interpreter, constant folding and the JIT —
// agreeing on them; the activation registry behind --activation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "autodiff/autodiff.h"
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

// Each unary map's gradient rule, through grad() and the interpreter, at fixed points against the
// calculus derivative in double: sigmoid'(0) = 1/4 exactly, so a rule off by 1.5 % cannot pass.
TEST(Elementwise, DerivativesAtFixedPoints) {
  auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
  struct Point {
    Op op;
    float alpha;
    float x;
    double want;
  };
  const Point points[] = {
      {Op::Sigmoid, 0, 0, 0.25},
      {Op::Sigmoid, 0, 2, sig(2) * (1 - sig(2))},
      {Op::Tanh, 0, 0, 1},
      {Op::Tanh, 0, 1, 1 - std::tanh(1.0) * std::tanh(1.0)},
      {Op::Exp, 0, 1, std::exp(1.0)},
      {Op::Log, 0, 2, 0.5},
      {Op::Sqrt, 0, 4, 0.25},
      {Op::Square, 0, 3, 6},
      {Op::Neg, 0, 5, -1},
      {Op::Relu, 0, 2, 1},
      {Op::Relu, 0, -2, 0},
      {Op::LeakyRelu, 0.3f, -2, static_cast<double>(0.3f)},
      {Op::LeakyRelu, 0.3f, 2, 1},
      {Op::Elu, 1, -1, std::exp(-1.0)},
      {Op::Elu, 0.5f, -2, 0.5 * std::exp(-2.0)},
      {Op::Elu, 1, 2, 1},
      {Op::Softplus, 0, 0, 0.5},
      {Op::Softplus, 0, 3, sig(3)},
      {Op::Softplus, 0, -30, sig(-30)},
  };
  for (const Point& pt : points) {
    SCOPED_TRACE(std::string(op_name(pt.op)) + " at " + std::to_string(pt.x));
    Graph g;
    Tensor x = g.input("x", {1});
    Attrs a;
    a.alpha = pt.alpha;
    Tensor y = g.add(pt.op, {x.id}, a);
    Tensor dx = grad(sum(y), {x})[0];
    Interpreter ip(g);
    ip.set_input("x", {pt.x});
    ip.run();
    EXPECT_NEAR(ip.value(dx.id).f[0], pt.want, 1.5e-7 * std::max(1.0, std::fabs(pt.want)));
  }
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
