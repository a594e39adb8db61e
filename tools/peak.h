// Machine facts for the benchmarks: the measured FP32 FMA peak, and OpenBLAS SGEMM when present.
#pragma once
#include <array>
#include <cstdint>
#include <functional>

namespace gradc::cli {

// GFLOP/s of a register-resident AVX-512 FMA loop (16 independent zmm accumulators) on `threads`
// threads, best of a few runs.
double measure_fma_peak(int threads);

// OpenBLAS's cblas_sgemm, loaded at run time (optional dependency); nullptr when not installed.
struct Blas {
  void (*sgemm)(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                int ldb, float beta, float* c, int ldc) = nullptr;
  void (*set_threads)(int) = nullptr;
};
const Blas* openblas();

// Best (lowest) of `rounds` timings of us_at(threads) for 1 and 2 threads, the two alternating so
// that a round the VM's neighbours disturb neither decides a figure nor hits only one of them.
std::array<double, 2> best_of_rounds_1_2(const std::function<double(int threads)>& us_at, int rounds = 3);

// Median µs of cblas_sgemm C[M,N] = op(A)·op(B) (row-major, op = transpose when ta/tb) over `reps`
// calls after one warm-up, on `threads` OpenBLAS threads; fresh constant operands.
double blas_sgemm_us(const Blas& blas, int64_t M, int64_t N, int64_t K, bool ta, bool tb, int threads, int reps);

}  // namespace gradc::cli
