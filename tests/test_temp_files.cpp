// Files that another program (gnuplot) reads or writes: nothing a local user plants in the output
// directory is executed, written through, or left in place of an output (hostile inputs, round 3).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/files.h"
#include "tests/test_dir.h"
#include "tools/gnuplot.h"
#include "tools/report_charts.h"

namespace gradc::cli {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct Scratch {
  TestDir tmp;
  fs::path root = tmp.path();
  fs::path dir = root / "out", victim = root / "victim.txt", pwned = root / "pwned";
  Scratch() {
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::all);  // world-writable, as a directory under /tmp may be
    std::ofstream(victim) << "precious";
  }
  // What another user plants: every name the old code used, as links to the victim, and a script
  // that would run a command of theirs.
  void plant() {
    for (const char* name : {".plot.err", ".digit.csv", ".probs.csv", ".predict.png", "predict.png", "digit.csv",
                             "probs.csv", "loss.png", "lr.csv", "lr.png", "confusion.csv"})
      fs::create_symlink(victim, dir / name);
    std::ofstream(dir / ".plot.gp") << "system 'touch " << pwned.string() << "'\n";
    ::chmod((dir / ".plot.gp").c_str(), 0444);
  }
  void expect_untouched() {
    EXPECT_EQ(slurp(victim), "precious");
    EXPECT_FALSE(fs::exists(pwned));
    for (const auto& e : fs::directory_iterator(dir))  // no private directory left behind
      EXPECT_NE(e.path().filename().string().rfind(".gradc-", 0), 0u) << e.path();
  }
};

TEST(TempFiles, PredictPlotNeverRunsOrWritesThroughPlantedFiles) {
  Scratch s;
  s.plant();
  std::vector<float> pixels(784, 0.f);
  pixels[400] = 1.f;
  plot_prediction((s.dir / "mine.png").string(), pixels.data(), 3, std::vector<double>(10, 0.1));
  s.expect_untouched();
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(s.dir / "mine.png")));
  EXPECT_GT(fs::file_size(s.dir / "mine.png"), 1000u);
}

TEST(TempFiles, ReportChartsReplacePlantedLinksInsteadOfFollowingThem) {
  Scratch s;
  s.plant();
  std::ofstream(s.dir / "metrics.csv") << "step,epoch,lr,loss,acc,val_loss,val_acc\n"
                                       << "10,1,0.1,2.0,0.3,2.1,0.3\n20,1,0.05,1.5,0.5,1.6,0.5\n";
  EXPECT_EQ(plot_lr(s.dir.string(), false), (Files{"lr.png", "lr.csv"}));
  CurveSpec c;
  c.has_val = true;
  c.test_accuracy = 0.5;
  plot_curves(s.dir.string(), c);
  s.expect_untouched();
  for (const char* out : {"lr.png", "lr.csv", "loss.png", "accuracy.png"}) {
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(s.dir / out))) << out;
    EXPECT_GT(fs::file_size(s.dir / out), 10u) << out;
  }
}

TEST(TempFiles, GnuplotGetsItsScriptThroughAPipeAndNamesItsErrors) {
  Scratch s;
  s.plant();
  try {
    run_gnuplot(s.dir.string(), "set output 'x.png'\nplot 'missing.csv' using 1:2\n");
    FAIL() << "a script that reads a missing file must fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.csv"), std::string::npos) << e.what();
  }
  s.expect_untouched();
  EXPECT_FALSE(fs::exists(s.dir / "x.png"));
}

TEST(TempFiles, WriteFileIsAtomicAndNeverFollowsALink) {
  Scratch s;
  fs::create_symlink(s.victim, s.dir / "metrics.csv");
  write_file((s.dir / "metrics.csv").string(), "a,b\n");
  EXPECT_EQ(slurp(s.victim), "precious");
  EXPECT_EQ(slurp(s.dir / "metrics.csv"), "a,b\n");
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(s.dir / "metrics.csv")));
  EXPECT_THROW(write_new_file((s.dir / "metrics.csv").string(), "x"), DataError);  // exists: never truncated
  EXPECT_THROW(write_file((s.root / "no_such_dir" / "f").string(), "x"), DataError);
}

// An output directory is held by one run: a second holder in another process is refused with its
// pid, one process may hold it twice (a report inside the checkpoint directory), and the lock goes
// with the last holder. A planted link named .gradc.lock is refused, never followed.
TEST(TempFiles, DirLockKeepsASecondRunOut) {
  Scratch s;
  {
    DirLock a(s.dir.string(), "--checkpoint-dir");
    DirLock again(s.dir.string(), "--report");  // the same process
    const pid_t child = ::fork();
    if (child == 0) {  // another run
      try {
        DirLock b(s.dir.string(), "--checkpoint-dir");
      } catch (const DataError& e) {
        const std::string msg = e.what();
        ::_exit(msg.find("another gradc run (pid " + std::to_string(::getppid()) + ")") != std::string::npos ? 0 : 3);
      }
      ::_exit(4);  // it got the lock
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child exit " << WEXITSTATUS(status);
  }
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      DirLock b(s.dir.string(), "--checkpoint-dir");
      ::_exit(0);
    } catch (...) {
      ::_exit(5);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "released: another run may take it";
  fs::remove(s.dir / ".gradc.lock");
  fs::create_symlink(s.victim, s.dir / ".gradc.lock");
  EXPECT_THROW(DirLock(s.dir.string(), "--report"), DataError);
  EXPECT_EQ(slurp(s.victim), "precious");
}

}  // namespace
}  // namespace gradc::cli
