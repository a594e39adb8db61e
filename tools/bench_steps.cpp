#include "tools/bench_steps.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <span>

namespace gradc::cli {

namespace {
using Clock = std::chrono::steady_clock;

// f32(id) / i32(id) return the node's buffer as a span.
template <class F32, class I32>
void fill(const Graph& g, F32 f32, I32 i32) {
  std::mt19937 rng(1);
  for (const Node& n : g.nodes()) {
    if (n.op != Op::Input) continue;
    if (n.dtype == DType::I32)
      for (auto& v : i32(n.id)) v = static_cast<int32_t>(rng() % 10);
    else if (n.name == "lr")
      f32(n.id)[0] = 1e-3f;
    else
      for (auto& v : f32(n.id)) v = static_cast<float>(rng() % 256) / 255.f;
  }
}
}  // namespace

double median(std::vector<double> t) {
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

double median_us(Engine& e, int reps, double budget_s) {
  e.run();
  std::vector<double> t;
  const auto start = Clock::now();
  for (int i = 0; i < reps; ++i) {
    const auto a = Clock::now();
    e.run();
    const auto b = Clock::now();
    t.push_back(std::chrono::duration<double, std::micro>(b - a).count());
    if (std::chrono::duration<double>(b - start).count() > budget_s && t.size() >= 3) break;
  }
  return median(std::move(t));
}

void fill_inputs(const Graph& g, Engine& e) {
  fill(
      g, [&e](int id) { return e.f32(id); }, [&e](int id) { return e.i32(id); });
}

void fill_inputs(Program& p) {
  fill(
      p.graph(), [&p](int id) { return std::span<float>(p.data(id), static_cast<size_t>(p.numel(id))); },
      [&p](int id) { return std::span<int32_t>(p.data_i32(id), static_cast<size_t>(p.numel(id))); });
}

}  // namespace gradc::cli
