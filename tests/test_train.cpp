// End-to-end training of every tutorial model on small slices of real MNIST (accuracy bars that can
// fail), reports, and resume.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>

#include "models/models.h"
#include "models/train.h"
#include "tests/test_dir.h"
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
  // One row per evaluation period, steps rising to the end, the training loss finite and lower at
  // the end than after the first period.
  ASSERT_GE(r.history.size(), 2u);
  for (size_t k = 1; k < r.history.size(); ++k) EXPECT_GT(r.history[k].step, r.history[k - 1].step);
  EXPECT_EQ(r.history.back().step, r.steps);
  for (const PeriodRow& row : r.history) EXPECT_TRUE(std::isfinite(row.train_loss)) << "step " << row.step;
  EXPECT_LT(r.history.back().train_loss, r.history.front().train_loss);
}

INSTANTIATE_TEST_SUITE_P(
    Models, TrainSlice,
    ::testing::Values(
        Case{"linear", [](TrainConfig& c) { c.first_n = 3000, c.train_n = 2500, c.val_n = 500, c.steps = 600; }, 0.85},
        Case{"ova", [](TrainConfig& c) { c.first_n = 3000, c.train_n = 2500, c.val_n = 500, c.steps = 600; }, 0.82},
        Case{"dnn", [](TrainConfig& c) { c.first_n = 2000, c.train_n = 1500, c.val_n = 500, c.steps = 300; }, 0.85},
        Case{"mlp512", [](TrainConfig& c) { c.first_n = 6000, c.epochs = 4; }, 0.88},
        Case{"convnet", [](TrainConfig& c) { c.first_n = 8000, c.epochs = 3, c.keep_best = false; }, 0.9},
        // Its one-cycle recipe over 186 steps: 0.968 measured.
        Case{"speedrun", [](TrainConfig& c) { c.first_n = 8000; }, 0.95},
        Case{"mlp500", [](TrainConfig& c) { c.train_n = 3000, c.val_n = 500, c.steps = 600, c.checkpoint_every = 0; },
             0.88},
        Case{"cnn", [](TrainConfig& c) { c.first_n = 2000, c.batch = 50, c.epochs = 2, c.lr = 0.1f; }, 0.8}),
    [](const ::testing::TestParamInfo<Case>& p) { return p.param.model; });

// The saliency gradient of softmax regression is the predicted class's weight column, exactly:
// logit[k] = x·W[:, k] + b[k].
TEST(Train, InputGradientOfALinearModelIsItsWeightColumn) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  NamedTensor w{"logits/W", {784, 10}, std::vector<float>(7840)}, b{"logits/b", {10}, std::vector<float>(10)};
  for (float& v : w.data) v = u(rng);
  for (float& v : b.data) v = u(rng);
  Dataset one;
  one.n = 1, one.features = 784, one.item_dims = {28, 28};
  one.x.resize(784);
  for (float& v : one.x) v = u(rng) * 0.5f + 0.5f;
  one.y = {0};
  for (int k : {0, 7}) {
    const std::vector<float> g = input_gradient("linear", find_model("linear").arch, {w, b}, one, k);
    ASSERT_EQ(g.size(), 784u);
    for (size_t i = 0; i < 784; ++i)
      ASSERT_EQ(g[i], w.data[i * 10 + static_cast<size_t>(k)]) << "class " << k << " pixel " << i;
  }
}

TEST(Train, LogicGatesAreExact) {
  for (const char* gate : {"and", "or"}) {
    LogicResult r = train_logic(gate, 200.f, 401, 42, 0);
    EXPECT_TRUE(r.exact) << gate;
    LogicResult ref = train_logic(gate, 200.f, 401, 42, 1);
    EXPECT_TRUE(ref.exact) << gate << " (reference engine)";
  }
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// Trains a small dnn slice with a report; `schedule`: an exponential lr decay (the lr chart appears).
TrainResult report_run(const fs::path& dir, bool schedule) {
  TrainConfig c = slice_recipe("dnn");
  c.first_n = 1000, c.train_n = 800, c.val_n = 200, c.steps = 100, c.periods = 4, c.test_n = 500;
  if (schedule) c.schedule = {.kind = Schedule::Kind::Exponential, .rate = 0.5f, .decay_steps = 25, .staircase = true};
  auto rep = std::make_shared<cli::Report>(
      dir.string(), cli::report_run(c, "gradc train dnn --report 'it'\\''s' <b>", "now"), std::vector<int64_t>{10, 50});
  c.callbacks.push_back(rep);
  TrainResult r = train(c);
  const Splits s = load_splits(c, c.seed);
  rep->finish(cli::report_result(r, s.train));
  return r;
}

TEST(Train, ReportWritesEveryFile) {
  if (!have_mnist()) GTEST_SKIP() << "MNIST missing";
  const TestDir tmp;
  const fs::path dir = tmp / "report";
  report_run(dir, true);
  for (const char* f :
       {"metrics.csv", "loss.png", "accuracy.png", "lr.png", "confusion.png", "weights.png", "weights_step10.png",
        "weights_step50.png", "samples.png", "labels.png", "pixels.png", "index.html"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  EXPECT_EQ(cli::read_png((dir / "loss.png").string()).w, 900);  // PNGs decode
  const cli::Image w = cli::read_png((dir / "weights.png").string());
  EXPECT_GT(w.w, 900);  // the grid's ~900 px plus the colour bar
  EXPECT_GT(w.h, 900);
  // metrics.csv: CSVLogger's header and one row per period.
  std::ifstream csv(dir / "metrics.csv");
  std::vector<std::string> lines;
  for (std::string l; std::getline(csv, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 1u + 4u);
  EXPECT_EQ(lines[0], kCsvHeader);
  // lr.csv: each point's rate, from the start: 0.05 for steps 1-25, then halved every 25 steps.
  const std::string lr = read_text(dir / "lr.csv");
  EXPECT_NE(lr.find("\n0,0.05"), std::string::npos) << lr;
  EXPECT_NE(lr.find("\n100,0.00625"), std::string::npos) << lr;
  // index.html: every src/href names a file that exists; the user's text is escaped; every
  // hyperparameter row is there.
  const std::string html = read_text(dir / "index.html");
  std::regex ref("(src|href)=\"([^\"]+)\"");
  int refs = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator(); ++it, ++refs)
    EXPECT_TRUE(fs::exists(dir / (*it)[2].str())) << (*it)[2].str();
  EXPECT_GE(refs, 11);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("='"), std::string::npos);  // attributes double-quoted
  EXPECT_NE(html.find("Total params: 89,610"), std::string::npos);
  for (const char* k : {"lr schedule", "gradient clipping", "early stopping", "keep best", "seed"})
    EXPECT_NE(html.find(std::string("<th scope=\"row\">") + k), std::string::npos) << k;
  // Per-class precision and recall, one row per class, the lowest recall marked once.
  EXPECT_NE(html.find("<h2>Per class (test set)</h2>"), std::string::npos);
  int classes = 0, worst = 0;
  for (size_t at = html.find("<tr><td>"); at != std::string::npos; at = html.find("<tr><td>", at + 1)) ++classes;
  for (size_t at = html.find("<tr class=\"worst\">"); at != std::string::npos;
       at = html.find("<tr class=\"worst\">", at + 1))
    ++worst;
  EXPECT_EQ(classes + worst, 10);
  EXPECT_EQ(worst, 1);
  EXPECT_NE(html.find("test figures use"), std::string::npos);
}

// A constant learning rate draws no lr chart.
TEST(Train, ReportDrawsTheLrChartOnlyWhenTheRateChanges) {
  if (!have_mnist()) GTEST_SKIP() << "MNIST missing";
  const TestDir tmp;
  const fs::path dir = tmp / "report";
  report_run(dir, false);
  EXPECT_FALSE(fs::exists(dir / "lr.png"));
  EXPECT_EQ(read_text(dir / "index.html").find("lr.png"), std::string::npos);
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
  const TestDir tmp;
  const fs::path a = tmp / "a", b = tmp / "b";
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
