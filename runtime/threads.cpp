#include "runtime/threads.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace gradc {

int max_threads() { return std::max(8, 8 * static_cast<int>(std::thread::hardware_concurrency())); }

void check_threads(int64_t n, const std::string& what) {
  if (n < 1 || n > max_threads())
    throw std::invalid_argument("gradc: " + what + " " + std::to_string(n) + " is outside 1.." +
                                std::to_string(max_threads()) + " (8 per core of this " +
                                std::to_string(std::thread::hardware_concurrency()) + "-core machine)");
}

void check_omp_env() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  if (!env) return;
  const std::string v = env;
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("gradc: OMP_NUM_THREADS='" + v + "': " + why);
  };
  if (v.empty()) throw bad("empty (unset it, or give a thread count)");
  size_t start = 0;
  for (;;) {
    const size_t end = std::min(v.find(',', start), v.size());
    const std::string item = v.substr(start, end - start);
    if (item.empty() || item.size() > 9 || item.find_first_not_of("0123456789") != std::string::npos)
      throw bad("not a comma-separated list of positive thread counts");
    const long n = std::stol(item);
    if (n < 1 || n > max_threads())
      throw bad(item + " is outside 1.." + std::to_string(max_threads()) + " (8 per core of this machine)");
    if (end == v.size()) return;
    start = end + 1;
  }
}

}  // namespace gradc
