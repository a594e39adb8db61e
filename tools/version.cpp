#include "tools/version.h"

#include <ctime>
#include <fstream>

namespace gradc::cli {

std::string version_text() {
  return std::string("gradc ") + GRADC_VERSION + " (LLVM " + LLVM_VERSION_TEXT + ", clang " + __clang_version__ + ")";
}

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "";
}

namespace {
std::string& stored_command_line() {
  static std::string s;
  return s;
}
}  // namespace

void set_command_line(int argc, const char* const* argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    std::string a = i == 0 ? "gradc" : argv[i];
    if (a.empty() || a.find_first_of(" \t\n'\"\\$`*?;&|<>(){}[]!#~") != std::string::npos) {
      std::string q = "'";
      for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      a = q + "'";
    }
    s += (i ? " " : "") + a;
  }
  stored_command_line() = s;
}

const std::string& command_line() { return stored_command_line(); }

std::string local_time_text() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[64];
  return std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm) ? buf : "";
}

}  // namespace gradc::cli
