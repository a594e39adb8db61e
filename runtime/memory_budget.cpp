#include "runtime/memory_budget.h"

#include <unistd.h>

#include <cstdio>
#include <limits>
#include <stdexcept>

namespace gradc {

namespace {
std::string gib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1 << 30));
  return buf;
}

int64_t tensor_bytes(const Node& n) {
  const int64_t numel = n.shape.numel();
  return numel > std::numeric_limits<int64_t>::max() / 4 ? std::numeric_limits<int64_t>::max() : numel * 4;
}
}  // namespace

int64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : std::numeric_limits<int64_t>::max();
}

int64_t graph_bytes(const Graph& g) {
  int64_t total = 0;
  for (const Node& n : g.nodes()) {
    const int64_t b = tensor_bytes(n);
    total = b > std::numeric_limits<int64_t>::max() - total ? std::numeric_limits<int64_t>::max() : total + b;
  }
  return total;
}

void check_memory(int64_t bytes, const Graph& g, const std::string& what) {
  const int64_t have = physical_memory_bytes();
  if (bytes <= have) return;
  const Node* largest = nullptr;
  for (const Node& n : g.nodes())
    if (!largest || tensor_bytes(n) > tensor_bytes(*largest)) largest = &n;
  std::string culprit;
  if (largest)
    culprit = "; the largest tensor is " + std::string(op_name(largest->op)) +
              (largest->name.empty() ? "" : " '" + largest->name + "'") + " " + largest->shape.str() + ", " +
              gib(tensor_bytes(*largest)) + (largest->where.empty() ? "" : ", made at " + largest->where);
  throw std::invalid_argument("gradc: " + what + " needs " + gib(bytes) + " of tensors, more than this machine's " +
                              gib(have) + " of memory" + culprit + " (reduce --batch or the layer widths)");
}

}  // namespace gradc
