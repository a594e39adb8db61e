// batch_norm with Keras semantics: batch statistics in training, moving statistics (role Moving)
// updated with momentum and used in evaluation, ε = 1e-3 by default; exact values by hand, float64
// finite differences through the composite, JIT == reference, and the moving statistics travel
// with the weights (snapshots, checks, summary).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "autodiff/autodiff.h"
#include "autodiff/dsl.h"
#include "autodiff/optim.h"
#include "models/models.h"
#include "models/params.h"
#include "models/summary.h"
#include "runtime/data_error.h"
#include "runtime/engine.h"
#include "runtime/interpreter.h"
#include "runtime/program.h"

namespace gradc {
namespace {

// x [4, 1, 1, 2]: channel 0 holds 1, 2, 3, 6 (mean 3, biased variance 3.5), channel 1 holds 10, 10,
// 10, 10 (variance 0).
const std::vector<float> kX = {1, 10, 2, 10, 3, 10, 6, 10};

TEST(BatchNorm, TrainingNormalisesByTheBatchAndMovesTheStatistics) {
  Graph g;
  Tensor x = g.input("x", {4, 1, 1, 2});
  Tensor y = batch_norm(x, "bn", true);
  g.mark_output(y, "y");
  Interpreter ip(g);
  ip.set_input("x", kX);
  ip.run();
  const double sd0 = std::sqrt(3.5 + 1e-3);
  const std::vector<double> want0 = {-2 / sd0, -1 / sd0, 0, 3 / sd0};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(ip.value(y.id).f[static_cast<size_t>(2 * i)], want0[static_cast<size_t>(i)], 1e-6);
    EXPECT_EQ(ip.value(y.id).f[static_cast<size_t>(2 * i + 1)], 0.f);  // a constant channel is 0, not NaN
  }
  // After the step: 0.99·0 + 0.01·mean and 0.99·1 + 0.01·variance.
  EXPECT_NEAR(ip.value("bn/moving_mean").f[0], 0.03f, 1e-7);
  EXPECT_NEAR(ip.value("bn/moving_mean").f[1], 0.1f, 1e-7);
  EXPECT_NEAR(ip.value("bn/moving_variance").f[0], 0.99f + 0.035f, 1e-6);
  EXPECT_NEAR(ip.value("bn/moving_variance").f[1], 0.99f, 1e-7);
}

TEST(BatchNorm, EvaluationUsesTheMovingStatistics) {
  Graph g;
  Tensor x = g.input("x", {4, 1, 1, 2});
  Tensor y = batch_norm(x, "bn", false, 0.99f, 0.01f);
  g.mark_output(y, "y");
  EXPECT_TRUE(g.updates().empty()) << "evaluation moves nothing";
  Interpreter ip(g);
  ip.set_input("x", kX);
  ip.value(g.find_id("bn/moving_mean")).f = {2, 10};
  ip.value(g.find_id("bn/moving_variance")).f = {4, 1};
  ip.value(g.find_id("bn/gamma")).f = {2, 1};
  ip.value(g.find_id("bn/beta")).f = {1, 0};
  ip.run();
  const float sd = std::sqrt(4.01f);
  EXPECT_NEAR(ip.value(y.id).f[0], 2 * (1 - 2) / sd + 1, 1e-6);
  EXPECT_NEAR(ip.value(y.id).f[6], 2 * (6 - 2) / sd + 1, 1e-6);
  EXPECT_NEAR(ip.value(y.id).f[1], 0, 1e-6);
}

// d sum(bn(x)·probe) / d (x, gamma, beta) against central differences in float64.
TEST(BatchNorm, GradientsMatchFiniteDifferencesInFloat64) {
  Graph g;
  Tensor x = g.input("x", {3, 2, 2, 3});
  Tensor probe = g.input("probe", {3, 2, 2, 3});
  Tensor y = batch_norm(x, "bn", true);
  Tensor loss = sum(y * probe);
  std::vector<Tensor> wrt = {x, g.find("bn/gamma"), g.find("bn/beta")};
  std::vector<Tensor> grads = grad(loss, wrt);
  Interpreter64 ip(g);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-1, 1);
  for (const char* name : {"x", "probe"}) {
    std::vector<double> v(36);
    for (double& e : v) e = u(rng);
    ip.set_input(name, v);
  }
  ip.value(g.find_id("bn/gamma")).f = {0.5, 1.5, -1};
  ip.value(g.find_id("bn/beta")).f = {0.1, -0.2, 0.3};
  ip.run();
  std::vector<std::vector<double>> analytic;
  for (Tensor t : grads) analytic.push_back(ip.value(t.id).f);
  for (size_t w = 0; w < wrt.size(); ++w) {
    std::vector<double>& v = ip.value(wrt[w].id).f;
    for (size_t k = 0; k < v.size(); ++k) {
      const double orig = v[k], eps = 1e-6;
      v[k] = orig + eps;
      ip.run();
      const double up = ip.value(loss.id).f[0];
      v[k] = orig - eps;
      ip.run();
      const double down = ip.value(loss.id).f[0];
      v[k] = orig;
      const double numeric = (up - down) / (2 * eps);
      EXPECT_NEAR(analytic[w][k], numeric, 1e-7 + 1e-6 * std::fabs(numeric)) << wrt[w].node().name << "[" << k << "]";
    }
  }
}

TEST(BatchNorm, JitMatchesTheReferenceAndMovesTheSameStatistics) {
  Graph g;
  Tensor x = g.input("x", {8, 3, 3, 4});
  Tensor y = batch_norm(relu(x), "bn", true);
  Tensor dx = grad(sum(y * y), {x})[0];
  g.mark_output(y, "y");
  g.mark_output(dx, "dx");
  std::vector<float> xs(8 * 36);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>((i * 37) % 23) / 7.f - 1.f;
  Interpreter ip(g);
  Program p(g);
  ip.set_input("x", xs);
  p.set_input("x", xs);
  ip.run();
  p.run();
  for (int id : {y.id, dx.id, g.find_id("bn/moving_mean"), g.find_id("bn/moving_variance")}) {
    const auto ref = ip.value(id).f, got = p.get(id);
    ASSERT_EQ(ref.size(), got.size());
    for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(got[i], ref[i], 1e-4 + 1e-4 * std::fabs(ref[i])) << id;
  }
}

// x - mean, read by the variance's sum and by the backward's product, is recomputed in both
// kernels rather than written (the plan's recomputed producers): no full-size sub has a buffer,
// and the step still matches the reference at 1 and 2 threads, bit for bit between the two.
TEST(BatchNorm, TheCenteredActivationsAreRecomputedNotWritten) {
  Graph g;
  Tensor x = g.input("x", {8, 6, 6, 16});
  Tensor y = batch_norm(x, "bn", true);
  Tensor dx = grad(sum(y * y * y), {x})[0];
  g.mark_output(y, "y");
  g.mark_output(dx, "dx");
  Program p(g);
  const Graph& og = p.code().graph;
  int full_size_subs = 0, subs_read_twice = 0;
  for (int id : p.code().plan.live) {
    const Node& n = og.node(id);
    if (n.op != Op::Sub || n.shape.numel() != 8 * 36 * 16) continue;
    ++full_size_subs;
    subs_read_twice += p.code().plan.node_buffer[static_cast<size_t>(id)] >= 0;
  }
  EXPECT_EQ(full_size_subs, 1);
  EXPECT_EQ(subs_read_twice, 0) << "x - mean was written to memory";
  std::vector<float> xs(8 * 36 * 16);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>((i * 37) % 23) / 7.f - 1.f;
  Interpreter ip(g);
  ip.set_input("x", xs);
  ip.run();
  std::vector<float> runs[2];
  for (int threads : {1, 2}) {
    Program q(g);
    q.set_input("x", xs);
    q.set_threads(threads);
    q.run();
    runs[threads - 1] = q.get(dx.id);
    const auto ref = ip.value(dx.id).f;
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_NEAR(runs[threads - 1][i], ref[i], 1e-3 + 1e-3 * std::fabs(ref[i])) << i << " threads " << threads;
  }
  EXPECT_EQ(runs[0], runs[1]);
}

// The variance's gradient term 2c·(x - mean) has two readers: the negated sum that carries it into
// the mean's gradient and, through a view of the convolution's rows, the add that forms dx. It is
// recomputed in both (from x, which the add reads anyway) instead of written: in the convnet's
// first layer at batch 128 an 11 MB write and a pass. In the convnet --batch-norm step no product of
// x - mean is written (both layers).
TEST(BatchNorm, TheVarianceGradientTermIsRecomputedThroughAView) {
  Arch arch;
  arch.conv = {32, 64};
  arch.batch_norm = true;
  auto m = build_model("convnet", {.batch = 16}, arch);
  add_optimizer(m->loss, {});
  Program p(m->g);
  const Graph& og = p.code().graph;
  // Whether node id is x - mean scaled (products and views of a full-size difference).
  std::function<bool(int)> scaled_centered = [&](int id) {
    const Node& n = og.node(id);
    if (n.op == Op::Sub) return og.node(n.in[1]).shape.rank == 1 && n.shape.rank == 4;
    if (n.op != Op::Mul && n.op != Op::Reshape) return false;
    for (int i : n.in)
      if (scaled_centered(i)) return true;
    return false;
  };
  int centered = 0, written = 0;
  for (int id : p.code().plan.live) {
    const Node& n = og.node(id);
    if (n.op != Op::Mul || !scaled_centered(id)) continue;
    ++centered;
    if (p.code().plan.node_buffer[static_cast<size_t>(id)] >= 0) {
      ++written;
      ADD_FAILURE() << "%" << id << " " << op_name(n.op) << " " << n.shape.str() << " is written";
    }
  }
  EXPECT_GE(centered, 4) << "both layers' variance gradient terms";
  EXPECT_EQ(written, 0);
}

// The moving statistics are weights of the model: in a snapshot without optimizer state, required
// by check_weights, counted as non-trainable by summary — and never given to the optimizer.
TEST(BatchNorm, MovingStatisticsTravelWithTheWeights) {
  Graph g;
  Tensor x = g.input("x", {2, 3});
  Tensor y = batch_norm(dense(x, 4, "d"), "bn", true);
  g.mark_output(y, "y");
  for (Tensor p : g.params()) EXPECT_EQ(p.node().name.find("moving"), std::string::npos) << p.node().name;
  auto e = make_engine(g, EngineKind::Reference);
  const std::vector<NamedTensor> w = snapshot(g, *e, false);
  int moving = 0;
  for (const NamedTensor& t : w) moving += t.name.find("/moving_") != std::string::npos;
  EXPECT_EQ(moving, 2);
  std::vector<NamedTensor> without;
  for (const NamedTensor& t : w)
    if (t.name != "bn/moving_variance") without.push_back(t);
  try {
    check_weights(g, without, "ck.safetensors");
    FAIL() << "a missing moving statistic must be an error";
  } catch (const DataError& err) {
    EXPECT_NE(std::string(err.what()).find("no tensor for moving statistic 'bn/moving_variance'"), std::string::npos)
        << err.what();
  }
  const std::string s = summary(g);
  EXPECT_NE(s.find("bn (BatchNormalization)"), std::string::npos) << s;
  EXPECT_NE(s.find("Total params: 32"), std::string::npos) << s;  // 3·4 + 4 + 4·4
  EXPECT_NE(s.find("Trainable params: 24"), std::string::npos) << s;
  EXPECT_NE(s.find("Non-trainable params: 8"), std::string::npos) << s;
}

// Data-parallel training would move each rank's statistics by its own slice: a named error until
// they are synchronised, not a checksum failure later.
TEST(BatchNorm, DataParallelTrainingSaysItIsNotSupported) {
  Graph g;
  Tensor x = g.input("x", {4, 3});
  Tensor y = g.input("y", {4}, DType::I32);
  Tensor loss = softmax_xent(dense(batch_norm(x, "bn", true), 3, "d"), y);
  OptimizerConfig oc;
  oc.ranks = 2;
  try {
    add_optimizer(loss, oc);
    FAIL() << "batch_norm with 2 ranks must be refused";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'bn/moving_mean' is a moving statistic"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gradc
