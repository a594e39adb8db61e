#include "tools/gnuplot.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>
#include <stdexcept>

#include "runtime/files.h"
#include "tools/spawn.h"

namespace gradc::cli {

namespace fs = std::filesystem;

std::FILE* open_report_csv(const std::string& dir, const std::string& file, const std::string& header) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string path = dir + "/" + file;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  std::FILE* f = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
  if (!f) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    throw std::invalid_argument("gradc: cannot write " + path + ": " + std::strerror(err));
  }
  std::fprintf(f, "%s\n", header.c_str());
  return f;
}

PlotData data_file(const std::string& dir, const std::string& name) {
  return {name, read_regular(dir + "/" + name, size_t{1} << 30)};
}

namespace {
// The plain names of the script's `set output '...'` lines.
std::vector<std::string> outputs_of(const std::string& script) {
  static const std::regex re(R"(set output '([^'/]+)')");
  std::vector<std::string> names;
  for (auto it = std::sregex_iterator(script.begin(), script.end(), re); it != std::sregex_iterator(); ++it)
    if (std::find(names.begin(), names.end(), (*it)[1].str()) == names.end()) names.push_back((*it)[1].str());
  return names;
}
}  // namespace

void run_gnuplot(const std::string& dir, const std::string& script, const std::vector<PlotData>& data,
                 const std::map<std::string, std::string>& renames) {
  const PrivateDir work(dir);
  for (const PlotData& d : data) write_new_file(work.file(d.name), d.content);
  const SpawnResult r = run_capture({"gnuplot"}, {.extra_env = {},
                                                  .cwd = work.path(),
                                                  .capture_stderr = true,
                                                  .stdin_data = "set terminal pngcairo size 900,600 font 'Sans,11'\n"
                                                                "set datafile separator ','\n" +
                                                                script + "\n"});
  if (r.status != 0)
    throw std::runtime_error("gradc: gnuplot failed in " + dir +
                             (r.status == -1 || r.status == 127
                                  ? " (gnuplot could not be started: tools/setup.sh installs gnuplot-nox)"
                                  : ": " + r.err));
  for (const std::string& name : outputs_of(script)) {
    const auto to = renames.find(name);
    const std::string dest = to != renames.end() ? to->second : dir + "/" + name;
    if (::rename(work.file(name).c_str(), dest.c_str()) != 0)
      throw std::runtime_error("gradc: cannot write " + dest + ": " + std::strerror(errno));
  }
}

}  // namespace gradc::cli
