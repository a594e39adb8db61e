// Shape inference and DSL misuse: errors name the op, both shapes and the caller's line.
#include <gtest/gtest.h>

#include "autodiff/autodiff.h"
#include "autodiff/dsl.h"

namespace gradc {
namespace {

// Returns the GraphError message thrown by f, or fails.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const GraphError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no GraphError thrown";
  return "";
}

TEST(Shapes, InferenceOfTheDnnLayers) {
  Graph g;
  Tensor x = g.input("x", {30, 784});
  Tensor h = relu(dense(x, 100, "h1"));
  EXPECT_EQ(h.shape(), (Shape{30, 100}));
  EXPECT_EQ(matmul(h, h, true, false).shape(), (Shape{100, 100}));
  EXPECT_EQ(matmul(h, h, false, true).shape(), (Shape{30, 30}));
  EXPECT_EQ(sum(h, 0).shape(), (Shape{100}));
  EXPECT_EQ(mean(h).shape(), Shape::scalar());
  EXPECT_EQ(flatten(reshape(h, {30, 10, 10})).shape(), (Shape{30, 100}));
  Tensor img = reshape(x, {30, 28, 28, 1});
  Tensor w = g.param("w", {3, 3, 1, 28}, Init::GlorotUniform);
  EXPECT_EQ(conv2d(img, w).shape(), (Shape{30, 26, 26, 28}));
  EXPECT_EQ(conv2d(img, w, Padding::Same).shape(), (Shape{30, 28, 28, 28}));
}

TEST(Shapes, MatmulMismatchNamesOpShapesAndCallerLine) {
  Graph g;
  Tensor x = g.input("x", {30, 784});
  Tensor w = g.param("w", {100, 10}, Init::Zeros);
  const int line = __LINE__ + 1;
  std::string msg = error_of([&] { matmul(x, w); });
  EXPECT_NE(msg.find("'matmul'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[30,784]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[100,10]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test_shapes.cpp:" + std::to_string(line)), std::string::npos) << msg;
}

TEST(Shapes, OperatorMismatchPointsAtTheUsersExpression) {
  Graph g;
  Tensor a = g.input("a", {4, 3});
  Tensor b = g.input("b", {5});
  const int line = __LINE__ + 1;
  std::string msg = error_of([&] { return a + b; });
  EXPECT_NE(msg.find("'add'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4,3] vs [5]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test_shapes.cpp:" + std::to_string(line)), std::string::npos) << msg;
}

TEST(Shapes, DtypeAndGeometryErrors) {
  Graph g;
  Tensor x = g.input("x", {2, 5, 5, 3});
  Tensor y = g.input("y", {2}, DType::I32);
  Tensor w = g.input("w", {3, 3, 4, 8});
  std::string msg = error_of([&] { conv2d(x, w); });
  EXPECT_NE(msg.find("'conv2d'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("input channels differ"), std::string::npos) << msg;
  Tensor big = g.input("big", {7, 7, 3, 1});
  msg = error_of([&] { conv2d(x, big); });
  EXPECT_NE(msg.find("larger than input [2,5,5,3]"), std::string::npos) << msg;
  msg = error_of([&] { relu(y); });
  EXPECT_NE(msg.find("'relu'"), std::string::npos);
  EXPECT_NE(msg.find("must be f32, got i32 [2]"), std::string::npos) << msg;
  Tensor logits = g.input("logits", {3, 10});
  msg = error_of([&] { softmax_xent(logits, y); });
  EXPECT_NE(msg.find("labels must be i32 [3]"), std::string::npos) << msg;
  msg = error_of([&] { reshape(logits, {7, 4}); });
  EXPECT_NE(msg.find("cannot reshape [3,10] (30 elements) to [7,4] (28)"), std::string::npos) << msg;
  msg = error_of([&] { dropout(logits, y, 0.5f); });
  EXPECT_NE(msg.find("key must be an i32 scalar"), std::string::npos) << msg;
  msg = error_of([&] { sum(logits, 2); });
  EXPECT_NE(msg.find("axis 2 out of range for shape [3,10]"), std::string::npos) << msg;
}

TEST(Shapes, GradMisuse) {
  Graph g;
  Tensor x = g.input("x", {3, 4});
  Tensor w = g.param("w", {4, 2}, Init::Zeros);
  Tensor out = matmul(x, w);
  std::string msg = error_of([&] { grad(out, {w}); });
  EXPECT_NE(msg.find("scalar f32 loss, got f32 [3,2] from op 'matmul'"), std::string::npos) << msg;
  msg = error_of([&] { g.find("nope"); });
  EXPECT_NE(msg.find("no input or parameter named 'nope'"), std::string::npos) << msg;
  msg = error_of([&] { g.input("x", {1}); });
  EXPECT_NE(msg.find("duplicate input/parameter name 'x'"), std::string::npos) << msg;
  // Second derivatives stop at backward-only ops with a clear message.
  Tensor dw = grad(sum(relu(out)), {w})[0];
  msg = error_of([&] { grad(sum(dw), {w}); });
  EXPECT_NE(msg.find("higher-order derivatives are not supported"), std::string::npos) << msg;
}

TEST(Shapes, GradAppendsNodesAndNamesThem) {
  Graph g;
  Tensor x = g.input("x", {3, 4});
  Tensor w = g.param("w", {4, 2}, Init::Zeros);
  Tensor unused = g.param("unused", {2}, Init::Zeros);
  const size_t before = g.size();
  auto gs = grad(sum(matmul(x, w)), {w, unused});
  EXPECT_GT(g.size(), before);
  EXPECT_EQ(gs[0].shape(), w.shape());
  EXPECT_EQ(gs[0].node().name, "grad/w");
  // Unreachable parameter: a zero gradient of its shape (a constant of any other value would not do).
  const Node& zero = gs[1].node();
  EXPECT_EQ(zero.op, Op::Constant);
  EXPECT_EQ(zero.shape, unused.shape());
  EXPECT_EQ(zero.a.value, 0.f);
  for (float v : zero.a.data) EXPECT_EQ(v, 0.f);
}

}  // namespace
}  // namespace gradc
