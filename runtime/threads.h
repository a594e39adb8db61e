// Thread counts a user can give (--threads, FitConfig::threads, OMP_NUM_THREADS), checked before
// libomp sees them: libomp aborts the process (SIGABRT) on OMP_NUM_THREADS=abc or -4, and spends
// minutes creating 100000 threads.
#pragma once
#include <cstdint>
#include <string>

namespace gradc {

// The most threads gradc accepts: 8 per core (more only thrashes), at least 8.
int max_threads();

// Throws std::invalid_argument naming `what` unless 1 <= n <= max_threads().
void check_threads(int64_t n, const std::string& what);

// OMP_NUM_THREADS, if set, as OpenMP reads it: a comma-separated list of positive counts (one per
// nesting level), each <= max_threads(). Throws std::invalid_argument naming the variable and its
// value otherwise. Call before the first OpenMP call.
void check_omp_env();

}  // namespace gradc
