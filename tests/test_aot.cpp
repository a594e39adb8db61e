// Ahead-of-time export (compiler/aot.h): the exported object — the bytes gradc export writes as
// model.o, linked into this process as a C program links it — trains exactly as the JIT'd Program:
// ten steps give the same losses and the same weights and optimizer state, bit for bit, for the
// recipes' optimizers, with dropout, on 1 and 2 threads, on every target this host runs; and within
// 1e-5 + 1e-4·|w| of the reference interpreter with dnn's Adagrad (what the AArch64 run is held to).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "compiler/aot.h"
#include "models/evaluator.h"
#include "models/train.h"
#include "runtime/init.h"
#include "runtime/interpreter.h"
#include "runtime/program.h"

namespace gradc {
namespace {

using TrainStepFn = int (*)(const float*, const int32_t*, float, int32_t, float*);
using SaveFn = int (*)(const char*);

struct Case {
  std::string model;
  int64_t batch;
  int threads;
  std::string target;
  // Against the reference interpreter (0: not compared). RMSprop's and Adam's first steps move each
  // weight by about ±lr·sign(g): a near-zero gradient whose float32 rounding flips its sign moves
  // its weight 2·lr the other way, so only the Adagrad recipe (dnn) is held to a tolerance.
  double atol = 1e-5;
};

std::vector<float> read_weights(const std::string& path, size_t count) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr);
  std::vector<float> w(count);
  uint64_t hdr[3] = {};
  EXPECT_EQ(std::fread(hdr, 8, 3, f), 3u);
  EXPECT_EQ(hdr[2], count);
  EXPECT_EQ(std::fread(w.data(), 4, count, f), count);
  std::fclose(f);
  return w;
}

void ten_steps_equal(const Case& c) {
  SCOPED_TRACE(c.model + " b" + std::to_string(c.batch) + " threads " + std::to_string(c.threads) + " " + c.target);
  TrainConfig rc = recipe(c.model);
  auto m = build_fed_model(c.model, find_model(c.model).fn(), {.batch = c.batch, .training = true}, {});
  if (rc.sum_loss) rc.opt.loss_scale = static_cast<float>(c.batch);
  add_optimizer(m->loss, rc.opt);
  CompileOptions co;
  co.target = make_target(c.target);
  if (!co.target->runnable) GTEST_SKIP() << c.target << " does not run here";
  AotSpec spec;
  for (const Node& n : m->g.nodes())
    if (n.op == Op::Parameter) spec.params[n.name] = init_param(n);
  spec.input = "x";
  spec.output = m->loss.id;
  spec.train_step = true;
  spec.classes = 10;
  spec.embed_weights = true;
  spec.threads = c.threads;
  const AotModule mod = compile_aot(m->g, spec, co);
  AotLoaded obj(mod);
  auto step = reinterpret_cast<TrainStepFn>(obj.symbol("train_step"));
  auto save = reinterpret_cast<SaveFn>(obj.symbol("save_weights"));

  Program p(m->g, co);
  p.set_threads(c.threads);
  Interpreter ip(m->g);  // the oracle: each op as plain loops
  const Node& x = m->g.node(m->g.find_id("x"));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> px(0.f, 1.f);
  std::vector<float> xs(static_cast<size_t>(x.shape.numel()));
  std::vector<int32_t> ys(static_cast<size_t>(c.batch));
  const bool has_key = m->g.find_id("dropout_key") >= 0;
  for (int s = 0; s < 10; ++s) {
    for (float& v : xs) v = px(rng);
    for (int32_t& v : ys) v = static_cast<int32_t>(rng() % 10);
    const float lr = effective_lr(rc.opt, rc.lr, s + 1);
    p.set_input("x", xs);
    p.set_input_i32("y", ys);
    p.set_input("lr", std::vector<float>{lr});
    if (has_key) p.set_input_i32("dropout_key", std::vector<int32_t>{1000 + s});
    p.run();
    if (c.atol > 0) {
      ip.set_input("x", xs);
      ip.set_input_i32("y", ys);
      ip.set_input("lr", std::vector<float>{lr});
      if (has_key) ip.set_input_i32("dropout_key", std::vector<int32_t>{1000 + s});
      ip.run();
    }
    float loss = 0;
    ASSERT_EQ(step(xs.data(), ys.data(), lr, 1000 + s, &loss), 0);
    const float want = p.get(m->loss.id)[0];
    ASSERT_EQ(std::memcmp(&loss, &want, 4), 0) << "step " << s << ": " << loss << " vs " << want;
  }
  const std::string path = ::testing::TempDir() + "/aot_weights_" + c.model + ".bin";
  ASSERT_EQ(save(path.c_str()), 0);
  const std::vector<float> got = read_weights(path, mod.weights.size());
  std::filesystem::remove(path);
  for (const AotParam& ap : mod.params) {
    const std::vector<float> want = p.get(m->g.find_id(ap.name));
    ASSERT_EQ(std::memcmp(got.data() + ap.offset, want.data(), want.size() * 4), 0) << ap.name << " differs";
    const std::vector<float>& ref = ip.value(m->g.find_id(ap.name)).f;
    for (size_t i = 0; c.atol > 0 && i < ref.size(); ++i)  // what the AArch64 run is held to as well
      ASSERT_NEAR(got[static_cast<size_t>(ap.offset) + i], ref[i], c.atol + 1e-4 * std::abs(ref[i]))
          << ap.name << "[" << i << "]";
  }
  // A batch with a label outside [0, 10) is refused before anything changes.
  ys[3] = 10;
  EXPECT_EQ(step(xs.data(), ys.data(), 0.1f, 0, nullptr), 4);
  ys[3] = -1;
  EXPECT_EQ(step(xs.data(), ys.data(), 0.1f, 0, nullptr), 4);
  ASSERT_EQ(save(path.c_str()), 0);
  EXPECT_EQ(read_weights(path, mod.weights.size()), got);
  std::filesystem::remove(path);
}

TEST(Aot, TenExportedStepsEqualTenJitSteps) {
  for (const Case& c : {Case{"dnn", 30, 1, "x86-64-v4"}, Case{"dnn", 30, 2, "x86-64-v3"},
                        Case{"dnn", 30, 2, "x86-64-v4"}, Case{"mlp512", 16, 2, "x86-64-v3", 0},
                        Case{"convnet", 8, 1, "x86-64-v4", 0}, Case{"convnet", 8, 2, "x86-64-v3", 0}})
    ten_steps_equal(c);
}

}  // namespace
}  // namespace gradc
