// The PyTorch eager baseline of `gradc bench suite`: the same training steps timed in PyTorch on the
// same host in the same run (Debian's python3-torch through /usr/bin/python3; optional).
#pragma once
#include <cstdint>
#include <string>

namespace gradc::cli {

struct TorchStep {
  double us = 0;        // best median µs per SGD step over the thread settings tried
  std::string config;   // which setting gave it, e.g. "torch 1t × OpenBLAS 2t"
  std::string version;  // torch.__version__
  std::string error;    // non-empty: no figure (not installed, failed), the reason
};

// Times `model` at `batch` with tools/bench_torch.py for torch intra-op threads × OpenBLAS threads
// in {1×1, 1×2, 2×1} and returns the best.
TorchStep torch_step_us(const std::string& model, int64_t batch, int reps);

}  // namespace gradc::cli
