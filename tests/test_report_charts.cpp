// The report's charts on the series real runs produce: a learning rate falling by orders of
// magnitude (log scale), a constant one (no chart), one evaluation point.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/test_dir.h"
#include "tools/report_charts.h"

namespace gradc::cli {
namespace {

namespace fs = std::filesystem;

struct ReportDir {
  TestDir tmp;
  const fs::path& dir = tmp.path();
  // metrics.csv (CSVLogger's columns) with the given learning rates, one row per 100 steps.
  void metrics(const std::vector<double>& lrs) const {
    std::ofstream f(dir / "metrics.csv");
    f << "step,epoch,lr,loss,acc,val_loss,val_acc,steps_per_s\n";
    for (size_t i = 0; i < lrs.size(); ++i) f << (i + 1) * 100 << ",1," << lrs[i] << ",1.0,0.5,1.1,0.5,100\n";
  }
  bool png(const std::string& name) const {
    std::ifstream f(dir / name, std::ios::binary);
    char sig[8] = {};
    f.read(sig, 8);
    return f && std::string(sig + 1, 3) == "PNG" && fs::file_size(dir / name) > 1000;
  }
};

// An exponential decay of 0.5 per 200 steps over 2000 steps falls 1024×: a log axis, whose
// offsets gnuplot accepts only in graph units.
TEST(ReportCharts, LearningRateFallingByOrdersOfMagnitude) {
  for (double factor : {0.5, 0.1, 1e-3}) {
    ReportDir r;
    std::vector<double> lrs;
    for (int i = 0; i < 10; ++i) lrs.push_back(0.1 * std::pow(factor, i));
    r.metrics(lrs);
    EXPECT_EQ(plot_lr(r.dir.string(), false), (Files{"lr.png", "lr.csv"})) << factor;
    EXPECT_TRUE(r.png("lr.png")) << factor;
  }
}

TEST(ReportCharts, LearningRateChartOnlyWhenTheRateChanges) {
  ReportDir r;
  r.metrics({0.1, 0.1, 0.1});
  EXPECT_TRUE(plot_lr(r.dir.string(), false).empty());
  r.metrics({0.1, 0.05});  // a plateau's single cut, by epoch
  EXPECT_EQ(plot_lr(r.dir.string(), true).size(), 2u);
  EXPECT_TRUE(r.png("lr.png"));
}

TEST(ReportCharts, CurvesWithOneEvaluationPoint) {
  ReportDir r;
  r.metrics({0.1});
  CurveSpec c;
  c.has_val = true;
  c.test_accuracy = 0.9;
  EXPECT_EQ(plot_curves(r.dir.string(), c), (Files{"loss.png", "accuracy.png"}));
  EXPECT_TRUE(r.png("loss.png"));
  EXPECT_TRUE(r.png("accuracy.png"));
}

}  // namespace
}  // namespace gradc::cli
