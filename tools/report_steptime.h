// The report's "where the step time goes" panel: the run's training step compiled as it trained
// (model, batch, optimizer, target), each fused kernel timed alone with the run's thread count,
// beside the step's graph drawn with the same kernel numbers (dot --step --after fuse).
#pragma once
#include <string>
#include <vector>

#include "models/train.h"

namespace gradc::cli {

struct KernelTime {
  size_t index;     // the plan's kernel number, as in the picture's cluster labels
  std::string ops;  // what it computes ("dense", "mul+sqrt+div+sub", ...)
  double us = 0, gflops = 0, peak_pct = 0;
};

struct StepTime {
  std::vector<KernelTime> kernels;  // slowest first
  double total_us = 0, peak_gflops = 0;
  int threads = 1;
  std::string picture;  // the graph's file in the report folder ("" when not drawn)
};

// Profiles `c`'s training step and writes `dir`/step.svg. Slow kernels dominate the table; the
// sum is the step without fork/join and barriers.
StepTime profile_step(const TrainConfig& c, const std::string& dir);

}  // namespace gradc::cli
