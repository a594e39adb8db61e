// Finite-difference gradient check for every differentiable op of the table. Each op has cases
// below; an op without a case fails the suite, so a new op cannot slip in unchecked.
// Runs in float64 (the reference kernels instantiated for double): central differences with
// eps = 1e-6 err by ~eps² times the third derivative plus ~1e-16/eps of rounding, both far below
// the tolerance |analytic - numeric| <= 1e-7 + 1e-6·|numeric|, so a rule off by 0.01 % fails.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>

#include "autodiff/autodiff.h"
#include "autodiff/dsl.h"
#include "runtime/interpreter.h"

namespace gradc {
namespace {

struct Case {
  std::string label;
  // Builds the op under test; returns its output. Inputs made with `in()` are checked.
  std::function<Tensor(Graph&)> build;
};

Tensor in(Graph& g, const std::string& name, Shape s) { return g.input(name, s); }

std::map<Op, std::vector<Case>> make_cases() {
  std::map<Op, std::vector<Case>> c;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      c[Op::MatMul].push_back({std::string("ta=") + (ta ? "1" : "0") + " tb=" + (tb ? "1" : "0"), [ta, tb](Graph& g) {
                                 Tensor a = in(g, "a", ta ? Shape{4, 3} : Shape{3, 4});
                                 Tensor b = in(g, "b", tb ? Shape{5, 4} : Shape{4, 5});
                                 return matmul(a, b, ta, tb);
                               }});
  auto binary = [&](Op op, Tensor (*f)(Tensor, Tensor, Loc)) {
    c[op].push_back({"same shape", [f](Graph& g) {
                       return f(in(g, "a", {3, 4}), in(g, "b", {3, 4}), Loc::current());
                     }});
    c[op].push_back({"row broadcast", [f](Graph& g) {
                       return f(in(g, "a", {3, 4}), in(g, "b", {4}), Loc::current());
                     }});
    c[op].push_back({"scalar lhs", [f](Graph& g) { return f(in(g, "a", {}), in(g, "b", {2, 3}), Loc::current()); }});
  };
  binary(Op::Add, add);
  binary(Op::Sub, sub);
  binary(Op::Mul, mul);
  binary(Op::Div, div);
  binary(Op::Maximum, maximum);
  auto unary = [&](Op op, Tensor (*f)(Tensor, Loc)) {
    c[op].push_back({"[3,5]", [f](Graph& g) { return f(in(g, "x", {3, 5}), Loc::current()); }});
  };
  unary(Op::Neg, neg);
  unary(Op::Exp, exp);
  unary(Op::Log, log);
  unary(Op::Sqrt, sqrt);
  unary(Op::Square, square);
  unary(Op::Relu, relu);
  unary(Op::Sigmoid, sigmoid);
  unary(Op::Tanh, tanh);
  unary(Op::Softmax, softmax);
  unary(Op::LogSoftmax, log_softmax);
  unary(Op::Softplus, softplus);
  for (float alpha : {0.3f, 0.01f})
    c[Op::LeakyRelu].push_back({"alpha " + std::to_string(alpha), [alpha](Graph& g) {
                                  return leaky_relu(in(g, "x", {3, 5}), alpha);
                                }});
  for (float alpha : {1.f, 0.5f})
    c[Op::Elu].push_back({"alpha " + std::to_string(alpha), [alpha](Graph& g) {
                            return elu(in(g, "x", {3, 5}), alpha);
                          }});
  c[Op::Dropout].push_back({"rate 0.3", [](Graph& g) {
                              Tensor k = g.input("key", {}, DType::I32);
                              return dropout(in(g, "x", {4, 6}), k, 0.3f);
                            }});
  for (int axis : {-1, 0, 1}) {
    c[Op::Sum].push_back({"axis " + std::to_string(axis), [axis](Graph& g) { return sum(in(g, "x", {3, 4}), axis); }});
    c[Op::Mean].push_back({"axis " + std::to_string(axis), [axis](Graph& g) {
                             return mean(in(g, "x", {3, 4}), axis);
                           }});
  }
  c[Op::Broadcast].push_back({"[3]->[3,4] axis 1", [](Graph& g) { return broadcast(in(g, "x", {3}), {3, 4}, 1); }});
  c[Op::Broadcast].push_back({"scalar->[2,3]", [](Graph& g) { return broadcast(in(g, "x", {}), {2, 3}, -1); }});
  c[Op::Reshape].push_back({"[3,4]->[2,6]", [](Graph& g) { return reshape(in(g, "x", {3, 4}), {2, 6}); }});
  c[Op::Transpose].push_back({"[3,4]", [](Graph& g) { return transpose(in(g, "x", {3, 4})); }});
  c[Op::SoftmaxXent].push_back({"[4,5]", [](Graph& g) {
                                  Tensor y = g.input("labels", {4}, DType::I32);
                                  return softmax_xent(in(g, "x", {4, 5}), y);
                                }});
  c[Op::SigmoidXent].push_back({"[3,4]", [](Graph& g) {
                                  return sigmoid_xent(in(g, "x", {3, 4}), in(g, "z", {3, 4}));
                                }});
  for (Padding p : {Padding::Valid, Padding::Same}) {
    const std::string pn = p == Padding::Valid ? "valid" : "same";
    c[Op::Conv2d].push_back({"3x3 " + pn, [p](Graph& g) {
                               return conv2d(in(g, "x", {2, 5, 5, 2}), in(g, "w", {3, 3, 2, 3}), p);
                             }});
    c[Op::Conv2d].push_back({"3x3 stride 2 " + pn, [p](Graph& g) {
                               return conv2d(in(g, "x", {2, 6, 5, 2}), in(g, "w", {3, 3, 2, 3}), p, {2, 2});
                             }});
    c[Op::Conv2d].push_back({"2x2 " + pn, [p](Graph& g) {
                               return conv2d(in(g, "x", {1, 4, 5, 1}), in(g, "w", {2, 2, 1, 2}), p);
                             }});
  }
  struct PoolCfg {
    std::string name;
    Shape window, strides;
    Padding pad;
  };
  for (const PoolCfg& pc :
       {PoolCfg{"2x2/2 valid", {2, 2}, {2, 2}, Padding::Valid}, PoolCfg{"3x3/2 same", {3, 3}, {2, 2}, Padding::Same},
        PoolCfg{"2x3/1x2 same", {2, 3}, {1, 2}, Padding::Same}}) {
    c[Op::MaxPool2d].push_back({pc.name, [pc](Graph& g) {
                                  return max_pool2d(in(g, "x", {2, 5, 6, 3}), pc.window, pc.strides, pc.pad);
                                }});
    c[Op::AvgPool2d].push_back({pc.name, [pc](Graph& g) {
                                  return avg_pool2d(in(g, "x", {2, 5, 6, 3}), pc.window, pc.strides, pc.pad);
                                }});
  }
  return c;
}

// Values away from kinks/poles: |x| in [0.2, 1] with random sign; positive for log/sqrt/div.
std::vector<double> sample(size_t n, std::mt19937& rng, bool positive) {
  std::uniform_real_distribution<double> mag(0.2, 1.);
  std::bernoulli_distribution sign(0.5);
  std::vector<double> v(n);
  for (double& x : v) x = (positive || sign(rng)) ? mag(rng) + (positive ? 0.3 : 0.) : -mag(rng);
  return v;
}

class GradCheck : public ::testing::TestWithParam<Op> {};

TEST_P(GradCheck, MatchesFiniteDifferences) {
  static const auto cases = make_cases();
  const Op op = GetParam();
  auto it = cases.find(op);
  ASSERT_TRUE(it != cases.end()) << "op '" << op_name(op) << "' has no gradient-check case";
  for (const Case& cs : it->second) {
    SCOPED_TRACE(std::string(op_name(op)) + " " + cs.label);
    Graph g;
    Tensor out = cs.build(g);
    ASSERT_EQ(out.node().op, op);
    // Scalar probe loss: sum(out · R) with fixed random R, so every output element matters.
    std::mt19937 rng(1234);
    Tensor loss = out;
    if (out.shape().numel() > 1) loss = sum(out * in(g, "probe", out.shape()));
    std::vector<Tensor> wrt;
    for (const Node& n : g.nodes())
      if (n.op == Op::Input && n.dtype == DType::F32 && n.name != "probe") wrt.push_back({&g, n.id});
    std::vector<Tensor> grads = grad(loss, wrt);

    Interpreter64 ip(g);
    const bool positive = op == Op::Log || op == Op::Sqrt || op == Op::Div;
    for (const Node& n : g.nodes()) {
      if (n.op != Op::Input) continue;
      if (n.dtype == DType::I32) {
        std::vector<int32_t> v(static_cast<size_t>(n.shape.numel()));
        for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<int32_t>((k * 3 + 1) % 5);
        ip.set_input_i32(n.name, v);
      } else {
        ip.set_input(n.name, sample(static_cast<size_t>(n.shape.numel()), rng, positive));
      }
    }
    ip.run();
    // Every gradient is read before any perturbation: a later run leaves the last input at -eps.
    std::vector<std::vector<double>> analytics;
    for (const Tensor& gw : grads) analytics.push_back(ip.value(gw.id).f);
    for (size_t w = 0; w < wrt.size(); ++w) {
      const std::vector<double>& analytic = analytics[w];
      std::vector<double>& x = ip.value(wrt[w].id).f;
      ASSERT_EQ(analytic.size(), x.size());
      for (size_t k = 0; k < x.size(); ++k) {
        const double eps = 1e-6, orig = x[k];
        x[k] = orig + eps;
        ip.run();
        const double up = ip.value(loss.id).f[0];
        x[k] = orig - eps;
        ip.run();
        const double down = ip.value(loss.id).f[0];
        x[k] = orig;
        const double numeric = (up - down) / (2.0 * eps);
        EXPECT_NEAR(analytic[k], numeric, 1e-7 + 1e-6 * std::fabs(numeric))
            << "d loss / d " << wrt[w].node().name << "[" << k << "]";
      }
    }
  }
}

std::vector<Op> differentiable_ops() {
  std::vector<Op> ops;
  for (const OpInfo& i : op_table())
    if (i.differentiable) ops.push_back(i.op);
  return ops;
}

INSTANTIATE_TEST_SUITE_P(EveryOp, GradCheck, ::testing::ValuesIn(differentiable_ops()),
                         [](const ::testing::TestParamInfo<Op>& p) { return std::string(op_name(p.param)); });

TEST(GradCheck, EveryNonSourceOpIsDifferentiableOrBackwardOnly) {
  // Ops without a rule must be the documented backward-only helpers (or sources).
  for (const OpInfo& i : op_table()) {
    if (i.differentiable) {
      EXPECT_NE(i.grad, nullptr) << i.name;
      continue;
    }
    const bool ok = i.kind == OpKind::Source || i.op == Op::ReluGrad || i.op == Op::OneHot ||
                    i.op == Op::Conv2dGradInput || i.op == Op::Conv2dGradFilter || i.op == Op::AllReduce ||
                    i.op == Op::MaxPool2dGrad || i.op == Op::AvgPool2dGrad || i.op == Op::Im2Col ||
                    i.op == Op::Col2Im || i.op == Op::MatMulSplitK || is_fused_op(i.op);
    EXPECT_TRUE(ok) << i.name << " has no gradient rule and is not a documented backward-only op";
  }
}

}  // namespace
}  // namespace gradc
