// gradc bench MODEL: median time per training step (forward + backward + SGD update) on the
// reference interpreter and on the JIT with 1 and 2 threads, side by side in one run.
#include <algorithm>
#include <chrono>
#include <random>

#include "runtime/engine.h"
#include "tools/commands.h"
#include "tools/step_graph.h"

namespace gradc::cli {

namespace {
using Clock = std::chrono::steady_clock;

// Median µs per run() over `reps` runs (after one warm-up), stopping early past `budget_s`.
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
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

void fill_inputs(const Graph& g, Engine& e) {
  std::mt19937 rng(1);
  for (const Node& n : g.nodes()) {
    if (n.op != Op::Input) continue;
    if (n.dtype == DType::I32)
      for (auto& v : e.i32(n.id)) v = static_cast<int32_t>(rng() % 10);
    else if (n.name == "lr")
      e.f32(n.id)[0] = 1e-3f;  // tiny steps keep the weights sane over thousands of runs
    else
      for (auto& v : e.f32(n.id)) v = static_cast<float>(rng() % 256) / 255.f;
  }
}
}  // namespace

void add_bench(CLI::App& app) {
  struct Opts {
    std::string model;
    int64_t batch = 0;
    int reps = 200;
    bool json = false, no_reference = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("bench", "Time a training step: reference vs JIT, 1 vs 2 threads");
  cmd->add_option("model", o->model, "Model name (" + model_names() + ")")->required();
  cmd->add_option("--batch", o->batch, "Batch size (default: the model's)")->check(CLI::PositiveNumber);
  cmd->add_option("--reps", o->reps, "Timed steps per configuration (median reported)")->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "Print the figures as JSON");
  cmd->add_flag("--no-reference", o->no_reference, "Skip the (slow) reference interpreter");
  cmd->callback([o] {
    const int64_t batch = o->batch ? o->batch : find_model(o->model).default_batch;
    StepGraph s = make_step_graph(o->model, batch);
    const Graph& g = s.model->g;
    auto jit = make_engine(g, EngineKind::Jit);
    fill_inputs(g, *jit);
    jit->set_threads(1);
    const double t1 = median_us(*jit, o->reps, 10);
    jit->set_threads(2);
    const double t2 = median_us(*jit, o->reps, 10);
    double tref = 0;
    if (!o->no_reference) {
      auto ref = make_engine(g, EngineKind::Reference);
      fill_inputs(g, *ref);
      tref = median_us(*ref, std::min(o->reps, 20), 5);
    }
    const double best = std::min(t1, t2);
    if (o->json) {
      std::printf("{\"model\": \"%s\", \"batch\": %lld, \"compile_ms\": %.1f, \"reference_us\": %.1f, "
                  "\"jit_1t_us\": %.2f, \"jit_2t_us\": %.2f, \"speedup_vs_reference\": %.1f, \"scaling_2t\": %.3f}\n",
                  o->model.c_str(), static_cast<long long>(batch), jit->compile_ms(), tref, t1, t2,
                  tref > 0 ? tref / best : 0.0, t1 / t2);
      return;
    }
    std::printf("%s training step (forward + backward + SGD), batch %lld — median µs per step\n", o->model.c_str(),
                static_cast<long long>(batch));
    std::printf("  %-22s %12s %10s\n", "engine", "µs/step", "vs ref");
    if (tref > 0) std::printf("  %-22s %12.1f %10s\n", "reference interpreter", tref, "1.0x");
    std::printf("  %-22s %12.1f %9.1fx\n", "JIT, 1 thread", t1, tref > 0 ? tref / t1 : 0.0);
    std::printf("  %-22s %12.1f %9.1fx\n", "JIT, 2 threads", t2, tref > 0 ? tref / t2 : 0.0);
    std::printf("  2-thread scaling %.2fx; JIT compile of the step program %.1f ms\n", t1 / t2, jit->compile_ms());
  });
}

}  // namespace gradc::cli
