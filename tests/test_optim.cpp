// Optimizer update rules, clipping, L2, EMA and schedules against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/dsl.h"
#include "autodiff/optim.h"
#include "models/train.h"
#include "runtime/interpreter.h"
#include "runtime/program.h"
#include "tests/targets.h"

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

// Three steps of every optimizer against the documented formulas evaluated in double, with
// gradients near 1 (epsilon irrelevant) and near 1e-6 (epsilon comparable to sqrt(v): moving it
// inside the root, or dropping Adam's bias correction, changes the result by orders of magnitude),
// in the reference interpreter and the JIT on every target.
struct RefOpt {
  OptimizerConfig cfg;
  double lr;
  std::vector<double> p, s1, s2;
  void step(int t, const std::vector<double>& g) {
    for (size_t i = 0; i < p.size(); ++i) {
      switch (cfg.kind) {
        case OptKind::SGD:
          p[i] -= lr * g[i];
          break;
        case OptKind::Momentum:
          s1[i] = cfg.momentum * s1[i] + g[i];
          p[i] -= lr * s1[i];
          break;
        case OptKind::Adagrad:
          s1[i] += g[i] * g[i];
          p[i] -= lr * g[i] / std::sqrt(s1[i]);
          break;
        case OptKind::RMSprop:
          s1[i] = cfg.rho * s1[i] + (1 - cfg.rho) * g[i] * g[i];
          p[i] -= lr * g[i] / (std::sqrt(s1[i]) + cfg.epsilon);
          break;
        case OptKind::Adam: {
          s1[i] = cfg.beta1 * s1[i] + (1 - cfg.beta1) * g[i];
          s2[i] = cfg.beta2 * s2[i] + (1 - cfg.beta2) * g[i] * g[i];
          const double lr_t = lr * std::sqrt(1 - std::pow(cfg.beta2, t)) / (1 - std::pow(cfg.beta1, t));
          p[i] -= lr_t * s1[i] / (std::sqrt(s2[i]) + cfg.epsilon);
          break;
        }
      }
    }
  }
};

TEST(Optim, ThreeStepsOfEveryOptimizerMatchTheFormulasInBothEnginesAndTargets) {
  for (const std::string& target : testing_targets::names()) {
    testing_targets::ScopedTarget scoped(target);
    if (!scoped.runnable()) continue;
    for (OptKind kind : {OptKind::SGD, OptKind::Momentum, OptKind::Adagrad, OptKind::RMSprop, OptKind::Adam})
      for (double scale : {1.0, 1e-6}) {
        SCOPED_TRACE(target + " " + optimizer_name(kind) + " gradients ~" + std::to_string(scale));
        OptimizerConfig cfg;
        cfg.kind = kind;
        const std::vector<double> g = {0.5 * scale, -2 * scale};
        Graph graph;
        Tensor p = graph.param("p", {2}, Init::Fill, 1.f);
        Tensor c = constant_data(graph, {2}, {static_cast<float>(g[0]), static_cast<float>(g[1])});
        add_optimizer(sum(p * c), cfg);  // the gradient of sum(p·c) is c at every step
        const double lr = 0.01;
        RefOpt ref{cfg, lr, {1, 1}, {kind == OptKind::Adagrad ? 0.1 : 0, kind == OptKind::Adagrad ? 0.1 : 0}, {0, 0}};
        Interpreter ip(graph);
        Program jit(graph);
        for (int t = 1; t <= 3; ++t) {
          const float fed = effective_lr(cfg, static_cast<float>(lr), t);
          ip.set_input("lr", {fed});
          jit.set_input("lr", std::vector<float>{fed});
          ip.run();
          jit.run();
          ref.step(t, {static_cast<float>(g[0]), static_cast<float>(g[1])});
          for (size_t i = 0; i < 2; ++i) {
            const double moved = std::fabs(ref.p[i] - 1);  // float keeps p ≈ 1 to ~6e-8
            EXPECT_NEAR(ip.value(p.id).f[i], ref.p[i], 2e-7 + 1e-4 * moved) << "interpreter, step " << t;
            EXPECT_NEAR(jit.get(p.id)[i], ref.p[i], 2e-7 + 1e-4 * moved) << "jit, step " << t;
          }
        }
      }
  }
}

// Clipping by global norm rescales only a gradient above the norm.
TEST(Optim, ClippingLeavesAGradientBelowTheNormUnchanged) {
  for (float clip : {10.f, 1.f}) {
    OptimizerConfig cfg;
    cfg.clip_norm = clip;
    Toy t(cfg);
    const auto p = run_steps(t, 0.1f, 1, cfg);
    const double norm = std::sqrt(0.25 + 4.0), f = norm > clip ? clip / norm : 1.0;
    EXPECT_NEAR(p[0], 1 - 0.1 * 0.5 * f, 1e-7) << "clip " << clip;
    EXPECT_NEAR(p[1], 1 + 0.1 * 2.0 * f, 1e-7) << "clip " << clip;
  }
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
