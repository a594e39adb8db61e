// The public Trainer on user arrays (no MNIST needed): it learns, its named errors come before any
// step, evaluation counts every example at any batch size, and the Keras-style callbacks act.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "autodiff/autodiff.h"
#include "autodiff/dsl.h"
#include "models/callbacks.h"
#include "models/data_split.h"
#include "models/trainer.h"
#include "runtime/checkpoint.h"
#include "runtime/checkpoint_list.h"
#include "runtime/interpreter.h"
#include "runtime/metrics.h"
#include "tests/test_dir.h"

namespace gradc {
namespace {

// 3 classes of 8-dimensional points labelled by the largest of 3 fixed projections.
Dataset blobs(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::mt19937 fixed(7);
  std::vector<float> proj(24);
  for (float& v : proj) v = normal(fixed);
  Dataset d;
  d.n = n;
  d.features = 8;
  d.source = "blobs";
  for (int64_t i = 0; i < n; ++i) {
    float best = -1e30f;
    int label = 0;
    std::vector<float> p(8);
    for (float& v : p) v = normal(rng);
    for (int c = 0; c < 3; ++c) {
      float s = 0;
      for (int k = 0; k < 8; ++k) s += proj[static_cast<size_t>(c * 8 + k)] * p[static_cast<size_t>(k)];
      if (s > best) best = s, label = c;
    }
    d.x.insert(d.x.end(), p.begin(), p.end());
    d.y.push_back(label);
  }
  return d;
}

void small_mlp(Model& m, const ModelOptions& o) {
  Tensor x = m.g.input("x", {o.batch, 8});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  m.logits = dense(gelu(dense(x, 16, "h")), 3, "out");
  m.loss = softmax_xent(m.logits, y);
}

FitConfig quiet(int64_t epochs) {
  FitConfig c;
  c.batch = 16;
  c.epochs = epochs;
  c.opt.kind = OptKind::Adam;
  c.lr = 0.02f;
  c.threads = 1;
  return c;
}

TEST(Trainer, LearnsAUserModelFromArrays) {
  Trainer t("small_mlp", small_mlp, quiet(8));
  const FitResult r = t.fit(blobs(800, 1), blobs(200, 2));
  EXPECT_EQ(r.history.size(), 8u);
  EXPECT_GT(t.evaluate(blobs(300, 3)).accuracy(), 0.85);
  EXPECT_LT(r.history.back().train_loss, r.history.front().train_loss);
}

TEST(Trainer, EvaluationCountsTheLastPartialBatchAtAnyBatchSize) {
  Trainer t("small_mlp", small_mlp, quiet(1));
  t.fit(blobs(160, 1));
  const Dataset d = blobs(37, 5);
  const auto w = t.weights();
  Evaluator whole("small_mlp", small_mlp, {}, EngineKind::Jit, 1, 64),
      by5("small_mlp", small_mlp, {}, EngineKind::Jit, 1, 5);
  const Metrics a = whole.run(w, d), b = by5.run(w, d);
  EXPECT_EQ(a.count, 37);
  EXPECT_EQ(b.count, 37);
  EXPECT_EQ(a.correct, b.correct);
  EXPECT_NEAR(a.log_loss(), b.log_loss(), 1e-5);
}

void expect_error(const ModelFn& fn, const Dataset& d, const std::string& needle, int64_t batch = 16) {
  FitConfig c = quiet(1);
  c.batch = batch;
  try {
    Trainer t("bad", fn, c);
    t.fit(d);
    ADD_FAILURE() << "no error; expected: " << needle;
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Trainer, NamedErrorsBeforeAnyStep) {
  const Dataset d = blobs(64, 1);
  expect_error(
      [](Model& m, const ModelOptions& o) {
        Tensor x = m.g.input("x", {o.batch, 8});
        m.logits = dense(x, 3, "out");
        m.loss = m.logits;  // not reduced
        m.g.input("y", {o.batch}, DType::I32);
      },
      d, "the loss must be a scalar f32 tensor (it is [16,3]");
  expect_error(
      [](Model& m, const ModelOptions& o) {
        small_mlp(m, o);
        m.loss = m.loss + sum(m.g.input("mask", {o.batch, 3}));
      },
      d, "input 'mask' [16,3]");
  expect_error(
      [](Model& m, const ModelOptions& o) {
        Tensor x = m.g.input("x", {o.batch, 8});
        Tensor y = m.g.input("y", {o.batch, 3});  // one-hot floats instead of class indices
        m.logits = dense(x, 3, "out");
        m.loss = mean(square(m.logits - y));
      },
      d, "label input 'y' must be i32 [16] (class indices), not f32 [16,3]");
  expect_error(small_mlp, d, "64 training examples cannot fill one batch of 100", 100);
  Dataset wide = d;
  wide.features = 9;
  wide.x.resize(static_cast<size_t>(64 * 9));
  expect_error(small_mlp, wide, "blobs: examples are");
  Dataset bad_label = d;
  bad_label.y[5] = 3;
  expect_error(small_mlp, bad_label, "blobs: label 3 of example 5 is outside the model's classes [0, 3)");
}

// A metric that never improves (lr 0: the weights never move) triggers every plateau rule.
TEST(Trainer, CallbacksActOnAPlateau) {
  FitConfig c = quiet(6);
  c.lr = 1e-30f;
  Trainer t("small_mlp", small_mlp, c);
  auto stop = std::make_shared<EarlyStopping>("val_loss", 3, 0, false);
  t.add_callback(std::make_shared<ReduceLROnPlateau>("val_loss", 0.5, 1, 0, false));
  t.add_callback(stop);
  const TestDir tmp;
  const auto csv = tmp / "metrics.csv";
  t.add_callback(std::make_shared<CSVLogger>(csv.string()));
  const FitResult r = t.fit(blobs(160, 1), blobs(50, 2));
  ASSERT_EQ(r.history.size(), 4u) << "stops after 3 evaluations without improvement on the first";
  EXPECT_NE(r.stopped_early.find("val_loss"), std::string::npos) << r.stopped_early;
  EXPECT_FLOAT_EQ(static_cast<float>(r.history[1].lr), 1e-30f);  // epoch 2 did not improve: halved after it
  EXPECT_FLOAT_EQ(static_cast<float>(r.history[2].lr), 0.5e-30f);
  EXPECT_FLOAT_EQ(static_cast<float>(r.history[3].lr), 0.25e-30f);
  std::ifstream in(csv);
  std::string header, line;
  std::getline(in, header);
  EXPECT_EQ(header, kCsvHeader);
  int rows = 0;
  while (std::getline(in, line)) ++rows;
  EXPECT_EQ(rows, 4);
}

TEST(Trainer, CsvLeavesValidationColumnsEmptyWithoutAValidationSet) {
  PeriodRow row;
  row.step = 10;
  row.epoch = 1;
  row.lr = 0.5;
  EXPECT_EQ(csv_row(row), "10,1,0.5,0.000000,0.000000,,,0.0");
}

TEST(Trainer, BestWeightsRestoresTheBestEvaluation) {
  Trainer t("small_mlp", small_mlp, quiet(5));
  auto best = std::make_shared<BestWeights>("", "val_loss", false);
  t.add_callback(best);
  std::vector<std::vector<NamedTensor>> at;
  auto hook = std::make_shared<LambdaCallback>();
  hook->eval = [&at](Trainer& tr, const PeriodRow&) { at.push_back(tr.weights()); };
  t.add_callback(hook);
  const Dataset val = blobs(60, 2);
  const FitResult r = t.fit(blobs(160, 1), val);
  size_t arg = 0;
  for (size_t i = 1; i < r.history.size(); ++i)
    if (r.history[i].val_loss < r.history[arg].val_loss) arg = i;
  EXPECT_EQ(best->best_step(), r.history[arg].step);
  const auto now = t.weights();
  for (size_t k = 0; k < now.size(); ++k) EXPECT_EQ(now[k].data, at[arg][k].data) << now[k].name;
  EXPECT_NEAR(t.evaluate(val).log_loss(), r.history[arg].val_loss, 1e-9);
}

// --keep-last prunes only the run's own numbered checkpoints: an older run's ckpt-1000 (a higher
// step) and a ckpt-0003 that gradc never writes stay, and the run keeps its newest. Resumed in its
// own directory, the run goes on pruning what it wrote before the interruption.
TEST(Trainer, KeepLastPrunesOnlyTheRunsOwnCheckpoints) {
  namespace fs = std::filesystem;
  const TestDir tmp;
  const fs::path& d = tmp.path();
  for (const char* f : {"ckpt-1000.safetensors", "ckpt-0003.safetensors"}) std::ofstream(d / f) << "older run";
  FitConfig c = quiet(3);
  c.checkpoint_dir = d.string();
  c.keep_last = 1;
  auto own = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(d)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("ckpt-", 0) == 0 && n != "ckpt-1000.safetensors" && n != "ckpt-0003.safetensors") names.push_back(n);
    }
    return names;
  };
  int64_t steps = 0;
  {
    Trainer t("small_mlp", small_mlp, c);
    steps = t.fit(blobs(160, 1)).steps;
  }
  EXPECT_EQ(own(), std::vector<std::string>{numbered_checkpoint(steps)});
  c.epochs = 5;
  Trainer t("small_mlp", small_mlp, c);
  const std::string last = (d / "last.safetensors").string();
  t.resume(load_checkpoint(last), last);
  const int64_t end = t.fit(blobs(160, 1)).steps;
  EXPECT_GT(end, steps);
  EXPECT_EQ(own(), std::vector<std::string>{numbered_checkpoint(end)});
  for (const char* f : {"ckpt-1000.safetensors", "ckpt-0003.safetensors"}) EXPECT_TRUE(fs::exists(d / f)) << f;
}

// The learning rate each step trains with, for every schedule, at the decay boundaries (steps 0, 1,
// k·decay - 1, k·decay) and after a resume: evaluating the schedule at step + 1 fails here.
TEST(Trainer, EveryScheduleFeedsItsRateAtTheStepItTrains) {
  struct Sched {
    Schedule::Kind kind;
    bool staircase;
  };
  for (const Sched sc : {Sched{Schedule::Kind::Constant, false}, Sched{Schedule::Kind::Exponential, false},
                         Sched{Schedule::Kind::Exponential, true}, Sched{Schedule::Kind::PerEpoch, false},
                         Sched{Schedule::Kind::OneCycle, false}}) {
    FitConfig c = quiet(3);  // 160 examples / batch 16: 10 steps per epoch, 30 in all
    c.lr = 0.08f;
    c.schedule.kind = sc.kind;
    c.schedule.rate = 0.5f;
    c.schedule.decay_steps = 4;
    c.schedule.staircase = sc.staircase;
    auto want = [&](int64_t step) {
      const double base = c.lr;
      switch (sc.kind) {
        case Schedule::Kind::Constant:
          return base;
        case Schedule::Kind::Exponential:
          return base * std::pow(0.5, sc.staircase ? static_cast<double>(step / 4) : static_cast<double>(step) / 4);
        case Schedule::Kind::PerEpoch:
          return base * std::pow(0.5, static_cast<double>(step / 10));
        case Schedule::Kind::OneCycle:  // 30 steps, up over the first 6 (warmup 0.2), down to 0 after the 30th
          return step < 6 ? base * static_cast<double>(step + 1) / 6 : base * static_cast<double>(30 - step) / 24;
      }
      return 0.0;
    };
    auto record = [](std::vector<float>& into) {
      auto cb = std::make_shared<LambdaCallback>();
      cb->step_end = [&into](Trainer& t, float) { into.push_back(t.current_lr()); };
      return cb;
    };
    std::vector<float> fed;
    Trainer t("small_mlp", small_mlp, c);
    t.add_callback(record(fed));
    t.fit(blobs(160, 1));
    ASSERT_EQ(fed.size(), 30u);
    for (int64_t s : {0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 29})
      EXPECT_NEAR(fed[static_cast<size_t>(s)], want(s), 1e-7 * want(s)) << schedule_name(sc.kind) << " step " << s;
    // Resumed from step 10 of the same run: steps 10.. train with the same rates.
    namespace fs = std::filesystem;
    const TestDir tmp;
    const fs::path& d = tmp.path();
    c.epochs = 1;
    Trainer first("small_mlp", small_mlp, c);
    first.fit(blobs(160, 1));
    first.save((d / "ck.safetensors").string());
    c.epochs = 3;
    std::vector<float> resumed;
    Trainer second("small_mlp", small_mlp, c);
    second.add_callback(record(resumed));
    second.resume(load_checkpoint((d / "ck.safetensors").string()), (d / "ck.safetensors").string());
    second.fit(blobs(160, 1));
    ASSERT_EQ(resumed.size(), 20u);
    for (size_t k = 0; k < resumed.size(); ++k) EXPECT_EQ(resumed[k], fed[10 + k]) << "resumed step " << 10 + k;
  }
}

// Each epoch draws its own permutation: with a learning rate too small to move the weights, the
// per-step losses of epoch 2 are epoch 1's in another order (the same order fails).
TEST(Trainer, EachEpochVisitsTheDataInANewOrder) {
  FitConfig c = quiet(2);
  c.opt.kind = OptKind::SGD;
  c.lr = 1e-30f;
  std::vector<float> losses;
  auto cb = std::make_shared<LambdaCallback>();
  cb->step_end = [&losses](Trainer&, float loss) { losses.push_back(loss); };
  Trainer t("small_mlp", small_mlp, c);
  t.add_callback(cb);
  t.fit(blobs(160, 1));
  ASSERT_EQ(losses.size(), 20u);
  std::vector<float> e1(losses.begin(), losses.begin() + 10), e2(losses.begin() + 10, losses.end());
  EXPECT_NE(e1, e2);
  double s1 = 0, s2 = 0;  // the same 160 examples each epoch: the same total loss
  for (float l : e1) s1 += l;
  for (float l : e2) s2 += l;
  EXPECT_NEAR(s1, s2, 1e-4 * std::fabs(s1));
  EXPECT_NE(permutation(160, 42, 0), permutation(160, 42, 1));
  std::vector<int64_t> p = permutation(160, 42, 1);
  std::sort(p.begin(), p.end());
  for (int64_t i = 0; i < 160; ++i) EXPECT_EQ(p[static_cast<size_t>(i)], i);
}

// Metrics on hand-computed logits: accuracy, the log-loss with its max term (logits of 1000 must not
// overflow), and the confusion matrix's orientation (row = true label, column = predicted).
TEST(Metrics, HandLogits) {
  Metrics m(3);
  const std::vector<float> logits = {2, 1, 0, 0, 3, 1, 1000, 0, 0};
  const std::vector<int32_t> labels = {0, 2, 1};
  m.add(logits, labels, 3);
  EXPECT_EQ(m.count, 3);
  EXPECT_EQ(m.correct, 1);
  auto nll = [](double a, double b, double c, double z) {
    const double mx = std::max({a, b, c});
    return -(z - mx - std::log(std::exp(a - mx) + std::exp(b - mx) + std::exp(c - mx)));
  };
  const double want = (nll(2, 1, 0, 2) + nll(0, 3, 1, 1) + nll(1000, 0, 0, 0)) / 3;
  EXPECT_NEAR(m.log_loss(), want, 1e-9 * want);
  EXPECT_EQ(m.confusion[0 * 3 + 0], 1);  // true 0, predicted 0
  EXPECT_EQ(m.confusion[2 * 3 + 1], 1);  // true 2, predicted 1
  EXPECT_EQ(m.confusion[1 * 3 + 0], 1);  // true 1, predicted 0
  EXPECT_EQ(m.confusion[1 * 3 + 2], 0);
}

// One-vs-all metrics: the highest score wins; the loss sums each class's binary log-loss
// (softplus(-z) for the true class, softplus(z) for the others), finite at |z| = 1000.
TEST(Metrics, OneVsAllHandLogits) {
  Metrics m(3);
  const std::vector<float> logits = {2, -1, 0, -3, 1, 1000};
  const std::vector<int32_t> labels = {0, 1};
  m.add_one_vs_all(logits, labels, 2);
  auto sp = [](double t) { return std::max(t, 0.0) + std::log1p(std::exp(-std::fabs(t))); };
  const double want = (sp(-2) + sp(-1) + sp(0) + sp(-3) + sp(-1) + sp(1000)) / 2;
  EXPECT_NEAR(m.log_loss(), want, 1e-9 * want);
  EXPECT_EQ(m.correct, 1);
  EXPECT_EQ(m.confusion[0 * 3 + 0], 1);
  EXPECT_EQ(m.confusion[1 * 3 + 2], 1);  // true 1, predicted 2
}

TEST(Dsl, GeluMatchesItsFormulaAndFiniteDifferences) {
  Graph g;
  Tensor x = g.input("x", {5});
  Tensor loss = sum(gelu(x) * g.input("r", {5}));
  Tensor dx = grad(loss, {x})[0];
  Interpreter ip(g);
  std::vector<float> xs = {-2.f, -0.5f, 0.1f, 0.9f, 2.5f}, rs = {0.3f, -1.f, 0.7f, 1.1f, -0.4f};
  ip.set_input("r", rs);
  auto f = [&](std::vector<float> v) {
    ip.set_input("x", v);
    ip.run();
    return static_cast<double>(ip.value(loss.id).f[0]);
  };
  double expect = 0;
  for (size_t i = 0; i < 5; ++i) {
    const double v = xs[i];
    expect += rs[i] * 0.5 * v * (1 + std::tanh(0.7978845608 * (v + 0.044715 * v * v * v)));
  }
  EXPECT_NEAR(f(xs), expect, 1e-5);
  const std::vector<float> analytic = ip.value(dx.id).f;
  for (size_t i = 0; i < 5; ++i) {
    std::vector<float> up = xs, down = xs;
    up[i] += 1e-3f;
    down[i] -= 1e-3f;
    EXPECT_NEAR(analytic[i], (f(up) - f(down)) / 2e-3, 2e-3) << "x = " << xs[i];
  }
}

}  // namespace
}  // namespace gradc
