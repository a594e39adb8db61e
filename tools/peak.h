// Machine facts for the benchmarks: the measured FP32 FMA peak, and OpenBLAS SGEMM when present.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>

namespace gradc::cli {

// What the CPU running this process can execute (asked with cpuid, never assumed).
bool host_has_avx2_fma();
bool host_has_avx512();

// GFLOP/s of a register-resident FMA loop on `threads` threads, best of a few runs, at the vector
// width of a target: lanes = 16 (AVX-512, 16 zmm chains) or 8 (AVX2+FMA, 12 ymm chains). So an
// AVX2 program's "% of peak" is measured against the ymm peak even on an AVX-512 host. Throws
// std::invalid_argument when the host cannot execute that width.
double measure_fma_peak(int threads, int lanes);
// GFLOP/s of register-resident vdpbf16ps chains (2 multiply-adds per lane): what --precision bf16
// GEMMs can reach. Throws std::invalid_argument when the CPU has no AVX512_BF16.
double measure_bf16_peak(int threads);
// The peak at the default target's width (compiler/target.h): what the benchmarks' "% of peak" uses.
double target_fma_peak(int threads);
// "target x86-64-v3: AVX2+FMA, 8 lanes, ... — % of peak against its 8-lane FMA peak", for bench output.
std::string target_line();
// "x86-64-v3, AVX2+FMA" for chart titles (target names are validated LLVM CPU names: no quotes).
std::string target_short();

// What two threads pay to meet, measured now: "2 threads: a cache line's round trip between them
// N ns, an OpenMP barrier M ns" (a flag bounced through one atomic, medians of five rounds); empty
// with one thread. On these VMs both move by several × over minutes with where the two vCPUs run,
// and every 2-thread step with them.
std::string cross_core_line();

// OpenBLAS's cblas_sgemm, loaded at run time (optional dependency); nullptr when not installed.
struct Blas {
  void (*sgemm)(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                int ldb, float beta, float* c, int ldc) = nullptr;
  void (*set_threads)(int) = nullptr;
  std::string kernels;  // "OpenBLAS 0.3.21, SkylakeX kernels": which code the figures come from
};
// OpenBLAS with the best kernels for this host, or nullptr (not installed, or its result was wrong:
// openblas_note() says which). The host's environment does not decide: OpenBLAS 0.3.21's own
// detection falls back to Prescott (SSE3) kernels on CPUs it does not know (Sapphire Rapids VMs),
// and these machines' environment may pin Haswell (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE).
const Blas* openblas();
std::string openblas_note();
// The OPENBLAS_CORETYPE giving this host's widest kernels (SkylakeX with AVX-512, Haswell with
// AVX2, "" = OpenBLAS's own choice), also handed to the PyTorch baselines' processes.
std::string openblas_best_coretype();

// Best (lowest) of `rounds` timings of us_at(threads) for 1 and 2 threads, the two alternating so
// that a round the VM's neighbours disturb neither decides a figure nor hits only one of them.
std::array<double, 2> best_of_rounds_1_2(const std::function<double(int threads)>& us_at, int rounds = 3);

// Median µs of cblas_sgemm C[M,N] = op(A)·op(B) (row-major, op = transpose when ta/tb) over `reps`
// calls after one warm-up, on `threads` OpenBLAS threads; fresh constant operands.
double blas_sgemm_us(const Blas& blas, int64_t M, int64_t N, int64_t K, bool ta, bool tb, int threads, int reps);

}  // namespace gradc::cli
