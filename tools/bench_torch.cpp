#include "tools/bench_torch.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tools/peak.h"
#include "tools/spawn.h"

namespace gradc::cli {

TorchStep torch_step_us(const std::string& model, int64_t batch, int reps) {
  TorchStep best;
  const char* python = "/usr/bin/python3";  // Debian's python3-torch lives there, not in a venv
  if (access(python, X_OK) != 0) return {0, "", "", "no /usr/bin/python3"};
  const std::pair<int, int> settings[] = {{1, 1}, {1, 2}, {2, 1}};  // torch threads, OpenBLAS threads
  unsetenv("OPENBLAS_L2_SIZE");  // the environment's tuning for old builds: not for the baseline
  for (auto [torch_threads, blas_threads] : settings) {
    const SpawnResult r = run_capture(
        {python, GRADC_TORCH_SCRIPT, model, std::to_string(batch), std::to_string(torch_threads), std::to_string(reps)},
        {.extra_env = {"OPENBLAS_NUM_THREADS=" + std::to_string(blas_threads),
                       "OMP_NUM_THREADS=" + std::to_string(torch_threads),
                       "OPENBLAS_CORETYPE=" + openblas_best_coretype()},
         .cwd = "",
         .capture_stderr = false,
         .stdin_data = ""});
    if (r.status == 3) return {0, "", "", "python3-torch not installed (apt-get install python3-torch)"};
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    if (r.status != 0 || j.is_discarded() || !j.contains("us"))
      return {0, "", "", "bench_torch.py failed (exit " + std::to_string(r.status) + ")"};
    const double us = j["us"].get<double>();
    if (best.us == 0 || us < best.us) {
      best.us = us;
      best.config = "torch " + std::to_string(torch_threads) + "t x OpenBLAS " + std::to_string(blas_threads) + "t";
      best.version = j.value("torch", "");
    }
  }
  return best;
}

}  // namespace gradc::cli
