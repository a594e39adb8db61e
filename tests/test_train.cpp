// End-to-end training of every tutorial model on small slices of real MNIST (accuracy bars that can
// fail), reports, and resume.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

#include "models/models.h"
#include "models/train.h"
#include "tools/image.h"
#include "tools/report.h"

namespace gradc {
namespace {

namespace fs = std::filesystem;

bool have_mnist() {
  const char* env = std::getenv("GRADC_DATA");
  return fs::exists(std::string(env ? env : "data") + "/mnist/train-images-idx3-ubyte");
}

TrainConfig slice_recipe(const std::string& model) {
  TrainConfig c = recipe(model);
  c.verbose = false;
  c.test_n = 2000;
  c.threads = 2;
  return c;
}

struct Case {
  std::string model;
  std::function<void(TrainConfig&)> adjust;
  double bar;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.model << " (bar " << c.bar << ")"; }

class TrainSlice : public ::testing::TestWithParam<Case> {};

TEST_P(TrainSlice, ReachesTheBar) {
  if (!have_mnist()) GTEST_SKIP() << "MNIST missing (tools/setup.sh fetches it)";
  const Case& cs = GetParam();
  TrainConfig c = slice_recipe(cs.model);
  cs.adjust(c);
  TrainResult r = train(c);
  EXPECT_GE(r.test.accuracy(), cs.bar) << cs.model << " test accuracy on " << r.test.count << " images";
  EXPECT_FALSE(r.history.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Models, TrainSlice,
    ::testing::Values(
        Case{"linear", [](TrainConfig& c) { c.first_n = 3000, c.train_n = 2500, c.val_n = 500, c.steps = 600; }, 0.85},
        Case{"dnn", [](TrainConfig& c) { c.first_n = 2000, c.train_n = 1500, c.val_n = 500, c.steps = 300; }, 0.85},
        Case{"mlp512", [](TrainConfig& c) { c.first_n = 6000, c.epochs = 4; }, 0.88},
        Case{"mlp500", [](TrainConfig& c) { c.train_n = 3000, c.val_n = 500, c.steps = 600, c.checkpoint_every = 0; },
             0.88},
        Case{"cnn", [](TrainConfig& c) { c.first_n = 2000, c.batch = 50, c.epochs = 2, c.lr = 0.1f; }, 0.8}),
    [](const ::testing::TestParamInfo<Case>& p) { return p.param.model; });

TEST(Train, LogicGatesAreExact) {
  for (const char* gate : {"and", "or"}) {
    LogicResult r = train_logic(gate, 200.f, 401, 42, 0);
    EXPECT_TRUE(r.exact) << gate;
    LogicResult ref = train_logic(gate, 200.f, 401, 42, 1);
    EXPECT_TRUE(ref.exact) << gate << " (reference engine)";
  }
}

TEST(Train, ReportWritesEveryFile) {
  if (!have_mnist()) GTEST_SKIP() << "MNIST missing";
  const fs::path dir = fs::temp_directory_path() / "gradc_report_test";
  fs::remove_all(dir);
  TrainConfig c = slice_recipe("dnn");
  c.first_n = 1000, c.train_n = 800, c.val_n = 200, c.steps = 100, c.periods = 4, c.test_n = 500;
  cli::Report rep(dir.string(), c, "10,50");
  c.on_period = [&rep](const PeriodRow& row) { rep.add_row(row); };
  TrainResult r = train(c);
  rep.finish(r);
  for (const char* f :
       {"metrics.csv", "loss.png", "accuracy.png", "lr.png", "confusion.png", "weights.png", "weights_step10.png",
        "weights_step50.png", "samples.png", "labels.png", "pixels.png", "index.html"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  // PNGs decode and have the expected sizes.
  EXPECT_EQ(cli::read_png((dir / "loss.png").string()).w, 900);
  cli::Image w = cli::read_png((dir / "weights.png").string());
  EXPECT_EQ(w.w, 10 * (28 * 2 + 1) + 1);  // 100 units: 10 tiles of 28·2 px + separators
  EXPECT_EQ(w.h, w.w);
  // metrics.csv: a header and one row per period.
  std::ifstream csv(dir / "metrics.csv");
  int lines = 0;
  for (std::string l; std::getline(csv, l);) ++lines;
  EXPECT_EQ(lines, 1 + 4);
  // index.html references only files that exist.
  std::ifstream h(dir / "index.html");
  std::string html((std::istreambuf_iterator<char>(h)), {});
  std::regex ref("(src|href)='([^']+)'");
  int refs = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator(); ++it, ++refs)
    EXPECT_TRUE(fs::exists(dir / (*it)[2].str())) << (*it)[2].str();
  EXPECT_GE(refs, 11);
}

TEST(Report, WeightGridPutsKnownValuesInTheRightTiles) {
  // [784, 3]: unit 0 all +1, unit 1 all -1, unit 2 zero except pixel (row 5, col 7) = +1.
  NamedTensor w{"W", {784, 3}, std::vector<float>(784 * 3, 0.f)};
  for (int p = 0; p < 784; ++p) w.data[static_cast<size_t>(p * 3)] = 1.f, w.data[static_cast<size_t>(p * 3 + 1)] = -1.f;
  w.data[static_cast<size_t>((5 * 28 + 7) * 3 + 2)] = 1.f;
  cli::WeightGrid g = cli::weight_grid(w, 2);
  ASSERT_EQ(g.cols, 2);  // ceil(sqrt(3))
  auto px = [&](int unit, int row, int col) {
    const int x = (unit % g.cols) * (28 * 2 + 1) + 1 + col * 2, y = (unit / g.cols) * (28 * 2 + 1) + 1 + row * 2;
    const uint8_t* p = g.image.at(x, y);
    return std::vector<int>{p[0], p[1], p[2]};
  };
  EXPECT_EQ(px(0, 3, 3), (std::vector<int>{255, 0, 0}));   // red = positive
  EXPECT_EQ(px(1, 20, 9), (std::vector<int>{0, 0, 255}));  // blue = negative
  EXPECT_EQ(px(2, 5, 7), (std::vector<int>{255, 0, 0}));
  EXPECT_EQ(px(2, 5, 8), (std::vector<int>{255, 255, 255}));  // white = zero
}

TEST(Train, CheckNumericsNamesTheOpThatProducedTheFirstNaN) {
  if (!have_mnist()) GTEST_SKIP() << "MNIST missing";
  TrainConfig c = slice_recipe("dnn");
  c.first_n = 300, c.train_n = 200, c.val_n = 100, c.steps = 20, c.test_n = 100;
  c.opt.kind = OptKind::SGD;
  c.opt.clip_norm = 0;
  c.lr = 1e30f;
  c.check_numerics = true;
  try {
    train(c);
    FAIL() << "no NumericsError";
  } catch (const NumericsError& e) {
    EXPECT_NE(std::string(e.what()).find("first produced by op 'matmul'"), std::string::npos) << e.what();
  }
  c.check_numerics = false;
  EXPECT_THROW(train(c), NumericsError);
}

TEST(Train, ResumeContinuesBitIdentically) {
  if (!have_mnist()) GTEST_SKIP() << "MNIST missing";
  const fs::path a = fs::temp_directory_path() / "gradc_resume_a", b = fs::temp_directory_path() / "gradc_resume_b";
  fs::remove_all(a);
  fs::remove_all(b);
  TrainConfig c = slice_recipe("dnn");
  c.first_n = 1000, c.train_n = 900, c.val_n = 100, c.periods = 2, c.test_n = 100;
  c.steps = 200;
  c.checkpoint_dir = a.string();
  train(c);
  c.checkpoint_dir = b.string();
  c.steps = 100;  // the first half; the schedule and batches depend only on the step
  train(c);
  c.steps = 200;
  c.resume_dir = b.string();
  train(c);
  Checkpoint full = load_checkpoint((a / "last.safetensors").string());
  Checkpoint resumed = load_checkpoint((b / "last.safetensors").string());
  ASSERT_EQ(full.tensors.size(), resumed.tensors.size());
  for (const NamedTensor& t : full.tensors) {
    const NamedTensor* r = resumed.find(t.name);
    ASSERT_NE(r, nullptr) << t.name;
    EXPECT_EQ(0, std::memcmp(t.data.data(), r->data.data(), t.data.size() * 4)) << t.name << " differs after resume";
  }
}

}  // namespace
}  // namespace gradc
