// gradc bench gemm: the GEMM kernels of the MNIST models (and 2048³) alone, JIT vs OpenBLAS.
#pragma once
#include <string>

namespace gradc::cli {

// One row per GEMM: median µs, GFLOP/s and % of the measured FMA peak at 1 and 2 threads, OpenBLAS
// at 1 and 2 threads, and which of issue 6's goals the row meets. `shape` "MxNxK" times that one
// GEMM instead of the suite. `report` non-empty: also DIR/gemm.csv and a GFLOP/s bar chart gemm.png.
void gemm_table(const std::string& shape, int reps, const std::string& report);

}  // namespace gradc::cli
