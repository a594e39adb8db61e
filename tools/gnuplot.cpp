#include "tools/gnuplot.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "tools/spawn.h"

namespace gradc::cli {

namespace fs = std::filesystem;

std::FILE* open_report_csv(const std::string& dir, const std::string& file, const std::string& header) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::FILE* f = std::fopen((dir + "/" + file).c_str(), "w");
  if (!f) throw std::invalid_argument("gradc: cannot write " + dir + "/" + file + ": " + std::strerror(errno));
  std::fprintf(f, "%s\n", header.c_str());
  return f;
}

void run_gnuplot(const std::string& dir, const std::string& script) {
  const std::string gp = dir + "/.plot.gp";
  {
    std::ofstream f(gp);
    f << "set terminal pngcairo size 900,600 font 'Sans,11'\nset datafile separator ','\n" << script;
  }
  // gnuplot gets an argument vector and runs in `dir`: no shell ever sees the directory's name.
  const SpawnResult r =
      run_capture({"gnuplot", ".plot.gp"}, {.extra_env = {}, .cwd = dir, .stderr_path = dir + "/.plot.err"});
  if (r.status != 0) {
    std::ifstream e(dir + "/.plot.err");
    std::string err((std::istreambuf_iterator<char>(e)), {});
    throw std::runtime_error("gradc: gnuplot failed in " + dir +
                             (r.status == -1 || r.status == 127
                                  ? " (gnuplot could not be started: tools/setup.sh installs gnuplot-nox)"
                                  : ": " + err));
  }
  fs::remove(gp);
  fs::remove(dir + "/.plot.err");
}

}  // namespace gradc::cli
