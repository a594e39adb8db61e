// The reference interpreter on hand-computed values, determinism, dropout statistics, and one
// real gradient step lowering the loss.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/autodiff.h"
#include "autodiff/dsl.h"
#include "models/models.h"
#include "runtime/interpreter.h"
#include "runtime/program.h"

namespace gradc {
namespace {

TEST(Interpreter, MatmulBroadcastAndReductionsByHand) {
  Graph g;
  Tensor a = g.input("a", {2, 3});
  Tensor b = g.input("b", {3, 2});
  Tensor bias = g.input("bias", {2});
  Tensor c = matmul(a, b) + bias;
  Tensor ct = matmul(a, b, true, true);  // [3,3] = aᵀ bᵀ
  Tensor s0 = sum(c, 0), m1 = mean(c, 1);
  Interpreter ip(g);
  ip.set_input("a", {1, 2, 3, 4, 5, 6});
  ip.set_input("b", {1, 0, 0, 1, 1, 1});
  ip.set_input("bias", {10, 20});
  ip.run();
  EXPECT_EQ(ip.value(c.id).f, (std::vector<float>{14, 25, 20, 31}));
  EXPECT_EQ(ip.value(s0.id).f, (std::vector<float>{34, 56}));
  EXPECT_EQ(ip.value(m1.id).f, (std::vector<float>{19.5f, 25.5f}));
  // (aᵀ bᵀ)[i][j] = sum_k a[k][i] b[j][k]; entry [0][0] = a00 b00 + a10 b01 = 1.
  EXPECT_EQ(ip.value(ct.id).f[0], 1.f);
  EXPECT_EQ(ip.value(ct.id).f[1], 4.f);  // a00 b10 + a10 b11 = 0 + 4
}

TEST(Interpreter, SoftmaxXentIsStableAndExact) {
  Graph g;
  Tensor x = g.input("x", {2, 4});
  Tensor y = g.input("y", {2}, DType::I32);
  Tensor loss = softmax_xent(x, y);
  Tensor p = softmax(x);
  Interpreter ip(g);
  ip.set_input("x", {0, 0, 0, 0, 1e4f, -1e4f, 0, 0});
  ip.set_input_i32("y", {2, 0});
  ip.run();
  // Row 0: uniform -> log 4; row 1: the label has all the mass -> 0.
  EXPECT_NEAR(ip.value(loss.id).f[0], std::log(4.0) / 2, 1e-6);
  EXPECT_FLOAT_EQ(ip.value(p.id).f[4], 1.f);
  for (float v : ip.value(p.id).f) EXPECT_TRUE(std::isfinite(v));
}

TEST(Interpreter, DropoutKeepsOneMinusRateAndIsIdentityInEval) {
  Graph g;
  Tensor x = g.input("x", {1000, 100});
  Tensor k = g.input("k", {}, DType::I32);
  Tensor train = dropout(x, k, 0.2f, true), eval = dropout(x, k, 0.2f, false);
  Interpreter ip(g);
  ip.set_input("x", std::vector<float>(100000, 1.f));
  ip.set_input_i32("k", {3});
  ip.run();
  size_t kept = 0;
  for (float v : ip.value(train.id).f) {
    if (v != 0.f) {
      ++kept;
      EXPECT_FLOAT_EQ(v, 1.25f);
    }
  }
  EXPECT_NEAR(static_cast<double>(kept) / 100000.0, 0.8, 0.005);
  EXPECT_EQ(ip.value(eval.id).f, ip.value(x.id).f);
  const std::vector<float> first = ip.value(train.id).f;
  ip.set_input_i32("k", {4});
  ip.run();
  EXPECT_NE(ip.value(train.id).f, first) << "a new key must draw a new mask";
}

TEST(Interpreter, ConvByHand) {
  Graph g;
  Tensor x = g.input("x", {1, 3, 3, 1});
  Tensor w = g.input("w", {2, 2, 1, 1});
  Tensor valid = conv2d(x, w), same = conv2d(x, w, Padding::Same);
  Interpreter ip(g);
  ip.set_input("x", {1, 2, 3, 4, 5, 6, 7, 8, 9});
  ip.set_input("w", {1, 0, 0, 1});  // x[i][j] + x[i+1][j+1]
  ip.run();
  EXPECT_EQ(ip.value(valid.id).f, (std::vector<float>{6, 8, 12, 14}));
  // Same padding with an even kernel pads 0 before and 1 after (TensorFlow's convention).
  EXPECT_EQ(ip.value(same.id).f, (std::vector<float>{6, 8, 3, 12, 14, 6, 7, 8, 9}));
}

// Max-pool's gradient goes to each window's first maximum (row-major), as TensorFlow's does, here
// with ties; average pooling with same padding divides by the elements inside the input. Both
// engines give these exact values.
TEST(Interpreter, PoolingByHand) {
  Graph g;
  Tensor x = g.input("x", {1, 3, 3, 1});
  Tensor dy = g.input("dy", {1, 2, 2, 1});
  Tensor mx = max_pool2d(x, {2, 2}, {1, 1});
  Tensor avg = avg_pool2d(x, {2, 2}, {2, 2}, Padding::Same);
  Tensor dmx = grad(sum(mx * dy), {x})[0];
  Tensor davg = grad(sum(avg * dy), {x})[0];
  for (auto [name, t] : {std::pair{"max", mx}, {"avg", avg}, {"dmax", dmx}, {"davg", davg}}) g.mark_output(t, name);
  const std::vector<float> xs = {1, 5, 5, 2, 5, 0, 3, 3, 1}, dys = {1, 2, 3, 4};
  const std::vector<float> want_mx = {5, 5, 5, 5}, want_dmx = {0, 3, 0, 0, 7, 0, 0, 0, 0};
  // Windows of 2×2/2 same on 3×3: pad 1 after, so the counts are 4, 2, 2, 1.
  const std::vector<float> want_avg = {13.f / 4, 5.f / 2, 6.f / 2, 1};
  const std::vector<float> want_davg = {0.25f, 0.25f, 1, 0.25f, 0.25f, 1, 1.5f, 1.5f, 4};
  Interpreter ip(g);
  ip.set_input("x", xs);
  ip.set_input("dy", dys);
  ip.run();
  Program p(g);
  p.set_input("x", xs);
  p.set_input("dy", dys);
  p.run();
  for (const auto& [t, want] : {std::pair{mx, want_mx}, {avg, want_avg}, {dmx, want_dmx}, {davg, want_davg}}) {
    EXPECT_EQ(ip.value(t.id).f, want) << "interpreter, node " << t.id;
    EXPECT_EQ(p.get(t.id), want) << "JIT, node " << t.id;
  }
}

// global_avg_pool: each channel's mean over the positions; its gradient spreads dy evenly.
TEST(Interpreter, GlobalAvgPoolByHand) {
  Graph g;
  Tensor x = g.input("x", {1, 2, 2, 2});
  Tensor y = global_avg_pool(x);
  Tensor dx = grad(sum(y * constant(g, 4.f, {1, 2})), {x})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 2}));
  Interpreter ip(g);
  ip.set_input("x", {1, 10, 2, 20, 3, 30, 6, 60});
  ip.run();
  EXPECT_EQ(ip.value(y.id).f, (std::vector<float>{3, 30}));
  EXPECT_EQ(ip.value(dx.id).f, std::vector<float>(8, 1.f));
  Graph bad;
  EXPECT_THROW(global_avg_pool(bad.input("x", {2, 3})), GraphError);
}

TEST(Interpreter, DeterministicAndAGradientStepLowersTheLoss) {
  auto m = build_model("dnn", {.batch = 8});
  auto ps = m->g.params();
  auto gs = grad(m->loss, ps);
  std::vector<float> x(8 * 784);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 256) / 255.f;
  auto run = [&](Interpreter& ip) {
    ip.set_input("x", x);
    ip.set_input_i32("y", {0, 1, 2, 3, 4, 5, 6, 7});
    ip.run();
    return ip.value(m->loss.id).f[0];
  };
  Interpreter a(m->g), b(m->g);
  const float la = run(a);
  EXPECT_EQ(la, run(b));
  EXPECT_EQ(a.value(gs[0].id).f, b.value(gs[0].id).f);
  for (size_t i = 0; i < ps.size(); ++i) {
    auto& w = a.value(ps[i].id).f;
    const auto& dw = a.value(gs[i].id).f;
    for (size_t k = 0; k < w.size(); ++k) w[k] -= 0.1f * dw[k];
  }
  EXPECT_LT(run(a), la);
}

}  // namespace
}  // namespace gradc
