// Optimizer update rules, clipping, L2, EMA and schedules against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/dsl.h"
#include "autodiff/optim.h"
#include "models/train.h"
#include "runtime/interpreter.h"

namespace gradc {
namespace {

// loss = sum(p · c) with p initialised to 1 and c = (0.5, -2): the gradient is exactly c.
struct Toy {
  Graph g;
  Tensor p, c, loss;
  TrainStep step;
  explicit Toy(const OptimizerConfig& cfg) {
    p = g.param("p", {2}, Init::Fill, 1.f);
    c = constant_data(g, {2}, {0.5f, -2.f});
    loss = sum(p * c);
    step = add_optimizer(loss, cfg);
  }
};

std::vector<float> run_steps(Toy& t, float lr, int steps, const OptimizerConfig& cfg) {
  Interpreter ip(t.g);
  for (int s = 1; s <= steps; ++s) {
    ip.set_input("lr", {effective_lr(cfg, lr, s)});
    ip.run();
  }
  return ip.value(t.p.id).f;
}

TEST(Optim, SgdMomentumAdagradRmspropAdamByHand) {
  const double g0 = 0.5, g1 = -2.0;
  OptimizerConfig sgd;
  Toy a(sgd);
  auto p = run_steps(a, 0.1f, 2, sgd);
  EXPECT_FLOAT_EQ(p[0], static_cast<float>(1 - 2 * 0.1 * g0));
  EXPECT_FLOAT_EQ(p[1], static_cast<float>(1 - 2 * 0.1 * g1));

  OptimizerConfig mom;
  mom.kind = OptKind::Momentum;
  Toy b(mom);
  p = run_steps(b, 0.1f, 2, mom);  // v1 = g, v2 = 0.9g + g = 1.9g; p = 1 - 0.1(g + 1.9g)
  EXPECT_NEAR(p[0], 1 - 0.1 * 2.9 * g0, 1e-6);
  EXPECT_NEAR(p[1], 1 - 0.1 * 2.9 * g1, 1e-6);

  OptimizerConfig ada;
  ada.kind = OptKind::Adagrad;
  Toy c(ada);
  p = run_steps(c, 0.1f, 2, ada);  // acc1 = 0.1 + g², acc2 = 0.1 + 2g²
  EXPECT_NEAR(p[0], 1 - 0.1 * g0 / std::sqrt(0.1 + g0 * g0) - 0.1 * g0 / std::sqrt(0.1 + 2 * g0 * g0), 1e-6);
  EXPECT_NEAR(p[1], 1 - 0.1 * g1 / std::sqrt(0.1 + g1 * g1) - 0.1 * g1 / std::sqrt(0.1 + 2 * g1 * g1), 1e-6);

  OptimizerConfig rms;
  rms.kind = OptKind::RMSprop;
  Toy d(rms);
  p = run_steps(d, 0.01f, 1, rms);  // acc = 0.1 g²; p = 1 - lr g / (sqrt(acc) + 1e-7)
  EXPECT_NEAR(p[0], 1 - 0.01 * g0 / (std::sqrt(0.1 * g0 * g0) + 1e-7), 1e-6);
  EXPECT_NEAR(p[1], 1 - 0.01 * g1 / (std::sqrt(0.1 * g1 * g1) + 1e-7), 1e-6);

  OptimizerConfig adam;
  adam.kind = OptKind::Adam;
  Toy e(adam);
  p = run_steps(e, 0.01f, 1, adam);  // first Adam step moves every weight by ~lr·sign(g)
  EXPECT_NEAR(p[0], 1 - 0.01, 1e-5);
  EXPECT_NEAR(p[1], 1 + 0.01, 1e-5);
}

// Data-parallel steps (no MPI needed to check the graph): every gradient passes through exactly one
// allreduce scaled 1/ranks before clipping and the update read it, in backward-order buckets.
TEST(Optim, DataParallelStepAveragesEveryGradientOverTheRanks) {
  for (int ranks : {2, 4}) {
    Graph g;
    Tensor x = g.input("x", {4, 3});
    Tensor w1 = g.param("w1", {3, 5}, Init::GlorotUniform), w2 = g.param("w2", {5, 2}, Init::GlorotUniform);
    Tensor loss = sum(matmul(relu(matmul(x, w1)), w2));
    OptimizerConfig cfg;
    cfg.ranks = ranks;
    cfg.clip_norm = 5.f;
    cfg.bucket_bytes = 4;  // one bucket per gradient
    const TrainStep s = add_optimizer(loss, cfg);
    ASSERT_EQ(s.grads.size(), 2u);
    std::vector<int> buckets;
    for (Tensor gr : s.grads) {
      const Node& n = gr.node();
      ASSERT_EQ(n.op, Op::AllReduce);
      EXPECT_EQ(n.a.value, 1.f / static_cast<float>(ranks));
      buckets.push_back(n.a.bucket);
    }
    EXPECT_EQ(buckets, (std::vector<int>{1, 0}));  // w2's gradient is final first
    int allreduces = 0;
    for (const Node& n : g.nodes()) allreduces += n.op == Op::AllReduce;
    EXPECT_EQ(allreduces, 2);
    // The clipping norm squares the averaged gradients, never the rank's own.
    std::vector<char> above(g.size(), 0);
    above[static_cast<size_t>(s.grad_norm.id)] = 1;
    int squares = 0;
    for (size_t i = g.size(); i-- > 0;) {
      if (!above[i]) continue;
      const Node& n = g.node(static_cast<int>(i));
      if (n.op == Op::Square) {
        ++squares;
        EXPECT_EQ(g.node(n.in[0]).op, Op::AllReduce);
      }
      if (n.op != Op::AllReduce)
        for (int in : n.in) above[static_cast<size_t>(in)] = 1;
    }
    EXPECT_EQ(squares, 2);
  }
  OptimizerConfig one;
  Graph g;
  Tensor p = g.param("p", {2}, Init::Fill, 1.f);
  add_optimizer(sum(p * p), one);
  for (const Node& n : g.nodes()) EXPECT_NE(n.op, Op::AllReduce);
}

TEST(Optim, GlobalNormClippingAndL2) {
  OptimizerConfig cfg;
  cfg.clip_norm = 1.f;  // ‖(0.5, -2)‖ = 2.0616 -> scaled by 1/2.0616
  Toy t(cfg);
  auto p = run_steps(t, 1.f, 1, cfg);
  const double n = std::sqrt(0.25 + 4.0);
  EXPECT_NEAR(p[0], 1 - 0.5 / n, 1e-6);
  EXPECT_NEAR(p[1], 1 + 2.0 / n, 1e-6);

  Graph g;  // L2 applies to matrices only: the gradient of 0.5·Σw² adds w
  Tensor w = g.param("w", {1, 2}, Init::Fill, 2.f);
  Tensor b = g.param("b", {2}, Init::Fill, 2.f);
  OptimizerConfig l2;
  l2.l2 = 0.5f;
  TrainStep s = add_optimizer(sum(w) + sum(b), l2);
  Interpreter ip(g);
  ip.set_input("lr", {0.1f});
  ip.run();
  EXPECT_NEAR(ip.value(w.id).f[0], 2 - 0.1 * (1 + 2 * 0.5 * 2), 1e-6);
  EXPECT_NEAR(ip.value(b.id).f[0], 2 - 0.1, 1e-6);
  EXPECT_NEAR(ip.value(s.total_loss.id).f[0], 8 + 0.5 * 8, 1e-5);
}

TEST(Optim, EmaStartsAtTheInitialWeightsAndTracks) {
  OptimizerConfig cfg;
  cfg.ema_decay = 0.9f;
  Toy t(cfg);
  Interpreter ip(t.g);
  EXPECT_EQ(ip.value(t.step.ema[0].id).f, ip.value(t.p.id).f);
  ip.set_input("lr", {0.1f});
  ip.run();  // p1 = 1 - 0.1 g; ema = 0.9·1 + 0.1·p1
  EXPECT_NEAR(ip.value(t.step.ema[0].id).f[0], 0.9 + 0.1 * (1 - 0.05), 1e-6);
}

TEST(Optim, SchedulesGiveTheTutorialValues) {
  Schedule c;
  EXPECT_FLOAT_EQ(c.lr_at(0.1f, 500, 3), 0.1f);
  Schedule e;
  e.kind = Schedule::Kind::Exponential;
  e.rate = 0.5f;
  e.decay_steps = 100;
  EXPECT_NEAR(e.lr_at(1.f, 150, 0), std::pow(0.5, 1.5), 1e-6);
  e.staircase = true;
  EXPECT_NEAR(e.lr_at(1.f, 150, 0), 0.5, 1e-7);
  Schedule pe;
  pe.kind = Schedule::Kind::PerEpoch;
  pe.rate = 0.99f;
  EXPECT_NEAR(pe.lr_at(0.8f, 0, 2), 0.8 * 0.99 * 0.99, 1e-6);
  EXPECT_THROW(parse_schedule("cosine"), std::invalid_argument);
  EXPECT_THROW(parse_optimizer("lion"), std::invalid_argument);
}

}  // namespace
}  // namespace gradc
