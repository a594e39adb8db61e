// gradc bench scaling: data-parallel training steps on this machine, side by side in one run —
// 1 rank × 1 thread, 1 rank × 2 threads (OpenMP) and N ranks × 1 thread (mpirun, MPI allreduce) —
// with each step's compute time, the allreduce's bytes, its time alone, its achieved bandwidth and
// the fraction of it hidden behind the backward pass.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gradc::cli {

struct ScalingOptions {
  std::vector<std::pair<std::string, int64_t>> cases;  // (model, global batch)
  int ranks = 2, reps = 30;
  std::vector<int64_t> bucket_bytes;  // one 2-rank measurement per size (0: one bucket for everything)
  bool json = false;
};

void scaling_table(const ScalingOptions& o);

// The per-rank side, run under mpirun by scaling_table: rank 0 prints one JSON line.
void scaling_worker(const std::string& model, int64_t batch, int reps, int64_t bucket_bytes);

}  // namespace gradc::cli
