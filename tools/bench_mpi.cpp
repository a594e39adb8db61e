#include "tools/bench_mpi.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "runtime/comm.h"
#include "runtime/program.h"
#include "tools/bench_steps.h"
#include "tools/commands.h"
#include "tools/spawn.h"
#include "tools/step_graph.h"

namespace gradc::cli {

namespace {
using Clock = std::chrono::steady_clock;
double us(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::micro>(b - a).count(); }

// Median µs per step of one process at the global batch with `threads` OpenMP threads.
double one_process_us(const std::string& model, int64_t batch, int threads, int reps) {
  StepGraph s = make_step_graph(model, batch);
  auto e = make_engine(s.model->g, EngineKind::Jit);
  fill_inputs(s.model->g, *e);
  e->set_threads(threads);
  return median_us(*e, reps, 60);
}

nlohmann::json run_workers(const std::string& model, int64_t batch, int ranks, int reps, int64_t bucket) {
  // The workers are this very program, named by its path (mpirun's own /proc/self/exe is mpirun).
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) throw std::runtime_error("gradc: cannot find this program's path for mpirun");
  std::vector<std::string> argv = {"mpirun", "--oversubscribe", "-np", std::to_string(ranks),
                                   std::string(self, static_cast<size_t>(n))};
  for (const std::string& a :
       {std::string("bench"), model, std::string("--batch"), std::to_string(batch), std::string("--mpi-worker"),
        std::string("--reps"), std::to_string(reps), std::string("--bucket-kib"), std::to_string(bucket / 1024)})
    argv.push_back(a);
  // mpirun refuses root unless told.
  const SpawnResult r =
      run_capture(argv, {.extra_env = {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"},
                         .cwd = "",
                         .capture_stderr = false,
                         .stdin_data = ""});
  if (r.status == -1)
    throw std::runtime_error("gradc: mpirun could not be started (tools/setup.sh installs openmpi-bin)");
  const size_t at = r.out.rfind("{\"mpi\"");
  if (r.status != 0 || at == std::string::npos)
    throw std::runtime_error("gradc: the " + std::to_string(ranks) + "-rank run failed (exit " +
                             std::to_string(r.status) + "): " + r.out.substr(0, 400));
  return nlohmann::json::parse(r.out.substr(at, r.out.find('\n', at) - at));
}
}  // namespace

void scaling_worker(const std::string& model, int64_t batch, int reps, int64_t bucket_bytes) {
  Comm& c = world();
  if (batch % c.size() != 0) throw std::invalid_argument("gradc: --batch is not divisible by the ranks");
  OptimizerConfig opt;
  opt.ranks = c.size();
  opt.bucket_bytes = bucket_bytes > 0 ? bucket_bytes : INT64_MAX / 4;
  StepGraph s = make_step_graph(model, batch / c.size(), opt);
  Program p(s.model->g);
  fill_inputs(p);
  p.set_threads(1);
  Collectives* coll = p.collectives();
  // Warm-up: Open MPI's first large transfers between two processes are 10-20x slower than later
  // ones (shared-memory segments being set up and first touched): at least 10 steps and 1 s.
  // The count is rank 0's, shared: every rank must run the same number of steps (collectives).
  const auto w0 = Clock::now();
  for (int i = 0; i < 10; ++i) p.run();
  double more[1] = {c.rank() == 0 ? std::ceil(std::max(0.0, 1e6 - us(w0, Clock::now())) / (us(w0, Clock::now()) / 10))
                                  : 0};
  c.sum(more, 1);
  for (int i = 0; i < static_cast<int>(std::min(more[0], 1000.0)); ++i) p.run();
  std::vector<double> step, wait, pack, unpack;
  int64_t bytes = 0;
  int buckets = 0;
  for (int i = 0; i < reps; ++i) {
    c.barrier();
    coll->reset_stats();
    const auto a = Clock::now();
    p.run();
    step.push_back(us(a, Clock::now()));
    wait.push_back(coll->stats().wait_us);
    pack.push_back(coll->stats().start_us);
    unpack.push_back(coll->stats().copy_us);
    bytes = coll->stats().bytes;
    buckets = coll->stats().buckets;
  }
  // The same buckets reduced alone, back to back: the allreduce's own time.
  std::vector<std::vector<float>> bufs;
  for (int64_t n : coll->bucket_sizes()) bufs.emplace_back(static_cast<size_t>(n), 1.f);
  std::vector<double> alone;
  for (int i = 0; i < reps; ++i) {
    c.barrier();
    const auto a = Clock::now();
    std::vector<int> req;
    for (auto& b : bufs) req.push_back(c.start_sum(b.data(), static_cast<int64_t>(b.size())));
    for (int r : req) c.wait(r);
    alone.push_back(us(a, Clock::now()));
  }
  if (c.rank() != 0) return;
  nlohmann::ordered_json j = {{"mpi", c.describe()},
                              {"ranks", c.size()},
                              {"step_us", median(step)},
                              {"wait_us", median(wait)},
                              {"pack_us", median(pack)},
                              {"unpack_us", median(unpack)},
                              {"allreduce_alone_us", median(alone)},
                              {"bytes", bytes},
                              {"buckets", buckets}};
  std::printf("%s\n", j.dump().c_str());
}

// Where scaling would stop across machines: N machines, each running the step on B/N examples at
// the measured 1-rank × 2-thread speed (compute t2/N, optimistic for small slices), a ring
// allreduce of the S gradient bytes — 2(N−1)/N · S/bandwidth + 2(N−1)·5 µs — of which the part
// longer than the backward pass (2/3 of the compute) is exposed, plus the measured packing.
void network_model(const std::string& model, int64_t batch, double bytes, double t2, double packing) {
  std::printf("  %s b%lld (%.2f MB of gradients per step): speedup over one 2-core machine (efficiency)\n",
              model.c_str(), static_cast<long long>(batch), bytes / 1e6);
  for (const double gbit : {10.0, 25.0, 100.0}) {
    const double bytes_per_us = gbit * 1e9 / 8 / 1e6;
    std::printf("    %5.0f Gb/s:", gbit);
    for (const int n : {2, 4, 8, 16, 32}) {
      const double compute = t2 / n;
      const double ring = 2.0 * (n - 1) / n * bytes / bytes_per_us + 2.0 * (n - 1) * 5.0;
      const double step = compute + std::max(0.0, ring - compute * 2 / 3) + packing;
      std::printf("  N=%-2d %5.1fx (%3.0f%%)", n, t2 / step, 100 * t2 / step / n);
    }
    std::printf("\n");
  }
}

void scaling_table(const ScalingOptions& o) {
  for (const auto& [model, batch] : o.cases)  // the cases' batches are fixed: name the flag the user gave
    if (batch % o.ranks != 0)
      throw UsageError("gradc: --ranks " + std::to_string(o.ranks) + ": the scaling cases' global batch " +
                       std::to_string(batch) + " (" + model + ") does not split evenly over " +
                       std::to_string(o.ranks) + " ranks; use a power of two (2, 4, 8, ...)");
  std::printf("data-parallel scaling on this machine: median µs per training step (SGD), global batch fixed\n");
  std::printf("%-7s %5s %7s | %9s %9s %9s | %7s %8s | %9s %7s %8s %6s %9s %9s %7s\n", "model", "batch", "bucket",
              "1r×1t", "1r×2t", "Nr×1t", "Nr/1×1", "Nr/1r×2t", "compute", "MB", "alone", "GB/s", "exposed", "pack+cp",
              "hidden");
  nlohmann::json all = nlohmann::json::array();
  std::vector<std::function<void()>> models;  // printed after the table
  for (const auto& [model, batch] : o.cases) {
    // Interleaved rounds, best of 3: the VM's load drifts alike over all three configurations.
    double t11 = 1e30, t12 = 1e30;
    std::vector<nlohmann::json> best(o.bucket_bytes.size());
    for (int round = 0; round < 3; ++round) {
      t11 = std::min(t11, one_process_us(model, batch, 1, o.reps));
      t12 = std::min(t12, one_process_us(model, batch, 2, o.reps));
      for (size_t b = 0; b < o.bucket_bytes.size(); ++b) {
        nlohmann::json j = run_workers(model, batch, o.ranks, o.reps, o.bucket_bytes[b]);
        if (best[b].is_null() || j["step_us"].get<double>() < best[b]["step_us"].get<double>()) best[b] = j;
      }
    }
    for (size_t b = 0; b < o.bucket_bytes.size(); ++b) {
      const nlohmann::json& j = best[b];
      const double step = j["step_us"], wait = j["wait_us"], alone = j["allreduce_alone_us"];
      const double packing = j["pack_us"].get<double>() + j["unpack_us"].get<double>();
      const double bytes = j["bytes"].get<double>();
      const double hidden = alone > 0 ? std::clamp(1 - wait / alone, 0.0, 1.0) : 0;
      const std::string bucket = o.bucket_bytes[b] > 0 ? std::to_string(o.bucket_bytes[b] / 1024) + "K" : "all";
      std::printf("%-7s %5lld %7s | %9.0f %9.0f %9.0f | %6.2fx %7.2fx | %9.0f %7.2f %8.0f %6.2f %9.0f %9.0f %6.0f%%\n",
                  model.c_str(), static_cast<long long>(batch), bucket.c_str(), t11, t12, step, t11 / step, t12 / step,
                  step - wait - packing, bytes / 1e6, alone, bytes / alone / 1e3, wait, packing, 100 * hidden);
      all.push_back({{"model", model},
                     {"batch", batch},
                     {"bucket_bytes", o.bucket_bytes[b]},
                     {"one_rank_1t_us", t11},
                     {"one_rank_2t_us", t12},
                     {"ranks_run", j}});
      if (b == 0) models.push_back([=, m = model, bt = batch] { network_model(m, bt, bytes, t12, packing); });
    }
  }
  std::printf(
      "columns: 1r×1t, 1r×2t = one process with 1 / 2 OpenMP threads; Nr×1t = %d ranks (mpirun) × 1 thread;\n"
      "compute = step − exposed wait − packing; MB = gradient bytes reduced per rank per step; alone = those\n"
      "buckets' allreduce with nothing else running; exposed = time a step waited for the sums; hidden = 1 −\n"
      "exposed / alone.\n",
      o.ranks);
  if (!all.empty()) std::printf("MPI: %s\n", all[0]["ranks_run"]["mpi"].get<std::string>().c_str());
  std::printf(
      "\nacross machines (a model, not a measurement: ring allreduce at 5 µs per hop, backward = 2/3 of the\n"
      "compute overlaps it, compute and packing as measured here with the first bucket size):\n");
  for (const auto& f : models) f();
  if (o.json) std::printf("%s\n", all.dump().c_str());
}

}  // namespace gradc::cli
